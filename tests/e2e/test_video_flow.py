"""A video uploaded to the embedded stack: detect -> track -> persist trajectories (real model)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import RunningStack, start_vision_stack

pytestmark = pytest.mark.e2e

CLIP = "dfl_08fd33_4_848x478.mp4"


@pytest.fixture(scope="module")
def running(model_dir: Path) -> Iterator[RunningStack]:
    yield from start_vision_stack("video", model_dir)


def read_object(running: RunningStack, uri: str) -> bytes:
    bucket, _, key = uri[len("s3://") :].partition("/")
    body: bytes = running.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


@pytest.fixture(scope="module")
def processed(running: RunningStack, shared_data: Path) -> dict[str, Any]:
    """The job of the shared clip uploaded to videos/match-7/ and processed by the stack."""
    video = (shared_data / "video" / CLIP).read_bytes()
    correlation_id = "video-flow-1"
    running.upload(f"match-7/{CLIP}", video, {"correlation-id": correlation_id}, bucket="videos")
    job: dict[str, Any] = running.job(correlation_id=correlation_id, timeout=300)
    return job


def test_an_uploaded_clip_becomes_detections_tracks_and_trajectories(
    running: RunningStack, processed: dict[str, Any]
) -> None:
    job = processed
    assert job["status"] == "SUCCEEDED", job
    outputs, counts = job["outputs"], job["counts"]
    assert counts["frames"] == 169 and counts["tracks"] >= 10 and counts["detections"] >= 5

    frame = read_object(running, outputs["frame_uri"])
    assert frame[:3] == b"\xff\xd8\xff"  # a JPEG
    detections = orjson.loads(read_object(running, outputs["detections_uri"]))
    assert len(detections["detections"]) == counts["detections"]
    for box in detections["detections"]:
        assert set(box) == {"x1", "y1", "x2", "y2", "confidence", "class", "on_pitch"}
        assert box["class"] == "person" and isinstance(box["on_pitch"], bool)
        assert 0 <= box["x1"] < box["x2"] <= 848 and 0 <= box["y1"] < box["y2"] <= 478

    table = pq.read_table(io.BytesIO(read_object(running, outputs["trajectories_uri"])))
    assert outputs["trajectories_uri"].startswith("s3://tracking-data/tracking/match-7/")
    assert table.num_rows == counts["rows"] > 169
    assert {"match_id", "clip_id", "frame", "t_seconds", "track_id", "foot_x", "foot_y"} <= set(
        table.column_names
    )
    # Schema v2: placed as tracked (on the pitch, team by kit); metres only after a calibration.
    assert {"on_pitch", "team", "pitch_x", "pitch_y"} <= set(table.column_names)
    assert any(table["on_pitch"].to_pylist()) and table["pitch_x"].null_count == table.num_rows

    clip = running.api.get(f"/api/v1/clips/{outputs['clip_id']}").json()
    assert clip["status"] == "PERSISTED" and clip["trajectory_rows"] == table.num_rows
    assert clip["info"]["fps"] == 25 and clip["info"]["width"] == 848
    assert [c["clip_id"] for c in running.api.get("/api/v1/matches/match-7/clips").json()] == [
        clip["clip_id"]
    ]
    rows = running.sql(
        "SELECT trajectories_uri, trajectory_rows FROM clips WHERE clip_id = %s", clip["clip_id"]
    )
    assert rows == [(outputs["trajectories_uri"], table.num_rows)]


def test_a_processed_clip_calibrated_on_one_frame_gets_its_players_in_metres(
    running: RunningStack, processed: dict[str, Any]
) -> None:
    """The hand-marked landmarks of the DFL clip's frame 0 (tests/data/pitch_landmarks.json) sent
    to the API: the calibrate job re-reads the clip's one shot and rewrites its trajectories with
    metres; teams and on-pitch flags stay as tracked."""
    clip_id = processed["outputs"]["clip_id"]
    before = pq.read_table(io.BytesIO(read_object(running, processed["outputs"]["trajectories_uri"])))
    marked = json.loads((Path(__file__).parents[1] / "data" / "pitch_landmarks.json").read_text())
    [dfl] = [c for c in marked["clips"] if c["clip"] == CLIP]
    points = [{"name": name, "x": x, "y": y} for name, (x, y) in dfl["points"]["0"].items()]
    answer = running.api.post(
        f"/api/v1/clips/{clip_id}/calibration", json={"frame_index": 0, "points": points}
    )
    assert answer.status_code == 202, answer.text
    assert max(answer.json()["residuals_m"].values()) < 0.5
    job = running.job(job_id=answer.json()["job_id"], timeout=180)
    assert job["status"] == "SUCCEEDED", job
    assert job["outputs"]["placed_frames"] == "0-168" and job["counts"]["frames_with_metres"] >= 160

    after = pq.read_table(io.BytesIO(read_object(running, job["outputs"]["trajectories_uri"])))
    assert after.num_rows == before.num_rows
    assert after["team"].to_pylist() == before["team"].to_pylist()
    assert after["on_pitch"].to_pylist() == before["on_pitch"].to_pylist()
    on = [
        (x, y)
        for x, y, flag in zip(
            after["pitch_x"].to_pylist(),
            after["pitch_y"].to_pylist(),
            after["on_pitch"].to_pylist(),
            strict=True,
        )
        if flag
    ]
    placed = [(x, y) for x, y in on if x is not None]
    assert len(placed) >= 0.9 * len(on)
    # Standing on the pitch: inside 105 x 68 with a few metres' margin (assistants on the touchline).
    outside = [(round(x, 1), round(y, 1)) for x, y in placed if abs(x) > 55.5 or abs(y) > 37]
    assert len(outside) <= 0.01 * len(placed), outside
    clip = running.api.get(f"/api/v1/clips/{clip_id}").json()
    assert clip["trajectories_uri"] == job["outputs"]["trajectories_uri"]


@pytest.fixture(scope="module")
def sixty_fps_with_a_cut(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s at 60 fps made from the DFL clip: 1.8 s of its start, then a cut to 1.2 s of its end
    (the camera at the other penalty area). The cut is past the middle, where the camera path once
    counted frames instead of frames seen and the track step failed."""
    import imageio_ffmpeg

    path = tmp_path_factory.mktemp("sixty") / "sixty.mp4"
    graph = (
        "[0:v]trim=0:1.8,setpts=PTS-STARTPTS[a];[0:v]trim=5.4:6.6,setpts=PTS-STARTPTS[b];"
        "[a][b]concat=n=2:v=1,fps=60[v]"
    )
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(shared_data / "video" / CLIP),
    ]
    command += ["-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", str(path)]
    subprocess.run(command, check=True, timeout=120)
    return path


