"""The local equivalent of Lambda's SQS event-source mapping: one poller per queue.

Each poller long-polls its queue, calls the function's `handler(event, context)` with an SQS
event shaped exactly like Lambda's, deletes the records that succeeded and leaves the
`batchItemFailures` to reappear after the visibility timeout; the queue's redrive policy moves a
message to its dead-letter queue after `max_receive_count` receives.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pitchlens.infrastructure import metrics
from pitchlens.infrastructure.logging import get_logger, log_context
from pitchlens.runtime.worker.functions import Handler

log = get_logger("pitchlens.runtime")


@dataclass
class LocalLambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    function_name: str
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """Lambda's SQS event for messages returned by ReceiveMessage."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value.get("DataType", "String"),
                    }
                    for name, value in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class QueuePoller(threading.Thread):
    """Polls one queue and invokes one handler until `stop()`; finishes the batch in hand."""

    def __init__(
        self,
        function: str,
        handler: Handler,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        *,
        region: str,
        batch_size: int,
        wait_s: int,
        timeout_s: int,
    ) -> None:
        super().__init__(name=f"poller-{function}", daemon=True)
        self.function = function
        self._handler = handler
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._region = region
        self._batch_size = batch_size
        self._wait_s = wait_s
        self._timeout_s = timeout_s
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        log.info("poller started", function=self.function, queue=self._queue_url)
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except (ClientError, BotoCoreError) as error:
                log.warning("queue unreachable; retrying", function=self.function, error=str(error))
                self._stopping.wait(1.0)
        log.info("poller stopped", function=self.function)

    @contextmanager
    def _heartbeat(self, messages: list[dict[str, Any]]) -> Iterator[None]:
        """Keeps the batch invisible while the handler works on it: a long clip on a CPU worker
        outlasts any fixed visibility timeout, and a message that reappears mid-work would be
        received again and count towards the dead-letter limit."""
        done = threading.Event()
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self._timeout_s}
            for i, m in enumerate(messages)
        ]

        def beat() -> None:
            while not done.wait(max(1.0, self._timeout_s / 2)):
                try:
                    self._sqs.change_message_visibility_batch(QueueUrl=self._queue_url, Entries=entries)
                except (ClientError, BotoCoreError) as error:
                    log.warning("could not extend the visibility of a batch", error=str(error))

        beater = threading.Thread(target=beat, name=f"heartbeat-{self.function}", daemon=True)
        beater.start()
        try:
            yield
        finally:
            done.set()
            beater.join()

    def poll_once(self) -> int:
        """Receives one batch and runs the handler on it; returns how many messages it got."""
        received = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = received.get("Messages", [])
        if not messages:
            return 0
        event = sqs_event(messages, self._queue_arn, self._region)
        failed: set[str] = set()
        with log_context(function=self.function), self._heartbeat(messages):
            try:
                response = self._handler(event, LocalLambdaContext(self.function, self._timeout_s)) or {}
                failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
            except Exception:
                # Like Lambda: an invocation error fails the whole batch; every message is retried.
                log.exception("handler raised; the whole batch will be retried", function=self.function)
                failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(messages)


def sample_queue_depths(sqs: Any, queue_urls: dict[str, str]) -> None:
    """Sets the `pitchlens_queue_messages` gauge from each queue's visible messages (DLQs included)."""
    for name, url in queue_urls.items():
        try:
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
        except (ClientError, BotoCoreError):
            continue
        metrics.QUEUE_MESSAGES.labels(name).set(int(attributes["ApproximateNumberOfMessages"]))
