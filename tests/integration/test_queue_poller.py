"""The local event-source mapping against a real SQS server (moto's): long work keeps its
messages invisible (heartbeat), partial batch failures are retried, successes are deleted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from moto.server import ThreadedMotoServer

from pitchlens.infrastructure import aws_clients
from pitchlens.infrastructure.provisioning import AwsResourceProvisioner
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.worker.poller import QueuePoller

pytestmark = pytest.mark.integration


@pytest.fixture
def queues() -> Iterator[tuple[Any, Settings]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        httpx.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        settings = Settings.model_validate(
            {
                "PITCHLENS_SQS_ENDPOINT": endpoint,
                "PITCHLENS_S3_ENDPOINT": endpoint,
                "visibility_timeout_s": 2,
            }
        )
        sqs = aws_clients.sqs_client(settings)
        AwsResourceProvisioner(aws_clients.s3_client(settings), sqs, settings).ensure_queues()
        yield sqs, settings
    finally:
        server.stop()


def poller_for(sqs: Any, settings: Settings, handler: Any) -> tuple[QueuePoller, str]:
    url = sqs.get_queue_url(QueueName=settings.queue_name("track"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    poller = QueuePoller(
        "track", handler, sqs, url, arn, region=settings.aws_region, batch_size=10, wait_s=0, timeout_s=2
    )
    return poller, url


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_work_longer_than_the_visibility_timeout_is_not_redelivered(queues: tuple[Any, Settings]) -> None:
    sqs, settings = queues
    calls: list[str] = []

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.extend(r["messageId"] for r in event["Records"])
        time.sleep(5)  # 2.5 visibility timeouts
        return {"batchItemFailures": []}

    poller, url = poller_for(sqs, settings, slow)
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    worker = threading.Thread(target=poller.poll_once)
    worker.start()
    time.sleep(3.5)  # past the visibility timeout, while the handler still works
    other = QueuePoller(
        "track",
        slow,
        sqs,
        url,
        poller._queue_arn,
        region=settings.aws_region,
        batch_size=10,
        wait_s=0,
        timeout_s=2,
    )
    assert other.poll_once() == 0  # the heartbeat kept the message invisible
    worker.join()
    assert len(calls) == 1
    assert depth(sqs, url) == 0  # processed once, then deleted


def test_partial_batch_failures_are_retried_and_successes_deleted(queues: tuple[Any, Settings]) -> None:
    sqs, settings = queues
    seen: list[str] = []

    def half(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(r["body"] for r in event["Records"])
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"
            ]
        }

    poller, url = poller_for(sqs, settings, half)
    for body in ("good", "bad"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    assert poller.poll_once() == 2
    assert depth(sqs, url) == 1  # the failure waits for its visibility timeout
    deadline = time.monotonic() + 15
    while seen.count("bad") < 2 and time.monotonic() < deadline:  # after the visibility timeout
        poller.poll_once()
        time.sleep(0.2)
    assert seen.count("bad") == 2 and seen.count("good") == 1
