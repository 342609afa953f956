"""render: RenderRequested -> the chosen player followed through a processed clip, an indicator
drawn over them, encoded with the preview or final preset -> outputs/previews/... or
outputs/tracked/... (progress in the job, as the fraction of frames rendered)."""

from __future__ import annotations

from typing import Any

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import Delivery, Message, RenderRequested
from pitchlens.infrastructure.bootstrap import container
from pitchlens.infrastructure.lambda_sqs import Routes, handle_sqs_batch


def _render(message: Message, delivery: Delivery) -> Any:
    if not isinstance(message, RenderRequested):
        raise InvalidMessage(f"render consumes RenderRequested, not {message.TYPE}")
    return container().clip_renderer.execute(message, delivery)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    routes = Routes(on_message=_render, max_attempts=container().settings.max_receive_count)
    return handle_sqs_batch(event, context, function="render", routes=routes)
