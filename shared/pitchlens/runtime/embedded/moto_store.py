"""The embedded S3/SQS server's state on disk, written through before each response.

moto keeps buckets, objects and queues in memory. `MotoStore.persist` copies what one request
changed from moto's backends to `<data_dir>/aws/` (each file written to a temporary name,
fsync'd, renamed, its directory fsync'd) and `restore` loads it back on start, so whatever was
acknowledged survives `pitchlens down` and a crash alike:

    aws/s3/<bucket>/bucket.json                   the bucket, its notification and CORS configuration
    aws/s3/<bucket>/objects/<sha256 of key>       one file per object: a JSON header line
                                                  (key, ETag, metadata, tags, ...), then the bytes
    aws/s3/<bucket>/uploads/<id>/upload.json      a multipart upload in progress, and its parts
    aws/s3/<bucket>/uploads/<id>/<part number>
    aws/sqs/<queue>.json                          a queue's attributes (redrive policy included)
    aws/sqs/messages/<message id>.json            one file per message: its queue, body, attributes,
                                                  receive count, visibility and receipt handle

A request's changes are written in one order: new and changed files first (objects before the
messages that announce them), removals last, so a crash part-way leaves a duplicate at worst,
never a loss. A message's file goes only when the message is deleted (DeleteMessage, a purge, its
queue deleted); one moved to its dead-letter queue is rewritten in place. Objects keep their
latest version only (versioning is not restored). One account and region, as the stack uses.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import itertools
import json
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pitchlens.infrastructure.logging import get_logger

log = get_logger("pitchlens.runtime")

OBJECT_MAGIC = b"pitchlens-object 1\n"
COPY_CHUNK = 1024 * 1024
# Queue attributes CreateQueue accepts (the rest are counters and timestamps).
QUEUE_ATTRIBUTES = {
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
}


@dataclass
class Changes:
    """What one request changed, by name; `MotoStore.persist` reads the current state of each.

    S3 entries are (backend, bucket, ...) and SQS entries (backend, queue): the backend says
    which account (and region) the name belongs to. `queues` are queues whose attributes changed
    (or that were created or deleted), `messages` queues whose messages did."""

    buckets: set[tuple[Any, str]] = field(default_factory=set)
    objects: set[tuple[Any, str, str]] = field(default_factory=set)
    uploads: set[tuple[Any, str, str]] = field(default_factory=set)
    parts: set[tuple[Any, str, str, int]] = field(default_factory=set)
    queues: set[tuple[Any, str]] = field(default_factory=set)
    messages: set[tuple[Any, str]] = field(default_factory=set)
    deleted_messages: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return any(
            (
                self.buckets,
                self.objects,
                self.uploads,
                self.parts,
                self.queues,
                self.messages,
                self.deleted_messages,
            )
        )


class MotoStore:
    """Writes moto's buckets, objects, uploads, queues and messages through to `<data_dir>/aws`."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "aws"
        self._locks = [threading.Lock() for _ in range(64)]
        # Raw configurations as moto received them (moto keeps only its parsed form).
        self._bucket_configs: dict[tuple[str, str], dict[str, Any]] = {}
        # What is on disk, to write only what changed: record JSON, message fingerprints.
        self._records: dict[Path, str] = {}
        self._messages: dict[str, tuple[Any, ...]] = {}
        self._order = itertools.count()

    def remember_bucket_config(self, backend: Any, bucket: str, name: str, value: Any) -> None:
        """Keeps a notification or CORS configuration as moto received it, to give it back."""
        self._bucket_configs.setdefault((backend.account_id, bucket), {})[name] = value

    # Writing ---------------------------------------------------------------------------------
    def persist(self, changes: Changes) -> None:
        """Makes `changes` durable: writes first, removals last (see the module docstring)."""
        dirs: set[Path] = set()
        removals: list[Path] = []
        for backend, bucket in sorted(changes.buckets, key=_by_name):
            self._persist_bucket(backend, bucket, dirs, removals)
        for backend, queue in sorted(changes.queues, key=_by_name):
            self._persist_queue(backend, queue, dirs, removals)
        for backend, bucket, upload_id in changes.uploads:
            self._persist_upload(backend, bucket, upload_id, dirs, removals)
        for backend, bucket, upload_id, part in changes.parts:
            self._persist_part(backend, bucket, upload_id, part, dirs)
        for backend, bucket, key in changes.objects:
            self._persist_object(backend, bucket, key, dirs)
        _fsync_dirs(dirs)  # objects are durable before the messages announcing them
        for backend, queue in self._with_dead_letter_queues(changes.messages):
            self._persist_messages(backend, queue, dirs)
        _fsync_dirs(dirs)
        for message_id in changes.deleted_messages:
            path = self._message_path(message_id)
            with self._lock(message_id):
                self._messages.pop(message_id, None)
                path.unlink(missing_ok=True)
                dirs.add(path.parent)
        for folder in removals:
            self._remove_tree(folder, dirs)
        _fsync_dirs(dirs)

    def _lock(self, name: Path | str) -> threading.Lock:
        return self._locks[hash(name) % len(self._locks)]

    def _bucket_dir(self, bucket: str) -> Path:
        return self.root / "s3" / bucket

    def _object_path(self, bucket: str, key: str) -> Path:
        return self._bucket_dir(bucket) / "objects" / hashlib.sha256(key.encode()).hexdigest()

    def _upload_dir(self, bucket: str, upload_id: str) -> Path:
        return self._bucket_dir(bucket) / "uploads" / upload_id

    def _queue_path(self, queue: str) -> Path:
        return self.root / "sqs" / f"{queue}.json"

    def _message_path(self, message_id: str) -> Path:
        return self.root / "sqs" / "messages" / f"{message_id}.json"

    def _persist_bucket(self, backend: Any, name: str, dirs: set[Path], removals: list[Path]) -> None:
        bucket = backend.buckets.get(name)
        if bucket is None:
            self._bucket_configs.pop((backend.account_id, name), None)
            removals.append(self._bucket_dir(name))
            return
        configs = self._bucket_configs.get((backend.account_id, name), {})
        record = {
            "account": backend.account_id,
            "partition": backend.region_name,
            "name": name,
            "region": bucket.region_name,
            "notification": configs.get("notification"),
            "cors": configs.get("cors"),
        }
        self._write_record(self._bucket_dir(name) / "bucket.json", record, dirs)

    def _persist_queue(self, backend: Any, name: str, dirs: set[Path], removals: list[Path]) -> None:
        queue = backend.queues.get(name)
        if queue is None:
            removals.append(self._queue_path(name))
            return
        attributes = {k: v for k, v in queue.attributes.items() if k in QUEUE_ATTRIBUTES and v is not None}
        record = {
            "account": backend.account_id,
            "region": backend.region_name,
            "name": name,
            "attributes": attributes,
            "tags": dict(queue.tags),
        }
        self._write_record(self._queue_path(name), record, dirs)

    def _write_record(self, path: Path, record: dict[str, Any], dirs: set[Path]) -> None:
        text = json.dumps(record, sort_keys=True, default=_json_default)
        with self._lock(path):
            if self._records.get(path) != text:
                _durable_write(path, dirs, lambda out: out.write(text.encode()))
                self._records[path] = text

    def _persist_upload(
        self, backend: Any, bucket: str, upload_id: str, dirs: set[Path], removals: list[Path]
    ) -> None:
        folder = self._upload_dir(bucket, upload_id)
        found = backend.buckets.get(bucket)
        multipart = found.multiparts.get(upload_id) if found is not None else None
        if multipart is None:  # completed (the object is written first) or aborted
            removals.append(folder)
            return
        record = {
            "key": multipart.key_name,
            "id": upload_id,
            "metadata": dict(multipart.metadata or {}),
            "storage": multipart.storage,
            "tags": multipart.tags,
            "sse_encryption": multipart.sse_encryption,
            "kms_key_id": multipart.kms_key_id,
        }
        self._write_record(folder / "upload.json", record, dirs)

    def _persist_part(self, backend: Any, bucket: str, upload_id: str, number: int, dirs: set[Path]) -> None:
        path = self._upload_dir(bucket, upload_id) / f"{number:05d}"
        with self._lock(path):
            found = backend.buckets.get(bucket)
            multipart = found.multiparts.get(upload_id) if found is not None else None
            part = multipart.parts.get(number) if multipart is not None else None
            if part is not None:
                _write_value(path, dirs, part)

    def _persist_object(self, backend: Any, bucket: str, key: str, dirs: set[Path]) -> None:
        path = self._object_path(bucket, key)
        with self._lock(path):
            found = backend.buckets.get(bucket)
            current = found.keys.get(key) if found is not None else None
            if current is None or not hasattr(current, "_value_buffer"):  # gone, or a delete marker
                if path.exists():
                    path.unlink()
                    dirs.add(path.parent)
                return
            header = {
                "key": key,
                "etag": current.etag.strip('"'),
                "last_modified": current.last_modified.isoformat(),
                "metadata": dict(current.metadata),
                "storage_class": current.storage_class,
                "tags": backend.tagger.get_tag_dict_for_resource(current.arn),
                "checksum": [current.checksum_algorithm, current.checksum_value, current.checksum_type],
                "encryption": [current.encryption, current.kms_key_id],
                "website_redirect_location": current.website_redirect_location,
            }
            _write_value(path, dirs, current, OBJECT_MAGIC + json.dumps(header).encode() + b"\n")

    def _with_dead_letter_queues(self, queues: set[tuple[Any, str]]) -> list[tuple[Any, str]]:
        """The changed queues and their dead-letter queues: a receive moves messages there."""
        found = set(queues)
        for backend, name in queues:
            queue = backend.queues.get(name)
            if queue is not None and queue.dead_letter_queue is not None:
                found.add((backend, queue.dead_letter_queue.name))
        return sorted(found, key=_by_name)

    def _persist_messages(self, backend: Any, name: str, dirs: set[Path]) -> None:
        queue = backend.queues.get(name)
        if queue is None:
            return
        for message in list(queue._messages):
            if self._messages.get(message.id) == (name, *_fingerprint(message)):
                continue  # unchanged: most of a queue, most of the time
            with self._lock(message.id):
                fingerprint = (name, *_fingerprint(message))
                if self._messages.get(message.id) == fingerprint or message not in queue._messages:
                    continue  # written meanwhile, or moved or deleted (that request writes it)
                record = _message_record(message, backend, name, next(self._order))
                text = json.dumps(record, default=_json_default).encode()
                _durable_write(self._message_path(message.id), dirs, lambda out, text=text: out.write(text))
                self._messages[message.id] = fingerprint

    def _remove_tree(self, path: Path, dirs: set[Path]) -> None:
        with self._lock(path):
            for record in [p for p in self._records if p == path or path in p.parents]:
                del self._records[record]
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            dirs.add(path.parent)

    # Restoring -------------------------------------------------------------------------------
    def restore(self) -> dict[str, int]:
        """Loads buckets and queues that do not exist yet, then every object, upload and message.

        Run with persistence suspended, before bucket notifications are configured, so nothing
        restored announces itself again. Buckets and queues that exist (the provisioner made them
        from the current settings) keep their settings; their contents are restored."""
        from moto.s3.models import s3_backends
        from moto.sqs.models import sqs_backends

        counts = {"buckets": 0, "objects": 0, "uploads": 0, "queues": 0, "messages": 0}
        for partial in self.root.rglob("*.tmp"):  # a write a crash interrupted: never acknowledged
            partial.unlink()
        for path in sorted(self.root.glob("s3/*/bucket.json")):
            record = json.loads(path.read_text())
            backend = s3_backends[record["account"]][record["partition"]]
            name = record["name"]
            if name not in backend.buckets:
                backend.create_bucket(name, record["region"])
                counts["buckets"] += 1
                for config in ("notification", "cors"):
                    if record[config]:
                        self.remember_bucket_config(backend, name, config, record[config])
                if record["notification"]:
                    with _no_test_event():  # AWS sends one when the configuration is put, not again
                        backend.put_bucket_notification_configuration(name, record["notification"])
                if record["cors"]:
                    backend.put_bucket_cors(name, record["cors"])
            bucket = backend.buckets[name]
            for object_path in sorted((path.parent / "objects").glob("*")):
                if not object_path.name.endswith(".tmp"):
                    counts["objects"] += _restore_object(backend, bucket, object_path)
            for upload in sorted((path.parent / "uploads").glob("*/upload.json")):
                _restore_upload(backend, bucket, upload)
                counts["uploads"] += 1

        records = [json.loads(p.read_text()) for p in sorted(self.root.glob("sqs/*.json"))]
        counts["queues"] = _restore_queues(sqs_backends, records)
        messages = [json.loads(p.read_text()) for p in self.root.glob("sqs/messages/*.json")]
        for record in sorted(messages, key=lambda m: (m["sent_timestamp"], m["order"])):
            queue = sqs_backends[record["account"]][record["region"]].queues.get(record["queue"])
            if queue is None:
                log.warning("a stored message's queue is gone", queue=record["queue"], id=record["id"])
                continue
            message = _restore_message(queue, record)
            self._messages[message.id] = (record["queue"], *_fingerprint(message))
            counts["messages"] += 1
        return counts


