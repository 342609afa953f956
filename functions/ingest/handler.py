"""ingest: provider files -> normalised Match (staged) -> MatchIngested.

Triggered by IngestionRequested messages (API, CLI) and by object-created notifications for
`raw-data/<source>/<match_id>/...` (S3 -> SQS, or MinIO webhook -> SQS)."""

from __future__ import annotations

from typing import Any

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import Delivery, IngestionRequested, Message
from pitchlens.infrastructure.bootstrap import container
from pitchlens.infrastructure.lambda_sqs import Routes, handle_sqs_batch


def _ingest(message: Message, delivery: Delivery) -> Any:
    if not isinstance(message, IngestionRequested):
        raise InvalidMessage(f"ingest consumes IngestionRequested, not {message.TYPE}")
    return container().match_ingester.execute(message, delivery)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    app = container()
    routes = Routes(
        on_message=_ingest,
        on_object=app.upload_ingester.execute,
        max_attempts=app.settings.max_receive_count,
    )
    return handle_sqs_batch(event, context, function="ingest", routes=routes)
