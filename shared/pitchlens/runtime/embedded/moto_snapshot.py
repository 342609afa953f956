"""Durability for the embedded S3/SQS server, which keeps its state in memory.

Objects are written to `<data_dir>/s3/` (one file per object, named by a hash of bucket/key,
plus a manifest with keys, ETags and metadata) and queued messages, DLQs included, to
`<data_dir>/sqs.json`. A snapshot is taken periodically (only changed objects are written)
and on every clean stop; `restore` reloads both on start, before bucket notifications are
configured so restored objects do not trigger functions a second time.
PostgreSQL needs none of this: it writes to its own data directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from pitchlens.infrastructure.logging import get_logger

log = get_logger("pitchlens.runtime")

MOTO_ACCOUNT = "123456789012"


class MotoSnapshot:
    """Saves and restores the objects and queued messages of the in-process moto server."""

    def __init__(self, data_dir: Path, s3: Any, sqs: Any, region: str) -> None:
        self._objects_dir = data_dir / "s3"
        self._manifest_path = data_dir / "s3" / "manifest.json"
        self._messages_path = data_dir / "sqs.json"
        self._s3 = s3
        self._sqs = sqs
        self._region = region
        self._lock = threading.Lock()

    # Objects ----------------------------------------------------------------------------------
    def _manifest(self) -> dict[str, dict[str, Any]]:
        if not self._manifest_path.is_file():
            return {}
        loaded: dict[str, dict[str, Any]] = json.loads(self._manifest_path.read_text())
        return loaded

    def save_objects(self) -> int:
        """Writes new and changed objects, forgets deleted ones; returns how many were written."""
        with self._lock:
            self._objects_dir.mkdir(parents=True, exist_ok=True)
            old = self._manifest()
            new: dict[str, dict[str, Any]] = {}
            written = 0
            for bucket in self._s3.list_buckets().get("Buckets", []):
                name = bucket["Name"]
                for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                    for item in page.get("Contents", []):
                        ident = f"{name}/{item['Key']}"
                        file_name = hashlib.sha256(ident.encode()).hexdigest()
                        entry = old.get(ident)
                        if entry is None or entry["etag"] != item["ETag"]:
                            response = self._s3.get_object(Bucket=name, Key=item["Key"])
                            _atomic_write(self._objects_dir / file_name, response["Body"].read())
                            entry = {
                                "bucket": name,
                                "key": item["Key"],
                                "etag": item["ETag"],
                                "file": file_name,
                                "metadata": response.get("Metadata", {}),
                                "content_type": response.get("ContentType"),
                            }
                            written += 1
                        new[ident] = entry
            for ident, entry in old.items():
                if ident not in new:
                    (self._objects_dir / entry["file"]).unlink(missing_ok=True)
            _atomic_write(self._manifest_path, json.dumps(new).encode())
            return written

    def restore_objects(self) -> int:
        manifest = self._manifest()
        for entry in manifest.values():
            extra = {"ContentType": entry["content_type"]} if entry.get("content_type") else {}
            self._s3.put_object(
                Bucket=entry["bucket"],
                Key=entry["key"],
                Body=(self._objects_dir / entry["file"]).read_bytes(),
                Metadata=entry.get("metadata", {}),
                **extra,
            )
        return len(manifest)

    # Messages ---------------------------------------------------------------------------------
    def save_messages(self) -> int:
        """Copies every message still in a queue (in flight or not) from moto's memory."""
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[MOTO_ACCOUNT][self._region]
        saved: dict[str, list[dict[str, Any]]] = {}
        for name, queue in backend.queues.items():
            saved[name] = [
                {"body": message.body, "attributes": _string_attributes(message.message_attributes)}
                for message in list(queue._messages)
            ]
        _atomic_write(self._messages_path, json.dumps(saved).encode())
        return sum(len(v) for v in saved.values())

    def restore_messages(self) -> int:
        if not self._messages_path.is_file():
            return 0
        restored = 0
        for name, messages in json.loads(self._messages_path.read_text()).items():
            if not messages:
                continue
            url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
            for message in messages:
                self._sqs.send_message(
                    QueueUrl=url,
                    MessageBody=message["body"],
                    MessageAttributes={
                        k: {"DataType": "String", "StringValue": v} for k, v in message["attributes"].items()
                    },
                )
                restored += 1
        self._messages_path.unlink()
        return restored


def _string_attributes(attributes: dict[str, Any]) -> dict[str, str]:
    values = {}
    for name, value in (attributes or {}).items():
        if isinstance(value, dict):
            text = value.get("string_value") or value.get("StringValue")
            if text is not None:
                values[name] = str(text)
    return values


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