# Objects, uploads, queues and messages: moto's models to and from records ---------------------
def _write_value(path: Path, dirs: set[Path], key: Any, header: bytes = b"") -> None:
    """Writes `header` then a FakeKey's bytes, streamed (moto spools large values to disk)."""

    def write(out: IO[bytes]) -> None:
        out.write(header)
        with key.lock:
            key._value_buffer.seek(0)
            shutil.copyfileobj(key._value_buffer, out, COPY_CHUNK)

    try:
        _durable_write(path, dirs, write)
    except ValueError:  # replaced meanwhile, and moto closed its buffer: that request writes it
        log.info("an object was replaced while being saved", path=str(path))


def _restore_object(backend: Any, bucket: Any, path: Path) -> int:
    with path.open("rb") as source:
        if source.readline() != OBJECT_MAGIC:
            log.warning("skipping an unreadable object file", path=str(path))
            return 0
        header = json.loads(source.readline())
        algorithm, checksum, checksum_type = header["checksum"]
        encryption, kms_key_id = header["encryption"]
        key = backend.put_object(
            bucket.name,
            header["key"],
            b"",
            storage=header["storage_class"],
            etag=header["etag"],
            encryption=encryption,
            kms_key_id=kms_key_id,
            checksum_value=checksum,
            disable_notification=True,
        )
        with key.lock:  # stream the bytes in: a large object never sits in memory whole
            shutil.copyfileobj(source, key._value_buffer, COPY_CHUNK)
            key.contentsize = key._value_buffer.tell()
    key.set_metadata(header["metadata"])
    key.last_modified = datetime.datetime.fromisoformat(header["last_modified"])
    key.checksum_algorithm, key.checksum_type = algorithm, checksum_type
    key.website_redirect_location = header["website_redirect_location"]
    if header["tags"]:
        backend.put_object_tagging(key, header["tags"])
    return 1


