"""One parser for object-created notifications, whichever way they arrive:

* AWS S3 event notifications delivered through SQS (``{"Records": [{"eventSource": "aws:s3", ...}]}``),
  including the ``s3:TestEvent`` S3 sends when a notification is first configured (ignored);
* MinIO webhook notifications (``{"EventName": "s3:ObjectCreated:Put", "Key": "bucket/key",
  "Records": [...]}``) and MinIO events queued by our webhook endpoint;
* SeaweedFS filer webhook events (compose's S3 server): ``{"event_type": "create", "key":
  "/buckets/<bucket>/<key>", "message": {"new_entry": {...}}}``, one per filer change. Only files
  created or replaced under a bucket count: folders, the parts of multipart uploads in progress
  (``<bucket>/.uploads/``) and removals give none.

S3 and MinIO object keys arrive URL-encoded (spaces as ``+``) and are decoded here; SeaweedFS's
paths arrive as they are.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import ObjectCreated

SEAWEEDFS_BUCKETS = "/buckets/"
"""Where SeaweedFS's filer keeps the S3 buckets (its default)."""


def is_notification(document: object) -> bool:
    return isinstance(document, Mapping) and (
        document.get("Event") == "s3:TestEvent"
        or "EventName" in document
        or _has_s3_records(document)
        or _is_seaweedfs_event(document)
    )


def _is_seaweedfs_event(document: Mapping[str, Any]) -> bool:
    key = document.get("key")
    return (
        isinstance(document.get("event_type"), str)
        and isinstance(key, str)
        and key.startswith(SEAWEEDFS_BUCKETS)
        and isinstance(document.get("message"), Mapping)
    )


def _has_s3_records(document: Mapping[str, Any]) -> bool:
    records = document.get("Records")
    return isinstance(records, list) and any(isinstance(r, Mapping) and "s3" in r for r in records)


def parse_object_created(document: Mapping[str, Any]) -> list[ObjectCreated]:
    """Every object-created record in the notification (test events and removals give none)."""
    if document.get("Event") == "s3:TestEvent":
        return []
    if _is_seaweedfs_event(document):
        return _seaweedfs_created(document)
    created = []
    for record in document.get("Records") or []:
        if not isinstance(record, Mapping):
            raise InvalidMessage("notification record is not an object")
        event_name = str(record.get("eventName", ""))
        if "ObjectCreated" not in event_name:
            continue
        try:
            s3 = record["s3"]
            obj = s3["object"]
            created.append(
                ObjectCreated(
                    bucket=s3["bucket"]["name"],
                    key=unquote_plus(obj["key"]),
                    size=int(obj.get("size") or 0),
                    etag=str(obj.get("eTag") or obj.get("etag") or "").strip('"'),
                    sequencer=str(obj.get("sequencer") or ""),
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidMessage(f"object-created record lacks {error}") from error
    return created


def _seaweedfs_created(document: Mapping[str, Any]) -> list[ObjectCreated]:
    """The object a SeaweedFS filer event created or replaced, if it is one (see the module doc)."""
    if document["event_type"] not in ("create", "update"):
        return []
    bucket, _, key = str(document["key"])[len(SEAWEEDFS_BUCKETS) :].partition("/")
    entry = document["message"].get("new_entry")
    if not bucket or not key or key.startswith(".uploads/") or not isinstance(entry, Mapping):
        return []
    if entry.get("is_directory"):
        return []
    attributes = entry.get("attributes") or {}
    extended = entry.get("extended") or {}
    try:
        size = int(attributes.get("file_size") or 0)
        # The S3 ETag SeaweedFS answers with (multipart: "<md5>-<parts>"), base64 in the event.
        etag = _base64_text(extended.get("Seaweed-X-Amz-ETag")) or _base64_hex(attributes.get("md5"))
    except (TypeError, ValueError, binascii.Error) as error:
        raise InvalidMessage(f"SeaweedFS event for {bucket}/{key} is malformed: {error}") from error
    chunks = entry.get("chunks") or []
    changed = max((int(c.get("modified_ts_ns") or 0) for c in chunks if isinstance(c, Mapping)), default=0)
    sequencer = str(changed or attributes.get("mtime") or "")
    return [ObjectCreated(bucket=bucket, key=key, size=size, etag=etag.strip('"'), sequencer=sequencer)]


def _base64_text(value: object) -> str:
    return base64.b64decode(str(value), validate=True).decode("ascii") if value else ""


def _base64_hex(value: object) -> str:
    return base64.b64decode(str(value), validate=True).hex() if value else ""
