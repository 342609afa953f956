"""The web page at `/` in a real browser (Debian's Chromium through Playwright) against the embedded
stack with the real model: upload a clip, wait for it to be processed, pick a player on the detection
frame (players grouped by team; the API's reason where his picture will be), calibrate the clip by
clicking landmarks on the frame (too few refused, enough accepted), watch the preview, approve,
finalize and download an H.264 MP4; with stand-ins, the picture appears once the calibration job
succeeded. Server errors must reach the person. Screenshots of every step go to test-artifacts/web/
(git-ignored).

Needs the `playwright` package and /usr/bin/chromium (`apt-get install chromium`); never
`playwright install`, which downloads a browser of its own."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.e2e import uploads
from tests.e2e.conftest import RunningStack, start_vision_stack

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
CLIP = "dfl_08fd33_4_848x478.mp4"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "web"
PROCESSING_TIMEOUT_MS = 300_000
"""Detect -> track -> persist of the shared clip: ~30-60 s on 2 cores, more on a busy runner."""
CALIBRATION = ("halfway_far", "halfway_near", "arc_left_far", "arc_left_near")
"""Four landmarks of the clip's frame 0, no three on one line on the pitch."""

try:
    from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
except ImportError:
    pytest.skip(
        "the playwright package is not installed: pip install playwright (the tests drive Debian's "
        "Chromium at /usr/bin/chromium; do not run `playwright install`)",
        allow_module_level=True,
    )
if not CHROMIUM.is_file():
    pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium", allow_module_level=True)


# --- Fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def running(model_dir: Path) -> Iterator[RunningStack]:
    yield from start_vision_stack("web", model_dir)


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (empty localStorage) per test; uncaught page errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(15_000)
    try:
        yield opened
        assert not errors, f"JavaScript errors on the page: {errors}"
    finally:
        context.close()


class Shots:
    """Numbered screenshots of a test's steps: test-artifacts/web/<prefix>NN-<step>.png."""

    def __init__(self, page: Page, folder: Path, prefix: str = "", start: int = 0) -> None:
        self.page, self.folder, self.prefix, self.count = page, folder, prefix, start

    def __call__(self, step: str, full_page: bool = False) -> Path:
        self.count += 1
        path = self.folder / f"{self.prefix}{self.count:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path


# --- Helpers --------------------------------------------------------------------------------
def point_only_in(box: list[float], others: list[list[float]]) -> tuple[float, float]:
    """A point inside `box` and in none of `others` (boxes may overlap), the centre when it is free."""
    x1, y1, x2, y2 = box
    candidates = [((x1 + x2) / 2, (y1 + y2) / 2)] + [
        (x1 + (x2 - x1) * (i + 0.5) / 8, y1 + (y2 - y1) * (j + 0.5) / 8) for j in range(8) for i in range(8)
    ]
    for x, y in candidates:
        if not any(o[0] <= x <= o[2] and o[1] <= y <= o[3] for o in others):
            return x, y
    raise AssertionError(f"every point of {box} is inside another player's box")


def click_frame_point(page: Page, x: float, y: float) -> None:
    """Clicks where frame pixel (x, y) shows on the canvas, whatever size the canvas has now."""
    canvas = page.get_by_test_id("frame-canvas")
    width = float(canvas.get_attribute("data-frame-width") or 0)
    height = float(canvas.get_attribute("data-frame-height") or 0)
    shown = canvas.bounding_box()
    assert shown and width and height
    page.mouse.click(shown["x"] + x * shown["width"] / width, shown["y"] + y * shown["height"] / height)


def chip(page: Page, number: int) -> Any:
    return page.locator(f'[data-testid="player-chip"][data-number="{number}"]')


