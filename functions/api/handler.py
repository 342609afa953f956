"""api: the HTTP API (FastAPI) behind API Gateway, through Mangum. Locally the same app runs
under uvicorn (`pitchlens up` / `pitchlens api`)."""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from pitchlens.infrastructure.http.app import create_app
from pitchlens.infrastructure.lambda_context import lambda_invocation
from pitchlens.infrastructure.logging import configure_logging
from pitchlens.infrastructure.settings import Settings

# JSON log lines from the first request on, also those that never build the container (a 401, a
# 404): found before in the API image's smoke test, whose 404 logged structlog's console format.
_settings = Settings()
configure_logging(_settings.log_level, _settings.log_format)
# Building the app connects to nothing; clients are created on the first request.
_asgi = Mangum(create_app(), lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Log lines of the invocation carry Lambda's request id and the cold-start flag.
    with lambda_invocation(context):
        response: dict[str, Any] = _asgi(event, context)
    return response
