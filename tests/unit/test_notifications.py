from __future__ import annotations

import pytest

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import ObjectCreated
from pitchlens.infrastructure.messaging.notifications import is_notification, parse_object_created

pytestmark = pytest.mark.unit


def s3_record(key: str, event: str = "ObjectCreated:Put", source: str = "aws:s3") -> dict[str, object]:
    return {
        "eventVersion": "2.1",
        "eventSource": source,
        "eventName": event,
        "s3": {
            "bucket": {"name": "raw-data", "arn": "arn:aws:s3:::raw-data"},
            "object": {"key": key, "size": 12, "eTag": "abc", "sequencer": "0055"},
        },
    }


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"Records": [s3_record("statsbomb/1/events.json")]}, ["statsbomb/1/events.json"]),
        ({"Records": [s3_record("metrica/g+1/Sample+Game%281%29.csv")]}, ["metrica/g 1/Sample Game(1).csv"]),
        ({"Records": [s3_record("a/b/c", "ObjectRemoved:Delete")]}, []),
        (
            {"Records": [s3_record("a/b/c", "s3:ObjectCreated:CompleteMultipartUpload", "minio:s3")]},
            ["a/b/c"],
        ),
        (
            {
                "Service": "Amazon S3",
                "Event": "s3:TestEvent",
                "Time": "2026-11-21T00:00:00Z",
                "Bucket": "raw-data",
            },
            [],
        ),
        (
            {"EventName": "s3:ObjectCreated:Put", "Key": "raw-data/x/y/z", "Records": [s3_record("x/y/z")]},
            ["x/y/z"],
        ),
    ],
    ids=["aws", "url-encoded", "removal-ignored", "minio-record", "test-event", "minio-webhook"],
)
def test_object_created_notifications(document: dict[str, object], expected: list[str]) -> None:
    assert is_notification(document)
    assert [c.key for c in parse_object_created(document)] == expected


def test_fields_are_kept() -> None:
    [created] = parse_object_created({"Records": [s3_record("k/1/f.json")]})
    assert created == ObjectCreated("raw-data", "k/1/f.json", 12, "abc", "0055")


@pytest.mark.parametrize("document", [{"type": "X", "payload": {}}, {"Records": []}, {"hello": 1}])
def test_other_documents_are_not_notifications(document: dict[str, object]) -> None:
    assert not is_notification(document)


def test_malformed_record_is_rejected() -> None:
    with pytest.raises(InvalidMessage, match="lacks"):
        parse_object_created({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {}}}]})