def landmarks_on_frame_0() -> dict[str, tuple[float, float]]:
    """Landmarks hand-marked on the clip's frame 0 (its detection frame): name -> frame pixel."""
    data = json.loads((REPO_ROOT / "tests" / "data" / "pitch_landmarks.json").read_text())
    [clip] = [c for c in data["clips"] if c["clip"] == CLIP]
    return {name: (float(x), float(y)) for name, (x, y) in clip["points"]["0"].items()}


def canvas_aspect(page: Page) -> tuple[float, float]:
    shown = page.get_by_test_id("frame-canvas").bounding_box()
    assert shown
    return shown["width"], shown["width"] / shown["height"]


def tiny_video(path: Path) -> Path:
    """A 3-frame 64x64 H.264 MP4: a real video, processed in no time."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 40 * i, dtype=np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def banner_shows(page: Page, status: int, message: str) -> None:
    banner = page.get_by_test_id("error-banner")
    expect(banner).to_be_visible()
    expect(page.get_by_test_id("error-message")).to_have_text(message)
    expect(page.get_by_test_id("error-title")).to_contain_text(str(status))


# --- The whole flow -------------------------------------------------------------------------
def test_an_analyst_builds_a_highlight_reel_in_the_browser(
    running: RunningStack, page: Page, shared_data: Path, artifacts: Path, tmp_path: Path
) -> None:
    from tests.media import assert_browser_ready, probe

    shot = Shots(page, artifacts)
    base = running.info.api_url
    page.goto(f"{base}/")
    expect(page.get_by_test_id("create-view")).to_be_visible()
    shot("new-session")

    # 1. Create the session: game, player, one clip uploaded with progress.
    page.get_by_label("Game", exact=True).fill("Gladbach v Wolfsburg")
    page.get_by_label("Player", exact=True).fill("No 7")
    page.get_by_test_id("videos-input").set_input_files(shared_data / "video" / CLIP)
    expect(page.get_by_test_id("file-summary")).to_contain_text(CLIP)
    shot("form-filled")
    page.evaluate(
        """() => {
            window.uploadLabels = [];
            const label = document.getElementById('upload-label');
            new MutationObserver(() => window.uploadLabels.push(label.textContent))
                .observe(label, {childList: true, characterData: true, subtree: true});
        }"""
    )
    puts: list[str] = []
    page.on("request", lambda request: puts.append(request.url) if request.method == "PUT" else None)
    page.get_by_test_id("create-button").click()
    expect(page.get_by_test_id("session-view")).to_be_visible(timeout=60_000)
    labels: list[str] = page.evaluate("window.uploadLabels")
    assert any(re.search(r"Uploading \d+% · .* of ", text) for text in labels), labels  # XHR progress
    # The video went straight to the bucket (presigned part URLs), never through the API.
    assert puts and all(url.startswith(running.info.s3_endpoint) and "uploadId=" in url for url in puts), puts
    expect(page).to_have_url(re.compile(r"\?session=s-[\w-]+$"))
    session_id = page.url.rsplit("session=", 1)[1]
    expect(page.locator("#session-title")).to_have_text("Gladbach v Wolfsburg · No 7")
    clip_item = page.get_by_test_id("clip-item").first
    expect(clip_item).to_contain_text(CLIP)
    shot("session-created")

    # 2. The clip is processed (the page polls); a reload resumes the session from the URL.
    expect(clip_item).to_have_attribute("data-status", "PERSISTED", timeout=PROCESSING_TIMEOUT_MS)
    page.reload()
    expect(page.locator("#session-title")).to_have_text("Gladbach v Wolfsburg · No 7")
    expect(clip_item).to_have_attribute("data-status", "PERSISTED")
    expect(clip_item.get_by_test_id("clip-status")).to_have_text("Ready")
    shot("clip-processed")

    # 3. Open it: the detection frame with numbered boxes on a canvas that keeps the frame's shape.
    clip_item.click()
    chips = page.get_by_test_id("player-chip")
    expect(chips.first).to_be_visible(timeout=60_000)
    expect(clip_item).to_have_attribute("aria-current", "true")
    clip_id = clip_item.get_attribute("data-clip-id")
    players = sorted(
        (int(c.get_attribute("data-number") or 0), json.loads(c.get_attribute("data-box") or "[]"))
        for c in chips.all()
    )
    assert [n for n, _ in players] == list(range(1, len(players) + 1)) and len(players) >= 3, players
    canvas = page.get_by_test_id("frame-canvas")
    frame_size = (canvas.get_attribute("data-frame-width"), canvas.get_attribute("data-frame-height"))
    assert frame_size == ("848", "478")
    wide_width, aspect = canvas_aspect(page)
    assert aspect == pytest.approx(848 / 478, rel=0.01)
    shot("detection-frame")

    # ... grouped by team as the API places them: one group per kit colour, then "other".
    served = running.api.get(f"/api/v1/clips/{clip_id}/players").json()["players"]
    team_of = {p["number"]: p["team"] or "" for p in served}
    groups = [
        (group.get_attribute("data-team") or "", [int(c.get_attribute("data-number") or 0) for c in chips_of])
        for group in page.get_by_test_id("team-group").all()
        for chips_of in [group.get_by_test_id("player-chip").all()]
    ]
    named = [team for team, _ in groups if team not in ("other", "")]
    assert len(named) >= 2 and named == sorted(named), groups  # the clip's two kits
    assert [team for team, _ in groups] == named + [t for t in ("other", "") if t in team_of.values()], groups
    assert sorted(n for _, numbers in groups for n in numbers) == [n for n, _ in players]
    assert all(team_of[n] == team for team, numbers in groups for n in numbers), (groups, team_of)
    # Each kit's swatch is the colour the API gives it (that of the pictures and the minimap).
    colour_of = {p["team"]: p["team_colour"] for p in served if p["team"] not in (None, "other")}
    for team in named:
        swatch = page.locator(f'[data-testid="team-group"][data-team="{team}"] .team-swatch')
        rgb = tuple(int(colour_of[team][i : i + 2], 16) for i in (1, 3, 5))
        expect(swatch).to_have_css("background-color", "rgb({}, {}, {})".format(*rgb))

    # ... which rescales with the window (stacked layout on a narrow one); clicks map back to frame
    # pixels at any size: click inside the first player's box.
    page.set_viewport_size({"width": 820, "height": 900})
    expect(canvas).not_to_have_css("width", f"{int(wide_width)}px")
    narrow_width, aspect = canvas_aspect(page)
    assert narrow_width < wide_width and aspect == pytest.approx(848 / 478, rel=0.02)
    number, box = players[0]
    x, y = point_only_in(box, [b for n, b in players if n != number])
    canvas.scroll_into_view_if_needed()
    click_frame_point(page, x, y)
    expect(page.get_by_test_id("selection-label")).to_have_attribute("data-selected", str(number))
    expect(chip(page, number)).to_have_attribute("aria-pressed", "true")
    expect(chip(page, players[1][0])).to_have_attribute("aria-pressed", "false")
    # Not calibrated yet: in place of the player's picture, the API's 409 and its reason.
    note = page.get_by_test_id("picture-note")
    expect(note).to_have_attribute("data-status", "409")
    expect(note).to_contain_text("no positions in metres: not calibrated")
    expect(page.get_by_test_id("player-picture")).to_be_hidden()
    shot("player-selected-narrow", full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.wait_for_function(
        "w => Math.abs(document.getElementById('frame-canvas').getBoundingClientRect().width - w) < 2",
        arg=wide_width,
    )

    # 4. Calibrate on the canvas: landmarks picked by name and clicked on the frame. Three are
    # refused with the server's reason; with a fourth they are accepted and a job places the clip.
    marked = landmarks_on_frame_0()
    page.get_by_test_id("calibrate-button").click()
    expect(page.get_by_test_id("calibration-panel")).to_be_visible()
    for name in CALIBRATION[:3]:
        page.get_by_test_id("landmark-select").select_option(name)
        click_frame_point(page, *marked[name])
    expect(page.get_by_test_id("calibration-point")).to_have_count(3)
    three = [{"name": name, "x": marked[name][0], "y": marked[name][1]} for name in CALIBRATION[:3]]
    refused = running.api.post(
        f"/api/v1/clips/{clip_id}/calibration", json={"frame_index": 0, "points": three}
    )
    assert refused.status_code == 422, refused.text
    page.get_by_test_id("calibration-send").click()
    expect(page.get_by_test_id("calibration-error")).to_have_text(f"Refused: {refused.json()['detail']}")
    shot("calibration-refused")
    page.get_by_test_id("landmark-select").select_option(CALIBRATION[3])
    click_frame_point(page, *marked[CALIBRATION[3]])
    with page.expect_request(lambda r: r.url.endswith("/calibration") and r.method == "POST") as sent:
        page.get_by_test_id("calibration-send").click()
    body = sent.value.post_data_json
    assert body["frame_index"] == 0 and [p["name"] for p in body["points"]] == list(CALIBRATION), body
    for point in body["points"]:  # a click lands within a frame pixel of where it was aimed
        assert (point["x"], point["y"]) == pytest.approx(marked[point["name"]], abs=1.0), point
    expect(page.get_by_test_id("calibration-residuals")).to_contain_text("Accepted: 4 landmarks")
    expect(page.get_by_test_id("calibration-error")).to_be_hidden()
    expect(page.get_by_test_id("calibration-label")).not_to_be_empty()  # the job's progress
    shot("calibration-accepted")
    page.get_by_test_id("calibrate-button").click()  # back to picking players
    expect(page.get_by_test_id("calibration-panel")).to_be_hidden()

    # 5. Indicator, preview: progress, then a playable <video>; the minimap goes with the request.
    page.get_by_test_id("minimap-input").check()
    page.get_by_test_id("indicator-dot").check()
    shot("player-and-indicator")
    with page.expect_request(lambda r: r.url.endswith("/cv/preview") and r.method == "POST") as sent:
        page.get_by_test_id("preview-button").click()
    request = sent.value.post_data_json
    assert isinstance(request, dict), request
    assert request["session_id"] == session_id and request["clip_id"] == clip_id
    assert request["box"] == box and request["indicator"] == "dot" and isinstance(request["frame_index"], int)
    assert request.get("minimap") is True, request
    expect(page.get_by_test_id("preview-progress")).to_be_visible()
    shot("preview-rendering")
    video = page.get_by_test_id("preview-video")
    expect(video).to_be_visible(timeout=PROCESSING_TIMEOUT_MS)
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=preview-video]');"
        " return v.readyState >= 2 && v.duration > 0; }",
        timeout=60_000,
    )
    assert page.evaluate("document.querySelector('[data-testid=preview-video]').duration") == pytest.approx(
        6.77, abs=0.3
    )
    played = page.evaluate(
        """async () => {
            const v = document.querySelector('[data-testid=preview-video]');
            v.muted = true;
            await v.play();
            await new Promise((done) => setTimeout(done, 700));
            v.pause();
            return v.currentTime;
        }"""
    )
    assert played > 0.2, f"the preview did not play in Chromium (currentTime {played})"
    expect(page.get_by_test_id("preview-status")).to_have_attribute("data-status", "SUCCEEDED")
    shot("preview-ready")

    # 6. Approve, finalize (progress), download the final video through the link.
    page.get_by_test_id("approve-button").click()
    expect(page.get_by_test_id("approved-note")).to_be_visible()
    expect(page.get_by_test_id("approved-count")).to_have_text("1 of 1 approved")
    expect(clip_item.get_by_test_id("clip-preview-tag")).to_have_text("Approved")
    shot("approved")
    page.get_by_test_id("finalize-button").click()
    expect(page.get_by_test_id("finalize-progress")).to_be_visible()
    expect(page.get_by_test_id("finalize-label")).to_contain_text("/ 1 clips")
    shot("finalizing")
    link = page.get_by_test_id("download-link")
    expect(link).to_be_visible(timeout=PROCESSING_TIMEOUT_MS)
    expect(page.get_by_test_id("session-status")).to_have_text("Final video ready")
    expect(page.get_by_test_id("error-banner")).to_be_hidden()
    shot("final-ready")

    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "final.mp4"
    download.value.save_as(saved)
    assert download.value.suggested_filename.endswith("_tracked.mp4")
    found = probe(saved)
    assert_browser_ready(found)
    assert found.codec == "h264" and (found.width, found.height) == (848, 478) and found.frames == 169


# --- Errors reach the person ----------------------------------------------------------------
def test_finalize_with_nothing_approved_shows_the_servers_409_message(
    running: RunningStack, page: Page, artifacts: Path, tmp_path: Path
) -> None:
    video = tiny_video(tmp_path / "tiny.mp4")
    session_id = uploads.create_session(running.api, [video], "Errors FC v Tests", "No 9")["session_id"]
    refused = running.api.post("/cv/finalize-all", json={"session_id": session_id})
    assert refused.status_code == 409, refused.text

    shot = Shots(page, artifacts, prefix="error-")
    page.goto(f"{running.info.api_url}/?session={session_id}")
    expect(page.locator("#session-title")).to_have_text("Errors FC v Tests · No 9")
    expect(page.get_by_test_id("approved-count")).to_have_text("0 of 1 approved")
    page.get_by_test_id("finalize-button").click()
    banner_shows(page, 409, refused.json()["detail"])
    expect(page.get_by_test_id("download-link")).to_be_hidden()
    shot("finalize-nothing-approved")
    page.get_by_test_id("error-dismiss").click()
    expect(page.get_by_test_id("error-banner")).to_be_hidden()


def test_an_unknown_session_and_a_file_that_is_not_a_video_show_the_servers_messages(
    running: RunningStack, page: Page, artifacts: Path, tmp_path: Path
) -> None:
    shot = Shots(page, artifacts, prefix="error-", start=1)
    missing = running.api.get("/cv/session/s-does-not-exist")
    assert missing.status_code == 404
    page.goto(f"{running.info.api_url}/?session=s-does-not-exist")
    banner_shows(page, 404, missing.json()["detail"])
    expect(page.get_by_test_id("create-view")).to_be_visible()  # back to the form
    expect(page).not_to_have_url(re.compile("session="))
    shot("unknown-session")

    # A file named like a video that is none: refused by the page before anything is uploaded.
    notes = tmp_path / "notes.mp4"
    notes.write_text("this is not a video\n" * 10)
    page.get_by_label("Game", exact=True).fill("A v B")
    page.get_by_label("Player", exact=True).fill("No 1")
    page.get_by_test_id("videos-input").set_input_files(notes)
    page.get_by_test_id("create-button").click()
    expect(page.get_by_test_id("error-banner")).to_be_visible()
    expect(page.get_by_test_id("error-message")).to_contain_text("notes.mp4 is not a video")
    expect(page.get_by_test_id("create-view")).to_be_visible()  # still on the form, nothing lost
    expect(page.get_by_label("Game", exact=True)).to_have_value("A v B")
    shot("not-a-video")

    # A file whose name is no video's: the server's 415, as the API words it.
    named = tmp_path / "notes.txt"
    named.write_bytes(tiny_video(tmp_path / "v.mp4").read_bytes())
    refused = running.api.post(
        "/cv/sessions", json={"game": "A v B", "player": "No 1", "videos": [uploads.spec("notes.txt", named)]}
    )
    assert refused.status_code == 415, refused.text
    page.get_by_test_id("error-dismiss").click()
    page.evaluate("document.getElementById('videos-input').removeAttribute('accept')")
    page.get_by_test_id("videos-input").set_input_files(named)
    page.get_by_test_id("create-button").click()
    banner_shows(page, 415, refused.json()["detail"])
    shot("not-a-video-name")


def test_a_network_failure_is_shown(running: RunningStack, page: Page) -> None:
    page.goto(f"{running.info.api_url}/")
    expect(page.get_by_test_id("create-view")).to_be_visible()
    page.route("**/cv/session/**", lambda route: route.abort("connectionrefused"))
    page.goto(f"{running.info.api_url}/?session=s-unreachable")
    expect(page.get_by_test_id("error-banner")).to_be_visible()
    expect(page.get_by_test_id("error-title")).to_contain_text("network error")
    expect(page.get_by_test_id("error-message")).to_contain_text("Could not reach the server")


# --- The API token --------------------------------------------------------------------------
FRAME_SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' width='848' height='478'>"
    "<rect width='848' height='478' fill='#2d6a3e'/></svg>"
)


def test_the_token_is_asked_once_kept_and_sent_with_every_request(running: RunningStack, page: Page) -> None:
    """The stack runs without a token; the /cv answers here are stand-ins that demand one, so the
    test sees exactly what the page sends."""
    seen: list[tuple[str, str | None]] = []
    session = {
        "session_id": "s-token", "game": "Token v Test", "player": "No 4", "status": "READY",
        "reason": None, "source": "upload", "expected_clips": 1,
        "created_at": "2026-11-21T00:00:00Z", "updated_at": "2026-11-21T00:00:00Z",
    }  # fmt: skip
    preview = {
        "task_id": "t-1", "status": "SUCCEEDED", "progress": 1.0, "reason": None,
        "preview_url": "/cv/files/previews/s-token/c-1/dot.mp4",
    }  # fmt: skip
    clip = {
        "clip_id": "c-1", "name": "clip.mp4", "status": "PERSISTED", "progress": 1.0, "reason": None,
        "width": 848, "height": 478, "fps": 25.0, "duration_s": 6.76,
        "selection": {"box": [100, 100, 140, 200], "frame_index": 1, "indicator": "glow"},
        "preview": preview, "approved": False,
    }  # fmt: skip
    detection = {
        "session_id": "s-token", "clip_id": "c-1", "frame_index": 1, "width": 848, "height": 478,
        "image": "data:image/svg+xml;base64," + base64.b64encode(FRAME_SVG.encode()).decode(),
        "players": [
            {"number": 1, "track_id": 3, "box": [100, 100, 140, 200], "confidence": 0.9},
            {"number": 2, "track_id": 5, "box": [400, 150, 440, 260], "confidence": 0.8},
        ],
    }  # fmt: skip
    answers: dict[str, Any] = {
        "/cv/session/s-token": session,
        "/cv/session/s-token/clips": {"session_id": "s-token", "clips": [clip]},
        "/cv/detect": detection,
    }

    def answer(route: Route) -> None:
        url = route.request.url
        path = re.sub(r"^https?://[^/]+", "", url).split("?")[0]
        seen.append((url, route.request.headers.get("authorization")))
        if path == "/cv/config":
            route.fulfill(json={"token_required": True, "max_upload_mb": 2048, "indicators": ["dot"]})
        elif path.startswith("/cv/files/"):
            route.fulfill(status=404, json={"error": "ObjectNotFound", "detail": "stand-in"})
        elif route.request.headers.get("authorization") != "Bearer s3cret":
            route.fulfill(status=401, json={"error": "Unauthorized", "detail": "missing or wrong API token"})
        else:
            route.fulfill(json=answers[path])

    page.route(re.compile(r".*/cv/.*"), answer)
    page.goto(f"{running.info.api_url}/?session=s-token")
    dialog = page.get_by_test_id("token-dialog")
    expect(dialog).to_be_visible()
    page.get_by_test_id("token-input").fill("s3cret")
    page.get_by_test_id("token-save").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#session-title")).to_have_text("Token v Test · No 4")
    assert page.evaluate("localStorage.getItem('pitchlens.apiToken')") == "s3cret"

    # The open clip resumes its earlier selection and preview; the video URL carries ?token=.
    page.get_by_test_id("clip-item").first.click()
    expect(page.get_by_test_id("player-chip").first).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("indicator-glow")).to_be_checked()
    src = page.get_by_test_id("preview-video").get_attribute("src") or ""
    assert src.endswith("/cv/files/previews/s-token/c-1/dot.mp4?token=s3cret"), src

    # Keyboard: arrows move between the players on the canvas, Enter picks one; Retry starts over.
    page.get_by_test_id("frame-canvas").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("player-chip").nth(1)).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("selection-label")).to_have_text("Player 2 selected")
    page.get_by_test_id("retry-button").click()
    expect(page.get_by_test_id("preview-panel")).to_be_hidden()
    expect(page.get_by_test_id("selection-label")).to_have_attribute("data-selected", "")
    expect(page.get_by_test_id("preview-button")).to_be_disabled()

    # Reloading does not ask again; every guarded request carried the token.
    page.reload()
    expect(page.locator("#session-title")).to_have_text("Token v Test · No 4")
    expect(dialog).to_be_hidden()
    guarded = [(url, auth) for url, auth in seen if "/cv/config" not in url and "/cv/files/" not in url]
    after_saving = guarded[next(i for i, (_, auth) in enumerate(guarded) if auth) :]
    assert after_saving and all(auth == "Bearer s3cret" for _, auth in after_saving), after_saving


# --- The picked player's picture follows the calibration --------------------------------------
def test_the_players_picture_is_drawn_once_the_calibration_job_succeeds(
    running: RunningStack, page: Page
) -> None:
    """Stand-ins for the session, its detection, the calibration and its job, and the pictures (the
    real ones are tested against the API, the real calibration in the flow above, whose job takes
    minutes on this machine): the API's 409 reason first, then the picture once the job SUCCEEDED."""
    import io

    from PIL import Image

    sink = io.BytesIO()
    Image.new("RGB", (105, 68), (46, 125, 50)).save(sink, format="PNG")
    png = sink.getvalue()
    session = {
        "session_id": "s-cal", "game": "Calibration v Test", "player": "No 8", "status": "READY",
        "reason": None, "source": "upload", "expected_clips": 1,
        "created_at": "2026-12-02T00:00:00Z", "updated_at": "2026-12-02T00:00:00Z",
    }  # fmt: skip
    clip = {
        "clip_id": "c-1", "name": "clip.mp4", "status": "PERSISTED", "progress": 1.0, "reason": None,
        "width": 848, "height": 478, "fps": 25.0, "duration_s": 6.76, "selection": None, "preview": None,
        "approved": False,
    }  # fmt: skip
    detection = {
        "session_id": "s-cal", "clip_id": "c-1", "frame_index": 2, "image_frame_index": 0,
        "width": 848, "height": 478,
        "image": "data:image/svg+xml;base64," + base64.b64encode(FRAME_SVG.encode()).decode(),
        "players": [
            {"number": 1, "track_id": 3, "box": [100, 100, 140, 200], "confidence": 0.9, "team": "white"},
            {"number": 2, "track_id": 5, "box": [400, 150, 440, 260], "confidence": 0.8, "team": "green"},
        ],
    }  # fmt: skip
    landmarks = {name: [0.0, 0.0] for name in CALIBRATION}
    accepted = {
        "job_id": "j-1", "status": "PENDING", "correlation_id": "c", "status_url": "/api/v1/jobs/j-1",
        "homography": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        "residuals_m": {"halfway_far": 0.12, "halfway_near": 0.3, "arc_left_far": 0.05, "arc_left_near": 0.2},
    }  # fmt: skip
    polls: list[str] = []
    sent: list[Any] = []

    def job() -> dict[str, Any]:
        polls.append("poll")
        status = "RUNNING" if len(polls) < 2 else "SUCCEEDED"
        return {"job_id": "j-1", "status": status, "progress": 0.5 if status == "RUNNING" else 1.0,
                "reason": None, "counts": {"rows_with_metres": 4003}}  # fmt: skip

    def answer(route: Route) -> None:
        path = re.sub(r"^https?://[^/]+", "", route.request.url).split("?")[0]
        fixed = {
            "/cv/session/s-cal": session,
            "/cv/session/s-cal/clips": {"session_id": "s-cal", "clips": [clip]},
            "/cv/detect": detection,
            "/api/v1/pitch/landmarks": landmarks,
            "/cv/config": {
                "token_required": False,
                "max_upload_mb": 2048,
                "indicators": ["dot", "circle", "glow"],
            },
        }
        if path in fixed:
            route.fulfill(json=fixed[path])
        elif path == "/api/v1/clips/c-1/calibration":
            sent.append(route.request.post_data_json)
            route.fulfill(status=202, json=accepted)
        elif path == "/api/v1/jobs/j-1":
            route.fulfill(json=job())
        elif path.startswith("/api/v1/clips/c-1/players/3/plots/"):
            if len(polls) < 2:
                detail = "track 3 of clip c-1 has no positions in metres: not calibrated"
                route.fulfill(status=409, json={"error": "NotCalibrated", "detail": detail})
            else:
                markers = "42" if path.endswith("path.png") else "7"
                route.fulfill(body=png, content_type="image/png", headers={"X-PitchLens-Markers": markers})
        else:
            route.fulfill(status=404, json={"error": "NotFound", "detail": f"no stand-in for {path}"})

    page.route(re.compile(r".*/(cv|api/v1)/.*"), answer)
    page.goto(f"{running.info.api_url}/?session=s-cal")
    page.get_by_test_id("clip-item").first.click()
    expect(page.get_by_test_id("team-group")).to_have_count(2)
    chip(page, 1).click()
    note = page.get_by_test_id("picture-note")
    expect(note).to_have_attribute("data-status", "409")
    expect(note).to_contain_text("no positions in metres: not calibrated")

    page.get_by_test_id("calibrate-button").click()
    for index, name in enumerate(CALIBRATION):
        page.get_by_test_id("landmark-select").select_option(name)
        click_frame_point(page, 100.0 + 150 * index, 300.0 - 40 * index)
    page.get_by_test_id("calibration-send").click()
    expect(page.get_by_test_id("calibration-residuals")).to_have_text(
        "Accepted: 4 landmarks; worst halfway_near off by 0.30 m."
    )
    assert sent and sent[0]["frame_index"] == 0 and len(sent[0]["points"]) == 4, sent
    expect(page.get_by_test_id("calibration-label")).to_have_attribute("data-status", "SUCCEEDED")
    expect(page.get_by_test_id("calibration-label")).to_have_text("Calibrated: 4003 positions in metres.")
    picture = page.get_by_test_id("player-picture")
    expect(picture).to_be_visible()
    expect(picture).to_have_attribute("data-markers", "42")
    expect(picture).to_have_attribute("data-track-id", "3")
    page.get_by_test_id("picture-heatmap").check()
    expect(picture).to_have_attribute("data-kind", "heatmap")
    expect(picture).to_have_attribute("data-markers", "7")
    expect(note).to_have_text("Player 1 (track 3, white): 7 positions binned; home attacks right.")

    # No points: the clip's shots fitted from their pitch lines (the panel is still open).
    page.get_by_test_id("calibration-auto").click()
    expect(page.get_by_test_id("calibration-residuals")).to_have_text(
        "Accepted: every shot is fitted from its pitch lines."
    )
    assert sent[-1] == {"automatic": True, "orientation": "home_attacks_right"}, sent
