"""persist: MatchIngested (claim check) -> Match and all its events in PostgreSQL, in one
transaction, idempotently."""

from __future__ import annotations

from typing import Any

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import Delivery, MatchIngested, Message
from pitchlens.infrastructure.bootstrap import container
from pitchlens.infrastructure.lambda_sqs import Routes, handle_sqs_batch


def _persist(message: Message, delivery: Delivery) -> Any:
    if not isinstance(message, MatchIngested):
        raise InvalidMessage(f"persist consumes MatchIngested, not {message.TYPE}")
    return container().match_persister.execute(message, delivery)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    routes = Routes(on_message=_persist, max_attempts=container().settings.max_receive_count)
    return handle_sqs_batch(event, context, function="persist", routes=routes)
