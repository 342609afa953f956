"""Tracks of clip frame ranges as the track function computes them (tiled YOLO on the OpenVINO
runtime, then BoT-SORT; frames read as SegmentTracker reads them), computed in a child process.

Why a child: oneDNN reads `ONEDNN_MAX_CPU_ISA` once, when OpenVINO's CPU plugin loads, so the
tracks an AVX2-only CPU would produce can only be computed in a process started with
`ONEDNN_MAX_CPU_ISA=AVX2`. Quality tests run the same ranges under several instruction sets this
way and assert their thresholds under each.

    python -m tests.clip_tracks OUT.json SHARED_DATA CLIP:FIRST:LAST[/SECONDS] [...]

The detector is the track function's (`YoloDetectionModel.for_tracking`: the `tracking_*` settings,
PITCHLENS_TRACKING_* in the environment), with the shared model on the CPU.

writes {"CLIP:FIRST:LAST": [[frame_index, track_ids, boxes, confidences], ...], ...}; float32
values survive JSON exactly (each is a double with a short repr).

A range with `/SECONDS` is tracked as a long video is: split into segments of about that many
seconds (`plan_segments`, with the track function's overlap), each segment decoded by seeking and
tracked by a fresh tracker with its edge looks gathered (`EdgeLooks`), then stitched
(`stitch_segments`). A frame already detected in this process (the same range tracked whole) is
not detected again: the segments see the same detections, so a difference is the split's alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pitchlens.application.clip_tracker import EdgeLooks, track_frames
from pitchlens.domain.frame_sampling import tracking_step
from pitchlens.domain.segments import SegmentPlan, overlap_frames, plan_segments, stitch_segments
from pitchlens.domain.vision import DetectionModel, FrameDetections, FrameSpan, FrameTracks, VideoReader
from pitchlens.infrastructure.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
BATCH = 8
TIMEOUT_S = 1200
"""A child tracks ~470 frames three times; on a shared 2-core machine under load that took > 600 s
(the follow tests' own timeout is 1200 s too)."""
DATA = REPO_ROOT / "tests" / "data"

INSTRUCTION_SETS = {"native": None, "AVX2": "AVX2"}
"""oneDNN instruction-set caps the quality is asserted under (None: the CPU's own)."""
SEGMENT_SECONDS = (2.5, 3.0)
"""The annotated ranges are also tracked split into segments this long (2-3 s, as a 90-minute
match's 60-s segments would be if the clips were that long) and stitched (`test_..._boundaries`)."""

TracksOf = Callable[..., list[FrameTracks]]
"""(isa, clip, first, last, fresh=False, seconds=None) -> the tracks of that range under that
instruction set (split into segments of `seconds` and stitched, when given); `fresh` computes them
again instead of returning the session's copy."""


def quality_ranges() -> tuple[list[str], list[str]]:
    """`CLIP:FIRST:LAST` of the ranges the quality tests follow players in (also tracked split
    into segments) and of those they only place players in, so one child process per
    instruction set detects each frame once for all of them."""
    follow = json.loads((DATA / "follow_ground_truth.json").read_text())["players"]
    placed = json.loads((DATA / "players_on_pitch.json").read_text())["ranges"]
    followed = sorted({f"{p['clip']}:{p['frames'][0]}:{p['frames'][1]}" for p in follow})
    return followed, sorted(set(placed) - set(followed))


def model_dir(shared_data: Path) -> Path:
    return shared_data.parent / "models" / "yolo11n_int8_openvino_model"


def tracks_in_child(
    shared_data: Path, specs: list[str], isa: str | None, out: Path
) -> dict[str, list[FrameTracks]]:
    """Tracks of each `CLIP:FIRST:LAST[/SECONDS]` spec, computed by a child process under oneDNN's
    `isa` (None: whatever the CPU offers)."""
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if isa is not None:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    command = [sys.executable, "-m", "tests.clip_tracks", str(out), str(shared_data), *specs]
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tracking under {isa or 'the native ISA'} failed:\n{done.stderr[-4000:]}")
    sys.stderr.write(done.stderr)
    found = json.loads(out.read_text())
    return {spec: [FrameTracks(*row) for row in found[spec]] for spec in specs}


class RememberedDetections(DetectionModel):
    """The model's detections, each frame's detected once per process (by clip and frame index).
    `step` is the reader's: a batch's images are frames `first_index`, `first_index + step`, ...
    (the model numbers them consecutively, as `track_frames` expects)."""

    def __init__(self, model: DetectionModel) -> None:
        self.model = model
        self.clip = ""
        self.step = 1
        self.seen: dict[tuple[str, int], FrameDetections] = {}

    def detect(self, images: Sequence[Any], first_index: int = 0) -> list[FrameDetections]:
        wanted = range(first_index, first_index + len(images) * self.step, self.step)
        if any((self.clip, index) not in self.seen for index in wanted):
            for index, found in zip(wanted, self.model.detect(images, first_index), strict=True):
                self.seen[(self.clip, index)] = found
        return [
            dataclasses.replace(self.seen[(self.clip, index)], frame_index=first_index + offset)
            for offset, index in enumerate(wanted)
        ]

    def frame_size(self, width: int, height: int) -> tuple[int, int]:
        return self.model.frame_size(width, height)


def _track(shared_data: Path, specs: list[str]) -> dict[str, list[list[object]]]:
    from pitchlens.infrastructure.vision.detection import YoloDetectionModel
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    reader = PyAVVideoReader()
    settings = Settings(model=str(model_dir(shared_data)), device="cpu")
    detector = RememberedDetections(YoloDetectionModel.for_tracking(settings))
    found: dict[str, list[list[object]]] = {}
    for spec in specs:
        clip, first, last = spec.partition("/")[0].rsplit(":", 2)
        path = str(shared_data / "video" / clip)
        detector.clip = clip
        began = time.perf_counter()
        if "/" in spec:
            seconds = float(spec.partition("/")[2])
            tracks = _track_split(reader, detector, path, int(first), int(last), seconds)
        else:
            span = reader.span(path, int(first), int(last) + 1)
            tracks = track_as_shipped(reader, detector, path, span, reader.probe(path).fps)
        isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "native")
        print(f"{spec} ({isa}): tracked in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        found[spec] = [
            [
                frame.frame_index,
                [int(i) for i in frame.track_ids],
                [[float(v) for v in box] for box in frame.boxes],
                [float(c) for c in frame.confidences],
            ]
            for frame in tracks
        ]
    return found


