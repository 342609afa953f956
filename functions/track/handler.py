"""track (GPU worker role): PlayersDetected -> detection + multi-object tracking over the whole
clip -> staged tracks (claim check) -> VideoProcessed."""

from __future__ import annotations

from typing import Any

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import Delivery, Message, PlayersDetected
from pitchlens.infrastructure.bootstrap import container
from pitchlens.infrastructure.lambda_sqs import Routes, handle_sqs_batch


def _track(message: Message, delivery: Delivery) -> Any:
    if not isinstance(message, PlayersDetected):
        raise InvalidMessage(f"track consumes PlayersDetected, not {message.TYPE}")
    return container().clip_tracker.execute(message, delivery)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    routes = Routes(on_message=_track, max_attempts=container().settings.max_receive_count)
    return handle_sqs_batch(event, context, function="track", routes=routes)
