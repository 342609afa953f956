"""The embedded S3/SQS server writes every acknowledged change through to the data dir: after a
restart (a new server, moto's memory wiped, the store restored) everything a client saw
acknowledged is back, and a change that cannot be written is answered 503, never 200."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pitchlens.runtime.embedded.moto_server import DurableMotoServer
from pitchlens.runtime.embedded.moto_store import Changes, MotoStore, import_snapshot

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


@dataclass
class Server:
    """One run of the server on a data dir; `restart()` is what a new `pitchlens up` does."""

    data_dir: Path
    server: DurableMotoServer | None = None
    s3: Any = None
    sqs: Any = None

    def start(self, store: MotoStore | None = None) -> dict[str, int]:
        self.server = DurableMotoServer("127.0.0.1", 0, store or MotoStore(self.data_dir))
        self.server.start()
        endpoint = f"http://127.0.0.1:{self.server.port}"
        httpx.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        options = {
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "pitchlens",
            "aws_secret_access_key": "pitchlens",
            "config": Config(retries={"max_attempts": 1}),
        }
        self.s3 = boto3.client("s3", **options)
        self.sqs = boto3.client("sqs", **options)
        return self.server.restore()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def restart(self) -> dict[str, int]:
        self.stop()
        return self.start()

    def queue_url(self, name: str) -> str:
        url: str = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return url

    def receive(self, name: str, **options: Any) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue_url(name), AttributeNames=["All"], MessageAttributeNames=["All"], **options
        ).get("Messages", [])
        return messages


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_objects_survive_a_restart_with_their_metadata_and_deletes_stay_deleted(aws: Server) -> None:
    aws.s3.create_bucket(Bucket="clips")
    aws.s3.put_object(
        Bucket="clips",
        Key="a/one match.mp4",
        Body=b"first",
        ContentType="video/mp4",
        Metadata={"correlation-id": "c-1"},
        Tagging="team=home",
    )
    aws.s3.put_object(Bucket="clips", Key="a/one match.mp4", Body=b"second")  # overwritten
    aws.s3.put_object(Bucket="clips", Key="gone.json", Body=b"{}")
    aws.s3.delete_object(Bucket="clips", Key="gone.json")
    aws.s3.put_object(Bucket="clips", Key="kept.json", Body=b'{"x": 1}', Metadata={"batch-size": "2"})
    aws.s3.copy_object(Bucket="clips", Key="copy.json", CopySource={"Bucket": "clips", "Key": "kept.json"})
    before = aws.s3.head_object(Bucket="clips", Key="kept.json")

    restored = aws.restart()

    assert restored["buckets"] == 1 and restored["objects"] == 3
    keys = sorted(o["Key"] for o in aws.s3.list_objects_v2(Bucket="clips")["Contents"])
    assert keys == ["a/one match.mp4", "copy.json", "kept.json"]
    assert aws.s3.get_object(Bucket="clips", Key="a/one match.mp4")["Body"].read() == b"second"
    kept = aws.s3.get_object(Bucket="clips", Key="kept.json")
    assert kept["Body"].read() == b'{"x": 1}'
    assert kept["Metadata"] == {"batch-size": "2"} and kept["ETag"] == before["ETag"]
    assert kept["LastModified"] == before["LastModified"]
    assert aws.s3.get_object(Bucket="clips", Key="copy.json")["Metadata"] == {"batch-size": "2"}


def test_tags_and_content_type_survive(aws: Server) -> None:
    aws.s3.create_bucket(Bucket="clips")
    aws.s3.put_object(Bucket="clips", Key="k", Body=b"x", ContentType="video/mp4", Tagging="team=home")
    aws.restart()
    assert aws.s3.head_object(Bucket="clips", Key="k")["ContentType"] == "video/mp4"
    assert aws.s3.get_object_tagging(Bucket="clips", Key="k")["TagSet"] == [{"Key": "team", "Value": "home"}]


def test_multipart_uploads_survive_completed_and_in_progress(aws: Server) -> None:
    aws.s3.create_bucket(Bucket="videos")
    first, second = b"a" * (5 * MiB), b"b" * (3 * MiB)  # 8 MiB: moto spools it to a file
    done = aws.s3.create_multipart_upload(Bucket="videos", Key="done.mp4", Metadata={"m": "1"})["UploadId"]
    parts = [
        {"PartNumber": n, "ETag": aws.s3.upload_part(Bucket="videos", Key="done.mp4", UploadId=done,
                                                     PartNumber=n, Body=body)["ETag"]}
        for n, body in ((1, first), (2, second))
    ]  # fmt: skip
    aws.s3.complete_multipart_upload(
        Bucket="videos", Key="done.mp4", UploadId=done, MultipartUpload={"Parts": parts}
    )
    open_upload = aws.s3.create_multipart_upload(Bucket="videos", Key="open.mp4")["UploadId"]
    part_one = aws.s3.upload_part(
        Bucket="videos", Key="open.mp4", UploadId=open_upload, PartNumber=1, Body=first
    )

    restored = aws.restart()

    assert restored["uploads"] == 1  # the completed upload's parts are gone from the disk
    done_object = aws.s3.get_object(Bucket="videos", Key="done.mp4")
    assert done_object["Body"].read() == first + second
    assert done_object["ETag"].endswith('-2"') and done_object["Metadata"] == {"m": "1"}
    # The upload in progress goes on where it was: part 1 is there, part 2 completes it.
    listed = aws.s3.list_multipart_uploads(Bucket="videos")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [("open.mp4", open_upload)]
    part_two = aws.s3.upload_part(
        Bucket="videos", Key="open.mp4", UploadId=open_upload, PartNumber=2, Body=b"c"
    )
    aws.s3.complete_multipart_upload(
        Bucket="videos",
        Key="open.mp4",
        UploadId=open_upload,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": part_one["ETag"]},
                {"PartNumber": 2, "ETag": part_two["ETag"]},
            ]
        },
    )
    assert aws.s3.get_object(Bucket="videos", Key="open.mp4")["Body"].read() == first + b"c"
    aws.restart()
    assert aws.s3.list_multipart_uploads(Bucket="videos").get("Uploads", []) == []
    assert aws.s3.head_object(Bucket="videos", Key="open.mp4")["ContentLength"] == len(first) + 1


def test_an_unknown_or_finished_upload_is_no_such_upload_not_a_server_error(aws: Server) -> None:
    aws.s3.create_bucket(Bucket="videos")
    done = aws.s3.create_multipart_upload(Bucket="videos", Key="a.mp4")["UploadId"]
    aws.s3.abort_multipart_upload(Bucket="videos", Key="a.mp4", UploadId=done)
    for upload_id in ("nope", done):
        with pytest.raises(aws.s3.exceptions.NoSuchUpload):
            aws.s3.complete_multipart_upload(
                Bucket="videos",
                Key="a.mp4",
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": "x"}]},
            )
        with pytest.raises(aws.s3.exceptions.NoSuchUpload):
            aws.s3.abort_multipart_upload(Bucket="videos", Key="a.mp4", UploadId=upload_id)


def test_presigned_put_is_durable(aws: Server) -> None:
    aws.s3.create_bucket(Bucket="videos")
    url = aws.s3.generate_presigned_url("put_object", Params={"Bucket": "videos", "Key": "browser.mp4"})
    assert httpx.put(url, content=b"from the browser", timeout=10).status_code == 200
    aws.restart()
    assert aws.s3.get_object(Bucket="videos", Key="browser.mp4")["Body"].read() == b"from the browser"


def test_messages_keep_their_receive_counts_and_reach_the_dead_letter_queue(aws: Server) -> None:
    dlq = aws.sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
    dlq_arn = aws.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    work = aws.sqs.create_queue(
        QueueName="work", Attributes={"VisibilityTimeout": "30", "RedrivePolicy": policy}
    )["QueueUrl"]
    attributes = {"kind": {"DataType": "String", "StringValue": "test"}}
    aws.sqs.send_message(QueueUrl=work, MessageBody="done")
    [done] = aws.receive("work")
    aws.sqs.delete_message(QueueUrl=work, ReceiptHandle=done["ReceiptHandle"])
    aws.sqs.send_message(QueueUrl=work, MessageBody="poison", MessageAttributes=attributes)
    [poison] = aws.receive("work")  # received once, in flight for 30 s

    aws.restart()

    assert aws.receive("work") == []  # still in flight: its visibility timeout survived
    queue = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url("work"), AttributeNames=["All"])["Attributes"]
    assert json.loads(queue["RedrivePolicy"])["maxReceiveCount"] == 2
    assert queue["ApproximateNumberOfMessagesNotVisible"] == "1"
    aws.sqs.change_message_visibility(
        QueueUrl=aws.queue_url("work"), ReceiptHandle=poison["ReceiptHandle"], VisibilityTimeout=0
    )
    aws.restart()
    [again] = aws.receive("work", VisibilityTimeout=0)
    assert again["Body"] == "poison" and again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again["MessageAttributes"]["kind"]["StringValue"] == "test"
    assert again["MessageId"] == poison["MessageId"]
    assert aws.receive("work") == []  # a third receive moves it to the dead-letter queue

    aws.restart()

    assert aws.receive("work") == []
    [dead] = aws.receive("work-dlq")
    assert dead["MessageId"] == poison["MessageId"] and dead["Body"] == "poison"
    aws.sqs.delete_message(QueueUrl=aws.queue_url("work-dlq"), ReceiptHandle=dead["ReceiptHandle"])
    aws.restart()
    assert aws.receive("work-dlq", VisibilityTimeout=0) == []


def test_bucket_notifications_survive_and_a_notification_is_queued_with_its_object(aws: Server) -> None:
    queue = aws.sqs.create_queue(QueueName="uploads")["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.s3.create_bucket(Bucket="inbox")
    aws.s3.put_bucket_notification_configuration(
        Bucket="inbox",
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    aws.sqs.purge_queue(QueueUrl=queue)  # the s3:TestEvent
    aws.s3.put_object(Bucket="inbox", Key="before.json", Body=b"1")

    aws.restart()

    [queued] = aws.receive("uploads", VisibilityTimeout=0, MaxNumberOfMessages=10)  # and no new TestEvent
    assert json.loads(queued["Body"])["Records"][0]["s3"]["object"]["key"] == "before.json"
    aws.sqs.purge_queue(QueueUrl=aws.queue_url("uploads"))
    aws.s3.put_object(Bucket="inbox", Key="after.json", Body=b"2")  # the restored configuration
    [after] = aws.receive("uploads")
    assert json.loads(after["Body"])["Records"][0]["s3"]["object"]["key"] == "after.json"


def test_deleted_buckets_and_queues_stay_deleted(aws: Server) -> None:
    aws.s3.create_bucket(Bucket="temporary")
    aws.s3.put_object(Bucket="temporary", Key="k", Body=b"x")
    aws.s3.delete_object(Bucket="temporary", Key="k")
    aws.s3.delete_bucket(Bucket="temporary")
    url = aws.sqs.create_queue(QueueName="temporary")["QueueUrl"]
    aws.sqs.send_message(QueueUrl=url, MessageBody="x")
    aws.sqs.delete_queue(QueueUrl=url)
    assert aws.restart() == {"buckets": 0, "objects": 0, "uploads": 0, "queues": 0, "messages": 0}
    assert aws.s3.list_buckets()["Buckets"] == []
    assert aws.sqs.list_queues().get("QueueUrls", []) == []


class FailingStore(MotoStore):
    """A disk that refuses writes to the `refused` bucket."""

    def persist(self, changes: Changes) -> None:
        if any(bucket == "refused" for _, bucket, _ in changes.objects):
            raise OSError(28, "No space left on device")
        super().persist(changes)


def test_a_write_that_cannot_be_persisted_is_not_acknowledged(aws: Server) -> None:
    aws.stop()
    aws.start(FailingStore(aws.data_dir))
    aws.s3.create_bucket(Bucket="refused")
    with pytest.raises(ClientError) as refused:
        aws.s3.put_object(Bucket="refused", Key="k", Body=b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_the_snapshot_of_earlier_versions_is_imported_once(aws: Server) -> None:
    legacy = aws.data_dir / "s3"
    legacy.mkdir(parents=True)
    (legacy / "f1").write_bytes(b"old bytes")
    entry = {"bucket": "raw-data", "key": "old.json", "etag": '"x"', "file": "f1", "metadata": {"m": "1"}}
    (legacy / "manifest.json").write_text(json.dumps({"raw-data/old.json": {**entry, "content_type": None}}))
    (aws.data_dir / "sqs.json").write_text(
        json.dumps({"work": [{"body": "queued", "attributes": {"a": "b"}}]})
    )
    aws.s3.create_bucket(Bucket="raw-data")
    aws.sqs.create_queue(QueueName="work")

    assert import_snapshot(aws.data_dir, aws.s3, aws.sqs) == 2
    assert not legacy.exists() and not (aws.data_dir / "sqs.json").exists()
    aws.restart()
    assert aws.s3.get_object(Bucket="raw-data", Key="old.json")["Body"].read() == b"old bytes"
    [message] = aws.receive("work")
    assert message["Body"] == "queued" and message["MessageAttributes"]["a"]["StringValue"] == "b"


def test_a_write_a_crash_interrupted_is_dropped(aws: Server) -> None:
    aws.s3.create_bucket(Bucket="clips")
    aws.s3.put_object(Bucket="clips", Key="whole", Body=b"x")
    partial = aws.data_dir / "aws" / "s3" / "clips" / "objects" / "0123abcd.tmp"
    partial.write_bytes(b"half an obj")
    assert aws.restart()["objects"] == 1
    assert not partial.exists()
