"""The `/cv` routes' guards, in-process (FastAPI's TestClient; nothing behind them is reached): the
optional API token (header or `?token=` for links) and downloads confined to the outputs prefixes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pitchlens.infrastructure.bootstrap import Container
from pitchlens.infrastructure.http.app import create_app
from pitchlens.infrastructure.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"


@pytest.fixture
def client() -> TestClient:
    container = Container(Settings(api_token=TOKEN, database_url=None))
    return TestClient(create_app(lambda: container), raise_server_exceptions=False)


def test_the_config_is_open_and_says_a_token_is_needed(client: TestClient) -> None:
    response = client.get("/cv/config")
    assert response.status_code == 200
    assert response.json()["token_required"] is True and response.json()["indicators"] == [
        "dot",
        "circle",
        "glow",
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/cv/session/s-1"),
        ("get", "/cv/session/s-1/clips"),
        ("post", "/cv/detect"),
        ("post", "/cv/preview"),
        ("post", "/cv/finalize-all"),
        ("get", "/cv/finalize/s-1/status"),
        ("get", "/cv/preview/s-1/c-1/status"),
        ("get", "/cv/files/final/s-1/reel.mp4"),
    ],
)
def test_every_route_needs_the_token(client: TestClient, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"] == "Unauthorized"
    assert client.request(method, f"{path}?token=wrong", json={}).status_code == 401


@pytest.mark.parametrize(
    "key",
    [
        "artifacts/dfl/frame_0.jpg",
        "staging/tracks/job/tracks.parquet",
        "previews/%2E%2E/%2E%2E/secret.mp4",
        "previews/../../secret.mp4",
        "final/a b.mp4",
        "previews",
    ],
)
def test_downloads_reach_only_rendered_outputs(client: TestClient, key: str) -> None:
    response = client.get(f"/cv/files/{key}?token={TOKEN}")
    assert response.status_code == 404, response.text
