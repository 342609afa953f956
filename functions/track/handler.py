"""track (GPU worker role): PlayersDetected -> detection + multi-object tracking over the whole
clip -> staged tracks (claim check) -> VideoProcessed."""

from __future__ import annotations

from typing import Any

from pitchlens.infrastructure.lambda_sqs import handle_sqs_batch


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_sqs_batch(event, context, function="track")
