"""api: the HTTP API (FastAPI) behind API Gateway, through Mangum. Locally the same app runs
under uvicorn (`pitchlens up` / `pitchlens api`)."""

from __future__ import annotations

from mangum import Mangum

from pitchlens.infrastructure.http.app import create_app

# Building the app connects to nothing; clients are created on the first request.
handler = Mangum(create_app(), lifespan="off")
