"""render: RenderRequested -> the chosen player followed through a processed clip, an indicator
drawn over them, encoded with the preview or final preset -> outputs/previews/... or
outputs/tracked/... (progress in the job, as the fraction of frames rendered).
FinalizeRequested -> a session's approved clips rendered at source quality and joined ->
outputs/final/<session>/... HighlightsRequested -> a session's clips cut from a game video and
uploaded to videos/<session>/ (the CPU video work of the interactive workflow)."""

from __future__ import annotations

from typing import Any

from pitchlens.infrastructure.lambda_sqs import handle_sqs_batch


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_sqs_batch(event, context, function="render")