def test_a_60_fps_clip_with_a_cut_is_tracked_on_every_other_frame_and_placed(
    running: RunningStack, sixty_fps_with_a_cut: Path
) -> None:
    running.upload(
        "match-60/sixty.mp4", sixty_fps_with_a_cut.read_bytes(), {"correlation-id": "sixty"}, bucket="videos"
    )
    job = running.job(correlation_id="sixty", timeout=300)
    assert job["status"] == "SUCCEEDED", job
    assert job["counts"]["frames"] == 180
    table = pq.read_table(io.BytesIO(read_object(running, job["outputs"]["trajectories_uri"])))
    frames = set(table["frame"].to_pylist())
    assert len(frames) >= 170 and max(frames) >= 175  # every frame, the untracked ones interpolated
    assert any(table["on_pitch"].to_pylist()) and table["team"].null_count < table.num_rows
    shots = sorted(set(table["shot"].to_pylist()))
    assert len(shots) == 2 and 100 <= shots[1] <= 112, shots  # the cut at 1.8 s (frame 108) is kept


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("empty.mp4", b"", "empty"),
        ("text.mp4", b"this is not a video at all\n" * 20, "not a video"),
    ],
)
def test_bad_videos_fail_with_a_reason(running: RunningStack, name: str, data: bytes, problem: str) -> None:
    correlation_id = f"bad-{name}"
    running.upload(f"match-8/{name}", data, {"correlation-id": correlation_id}, bucket="videos")
    job = running.job(correlation_id=correlation_id, timeout=60)
    assert job["status"] == "FAILED" and problem in job["reason"].lower(), job


