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
  cost per frame;
* the 4K60 preview clip (15 s of the DFL clip scaled to 3840x2160 at 60 fps by ffmpeg, made once
  per run in a temporary folder, not timed): the track function as shipped (tracking at <= 15
  frames/s with the skipped frames interpolated, frames decoded at the network's resolution) over
  the whole clip, and each lever alone against neither on its first UHD_EXCERPT_S seconds, side by
  side, with the CPU seconds each side used (on a shared machine the steadier figure).

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
from typing import Any

import cv2

Row = tuple[str, str, str, str, str]
CLIPS = ("dfl_08fd33_4_848x478.mp4", "laliga_rma_sev_broadcast_720p.mp4")
ROUNDS = 3
UHD_SOURCE = "dfl_08fd33_4_848x478.mp4"
UHD_EXCERPT_S = 3.0
"""The levers are compared on this many seconds of the 4K clip (180 frames), each once."""
ONE_VIEW = {"tiles": 1, "input_size": 1152, "tiles_where": "always"}
"""The tracking default: one view at the scale of two 640-px tiles (README "Speed of the track
function")."""
TILED = {"tiles": 2, "input_size": 640, "tiles_where": "always", "max_fps": 30}
"""The previous tracking default: 2 tiles + the whole frame at 640 px, every frame of a 25/30 fps video."""
UHD_TRACK_TARGET_S = 120.0
"""The seed's preview: <= 2 min end to end (tracking here, the preview render in Rendering)."""


def _ours(
    clip: str,
    model: str,
    *,
    tiles: int = 1,
    input_size: int | None = None,
    max_fps: float | None = None,
    shrink: bool = False,
    seconds: float | None = None,
    tiles_where: str = "always",
) -> dict[str, float]:
    """The track function's loop over `clip` (its first `seconds`), reading it as SegmentTracker
    does: at tracking_step(fps, `max_fps`), decoded at the model's frame_size with `shrink`; the
    detector's `tiles` views at `input_size` (None: the model's 640)."""
    from pitchlens.application.clip_tracker import track_frames
    from pitchlens.domain.frame_sampling import tracking_step
    from pitchlens.infrastructure.vision.detection import YoloDetectionModel
    from pitchlens.infrastructure.vision.tracking import create_tracker
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    detector = YoloDetectionModel(model, tiles=tiles, tiles_where=tiles_where, input_size=input_size)
    reader = PyAVVideoReader()
    width, height = reader.frame_size(clip)
    size = detector.frame_size(width, height) if shrink else (width, height)
    first = reader.frame(clip, 0)
    detector.detect([cv2.resize(first, size) if size != (width, height) else first])  # warm, as a worker
    create_tracker("botsort")  # imports the trackers
    cpu_started, started = time.process_time(), time.perf_counter()
    info = reader.probe(clip)
    span = reader.span(clip, 0, min(info.frames, round(seconds * info.fps))) if seconds else None
    step = tracking_step(info.fps, max_fps)
    tracks = track_frames(
        reader.frames(clip, span, step=step, size=None if size == (width, height) else size),
        detector,
        create_tracker("botsort", info.fps / step),
        batch_size=8,
        scale=(width / size[0], height / size[1]),
    )
    elapsed = time.perf_counter() - started
    people = statistics.median(len(frame) for frame in tracks)
    return {
        "frames": len(tracks),
        "seconds": elapsed,
        "cpu_s": time.process_time() - cpu_started,
        "peak_rss_mb": _peak_rss_mb(),
        "people": people,
    }


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
    cpu_started, started = time.process_time(), time.perf_counter()
    frames = sum(1 for _ in predictor(source=clip, stream=True))
    seconds = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    return {"frames": frames, "seconds": seconds, "cpu_s": cpu_s, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_subprocess(kind: str, clip: Path, model: Path, **options: Any) -> dict[str, float]:
    """`kind` ("ours" or "baseline") in a fresh process; `options` go to `_ours`."""
    env = {**os.environ, "YOLO_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.vision", kind, str(clip), str(model), json.dumps(options)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def run(shared: Path) -> list[Row]:
    from pitchlens.infrastructure.settings import Settings

    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    shipped = {
        "tiles": defaults["tracking_tiles"],
        "input_size": defaults["tracking_input_size"],
        "max_fps": defaults["tracking_max_fps"],
        "shrink": True,
        "tiles_where": defaults["tracking_tiles_where"],
    }
    shipped_label = (
        f"{_views_label(shipped)}, <= {shipped['max_fps']:g} frames/s, decoded at the network's size"
    )
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
        # The track function as shipped next to the previous default (every tile on every frame,
        # full-size decode), each once: frames/s, and the CPU seconds against the baseline's
        # (the steadier ratio when other work shares the cores).
        baseline_cpu = statistics.median(run["cpu_s"] for run in baseline_runs)
        variants = {
            f"the track function as shipped ({shipped_label})": shipped,
            "the same on every frame (PITCHLENS_TRACKING_MAX_FPS=30)": {**shipped, "max_fps": 30},
            f"the previous default: {_views_label(TILED)}, every frame (PITCHLENS_TRACKING_TILES=2, "
            "PITCHLENS_TRACKING_INPUT_SIZE=640, PITCHLENS_TRACKING_MAX_FPS=30)": {**shipped, **TILED},
        }
        for label, options in variants.items():
            tiled = _in_subprocess("ours", clip, model, **options)
            tiled_fps = tiled["frames"] / tiled["seconds"]
            rows.append(
                (
                    f"  {label}, one run; people tracked per frame (median): {tiled['people']:.0f} vs "
                    f"{ours['people']:.0f} whole frame at 640",
                    f"{tiled_fps:.1f} frames/s ({tiled['cpu_s']:.0f} CPU-s)",
                    f"{baseline_fps:.1f} frames/s ({baseline_cpu:.0f} CPU-s)",
                    f"{tiled_fps / baseline_fps:.2f}x ({baseline_cpu / tiled['cpu_s']:.2f}x CPU)",
                    ">= 1.0x" if options is shipped else "-",
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
    rows += _uhd_rows(shared, model, shipped, shipped_label)
    return rows


def _views_label(options: dict[str, Any]) -> str:
    """What the detector sees of a frame: "one view at 1152 px" or "2 tiles + whole frame at 640 px"."""
    from pitchlens.infrastructure.vision.detection import DEFAULT_INPUT_SIZE

    size = options.get("input_size") or DEFAULT_INPUT_SIZE
    if options.get("tiles", 1) == 1:
        return f"the whole frame in one view at {size} px"
    where = " where people are small" if options.get("tiles_where") == "small" else ""
    return f"{options['tiles']} tiles{where} + whole frame at {size} px"


def _uhd_rows(shared: Path, model: Path, shipped: dict[str, Any], shipped_label: str) -> list[Row]:
    """The 4K60 preview clip through the track function as shipped, and its levers side by side."""
    import tempfile

    from pitchlens.infrastructure.video_editing import find_ffmpeg
    from tests.benchmarks.rendering import UHD_FPS, UHD_SECONDS, UHD_SIZE, make_uhd_clip

    views = {name: shipped[name] for name in ("tiles", "input_size", "tiles_where")}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="pitchlens-bench-vision-") as tmp:
        clip = Path(tmp) / f"dfl_{UHD_SIZE[0]}x{UHD_SIZE[1]}_{UHD_FPS}fps_{UHD_SECONDS}s.mp4"
        make_uhd_clip(find_ffmpeg(), shared / "data" / "video" / UHD_SOURCE, clip)
        label = f"{UHD_SECONDS} s {UHD_SIZE[0]}x{UHD_SIZE[1]} {UHD_FPS} fps clip made from {UHD_SOURCE}"
        whole = _in_subprocess("ours", clip, model, **shipped)
        rows.append(
            (
                f"track function as shipped ({shipped_label}), {label} ({int(whole['frames'])} frames), "
                "one run",
                f"{whole['seconds']:.0f} s ({whole['frames'] / whole['seconds']:.1f} frames/s; "
                f"{whole['cpu_s']:.0f} CPU-s; peak RSS {whole['peak_rss_mb']:.0f} MB)",
                "-",
                "-",
                f"<= {UHD_TRACK_TARGET_S:.0f} s with the preview render (Rendering)",
            )
        )
        levers = {  # all with the shipped views, so each row isolates its lever
            "neither (every frame, full 4K frames converted)": views,
            f"tracking at <= {shipped['max_fps']:g} frames/s, the rest interpolated": {
                **views,
                "max_fps": shipped["max_fps"],
            },
            "decoded at the network's size": {**views, "shrink": True},
            "both (as shipped)": shipped,
        }
        runs = {
            name: _in_subprocess("ours", clip, model, seconds=UHD_EXCERPT_S, **options)
            for name, options in levers.items()
        }
        base = runs["neither (every frame, full 4K frames converted)"]
        for name, run in runs.items():
            rows.append(
                (
                    f"  first {UHD_EXCERPT_S:g} s of it ({int(run['frames'])} frames), {name}",
                    f"{run['frames'] / run['seconds']:.1f} frames/s ({run['cpu_s']:.0f} CPU-s, "
                    f"people/frame {run['people']:.0f})",
                    f"{base['frames'] / base['seconds']:.1f} frames/s (neither; {base['cpu_s']:.0f} CPU-s, "
                    f"people/frame {base['people']:.0f})",
                    f"{base['seconds'] / run['seconds']:.2f}x ({base['cpu_s'] / run['cpu_s']:.2f}x CPU)",
                    "-",
                )
            )
    return rows


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    if len({run["frames"] for run in runs}) != 1:
        raise RuntimeError(f"runs over the same clip saw different frame counts: {runs}")
    return {"frames": runs[0]["frames"], "seconds": statistics.median(run["seconds"] for run in runs)}


def _detection_quality(shared: Path, model: Path) -> list[Row]:
    """detection_gt as Roboflow exported it (1280 x 1280, stretched from 16:9) and unstretched to
    1152 x 648 (how the track function decodes a 1080p frame): the sliced default of the detection
    frame (tracking's previous default), tracking's one view at 1152 px, and the whole frame at 640
    as `model.track` sees it."""
    from pitchlens.infrastructure.vision.detection import (
        DEFAULT_CONFIDENCE,
        DEFAULT_TILES,
        YoloDetectionModel,
    )
    from pitchlens.infrastructure.vision.detection_evaluation import evaluate_detection

    folder = shared / "data" / "detection_gt" / "football-players-detection-1" / "valid"
    sliced = YoloDetectionModel(str(model), tiles=DEFAULT_TILES, confidence=DEFAULT_CONFIDENCE)
    one_view = YoloDetectionModel(
        str(model), tiles=ONE_VIEW["tiles"], input_size=ONE_VIEW["input_size"], confidence=DEFAULT_CONFIDENCE
    )
    whole = YoloDetectionModel(str(model), tiles=1, confidence=0.25)
    rows: list[Row] = []
    for frames, resize in (("as exported, 1280x1280", None), ("unstretched to 1152x648", (1152, 648))):
        scores = [
            evaluate_detection(detector, folder, resize=resize) for detector in (sliced, one_view, whole)
        ]
        baseline = scores[2]
        for label, score in (
            (f"tiles={DEFAULT_TILES} + whole frame at 640 (the detection frame's default)", scores[0]),
            (f"{_views_label(ONE_VIEW)} (tracking's default)", scores[1]),
        ):
            rows.append(
                (
                    f"person detection on detection_gt ({frames}), {label}, conf {DEFAULT_CONFIDENCE}",
                    f"recall {score.recall:.3f}, precision {score.precision:.3f}, "
                    f"{score.ms_per_frame:.0f} ms/frame",
                    f"recall {baseline.recall:.3f}, precision {baseline.precision:.3f}, "
                    f"{baseline.ms_per_frame:.0f} ms/frame (whole frame at 640, conf 0.25)",
                    f"{score.ms_per_frame / baseline.ms_per_frame:.1f}x the time",
                    "recall >= 0.80 at precision >= 0.75",
                )
            )
    return rows


if __name__ == "__main__":
    kind, clip_path, model_path = sys.argv[1:4]
    options = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    if kind == "baseline":
        print(json.dumps(_baseline(clip_path, model_path)))
    else:
        print(json.dumps(_ours(clip_path, model_path, **options)))
