"""persist: MatchIngested -> the Match and all its events in PostgreSQL (one transaction,
idempotent); VideoProcessed -> the clip's trajectories as Parquet in tracking-data, with the
path recorded in PostgreSQL."""

from __future__ import annotations

from typing import Any

from pitchlens.infrastructure.lambda_sqs import handle_sqs_batch


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_sqs_batch(event, context, function="persist")
