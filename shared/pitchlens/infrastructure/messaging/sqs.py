"""SQS adapters: the publisher used by functions and the API."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pitchlens.domain.errors import ServiceUnavailable
from pitchlens.domain.messages import Message
from pitchlens.domain.ports import MessagePublisher
from pitchlens.infrastructure.messaging import codec
from pitchlens.infrastructure.settings import Settings


@contextmanager
def queue_errors() -> Iterator[None]:
    """SQS client errors as ServiceUnavailable (the queue service is down or refuses)."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise ServiceUnavailable(f"the queue service failed: {error}") from error


class QueueDirectory:
    """Resolves function names to queue URLs once (GetQueueUrl is a network call)."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def url(self, queue_name: str) -> str:
        with self._lock:
            if queue_name not in self._urls:
                try:
                    self._urls[queue_name] = self._client.get_queue_url(QueueName=queue_name)["QueueUrl"]
                except (ClientError, BotoCoreError) as error:
                    raise ServiceUnavailable(f"queue {queue_name} is not reachable: {error}") from error
            return self._urls[queue_name]

    def function_queue(self, function: str) -> str:
        return self.url(self._settings.queue_name(function))


class SqsMessagePublisher(MessagePublisher):
    """Sends envelopes to the queue of the function that consumes their type (`routes`: message
    type -> function, from the composition root's consumers table)."""

    def __init__(self, client: Any, queues: QueueDirectory, routes: Mapping[type[Message], str]) -> None:
        self._client = client
        self._queues = queues
        self._routes = routes

    def publish(self, message: Message, *, correlation_id: str, idempotency_key: str) -> str:
        body = codec.encode(message, correlation_id=correlation_id, idempotency_key=idempotency_key)
        return self.send_raw(self._routes[type(message)], body, message.TYPE, correlation_id)

    def send_raw(self, function: str, body: str, message_type: str, correlation_id: str) -> str:
        """Enqueues an already-encoded body (envelopes, or notifications from the webhook)."""
        try:
            response = self._client.send_message(
                QueueUrl=self._queues.function_queue(function),
                MessageBody=body,
                MessageAttributes={
                    "type": {"DataType": "String", "StringValue": message_type},
                    "correlation_id": {"DataType": "String", "StringValue": correlation_id},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailable(
                f"could not send {message_type} to the {function} queue: {error}"
            ) from error
        message_id: str = response["MessageId"]
        return message_id
