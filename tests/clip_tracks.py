"""Tracks of clip frame ranges as the track function computes them (tiled YOLO on the OpenVINO
runtime, then BoT-SORT), computed in a child process.

Why a child: oneDNN reads `ONEDNN_MAX_CPU_ISA` once, when OpenVINO's CPU plugin loads, so the
tracks an AVX2-only CPU would produce can only be computed in a process started with
`ONEDNN_MAX_CPU_ISA=AVX2`. Quality tests run the same ranges under several instruction sets this
way and assert their thresholds under each.

    python -m tests.clip_tracks OUT.json SHARED_DATA TILES CLIP:FIRST:LAST [CLIP:FIRST:LAST ...]

writes {"CLIP:FIRST:LAST": [[frame_index, track_ids, boxes, confidences], ...], ...}; float32
values survive JSON exactly (each is a double with a short repr).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from pitchlens.domain.vision import FrameTracks

REPO_ROOT = Path(__file__).resolve().parents[1]
BATCH = 8
TIMEOUT_S = 600


def model_dir(shared_data: Path) -> Path:
    return shared_data.parent / "models" / "yolo11n_int8_openvino_model"


def tracks_in_child(
    shared_data: Path, ranges: list[tuple[str, int, int]], tiles: int, isa: str | None, out: Path
) -> dict[tuple[str, int, int], list[FrameTracks]]:
    """Tracks of each (clip, first, last) range, computed by a child process under oneDNN's `isa`
    (None: whatever the CPU offers)."""
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if isa is not None:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    specs = [f"{clip}:{first}:{last}" for clip, first, last in ranges]
    command = [sys.executable, "-m", "tests.clip_tracks", str(out), str(shared_data), str(tiles), *specs]
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tracking under {isa or 'the native ISA'} failed:\n{done.stderr[-4000:]}")
    sys.stderr.write(done.stderr)
    found = json.loads(out.read_text())
    return {
        (clip, first, last): [FrameTracks(*row) for row in found[spec]]
        for (clip, first, last), spec in zip(ranges, specs, strict=True)
    }


def _track(shared_data: Path, tiles: int, specs: list[str]) -> dict[str, list[list[object]]]:
    from pitchlens.application.clip_tracker import track_frames
    from pitchlens.infrastructure.vision.detection import YoloDetectionModel
    from pitchlens.infrastructure.vision.tracking import create_tracker
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    reader = PyAVVideoReader()
    detector = YoloDetectionModel(str(model_dir(shared_data)), device="cpu", tiles=tiles)
    found: dict[str, list[list[object]]] = {}
    for spec in specs:
        clip, first, last = spec.rsplit(":", 2)
        path = str(shared_data / "video" / clip)
        tracker = create_tracker("botsort", reader.probe(path).fps)
        in_range = itertools.takewhile(
            lambda frame, last=int(last): frame[0] <= last,
            itertools.dropwhile(lambda frame, first=int(first): frame[0] < first, reader.frames(path)),
        )
        began = time.perf_counter()
        tracks = track_frames(in_range, detector, tracker, BATCH)
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


if __name__ == "__main__":
    out, shared, tiles, *wanted = sys.argv[1:]
    Path(out).write_text(json.dumps(_track(Path(shared), int(tiles), wanted)))