def _restore_upload(backend: Any, bucket: Any, path: Path) -> None:
    from moto.s3.models import FakeMultipart
    from moto.s3.utils import CaseInsensitiveDict

    record = json.loads(path.read_text())
    multipart = FakeMultipart(
        record["key"],
        CaseInsensitiveDict(record["metadata"]),
        account_id=backend.account_id,
        region_name=backend.region_name,
        storage=record["storage"],
        tags=record["tags"],
        sse_encryption=record["sse_encryption"],
        kms_key_id=record["kms_key_id"],
    )
    multipart.id = record["id"]
    bucket.multiparts[multipart.id] = multipart
    for part in sorted(path.parent.glob("[0-9]*")):
        if not part.name.endswith(".tmp"):
            multipart.set_part(int(part.name), part.read_bytes())


def _restore_queues(sqs_backends: Any, records: list[dict[str, Any]]) -> int:
    """Creates the missing queues, dead-letter queues before the queues redriving to them."""
    created = 0
    waiting = [r for r in records if r["name"] not in sqs_backends[r["account"]][r["region"]].queues]
    while waiting:
        progress = []
        for record in waiting:
            backend = sqs_backends[record["account"]][record["region"]]
            policy = json.loads(record["attributes"].get("RedrivePolicy") or "{}")
            target = policy.get("deadLetterTargetArn", "").rsplit(":", 1)[-1]
            if target and target not in backend.queues:
                continue
            backend.create_queue(record["name"], record["tags"] or None, **record["attributes"])
            progress.append(record)
        if not progress:
            log.warning("queues whose dead-letter queue is gone were not restored", queues=len(waiting))
            break
        created += len(progress)
        waiting = [r for r in waiting if r not in progress]
    return created


