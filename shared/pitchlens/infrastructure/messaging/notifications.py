"""One parser for object-created notifications, whichever way they arrive:

* AWS S3 event notifications delivered through SQS (``{"Records": [{"eventSource": "aws:s3", ...}]}``),
  including the ``s3:TestEvent`` S3 sends when a notification is first configured (ignored);
* MinIO webhook notifications (``{"EventName": "s3:ObjectCreated:Put", "Key": "bucket/key",
  "Records": [...]}``) and MinIO events queued by our webhook endpoint.

Object keys arrive URL-encoded (spaces as ``+``) and are decoded here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import ObjectCreated


def is_notification(document: object) -> bool:
    return isinstance(document, Mapping) and (
        document.get("Event") == "s3:TestEvent" or "EventName" in document or _has_s3_records(document)
    )


def _has_s3_records(document: Mapping[str, Any]) -> bool:
    records = document.get("Records")
    return isinstance(records, list) and any(isinstance(r, Mapping) and "s3" in r for r in records)


def parse_object_created(document: Mapping[str, Any]) -> list[ObjectCreated]:
    """Every object-created record in the notification (test events and removals give none)."""
    if document.get("Event") == "s3:TestEvent":
        return []
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