def test_a_truncated_video_fails_with_a_reason(running: RunningStack, shared_data: Path) -> None:
    video = (shared_data / "video" / CLIP).read_bytes()
    running.upload(
        "match-8/cut.mp4", video[: len(video) // 2], {"correlation-id": "bad-cut"}, bucket="videos"
    )
    job = running.job(correlation_id="bad-cut", timeout=120)
    assert job["status"] == "FAILED" and job["reason"], job


def test_a_non_video_key_is_skipped(running: RunningStack) -> None:
    running.upload("match-8/notes.txt", b"hello", {"correlation-id": "not-a-video"}, bucket="videos")
    running.upload("match-8/ok.json", b"{}", {"correlation-id": "not-a-video"}, bucket="videos")
    assert running.api.get("/api/v1/jobs", params={"correlation_id": "not-a-video"}).json()["jobs"] == []
    assert running.api.get("/healthz").status_code == 200


def test_process_command_prints_the_outputs(running: RunningStack, shared_data: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITCHLENS_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pitchlens.runtime.cli",
            "process",
            str(shared_data / "video" / CLIP),
            "--match-id",
            "match-9",
            "--data-dir",
            running.info.data_dir,
            "--out-dir",
            str(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for field in (
        "status",
        "job_id",
        "clip_id",
        "detections_uri",
        "frame_uri",
        "trajectories_uri",
        "frames",
        "tracks",
    ):
        assert summary[field], field
    assert summary["status"] == "SUCCEEDED" and summary["frames"] == 169
    assert summary["trajectories_uri"].startswith("s3://tracking-data/tracking/match-9/")
    preview = Path(summary["detections_preview"])  # boxes drawn on the frame, ready to open
    assert preview.parent.parent == tmp_path and preview.read_bytes()[:3] == b"\xff\xd8\xff"


def test_calibrate_auto_fits_the_pitch_lines_alone(running: RunningStack, processed: dict[str, Any]) -> None:
    """`pitchlens calibrate --auto`: no marked point, every shot fitted from its lines (the DFL wide
    shot's lines fit: tests/integration/test_players_on_pitch.py measures how well)."""
    clip_id = processed["outputs"]["clip_id"]
    done = pitchlens(running, "calibrate", "--clip-id", clip_id, "--auto", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["placed_frames"] == "0-168" and summary["rows_with_metres"] >= 0.8 * summary["rows"], (
        summary
    )
    table = pq.read_table(io.BytesIO(read_object(running, summary["trajectories_uri"])))
    assert (table.schema.metadata or {})[b"pitchlens.pitch_source"] == b"automatic"
    both = pitchlens(running, "calibrate", "--clip-id", clip_id, "--auto", "--point=centre_spot=1,2")
    assert both.returncode != 0 and "--auto" in both.stderr + both.stdout


def test_a_clip_with_no_people_succeeds_with_no_tracks(running: RunningStack, tmp_path: Path) -> None:
    import av
    import numpy as np

    path = tmp_path / "empty-pitch.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        green = np.zeros((240, 320, 3), np.uint8)
        green[:, :, 1] = 140
        for _ in range(25):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(green, format="bgr24")))
        container.mux(stream.encode())
    running.upload(
        "match-8/empty-pitch.mp4", path.read_bytes(), {"correlation-id": "no-people"}, bucket="videos"
    )
    job = running.job(correlation_id="no-people", timeout=120)
    assert job["status"] == "SUCCEEDED", job
    assert (job["counts"]["detections"], job["counts"]["tracks"], job["counts"]["rows"]) == (0, 0, 0)
    table = pq.read_table(io.BytesIO(read_object(running, job["outputs"]["trajectories_uri"])))
    assert table.num_rows == 0 and "track_id" in table.column_names


# --- Rendering the followed player ----------------------------------------------------------
def tracked_boxes(running: RunningStack, processed: dict[str, Any], frame: int = 1) -> list[list[float]]:
    """Boxes of tracked players on `frame`, largest first, from the clip's trajectories (players found
    only by the detection frame's sliced inference may not be tracked, hence not followable)."""
    table = pq.read_table(io.BytesIO(read_object(running, processed["outputs"]["trajectories_uri"])))
    rows = [row for row in table.to_pylist() if row["frame"] == frame]
    rows.sort(key=lambda row: row["y2"] - row["y1"], reverse=True)
    return [[row["x1"], row["y1"], row["x2"], row["y2"]] for row in rows]


def pitchlens(
    running: RunningStack, *arguments: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The CLI against the running stack, as a user runs it (no PITCHLENS_ settings inherited)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITCHLENS_")}
    command = [sys.executable, "-m", "pitchlens.runtime.cli", *arguments, "--data-dir", running.info.data_dir]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def test_players_and_render_commands_follow_a_numbered_player_into_a_browser_ready_preview(
    running: RunningStack, processed: dict[str, Any], tmp_path: Path
) -> None:
    from tests.media import assert_browser_ready, probe

    clip_id = processed["outputs"]["clip_id"]
    listed = pitchlens(running, "players", "--clip-id", clip_id, "--out-dir", str(tmp_path), "--json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert len(found["players"]) >= 5 and [p["number"] for p in found["players"]] == list(
        range(1, len(found["players"]) + 1)
    )
    assert [p["box"][0] for p in found["players"]] == sorted(p["box"][0] for p in found["players"])
    assert all(
        0 <= p["box"][0] < p["box"][2] <= 848 and 0 <= p["box"][1] < p["box"][3] <= 478
        for p in found["players"]
    )
    assert Path(found["picture"]).read_bytes()[:3] == b"\xff\xd8\xff"  # numbered boxes on the frame

    result = pitchlens(
        running, "render", "--clip-id", clip_id, "--player", "1", "--indicator", "dot",
        "--out-dir", str(tmp_path), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "SUCCEEDED" and summary["frames"] == 169
    assert summary["box"] == found["players"][0]["box"]
    assert summary["output_uri"].startswith(f"s3://outputs/previews/match-7/{clip_id}/dot-")
    assert 0 < summary["marked_frames"] <= 169 and summary["marked_frames"] + summary["lost_frames"] == 169
    local = Path(summary["local_path"])
    assert local.is_relative_to(tmp_path) and local.read_bytes() == read_object(
        running, summary["output_uri"]
    )
    found_video = probe(local)
    assert_browser_ready(found_video)
    assert (found_video.width, found_video.height, float(found_video.rate)) == (1278, 720, 30.0)

    missing = pitchlens(running, "render", "--clip-id", clip_id, "--player", "99")
    assert missing.returncode != 0 and "no player 99" in missing.stderr


def test_render_through_the_api_reports_progress_and_writes_the_final_under_tracked(
    running: RunningStack, processed: dict[str, Any]
) -> None:
    clip_id = processed["outputs"]["clip_id"]
    box = tracked_boxes(running, processed)[1]
    response = running.api.post(
        f"/api/v1/clips/{clip_id}/renders",
        json={"box": box, "frame_index": 1, "preset": "final", "indicator": "glow"},
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    seen: list[float] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = running.api.get(f"/api/v1/jobs/{job_id}").json()
        seen.append(job["progress"])
        if job["status"] in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.1)
    assert job["status"] == "SUCCEEDED", job
    assert job["kind"] == "render" and job["progress"] == 1.0 and seen == sorted(seen)
    assert job["outputs"]["output_uri"].startswith(f"s3://outputs/tracked/match-7/{clip_id}/glow-")
    assert job["counts"]["width"] == 848 and job["counts"]["output_frames"] == 169


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/api/v1/clips/{clip}/renders", {"box": [800, 400, 900, 470]}, 422, "outside the 848x478 frame"),
        ("/api/v1/clips/{clip}/renders", {"box": [10, 10, 20]}, 422, "box"),
        ("/api/v1/clips/{clip}/renders", {"box": [1, 1, 9, 9], "preset": "8k"}, 422, "preset"),
        ("/api/v1/clips/no-such-clip/renders", {"box": [1, 1, 9, 9]}, 404, "no-such-clip"),
    ],
)
def test_bad_render_requests_are_refused_with_a_clear_message(
    running: RunningStack,
    processed: dict[str, Any],
    path: str,
    body: dict[str, Any],
    status: int,
    message: str,
) -> None:
    before = running.api.get("/api/v1/jobs").json()["total"]
    response = running.api.post(path.format(clip=processed["outputs"]["clip_id"]), json=body)
    assert response.status_code == status, response.text
    assert message in response.text
    assert running.api.get("/api/v1/jobs").json()["total"] == before  # no job for a refused request


def test_a_box_on_nobody_fails_the_render_with_the_reason(
    running: RunningStack, processed: dict[str, Any]
) -> None:
    clip_id = processed["outputs"]["clip_id"]
    response = running.api.post(f"/api/v1/clips/{clip_id}/renders", json={"box": [1, 1, 11, 21]})
    assert response.status_code == 202, response.text  # inside the frame: accepted, then followed
    job = running.job(job_id=response.json()["job_id"], timeout=120)
    assert job["status"] == "FAILED" and "no tracked player under the chosen box" in job["reason"], job
    assert "output_uri" not in job["outputs"]
    listed = running.s3.list_objects_v2(Bucket="outputs", Prefix=f"previews/match-7/{clip_id}/")
    assert not any(job["job_id"] in item["Key"] for item in listed.get("Contents", []))


def test_concat_command_joins_renders_into_the_final_video(
    running: RunningStack, processed: dict[str, Any], tmp_path: Path
) -> None:
    from tests.media import assert_browser_ready, probe

    clip_id = processed["outputs"]["clip_id"]
    detections = orjson.loads(read_object(running, processed["outputs"]["detections_uri"]))["detections"]
    box = [detections[2][name] for name in ("x1", "y1", "x2", "y2")]
    jobs = [
        running.api.post(f"/api/v1/clips/{clip_id}/renders", json={"box": box, "indicator": kind}).json()[
            "job_id"
        ]
        for kind in ("circle", "glow")
    ]
    for job_id in jobs:
        assert running.job(job_id=job_id, timeout=300)["status"] == "SUCCEEDED"
    result = pitchlens(
        running, "concat", *jobs, "--game", "Gladbach v Wolfsburg", "--player", "No 7",
        "--out-dir", str(tmp_path), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["output_uri"] == "s3://outputs/final/Gladbach-v-Wolfsburg_No-7_tracked.mp4"
    assert summary["stream_copied"] and summary["clips"] == 2
    joined = probe(Path(summary["local_path"]))
    assert_browser_ready(joined)
    assert joined.frames == 2 * 203


def test_a_calibrated_clip_renders_with_the_minimap_in_metres(
    running: RunningStack, processed: dict[str, Any], tmp_path: Path
) -> None:
    """`pitchlens calibrate` with the landmarks hand-marked on the clip's frame 0, then `pitchlens
    render --minimap`: (nearly) every frame's minimap shows people in metres. Last in this module: the
    calibration rewrites the clip's trajectories."""
    from tests.media import assert_browser_ready, probe

    clip_id = processed["outputs"]["clip_id"]
    landmarks = json.loads((Path(__file__).parents[1] / "data" / "pitch_landmarks.json").read_text())
    [marked] = [c for c in landmarks["clips"] if c["clip"] == CLIP]
    points = [
        f"--point={name}={x},{y}" for name, (x, y) in marked["points"][str(marked["calibrate"])].items()
    ]
    refused = pitchlens(running, "calibrate", "--clip-id", clip_id, *points[:3])
    assert refused.returncode != 0 and "at least 4 landmarks" in refused.stderr + refused.stdout
    calibrated = pitchlens(running, "calibrate", "--clip-id", clip_id, *points, "--json")
    assert calibrated.returncode == 0, calibrated.stderr
    done = json.loads(calibrated.stdout)
    assert done["rows_with_metres"] > 0 and done["placed_frames"] == "0-168", done
    result = pitchlens(
        running, "render", "--clip-id", clip_id, "--player", "1", "--minimap",
        "--out-dir", str(tmp_path), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "SUCCEEDED" and summary["minimap"] is True
    assert summary["minimap_frames"] >= 0.9 * summary["frames"], summary
    assert_browser_ready(probe(Path(summary["local_path"])))
