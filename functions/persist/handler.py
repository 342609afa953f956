"""persist: MatchIngested -> the Match and all its events in PostgreSQL (one transaction,
idempotent); VideoProcessed -> the clip's trajectories as Parquet in tracking-data, with the
path recorded in PostgreSQL."""

from __future__ import annotations

from typing import Any

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import Delivery, MatchIngested, Message, VideoProcessed
from pitchlens.infrastructure.bootstrap import container
from pitchlens.infrastructure.lambda_sqs import Routes, handle_sqs_batch


def _persist(message: Message, delivery: Delivery) -> Any:
    if isinstance(message, MatchIngested):
        return container().match_persister.execute(message, delivery)
    if isinstance(message, VideoProcessed):
        return container().trajectory_persister.execute(message, delivery)
    raise InvalidMessage(f"persist consumes MatchIngested and VideoProcessed, not {message.TYPE}")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    routes = Routes(on_message=_persist, max_attempts=container().settings.max_receive_count)
    return handle_sqs_batch(event, context, function="persist", routes=routes)