def track_as_shipped(
    reader: VideoReader,
    detector: DetectionModel,
    path: str,
    span: FrameSpan,
    fps: float,
    on_frame: Callable[[int, Any, FrameTracks], None] | None = None,
) -> list[FrameTracks]:
    """`track_frames` over `span` read as SegmentTracker reads it: at most the settings'
    tracking_max_fps frames a second (the rest interpolated), decoded at the model's frame_size,
    the boxes back in source pixels."""
    from pitchlens.infrastructure.vision.tracking import create_tracker

    step = tracking_step(fps, Settings().tracking_max_fps or None)
    if isinstance(detector, RememberedDetections):
        detector.step = step
    width, height = reader.frame_size(path)
    size = detector.frame_size(width, height)
    frames = reader.frames(path, span, step=step, size=None if size == (width, height) else size)
    tracker = create_tracker("botsort", fps / step)
    scale = (width / size[0], height / size[1])
    return track_frames(frames, detector, tracker, BATCH, on_frame=on_frame, scale=scale)


def _track_split(
    reader: VideoReader, detector: DetectionModel, path: str, first: int, last: int, seconds: float
) -> list[FrameTracks]:
    """The range tracked as segments of about `seconds` and stitched, as the track function does."""
    from pitchlens.infrastructure.vision.appearance import KitColours

    fps = reader.probe(path).fps
    overlap = overlap_frames(Settings().segment_overlap_seconds, fps)
    keyframes = [k - first for k in reader.keyframes(path) if first <= k <= last]
    looks = KitColours()
    parts = []
    for plan in plan_segments(last - first + 1, fps, keyframes, seconds, overlap):
        shifted = SegmentPlan(plan.index, plan.start + first, plan.stop + first, plan.track_from + first)
        edges = EdgeLooks(shifted, looks, overlap)
        span = reader.span(path, shifted.track_from, shifted.stop)
        tracks = track_as_shipped(reader, detector, path, span, fps, edges.see)
        parts.append(edges.tracked(tracks))
    return stitch_segments(parts, looks.similarity)


if __name__ == "__main__":
    out, shared, *wanted = sys.argv[1:]
    Path(out).write_text(json.dumps(_track(Path(shared), wanted)))
