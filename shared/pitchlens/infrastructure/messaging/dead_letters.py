"""Inspecting and re-driving dead-letter queues (`GET /api/v1/dead-letters`, `pitchlens dlq`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from pitchlens.domain.errors import InvalidInput
from pitchlens.infrastructure.settings import FUNCTIONS, Settings


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str
    type: str
    correlation_id: str | None
    receive_count: int
    preview: str


class DeadLetterOffice:
    """Lists dead letters and moves them back to their source queue (once each)."""

    def __init__(self, sqs: Any, settings: Settings) -> None:
        self._sqs = sqs
        self._settings = settings

    def queues(self, only: str | None = None) -> list[tuple[str, str]]:
        """(dlq name, source queue name) pairs; `only` accepts a function or queue name."""
        pairs = [(self._settings.dlq_name(f), self._settings.queue_name(f)) for f in FUNCTIONS]
        if only is None:
            return pairs
        chosen = [p for p in pairs if only in (p[0], p[1], p[1].removeprefix(self._settings.queue_prefix))]
        if not chosen:
            raise InvalidInput(f"unknown queue {only!r}; known: {', '.join(f for f in FUNCTIONS)}")
        return chosen

    def count(self, dlq: str) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._url(dlq), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def peek(self, dlq: str, limit: int = 10) -> list[DeadLetter]:
        """Up to `limit` messages, left in place (received with a zero visibility timeout)."""
        received = self._sqs.receive_message(
            QueueUrl=self._url(dlq),
            MaxNumberOfMessages=min(limit, 10),
            VisibilityTimeout=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        return [self._describe(dlq, m) for m in received]

    def redrive(self, dlq: str, source: str) -> int:
        """Moves every message back to `source`; returns how many moved."""
        dlq_url, source_url = self._url(dlq), self._url(source)
        moved = 0
        while True:
            received = self._sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=60,
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not received:
                return moved
            for message in received:
                attributes = message.get("MessageAttributes", {})
                self._sqs.send_message(
                    QueueUrl=source_url,
                    MessageBody=message["Body"],
                    **({"MessageAttributes": attributes} if attributes else {}),
                )
                self._sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1

    def _url(self, name: str) -> str:
        url: str = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return url

    @staticmethod
    def _describe(queue: str, message: dict[str, Any]) -> DeadLetter:
        body = message["Body"]
        kind, correlation = "unknown", None
        try:
            document = orjson.loads(body)
            if isinstance(document, dict):
                kind = document.get("type") or ("ObjectCreated" if "Records" in document else "unknown")
                correlation = document.get("correlation_id")
        except orjson.JSONDecodeError:
            kind = "not JSON"
        attributes = message.get("MessageAttributes", {})
        correlation = correlation or attributes.get("correlation_id", {}).get("StringValue")
        return DeadLetter(
            queue=queue,
            message_id=message["MessageId"],
            type=kind,
            correlation_id=correlation,
            receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
            preview=body[:160],
        )
