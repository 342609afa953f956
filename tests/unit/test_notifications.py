from __future__ import annotations

import base64

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


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def seaweedfs_event(key: str, event_type: str = "create", **entry: object) -> dict[str, object]:
    """A SeaweedFS filer webhook event, shaped as SeaweedFS 4.48 sends them (trimmed)."""
    new_entry: dict[str, object] = {
        "name": key.rsplit("/", 1)[-1],
        "chunks": [
            {"size": 1000, "modified_ts_ns": 1796172870984456326, "e_tag": "OYUz1IER6fZksfZMsQxLYw=="}
        ],
        "attributes": {"file_size": 1000, "mtime": 1796172870, "md5": "OYUz1IER6fZksfZMsQxLYw=="},
        "extended": {
            "Seaweed-X-Amz-ETag": _b64("398533d48111e9f664b1f64cb10c4b63"),
            "X-Amz-Meta-Correlation-Id": _b64("c-1"),
        },
        **entry,
    }
    return {
        "event_type": event_type,
        "key": key,
        "message": {"new_entry": new_entry, "new_parent_path": key.rsplit("/", 1)[0], "signatures": [1]},
    }


def test_seaweedfs_object_created() -> None:
    document = seaweedfs_event("/buckets/videos/m1/a b.mp4")
    assert is_notification(document)
    assert parse_object_created(document) == [
        ObjectCreated("videos", "m1/a b.mp4", 1000, "398533d48111e9f664b1f64cb10c4b63", "1796172870984456326")
    ]


def test_seaweedfs_multipart_upload_and_replacement() -> None:
    multipart = seaweedfs_event(
        "/buckets/raw-data/statsbomb/1/events.json",
        extended={"Seaweed-X-Amz-ETag": _b64("ae09e363e85ceb245c3cf242c88ff7d5-2")},
    )
    assert [(c.bucket, c.key, c.etag) for c in parse_object_created(multipart)] == [
        ("raw-data", "statsbomb/1/events.json", "ae09e363e85ceb245c3cf242c88ff7d5-2")
    ]
    # An overwrite is an "update" of the same path: S3 calls it ObjectCreated too.
    replaced = seaweedfs_event("/buckets/videos/m1/x.mp4", "update")
    assert [c.key for c in parse_object_created(replaced)] == ["m1/x.mp4"]
    # Without the S3 ETag, the content MD5 (base64 in the event) in hex.
    plain = seaweedfs_event("/buckets/videos/m1/y.mp4", extended={})
    assert [c.etag for c in parse_object_created(plain)] == ["398533d48111e9f664b1f64cb10c4b63"]


@pytest.mark.parametrize(
    "document",
    [
        seaweedfs_event("/buckets/videos/m1", is_directory=True),
        seaweedfs_event("/buckets/videos/.uploads/53ffc8a0_f995/0001_cd2a.part"),
        seaweedfs_event("/buckets/videos/m1/x.mp4", "delete"),
        seaweedfs_event("/buckets/videos/m1/x.mp4", "rename"),
        seaweedfs_event("/buckets/videos"),
    ],
    ids=["folder", "multipart-part", "delete", "rename", "bucket-itself"],
)
def test_seaweedfs_events_that_create_no_object(document: dict[str, object]) -> None:
    assert is_notification(document)
    assert parse_object_created(document) == []


def test_seaweedfs_event_outside_buckets_is_not_a_notification() -> None:
    assert not is_notification(seaweedfs_event("/topics/.system/log/x"))


def test_malformed_seaweedfs_event_is_rejected() -> None:
    document = seaweedfs_event("/buckets/videos/m1/x.mp4", extended={"Seaweed-X-Amz-ETag": "%%%"})
    with pytest.raises(InvalidMessage, match="malformed"):
        parse_object_created(document)
