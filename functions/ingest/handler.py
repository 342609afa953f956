"""ingest: provider files -> normalised Match (staged) -> MatchIngested.

Triggered by IngestionRequested messages (API, CLI) and by object-created notifications for
`raw-data/<source>/<match_id>/...` (S3 -> SQS, or MinIO webhook -> SQS)."""

from __future__ import annotations

from typing import Any

from pitchlens.infrastructure.lambda_sqs import handle_sqs_batch


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_sqs_batch(event, context, function="ingest")
