"""api: the HTTP API (FastAPI) behind API Gateway, through Mangum. Locally the same app runs
under uvicorn (`pitchlens up` / `pitchlens api`)."""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from pitchlens.infrastructure.http.app import create_app
from pitchlens.infrastructure.lambda_context import lambda_invocation

# Building the app connects to nothing; clients are created on the first request.
_asgi = Mangum(create_app(), lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Log lines of the invocation carry Lambda's request id and the cold-start flag.
    with lambda_invocation(context):
        response: dict[str, Any] = _asgi(event, context)
    return response
