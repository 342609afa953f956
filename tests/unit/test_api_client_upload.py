"""The CLI uploads a file through its presigned part URLs reading it as it sends it: every part's
exact bytes with its length (no chunked encoding, which presigned S3 PUTs refuse), a failed part
sent again whole, and never a whole part in memory."""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest

from pitchlens.runtime.cli.api_client import ApiClient

pytestmark = pytest.mark.unit

MiB = 1024 * 1024
PART = 8 * MiB


class FakeStorageAndApi(httpx.BaseTransport):
    """Object storage taking part PUTs (read a chunk at a time, as a server reads a socket) and the
    API's completion route; `fail` names parts whose first attempt gets a 503."""

    def __init__(self, fail: set[int] | None = None) -> None:
        self.parts: dict[int, dict[str, Any]] = {}
        self.attempts: dict[int, int] = {}
        self.completed: dict[str, Any] | None = None
        self._fail = fail or set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/uploads/complete":
            self.completed = json.loads(request.read())
            return httpx.Response(200, json={"uri": "s3://videos/m/match.mp4"})
        number = int(request.url.path.rsplit("/", 1)[1])
        digest, length = hashlib.md5(), 0
        for chunk in request.stream:  # type: ignore[union-attr]
            digest.update(chunk)
            length += len(chunk)
        self.attempts[number] = self.attempts.get(number, 0) + 1
        if number in self._fail and self.attempts[number] == 1:
            return httpx.Response(503)
        self.parts[number] = {"md5": digest.hexdigest(), "length": length, "headers": dict(request.headers)}
        return httpx.Response(200, headers={"ETag": f'"{digest.hexdigest()}"'})


def plan_for(size: int) -> dict[str, Any]:
    count = -(-size // PART)
    return {
        "kind": "video",
        "key": "m/match.mp4",
        "upload_id": "u-1",
        "part_size": PART,
        "parts": [{"number": n, "url": f"http://storage.test/videos/part/{n}"} for n in range(1, count + 1)],
        "complete_url": "/api/v1/uploads/complete",
    }


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "match.mp4"
    path.write_bytes(os.urandom(3 * PART + MiB // 3))
    return path


def test_each_part_goes_with_its_length_and_the_upload_is_completed_with_their_etags(video: Path) -> None:
    storage = FakeStorageAndApi()
    client = ApiClient("http://api.test", transport=storage)
    moved: list[int] = []
    data = video.read_bytes()

    with_uri = client.send(plan_for(len(data)), video, on_progress=moved.append)

    expected = [data[i : i + PART] for i in range(0, len(data), PART)]
    assert [storage.parts[n]["md5"] for n in sorted(storage.parts)] == [
        hashlib.md5(part).hexdigest() for part in expected
    ]
    for number, part in enumerate(expected, start=1):
        headers = storage.parts[number]["headers"]
        assert headers["content-length"] == str(len(part)) and "transfer-encoding" not in headers
    assert storage.completed is not None
    assert storage.completed["parts"] == [
        {"number": n, "etag": f'"{hashlib.md5(part).hexdigest()}"'} for n, part in enumerate(expected, 1)
    ]
    assert sum(moved) == len(data) and with_uri["uri"] == "s3://videos/m/match.mp4"


def test_a_part_refused_once_is_sent_again_whole(video: Path) -> None:
    storage = FakeStorageAndApi(fail={2})
    client = ApiClient("http://api.test", transport=storage)

    client.send(plan_for(video.stat().st_size), video)

    assert storage.attempts[2] == 2
    assert storage.parts[2]["md5"] == hashlib.md5(video.read_bytes()[PART : 2 * PART]).hexdigest()


def test_no_part_is_ever_held_whole_in_memory(video: Path) -> None:
    client = ApiClient("http://api.test", transport=FakeStorageAndApi())
    plan = plan_for(video.stat().st_size)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        client.send(plan, video)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < PART / 2, f"{peak / MiB:.1f} MiB held to send {PART // MiB} MiB parts"
