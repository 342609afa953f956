"""Vision benchmarks, side by side in one run:

* detect + track frames/s on the shared clips: PitchLens' tracking loop (PyAV decode ahead on a
  thread, OpenVINO inference on both cores at a rectangular input, detection of the next batch
  overlapping BoT-SORT on this one) against the baseline of ultralytics
  `model.track(source=video)` with the same model on the same frames (target >= 1.5x). Both sides
  are warm (model loaded and run once, trackers imported) before the clock starts, as in a running
  worker; the median of 3 interleaved runs per side;
* peak memory (RSS) of the tracking loop on the 25.8 s clip against the 6.75 s clip (target:
  within 20%: memory stays flat with clip length);
* detection quality on detection_gt, default sliced inference vs the whole frame only, with the
  cost per frame.

Each run is a fresh subprocess so peak RSS and warm caches do not leak between runs.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

Row = tuple[str, str, str, str, str]
CLIPS = ("dfl_08fd33_4_848x478.mp4", "laliga_rma_sev_broadcast_720p.mp4")
ROUNDS = 3


def _ours(clip: str, model: str, tiles: int = 1) -> dict[str, float]:
    from pitchlens.application.clip_tracker import track_frames
    from pitchlens.infrastructure.vision.detection import YoloDetectionModel
    from pitchlens.infrastructure.vision.tracking import create_tracker
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    detector = YoloDetectionModel(model, tiles=tiles)
    reader = PyAVVideoReader()
    detector.detect([reader.frame(clip, 0)])  # warm-up, as a running worker is warm
    create_tracker("botsort")  # imports the trackers
    started = time.perf_counter()
    info = reader.probe(clip)
    tracks = track_frames(reader.frames(clip), detector, create_tracker("botsort", info.fps), batch_size=8)
    frames = len(tracks)
    seconds = time.perf_counter() - started
    people = statistics.median(len(frame) for frame in tracks)
    return {"frames": frames, "seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "people": people}


def _baseline(clip: str, model: str) -> dict[str, float]:
    from pitchlens.infrastructure.vision.torchvision_compat import ensure_torchvision
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    ensure_torchvision()
    from ultralytics import YOLO

    yolo = YOLO(model, task="detect")
    # Warm-up: one model.track call on the first frame loads the model and sets the predictor up;
    # the measured run goes through that same predictor (a second model.track call would register
    # the tracker callbacks twice), which starts fresh trackers for the new source.
    first = PyAVVideoReader().frame(clip, 0)
    list(yolo.track(source=first, tracker="botsort.yaml", classes=[0], verbose=False))
    predictor = yolo.predictor
    assert predictor is not None
    started = time.perf_counter()
    frames = sum(1 for _ in predictor(source=clip, stream=True))
    seconds = time.perf_counter() - started
    return {"frames": frames, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_subprocess(kind: str, clip: Path, model: Path) -> dict[str, float]:
    env = {**os.environ, "YOLO_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.vision", kind, str(clip), str(model)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def run(shared: Path) -> list[Row]:
    from pitchlens.infrastructure.settings import Settings

    tracking_tiles = Settings.model_fields["tracking_tiles"].default
    model = shared / "models" / "yolo11n_int8_openvino_model"
    rows: list[Row] = []
    ours_by_clip = {}
    for name in CLIPS:
        clip = shared / "data" / "video" / name
        ours_runs, baseline_runs = [], []
        for _ in range(ROUNDS):  # interleaved, so a burst of load on the machine hits both sides
            ours_runs.append(_in_subprocess("ours", clip, model))
            baseline_runs.append(_in_subprocess("baseline", clip, model))
        ours = {
            **_median_run(ours_runs),
            "peak_rss_mb": max(run["peak_rss_mb"] for run in ours_runs),
            "people": ours_runs[0]["people"],
        }
        baseline = _median_run(baseline_runs)
        ours_by_clip[name] = ours
        ours_fps, baseline_fps = ours["frames"] / ours["seconds"], baseline["frames"] / baseline["seconds"]
        rows.append(
            (
                f"detect + track, {name} ({int(ours['frames'])} frames), median of {ROUNDS}",
                f"{ours_fps:.1f} frames/s",
                f"{baseline_fps:.1f} frames/s (ultralytics model.track)",
                f"{ours_fps / baseline_fps:.2f}x",
                ">= 1.5x",
            )
        )
        tiled = _in_subprocess(f"ours-tiles-{tracking_tiles}", clip, model)
        tiled_fps = tiled["frames"] / tiled["seconds"]
        rows.append(
            (
                f"  the track function's default ({tracking_tiles} tiles + whole frame), one run; people "
                f"tracked per frame (median): {tiled['people']:.0f} vs {ours['people']:.0f} whole-frame",
                f"{tiled_fps:.1f} frames/s",
                f"{baseline_fps:.1f} frames/s",
                f"{tiled_fps / baseline_fps:.2f}x",
                "-",
            )
        )
    short, long = (ours_by_clip[name]["peak_rss_mb"] for name in CLIPS)
    rows.append(
        (
            "peak memory of detect + track, 25.8 s clip vs 6.75 s clip",
            f"{long:.0f} MB vs {short:.0f} MB",
            "-",
            f"{long / short:.2f}x",
            "<= 1.2x",
        )
    )
    rows += _detection_quality(shared, model)
    return rows


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    if len({run["frames"] for run in runs}) != 1:
        raise RuntimeError(f"runs over the same clip saw different frame counts: {runs}")
    return {"frames": runs[0]["frames"], "seconds": statistics.median(run["seconds"] for run in runs)}


def _detection_quality(shared: Path, model: Path) -> list[Row]:
    from pitchlens.infrastructure.vision.detection import (
        DEFAULT_CONFIDENCE,
        DEFAULT_TILES,
        YoloDetectionModel,
    )
    from pitchlens.infrastructure.vision.detection_evaluation import evaluate_detection

    folder = shared / "data" / "detection_gt" / "football-players-detection-1" / "valid"
    sliced = evaluate_detection(
        YoloDetectionModel(str(model), tiles=DEFAULT_TILES, confidence=DEFAULT_CONFIDENCE), folder
    )
    whole = evaluate_detection(YoloDetectionModel(str(model), tiles=1, confidence=0.25), folder)
    return [
        (
            f"person detection on detection_gt (tiles={DEFAULT_TILES}, conf {DEFAULT_CONFIDENCE})",
            f"recall {sliced.recall:.3f}, precision {sliced.precision:.3f}, "
            f"{sliced.ms_per_frame:.0f} ms/frame",
            f"recall {whole.recall:.3f}, precision {whole.precision:.3f}, {whole.ms_per_frame:.0f} ms/frame "
            "(whole frame, conf 0.25)",
            f"{sliced.ms_per_frame / whole.ms_per_frame:.1f}x the time",
            "recall >= 0.80 at precision >= 0.75",
        )
    ]


if __name__ == "__main__":
    kind, clip_path, model_path = sys.argv[1:4]
    if kind == "baseline":
        print(json.dumps(_baseline(clip_path, model_path)))
    else:  # "ours" or "ours-tiles-N"
        print(
            json.dumps(_ours(clip_path, model_path, int(kind.rpartition("-")[2]) if "tiles" in kind else 1))
        )
