"""detect (GPU worker role): an uploaded video -> its detection frame, people detected on it,
artifacts (frame JPEG, detections.json), the Clip recorded -> PlayersDetected.

Triggered by object-created notifications for `videos/<match_id>/<clip>.mp4`."""

from __future__ import annotations

from typing import Any

from pitchlens.infrastructure.lambda_sqs import handle_sqs_batch


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_sqs_batch(event, context, function="detect")
