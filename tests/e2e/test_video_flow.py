"""A video uploaded to the embedded stack: detect -> track -> persist trajectories (real model)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from tests.conftest import service_dir
from tests.e2e.conftest import RunningStack, start_stack

pytestmark = pytest.mark.e2e

CLIP = "dfl_08fd33_4_848x478.mp4"


@pytest.fixture(scope="module")
def model_dir(shared_data: Path) -> Path:
    folder = shared_data.parent / "models" / "yolo11n_int8_openvino_model"
    if not folder.is_dir():
        pytest.skip(f"the shared YOLO model is not at {folder}")
    return folder


@pytest.fixture(scope="module")
def running(model_dir: Path) -> Iterator[RunningStack]:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    with service_dir("video") as folder:
        yield from start_stack(folder, None, PITCHLENS_MODEL=str(model_dir))


def read_object(running: RunningStack, uri: str) -> bytes:
    bucket, _, key = uri[len("s3://") :].partition("/")
    body: bytes = running.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def test_an_uploaded_clip_becomes_detections_tracks_and_trajectories(
    running: RunningStack, shared_data: Path
) -> None:
    video = (shared_data / "video" / CLIP).read_bytes()
    correlation_id = "video-flow-1"
    running.upload(f"match-7/{CLIP}", video, {"correlation-id": correlation_id}, bucket="videos")
    job = running.job(correlation_id=correlation_id, timeout=300)
    assert job["status"] == "SUCCEEDED", job
    outputs, counts = job["outputs"], job["counts"]
    assert counts["frames"] == 169 and counts["tracks"] >= 10 and counts["detections"] >= 5

    frame = read_object(running, outputs["frame_uri"])
    assert frame[:3] == b"\xff\xd8\xff"  # a JPEG
    detections = orjson.loads(read_object(running, outputs["detections_uri"]))
    assert len(detections["detections"]) == counts["detections"]
    for box in detections["detections"]:
        assert set(box) == {"x1", "y1", "x2", "y2", "confidence", "class"} and box["class"] == "person"
        assert 0 <= box["x1"] < box["x2"] <= 848 and 0 <= box["y1"] < box["y2"] <= 478

    table = pq.read_table(io.BytesIO(read_object(running, outputs["trajectories_uri"])))
    assert outputs["trajectories_uri"].startswith("s3://tracking-data/tracking/match-7/")
    assert table.num_rows == counts["rows"] > 169
    assert {"match_id", "clip_id", "frame", "t_seconds", "track_id", "foot_x", "foot_y"} <= set(
        table.column_names
    )

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
    assert running.api.get("/api/v1/jobs", params={"correlation_id": "not-a-video"}).json() == []
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
