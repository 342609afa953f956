"""render: RenderRequested -> the chosen player followed through a processed clip, an indicator
drawn over them, encoded with the preview or final preset -> outputs/previews/... or
outputs/tracked/... (progress in the job, as the fraction of frames rendered).
FinalizeRequested -> a session's approved clips rendered at source quality and joined ->
outputs/final/<session>/... HighlightsRequested -> a session's clips cut from a game video and
uploaded to videos/<session>/ (the CPU video work of the interactive workflow)."""

from __future__ import annotations

from typing import Any

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import (
    Delivery,
    FinalizeRequested,
    HighlightsRequested,
    Message,
    RenderRequested,
)
from pitchlens.infrastructure.bootstrap import container
from pitchlens.infrastructure.lambda_sqs import Routes, handle_sqs_batch


def _render(message: Message, delivery: Delivery) -> Any:
    if isinstance(message, RenderRequested):
        return container().clip_renderer.execute(message, delivery)
    if isinstance(message, FinalizeRequested):
        return container().session_finalizer.execute(message, delivery)
    if isinstance(message, HighlightsRequested):
        return container().highlight_cut_worker.execute(message, delivery)
    raise InvalidMessage(
        f"render consumes RenderRequested, FinalizeRequested and HighlightsRequested, not {message.TYPE}"
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    routes = Routes(on_message=_render, max_attempts=container().settings.max_receive_count)
    return handle_sqs_batch(event, context, function="render", routes=routes)