def _fingerprint(message: Any) -> tuple[Any, ...]:
    return (
        message.approximate_receive_count,
        message.visible_at,
        message.delayed_until,
        message.receipt_handle,
    )


def _message_record(message: Any, backend: Any, queue: str, order: int) -> dict[str, Any]:
    return {
        "account": backend.account_id,
        "region": backend.region_name,
        "queue": queue,
        "id": message.id,
        "body": message.body,
        "message_attributes": message.message_attributes,
        "system_attributes": message.system_attributes,
        "sender_id": message.sender_id,
        "sent_timestamp": message.sent_timestamp,
        "order": order,
        "first_receive_timestamp": message.approximate_first_receive_timestamp,
        "receive_count": message.approximate_receive_count,
        "receipt_handle": message.receipt_handle,
        "visible_at": message.visible_at,
        "delayed_until": message.delayed_until,
        "group_id": message.group_id,
        "deduplication_id": message.deduplication_id,
        "sequence_number": message.sequence_number,
    }


def _restore_message(queue: Any, record: dict[str, Any]) -> Any:
    from moto.sqs.models import Message

    record = _json_bytes(record)
    message = Message(record["id"], record["body"], record["system_attributes"])
    message.message_attributes = record["message_attributes"]
    message.sender_id = record["sender_id"]
    message.sent_timestamp = record["sent_timestamp"]
    message.approximate_first_receive_timestamp = record["first_receive_timestamp"]
    message.approximate_receive_count = record["receive_count"]
    message.receipt_handle = record["receipt_handle"]
    message.visible_at = record["visible_at"]
    message.delayed_until = record["delayed_until"]
    message.group_id = record["group_id"]
    message.deduplication_id = record["deduplication_id"]
    message.sequence_number = record["sequence_number"]
    with queue._messages_lock:
        queue._messages.append(message)
        if not message.visible:  # in flight when the stack stopped: back after its visibility timeout
            queue.pending_messages.add(message)
        queue._messages_lock.notify_all()
    return message


