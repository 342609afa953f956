"""The interactive workflow's API (`/cv/...`) on the embedded stack with the real model: sessions from
uploads and from a game video + intervals, picking a player, preview, approve, finalize, ranged
downloads; bad input and two sessions at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import uploads
from tests.e2e.conftest import RunningStack, start_vision_stack

pytestmark = pytest.mark.e2e

DFL = "dfl_08fd33_4_848x478.mp4"
LALIGA = "laliga_rma_sev_broadcast_720p.mp4"
MAX_UPLOAD_MB = 2  # the 1.1 MB DFL clip fits, the 3.0 MB broadcast clip does not


@pytest.fixture(scope="module")
def running(model_dir: Path) -> Iterator[RunningStack]:
    yield from start_vision_stack("sessions", model_dir, PITCHLENS_MAX_UPLOAD_MB=str(MAX_UPLOAD_MB))


@pytest.fixture(scope="module")
def api(running: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.info.api_url, timeout=60) as client:
        yield client


def create_session(
    api: httpx.Client, video: Path, game: str = "Gladbach v Wolfsburg", player: str = "No 7"
) -> dict[str, Any]:
    return uploads.create_session(api, [video], game, player)


def wait_for(check: Any, timeout: float = 300, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"not done within {timeout} s: {check()}")


def processed_clips(api: httpx.Client, session_id: str, count: int = 1) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        clips = api.get(f"/cv/session/{session_id}/clips").json()["clips"]
        assert not any(c["status"] == "FAILED" for c in clips), clips
        done = [c for c in clips if c["status"] == "PERSISTED"]
        return done if len(done) == count and len(clips) == count else None

    found: list[dict[str, Any]] = wait_for(check)
    return found


def finished(api: httpx.Client, status_url: str, timeout: float = 300) -> dict[str, Any]:
    seen: list[float] = []

    def check() -> dict[str, Any] | None:
        status: dict[str, Any] = api.get(status_url).json()
        seen.append(status["progress"])
        return status if status["status"] in ("SUCCEEDED", "FAILED") else None

    status: dict[str, Any] = wait_for(check, timeout, every=0.2)
    assert seen == sorted(seen), f"progress went backwards: {seen}"
    return status


def test_a_session_goes_from_upload_to_a_final_video(
    api: httpx.Client, shared_data: Path, tmp_path: Path
) -> None:
    from tests.media import assert_browser_ready, probe

    session = create_session(api, shared_data / "video" / DFL)
    sid = session["session_id"]
    assert session["status"] == "READY" and session["expected_clips"] == 1 and session["source"] == "upload"
    [clip] = processed_clips(api, sid)
    assert clip["name"] == DFL and clip["width"] == 848 and clip["progress"] == 1.0

    detected = api.post("/cv/detect", json={"session_id": sid, "clip_id": clip["clip_id"]})
    assert detected.status_code == 200, detected.text
    frame = detected.json()
    assert frame["image"].startswith("data:image/jpeg;base64,") and (frame["width"], frame["height"]) == (
        848,
        478,
    )
    assert len(frame["players"]) >= 5
    assert all(p["on_pitch"] for p in frame["players"]) and {p["team"] for p in frame["players"]} >= {
        "white",
        "green",
    }
    everybody = api.post(
        "/cv/detect?include=all", json={"session_id": sid, "clip_id": clip["clip_id"]}
    ).json()["players"]
    assert len(everybody) > len(frame["players"]) and not all(p["on_pitch"] for p in everybody)
    player = max(frame["players"], key=lambda p: p["box"][3] - p["box"][1])

    nothing = api.post("/cv/finalize-all", json={"session_id": sid})
    assert nothing.status_code == 409 and "no approved clip" in nothing.json()["detail"]
    early = api.post(f"/cv/preview/{sid}/{clip['clip_id']}/approve")
    assert early.status_code == 409, early.text

    started = api.post(
        "/cv/preview",
        json={"session_id": sid, "clip_id": clip["clip_id"], "box": player["box"], "indicator": "glow"},
    )
    assert started.status_code == 202, started.text
    preview = finished(api, started.json()["status_url"])
    assert preview["status"] == "SUCCEEDED", preview
    assert preview["preview_url"].startswith(f"/cv/files/previews/{sid}/{clip['clip_id']}/glow-")

    whole = api.get(preview["preview_url"])
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes" and int(whole.headers["content-length"]) == len(
        whole.content
    )
    assert whole.headers["content-disposition"].startswith('inline; filename="glow-')
    saved = api.get(preview["preview_url"], params={"download": "1"}, headers={"Range": "bytes=0-9"})
    assert (
        saved.headers["content-disposition"].startswith("attachment;") and saved.content == whole.content[:10]
    )
    part = api.get(preview["preview_url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"

    approved = api.post(f"/cv/preview/{sid}/{clip['clip_id']}/approve")
    assert approved.status_code == 200 and approved.json()["approved"] is True
    assert approved.json()["selection"]["indicator"] == "glow"

    final = api.post("/cv/finalize-all", json={"session_id": sid})
    assert final.status_code == 202, final.text
    status = finished(api, final.json()["status_url"])
    assert status["status"] == "SUCCEEDED" and (status["done"], status["total"]) == (1, 1), status
    assert status["final_url"] == f"/cv/files/final/{sid}/Gladbach-v-Wolfsburg_No-7_tracked.mp4"
    path = tmp_path / "final.mp4"
    path.write_bytes(api.get(status["final_url"]).content)
    found = probe(path)
    assert_browser_ready(found)
    assert (found.width, found.height, found.frames) == (848, 478, 169)  # the final keeps the source's
    assert api.get(f"/cv/session/{sid}").json()["status"] == "DONE"


def test_two_sessions_at_once_do_not_interfere(api: httpx.Client, shared_data: Path) -> None:
    sessions: list[dict[str, Any]] = []

    def create(player: str) -> None:
        sessions.append(create_session(api, shared_data / "video" / DFL, game="Same game", player=player))

    threads = [threading.Thread(target=create, args=(name,)) for name in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = sorted(sessions, key=lambda s: s["player"])
    assert first["session_id"] != second["session_id"]
    [clip_a] = processed_clips(api, first["session_id"])
    [clip_b] = processed_clips(api, second["session_id"])
    assert clip_a["clip_id"] != clip_b["clip_id"]
    other = api.post("/cv/detect", json={"session_id": first["session_id"], "clip_id": clip_b["clip_id"]})
    assert other.status_code == 404 and "not in session" in other.json()["detail"]

    tasks = []
    for session, clip, indicator in ((first, clip_a, "dot"), (second, clip_b, "circle")):
        players = api.post(
            "/cv/detect", json={"session_id": session["session_id"], "clip_id": clip["clip_id"]}
        )
        box = players.json()["players"][0]["box"]
        body = {
            "session_id": session["session_id"],
            "clip_id": clip["clip_id"],
            "box": box,
            "indicator": indicator,
        }
        tasks.append(api.post("/cv/preview", json=body).json()["status_url"])
    results = [finished(api, url) for url in tasks]
    assert [r["status"] for r in results] == ["SUCCEEDED", "SUCCEEDED"]
    assert (
        f"/previews/{first['session_id']}/" in results[0]["preview_url"]
        and "/dot-" in results[0]["preview_url"]
    )
    assert (
        f"/previews/{second['session_id']}/" in results[1]["preview_url"]
        and "/circle-" in results[1]["preview_url"]
    )
    listed = api.get(f"/cv/session/{second['session_id']}/clips").json()["clips"]
    assert [c["clip_id"] for c in listed] == [clip_b["clip_id"]] and listed[0]["selection"][
        "indicator"
    ] == "circle"


def test_a_session_cut_from_a_game_video_gets_its_clips(
    api: httpx.Client, shared_data: Path, running: RunningStack
) -> None:
    dfl = shared_data / "video" / DFL
    table = "start,end,label\n0:00.5,0:02,first\n1.5,3,overlaps the first\n4,5.5,second\n"
    session = uploads.create_cut_session(api, dfl, table, "Cup final", "No 9")
    assert session["status"] == "CUTTING" and session["expected_clips"] is None and session["source"] == "cut"
    ready = wait_for(lambda: api.get(f"/cv/session/{session['session_id']}").json()["status"] == "READY", 120)
    assert ready
    clips = processed_clips(api, session["session_id"], count=2)  # 0.5-3 s merged, 4-5.5 s
    assert [c["name"] for c in clips] == ["Cup-final_No-9_001.mp4", "Cup-final_No-9_002.mp4"]
    assert clips[0]["duration_s"] == pytest.approx(2.5, abs=0.1) and clips[1]["duration_s"] == pytest.approx(
        1.5, abs=0.1
    )
    listed = running.s3.list_objects_v2(Bucket="outputs", Prefix=f"clips/{session['session_id']}/")
    assert [o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", [])] == ["Cup-final_No-9.mp4"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "message"),
    [
        ("get", "/cv/session/s-nope", {}, 404, "no session"),
        ("get", "/cv/session/s-nope/clips", {}, 404, "no session"),
        ("post", "/cv/detect", {"json": {"session_id": "s-nope", "clip_id": "c"}}, 404, "no session"),
        ("post", "/cv/finalize-all", {"json": {"session_id": "s-nope"}}, 404, "no session"),
        ("get", "/cv/finalize/s-nope/status", {}, 404, "no session"),
        ("get", "/cv/files/../artifacts/x.jpg", {}, 404, ""),
        ("get", "/cv/files/previews/../../etc/passwd", {}, 404, ""),
        ("get", "/cv/files/staging/tracks/x.parquet", {}, 404, "no file"),
        ("get", "/cv/files/previews/none.mp4", {}, 404, "does not exist"),
        ("post", "/cv/preview", {"json": {"session_id": "s", "clip_id": "c", "box": [1, 2, 3]}}, 422, "box"),
        ("post", "/cv/sessions", {"json": {"game": "g", "player": "p"}}, 422, "videos"),
        ("post", "/cv/sessions", {"data": {"game": "g", "player": "p"}}, 422, "body"),
        ("post", "/cv/sessions/s-nope/cut", {}, 404, "no session"),
        (
            "post",
            "/api/v1/uploads",
            {"json": {"kind": "video", "file_name": "a.mp4", "size_bytes": 1, "match_id": "a/b"}},
            422,
            "match id",
        ),
        (
            "post",
            "/api/v1/uploads/complete",
            {
                "json": {
                    "kind": "video",
                    "key": "m/a.mp4",
                    "upload_id": "nope",
                    "parts": [{"number": 1, "etag": "x"}],
                }
            },
            422,
            "cannot be completed",
        ),
        ("get", "/api/v1/files?uri=s3://raw-data/statsbomb/1/events.json", {}, 404, "no file"),
    ],
)
def test_bad_requests_get_a_clear_error(
    api: httpx.Client, method: str, path: str, kwargs: dict[str, Any], status: int, message: str
) -> None:
    response = getattr(api, method)(path, **kwargs)
    assert response.status_code == status, response.text
    assert message in response.text
    # One shape for every error, validation included: an RFC 9457 problem.
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["type"] == f"urn:pitchlens:error:{problem['error']}"
    assert problem["detail"] and problem["title"] and problem["instance"] == response.request.url.path


def test_uploads_must_be_videos_within_the_limit(
    api: httpx.Client, shared_data: Path, tmp_path: Path, running: RunningStack
) -> None:
    def refused(body: dict[str, Any]) -> httpx.Response:
        before = len(running.s3.list_multipart_uploads(Bucket="videos").get("Uploads", []))
        response = api.post("/cv/sessions", json={"game": "g", "player": "p", **body})
        after = len(running.s3.list_multipart_uploads(Bucket="videos").get("Uploads", []))
        assert after == before, "nothing is planned for a refused session"
        return response

    named = refused({"videos": [{"file_name": "notes.txt", "size_bytes": 4}]})
    assert named.status_code == 415 and "not a video file" in named.json()["detail"]
    empty = refused({"videos": [{"file_name": "a.mp4", "size_bytes": 0}]})
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    large = (shared_data / "video" / LALIGA).stat().st_size
    too_large = refused(
        {"videos": [{"file_name": "a.mp4", "size_bytes": 10}, {"file_name": LALIGA, "size_bytes": large}]}
    )
    assert too_large.status_code == 413 and f"{MAX_UPLOAD_MB} MB upload limit" in too_large.json()["detail"]
    bad_table = refused(
        {"game_video": {"file_name": DFL, "size_bytes": 1000}, "intervals": "start,end\n0:05,0:02\n"}
    )
    detail = bad_table.json()["detail"]
    assert bad_table.status_code == 422 and "row 1" in detail and "reversed" in detail

    # A file named like a video that is none: nothing can see inside it before it is in the bucket,
    # so it fails its job there, with the reason, within seconds.
    fake = tmp_path / "notes.mp4"
    fake.write_bytes(b"just text, no video")
    session = create_session(api, fake, "g", "p")

    def failed() -> dict[str, Any] | None:
        [clip] = api.get(f"/cv/session/{session['session_id']}/clips").json()["clips"]
        return clip if clip["status"] == "FAILED" else None

    clip = wait_for(failed, timeout=30)
    assert "not a video" in (clip["reason"] or ""), clip


# --- Generated input: no 5xx from any route --------------------------------------------------
FUZZ_EXAMPLES = 15
"""Generated requests per operation (valid and invalid inputs); ~30 operations."""


def test_generated_requests_never_get_a_server_error(running: RunningStack) -> None:
    """schemathesis generates requests for every operation of the OpenAPI schema (hypothesis, from
    the schema's own types and bounds); the API answers each with a 2xx/4xx, never a 5xx."""
    schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (the dev extra)")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_url(f"{running.info.api_url}/openapi.json")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def call(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        try:
            call()
        except Exception as error:
            failures[operation.label] = str(error)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{error}" for label, error in failures.items())
