"""Whole-match benchmark: the shared DFL clip looped into a long match video (`ffmpeg -stream_loop
N -c copy`, made in a temporary folder at run time, never committed), through the real stack.

* upload: `pitchlens process` of the looped file against an embedded stack started for it (`pitchlens
  up`, in its own process): the CLI's and the stack's peak RSS (psutil, sampled every 50 ms) and MB/s.
  The stack runs without its detect and track functions here, and the CLI stops waiting a few
  seconds after the job is created: what is measured is the upload, not the tracking after it;
* tracking: the track function's segment fan-out (PITCHLENS_SEGMENT_SECONDS) over a looped file,
  with 1 and 2 worker processes (`pitchlens worker --functions track`) next to an embedded stack that
  runs everything else: wall time from the upload done to the job SUCCEEDED, frames/s, each
  worker's peak RSS (a short and a long video: flat when within 20 %), the stitch step's time, and
  the CPU time 135,000 frames (90 minutes at 25 fps) would take at the measured rate.

`make bench` runs the quick mode (CI-like, ~15-20 minutes on 2 busy cores: the 868 MB file uploaded, 20 s
and 61 s videos tracked in 10-s segments with the whole frame at 640 px); PITCHLENS_BENCH_MATCH=full (or
`make bench-match`) the issue's: a 6-minute and a 10-minute cut tracked in 60-s segments with the
shipped default, which takes about an hour on 2 CPU cores; `--whole-match` (`make bench-whole-match`) the
90-minute file itself, from its upload to one trajectories dataset, next to a 6-minute cut, each on
2 workers in 60-s segments, with the whole frame at 640 px at <= 12.5 frames/s (~40 minutes on 2 CPU
cores): wall time, each worker's peak RSS, the stitch and persist steps, and what the published
dataset holds (rows, clip-wide track ids). `python -m tests.benchmarks.match [--shared DIR] [--full
| --whole-match] [--upload-loops N]` prints the table on its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from tests.rss import MB, PeakRss

Row = tuple[str, str, str, str, str]

CLIP = "dfl_08fd33_4_848x478.mp4"
CLIP_SECONDS = 6.75
"""The shared clip: 6.75 s at 25 fps (169 frames); looped N times it lasts N x this."""
MATCH_FRAMES = 135_000
UPLOAD_RSS_TARGET_MB = 300
MODE_ENV = "PITCHLENS_BENCH_MATCH"
REPO = Path(__file__).resolve().parents[2]
WORKER = [sys.executable, "-m", "pitchlens.runtime.cli", "worker"]


def find_ffmpeg() -> str:
    from pitchlens.infrastructure.video_editing import find_ffmpeg as found

    return str(found())


def looped(shared: Path, loops: int, folder: Path) -> Path:
    """The shared clip played `loops` times, stream-copied (seconds, whatever the length)."""
    target = folder / f"match_x{loops}.mp4"
    if not target.exists():
        source = shared / "data" / "video" / CLIP
        loop = ["-stream_loop", str(loops - 1), "-i", str(source)]
        subprocess.run([find_ffmpeg(), "-v", "error", "-y", *loop, "-c", "copy", str(target)], check=True)
    return target


def functions_without(excluded: set[str], folder: Path) -> Path:
    """A functions folder (PITCHLENS_FUNCTIONS_DIR) linking every deployed function but `excluded`."""
    folder.mkdir(parents=True, exist_ok=True)
    for function in (REPO / "functions").iterdir():
        if function.is_dir() and function.name not in excluded and not (folder / function.name).exists():
            (folder / function.name).symlink_to(function)
    return folder


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    info: dict[str, str]
    env: dict[str, str]


@contextmanager
def embedded_stack(data_dir: Path, **env: str) -> Iterator[Stack]:
    """`pitchlens up` in its own process on a fresh data dir; its settings from `env`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    environ = {
        **os.environ,
        "PITCHLENS_DATA_DIR": str(data_dir),
        "PITCHLENS_API_PORT": "0",
        "PITCHLENS_AWS_PORT": "0",
        "PITCHLENS_LOG_LEVEL": "WARNING",
        "YOLO_OFFLINE": "1",
        **env,
    }
    with (data_dir / "stack.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pitchlens.runtime.cli", "up", "--data-dir", str(data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environ,
        )
    try:
        info_path = data_dir / "stack.json"
        deadline = time.monotonic() + 180
        while not info_path.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the stack did not start; see {data_dir / 'stack.log'}")
            time.sleep(0.2)
        info = json.loads(info_path.read_text())
        stack_env = {
            **environ,
            "PITCHLENS_API_URL": info["api_url"],
            "PITCHLENS_S3_ENDPOINT": info["s3_endpoint"],
            "PITCHLENS_SQS_ENDPOINT": info["sqs_endpoint"],
            "PITCHLENS_DATABASE_URL": info["database_url"],
            "AWS_DEFAULT_REGION": info["aws_region"],
            "AWS_ACCESS_KEY_ID": "pitchlens",
            "AWS_SECRET_ACCESS_KEY": "pitchlens",
        }
        yield Stack(process, info, stack_env)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Upload:
    size: int
    seconds: float
    cli_peak: int
    stack_first: int
    stack_peak: int

    @property
    def mb_per_s(self) -> float:
        return self.size / MB / self.seconds


def process_upload(stack: Stack, video: Path, wait_s: float = 3.0) -> Upload:
    """`pitchlens process VIDEO --json` against `stack`, stopped `wait_s` after the upload (its
    --timeout): the CLI's peak RSS, and the stack process's while the upload ran."""
    command = [sys.executable, "-m", "pitchlens.runtime.cli", "process", str(video), "--json"]
    started = time.perf_counter()
    with PeakRss(stack.process.pid) as stack_rss:
        cli = subprocess.Popen(
            [*command, "--timeout", str(wait_s)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=stack.env,
        )
        with PeakRss(cli.pid) as cli_rss:
            output, _ = cli.communicate()
    seconds = time.perf_counter() - started - wait_s
    text = output.decode(errors="replace")
    if "did not finish" not in text and cli.returncode != 0 and "SUCCEEDED" not in text:
        raise RuntimeError(f"pitchlens process failed:\n{text[-2000:]}")
    return Upload(
        size=video.stat().st_size,
        seconds=seconds,
        cli_peak=cli_rss.peak,
        stack_first=stack_rss.first,
        stack_peak=stack_rss.peak,
    )


@dataclass(frozen=True)
class Config:
    """What one run measures: the looped videos (loops of the 6.75 s clip), segment length, tiles."""

    upload_loops: int
    short_loops: int
    long_loops: int
    segment_seconds: float
    tracking_tiles: int | None  # None: the shipped default
    tracking_max_fps: float | None = None  # None: the shipped default
    tracking_input_size: int | None = None  # None: the shipped default
    whole: bool = False  # the long video is the whole match, tracked on 2 workers only

    @staticmethod
    def quick() -> Config:
        """CI-like: 20 s and 61 s videos in 10-s segments, the whole frame at the model's 640 px."""
        return Config(
            upload_loops=800,
            short_loops=3,
            long_loops=9,
            segment_seconds=10,
            tracking_tiles=1,
            tracking_input_size=640,
        )

    @staticmethod
    def full() -> Config:
        """The issue's: the 90-minute file uploaded; a 6-minute vs a 10-minute cut tracked in 60-s
        segments with the shipped default (about an hour on 2 CPU cores; minutes on a GPU worker)."""
        return Config(
            upload_loops=800, short_loops=54, long_loops=89, segment_seconds=60, tracking_tiles=None
        )

    @staticmethod
    def whole_match() -> Config:
        """The 90-minute file itself from upload to one trajectories dataset, and a 6-minute cut of
        it for memory, each on 2 workers in 60-s segments; the whole frame at 640 px at <= 12.5
        frames/s so that it takes ~40 minutes on 2 CPU cores (the shipped default: about an hour)."""
        return Config(
            upload_loops=800,
            short_loops=54,
            long_loops=800,
            segment_seconds=60,
            tracking_tiles=1,
            tracking_max_fps=12.5,
            tracking_input_size=640,
            whole=True,
        )

    @property
    def how(self) -> str:
        tiles = self.tracking_tiles or "default"
        size = f" at {self.tracking_input_size} px" if self.tracking_input_size else ""
        rate = f", <= {self.tracking_max_fps:g} frames/s" if self.tracking_max_fps else ""
        return f"{self.segment_seconds:g}-s segments, tiles {tiles}{size}{rate}"


@dataclass(frozen=True)
class Tracking:
    seconds: int
    workers: int
    frames: int
    segments: int
    wall_s: float
    cpu_s: float
    worker_peaks: list[int]
    worker_idle: list[int]
    stitch_s: float | None
    persist_s: float | None  # the longest persist step of the stack so far (logged at INFO)
    dataset: Dataset

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s


def track_with_workers(stack: Stack, video: Path, workers: int, logs: Path, config: Config) -> Tracking:
    """`workers` processes of `pitchlens worker --functions track` take the video's segments: from
    its upload done to its job SUCCEEDED."""
    from pitchlens.runtime.cli.api_client import ApiClient

    env = {**stack.env, "PITCHLENS_LOG_LEVEL": "INFO", "PITCHLENS_LOG_FORMAT": "json"}
    env.pop("PITCHLENS_FUNCTIONS_DIR", None)  # the stack's, which leaves track out
    if config.tracking_tiles is not None:
        env["PITCHLENS_TRACKING_TILES"] = str(config.tracking_tiles)
    if config.tracking_max_fps is not None:
        env["PITCHLENS_TRACKING_MAX_FPS"] = str(config.tracking_max_fps)
    if config.tracking_input_size is not None:
        env["PITCHLENS_TRACKING_INPUT_SIZE"] = str(config.tracking_input_size)
    logs.mkdir(parents=True, exist_ok=True)
    processes, samplers = [], []
    for n in range(workers):
        with (logs / f"worker-{n}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [*WORKER, "--functions", "track", "--metrics-port", "0"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
            )
    try:
        time.sleep(3)  # their imports, before anything is timed
        samplers = [PeakRss(p.pid, interval_s=0.25).__enter__() for p in processes]
        client = ApiClient(stack.info["api_url"], timeout_s=60)
        # A match of its own: the same file under the same key would be the same clip, its
        # segments already tracked by an earlier run.
        match_id = f"bench-{video.stem}-{workers}-workers"
        sent = client.upload(video, kind="video", match_id=match_id)
        started = time.perf_counter()

        def workers_alive(_: object) -> None:
            for process in processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a worker exited ({process.returncode}); see {logs}")

        job = client.wait_for_job(job_id=sent["job_id"], timeout_s=6 * 3600, on_update=workers_alive)
        wall = time.perf_counter() - started
        if job["status"] != "SUCCEEDED":
            raise RuntimeError(f"the job ended {job['status']}: {job.get('error')}")
        cpu = 0.0
        for process in processes:
            times = psutil.Process(process.pid).cpu_times()
            cpu += times.user + times.system
    finally:
        for sampler in samplers:
            sampler.__exit__(None, None, None)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
    counts = job.get("counts", {})
    clips = ApiClient(stack.info["api_url"], timeout_s=60).request("GET", f"/api/v1/matches/{match_id}/clips")
    return Tracking(
        seconds=round(counts.get("frames", 0) / 25),
        workers=workers,
        frames=int(counts.get("frames", 0)),
        segments=int(counts.get("segments", 0)),
        wall_s=wall,
        cpu_s=cpu,
        worker_peaks=[s.peak for s in samplers],
        worker_idle=[s.first for s in samplers],
        stitch_s=_handled_seconds(logs.glob("worker-*.log"), "TracksStitchRequested"),
        persist_s=_handled_seconds([Path(stack.info["data_dir"]) / "stack.log"], "VideoProcessed"),
        dataset=dataset_of(stack, clips[0]),
    )


@dataclass(frozen=True)
class Dataset:
    """The clip's published trajectories: rows and clip-wide track ids (lengths in frames)."""

    clip_id: str
    rows: int
    track_ids: int
    median_track: float
    longest_track: int
    longest_id: int
    size: int


def dataset_of(stack: Stack, clip: dict[str, Any]) -> Dataset:
    """What the clip's trajectories dataset holds, read from the stack's bucket (two columns)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from pyarrow import fs

    bucket = fs.S3FileSystem(
        endpoint_override=stack.info["s3_endpoint"],
        region=stack.info["aws_region"],
        access_key="pitchlens",
        secret_key="pitchlens",
        scheme="http",
    )
    path = clip["trajectories_uri"].removeprefix("s3://")
    table = pq.read_table(path, columns=["track_id"], filesystem=bucket)
    counted = pc.value_counts(table["track_id"])
    lengths = counted.field("counts")
    return Dataset(
        clip_id=clip["clip_id"],
        rows=table.num_rows,
        track_ids=len(lengths),
        median_track=float(pc.approximate_median(lengths).as_py() or 0),
        longest_track=int(pc.max(lengths).as_py() or 0),
        longest_id=int(counted.field("values")[pc.index(lengths, pc.max(lengths)).as_py()].as_py()),
        size=bucket.get_file_info(path).size,
    )


def _handled_seconds(logs: Iterable[Path], message_type: str) -> float | None:
    """How long a function took to handle a message of `message_type` (the longest, if several),
    from the JSON logs at `logs`."""
    found = []
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            if message_type in line and "message handled" in line:
                try:
                    found.append(float(json.loads(line)["seconds"]))
                except (ValueError, KeyError):
                    continue
    return max(found, default=None)


def run(
    shared: Path, *, full: bool | None = None, upload_loops: int | None = None, whole: bool = False
) -> list[Row]:
    """Rows of (measurement, PitchLens, baseline, ratio, target). `full` None: as the
    PITCHLENS_BENCH_MATCH environment variable (`full`, else quick); `whole`: the 90-minute file
    itself tracked (`Config.whole_match`) instead."""
    full = os.environ.get(MODE_ENV, "quick") == "full" if full is None else full
    config = Config.whole_match() if whole else Config.full() if full else Config.quick()
    if upload_loops:
        config = dataclasses.replace(config, upload_loops=upload_loops)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="pitchlens-bench-match-") as tmp:
        folder = Path(tmp)
        rows: list[Row] = []
        if not config.whole:
            video = looped(shared, config.upload_loops, folder)
            no_vision = functions_without({"detect", "track"}, folder / "functions-upload")
            with embedded_stack(folder / "upload", PITCHLENS_FUNCTIONS_DIR=str(no_vision)) as stack:
                rows += upload_rows(process_upload(stack, video))
            video.unlink()
        short, long = looped(shared, config.short_loops, folder), looped(shared, config.long_loops, folder)
        no_track = functions_without({"track"}, folder / "functions-track")
        settings = {"PITCHLENS_FUNCTIONS_DIR": str(no_track)}
        settings["PITCHLENS_SEGMENT_SECONDS"] = str(config.segment_seconds)
        if config.whole:  # the persist step's time, from the stack's log
            settings |= {"PITCHLENS_LOG_LEVEL": "INFO", "PITCHLENS_LOG_FORMAT": "json"}
        with embedded_stack(folder / "track", **settings) as stack:
            if config.whole:
                runs = [
                    track_with_workers(stack, short, 2, folder / "logs-short-2", config),
                    track_with_workers(stack, long, 2, folder / "logs-long-2", config),
                ]
                rows += whole_match_rows(runs, config) + analyst_rows(stack, runs[1].dataset)
            else:
                runs = [
                    track_with_workers(stack, short, 1, folder / "logs-short-1", config),
                    track_with_workers(stack, long, 1, folder / "logs-long-1", config),
                    track_with_workers(stack, long, 2, folder / "logs-long-2", config),
                ]
    if not config.whole:
        rows += tracking_rows(runs, config, not full)
    rows.append(
        (
            "  load average (1 min) at start / end of this section",
            f"{load_before:.1f} / {os.getloadavg()[0]:.1f}",
            "",
            "",
            "",
        )
    )
    return rows


def upload_rows(upload: Upload) -> list[Row]:
    size = f"{upload.size / MB:.0f} MB"
    growth = upload.stack_peak - upload.stack_first
    return [
        (
            f"upload: `pitchlens process` CLI peak RSS, {size} file",
            f"{upload.cli_peak / MB:.0f} MB",
            size,
            f"{upload.cli_peak / upload.size:.2f}x the file",
            f"<= {UPLOAD_RSS_TARGET_MB} MB",
        ),
        (
            "upload: embedded stack RSS before / peak during it",
            f"{upload.stack_first / MB:.0f} / {upload.stack_peak / MB:.0f} MB",
            size,
            f"+{growth / MB:.0f} MB ({growth / upload.size:.2f}x the file)",
            "flat",
        ),
        ("upload: throughput to the embedded S3", f"{upload.mb_per_s:.1f} MB/s", "", "", ""),
    ]


def tracking_rows(runs: list[Tracking], config: Config, quick: bool) -> list[Row]:
    short, long1, long2 = runs
    how = config.how + (", quick" if quick else "")
    rows: list[Row] = []
    for run in runs:
        rows.append(
            (
                f"track {run.seconds} s ({run.frames} frames, {run.segments} segments), {run.workers} "
                f"worker(s): wall / frames/s",
                f"{run.wall_s:.0f} s / {run.fps:.1f}",
                "",
                "",
                how,
            )
        )
    rows.append(
        (
            "2 workers vs 1 on the longer video: frames/s",
            f"{long2.fps:.1f}",
            f"{long1.fps:.1f}",
            f"{long2.fps / long1.fps:.2f}x",
            "~2x with 2 free cores",
        )
    )
    short_peak, long_peak = max(short.worker_peaks), max(long1.worker_peaks)
    rows.append(
        (
            f"worker peak RSS: {long1.seconds} s vs {short.seconds} s video (1 worker)",
            f"{long_peak / MB:.0f} MB",
            f"{short_peak / MB:.0f} MB",
            f"{long_peak / short_peak:.2f}x",
            "<= 1.20x",
        )
    )
    rows.append(
        (
            "worker peak RSS, 2 workers on the longer video (each)",
            " / ".join(f"{p / MB:.0f}" for p in long2.worker_peaks) + " MB",
            f"{long_peak / MB:.0f} MB",
            f"{max(long2.worker_peaks) / long_peak:.2f}x",
            "",
        )
    )
    stitches = [r.stitch_s for r in runs]
    rows.append(
        (
            "stitch step (segments joined, staged): short / long / long on 2 workers",
            " / ".join("-" if s is None else f"{s:.2f} s" for s in stitches),
            "",
            "",
            "",
        )
    )
    per_frame = long1.cpu_s / long1.frames
    match_h = per_frame * MATCH_FRAMES / 3600
    rows.append(
        (
            f"extrapolated CPU time for {MATCH_FRAMES:,} frames (90 min at 25 fps)",
            f"{match_h:.1f} CPU-hours",
            f"{per_frame * 1000:.0f} ms CPU/frame",
            f"{match_h / 2:.1f} h on 2 cores",
            "<= 10 min on one H200 (GPU, not measured here)",
        )
    )
    return rows


def _length(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def whole_match_rows(runs: list[Tracking], config: Config) -> list[Row]:
    """The whole match against a 6-minute cut of it, both on 2 workers."""
    short, whole = runs
    rows: list[Row] = [
        (
            f"track {_length(run.seconds)} ({run.frames:,} frames, {run.segments} segments), its upload "
            "done to the job SUCCEEDED, 2 workers: wall / frames/s",
            f"{run.wall_s / 60:.1f} min / {run.fps:.1f}",
            "",
            "",
            config.how,
        )
        for run in runs
    ]
    short_peak, whole_peak = max(short.worker_peaks), max(whole.worker_peaks)
    rows.append(
        (
            f"worker peak RSS: {_length(whole.seconds)} vs {_length(short.seconds)} video",
            " / ".join(f"{p / MB:.0f}" for p in whole.worker_peaks) + " MB",
            " / ".join(f"{p / MB:.0f}" for p in short.worker_peaks) + " MB",
            f"{whole_peak / short_peak:.2f}x",
            "<= 1.20x",
        )
    )
    for step, (first, second) in {
        "stitch (segments joined, staged; a track worker)": (short.stitch_s, whole.stitch_s),
        "persist (the dataset published; the stack)": (short.persist_s, whole.persist_s),
    }.items():
        rows.append(
            (
                f"{step}: {whole.segments} vs {short.segments} segments",
                "-" if second is None else f"{second:.1f} s",
                "-" if first is None else f"{first:.1f} s",
                "" if not first or not second else f"{second / first:.1f}x",
                "",
            )
        )
    for run in (whole, short):
        data = run.dataset
        per_minute = data.track_ids / (run.frames / 25 / 60)
        rows.append(
            (
                f"  its dataset ({_length(run.seconds)}): rows / clip-wide track ids (per minute) / "
                "median, longest track",
                f"{data.rows:,} / {data.track_ids:,} ({per_minute:.0f}) / {data.median_track:.0f}, "
                f"{data.longest_track} frames",
                f"{data.size / MB:.1f} MB",
                "",
                "",
            )
        )
    per_frame = whole.cpu_s / whole.frames
    rows.append(
        (
            "CPU time of the track workers per frame of the match",
            f"{per_frame * 1000:.0f} ms",
            f"{short.cpu_s / short.frames * 1000:.0f} ms (the {_length(short.seconds)} video)",
            "",
            "",
        )
    )
    return rows


def analyst_rows(stack: Stack, data: Dataset) -> list[Row]:
    """What an analyst asks of the whole match's clip, timed (one call each): the players to follow
    through the API, and one track's rows from a notebook (`pitchlens.connect`, polars scanning the
    bucket)."""
    import polars as pl

    import pitchlens
    from pitchlens.runtime.cli.api_client import ApiClient

    started = time.perf_counter()
    answer = ApiClient(stack.info["api_url"], timeout_s=300).request(
        "GET", f"/api/v1/clips/{data.clip_id}/players"
    )
    players_s = time.perf_counter() - started
    lens = pitchlens.connect(data_dir=stack.info["data_dir"])
    started = time.perf_counter()
    track = (
        lens.trajectories(clip_id=data.clip_id, lazy=True)  # type: ignore[union-attr]
        .filter(pl.col("track_id") == data.longest_id)
        .collect()
    )
    track_s = time.perf_counter() - started
    return [
        (
            "  GET /clips/{id}/players of the whole match (the players to follow)",
            f"{players_s:.1f} s",
            f"{len(answer['players'])} players",
            "",
            "",
        ),
        (
            "  a notebook's `lens.trajectories(clip_id=..., lazy=True)` filtered to the longest track",
            f"{track_s:.1f} s",
            f"{track.height:,} rows",
            "",
            "",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--full", action="store_true", help=f"as {MODE_ENV}=full")
    parser.add_argument(
        "--whole-match",
        action="store_true",
        help="the 90-minute file itself tracked on 2 workers, 1 tile at <= 12.5 frames/s (~40 min)",
    )
    parser.add_argument(
        "--upload-loops", type=int, help="loops of the clip in the uploaded file (800: 868 MB)"
    )
    args = parser.parse_args()
    from tests.benchmarks.run import render

    print(
        render(
            "Whole match",
            run(
                args.shared,
                full=args.full or None,
                upload_loops=args.upload_loops,
                whole=args.whole_match,
            ),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