@contextmanager
def _no_test_event() -> Iterator[None]:
    from moto.s3 import notifications

    send_test_event = notifications.send_test_event
    notifications.send_test_event = lambda *args, **kwargs: None
    try:
        yield
    finally:
        notifications.send_test_event = send_test_event


# Files ---------------------------------------------------------------------------------------
def _durable_write(path: Path, dirs: set[Path], write: Any) -> None:
    """Writes `path` atomically and durably (the caller fsyncs the directories in `dirs`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    try:
        with temporary.open("wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    dirs.add(path.parent)


def _fsync_dirs(dirs: set[Path]) -> None:
    for folder in sorted(dirs):
        if folder.exists():
            descriptor = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
    dirs.clear()


def _by_name(entry: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(str(part) for part in entry[1:])


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode()}
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__}")


def _json_bytes(value: Any) -> Any:
    """Turns `{"__bytes__": ...}` (from `_json_default`) back into bytes, anywhere in `value`."""
    if isinstance(value, dict):
        if set(value) == {"__bytes__"}:
            return base64.b64decode(value["__bytes__"])
        return {k: _json_bytes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_bytes(v) for v in value]
    return value


def import_snapshot(data_dir: Path, s3: Any, sqs: Any) -> int:
    """Loads the periodic snapshot earlier versions wrote (`s3/manifest.json`, `sqs.json`) through
    the server, which persists it the new way, then deletes it; returns how many items it held."""
    manifest_path, messages_path = data_dir / "s3" / "manifest.json", data_dir / "sqs.json"
    imported = 0
    if manifest_path.is_file():
        for entry in json.loads(manifest_path.read_text()).values():
            extra = {"ContentType": entry["content_type"]} if entry.get("content_type") else {}
            body = (data_dir / "s3" / entry["file"]).read_bytes()
            s3.put_object(
                Bucket=entry["bucket"], Key=entry["key"], Body=body, Metadata=entry["metadata"], **extra
            )
            imported += 1
    if messages_path.is_file():
        for name, messages in json.loads(messages_path.read_text()).items():
            for message in messages:
                sqs.send_message(
                    QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"],
                    MessageBody=message["body"],
                    MessageAttributes={
                        k: {"DataType": "String", "StringValue": v} for k, v in message["attributes"].items()
                    },
                )
                imported += 1
        messages_path.unlink()
    if manifest_path.is_file():
        shutil.rmtree(data_dir / "s3")
    return imported
