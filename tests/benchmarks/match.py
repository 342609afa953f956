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

`python -m tests.benchmarks.match [--shared DIR] [--quick]` prints the table on its own; `--quick`
(or PITCHLENS_BENCH_MATCH_QUICK=1) measures shorter videos with one tile per frame for CI-like runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.rss import MB, PeakRss

Row = tuple[str, str, str, str, str]

CLIP = "dfl_08fd33_4_848x478.mp4"
CLIP_SECONDS = 6.75
"""The shared clip: 6.75 s at 25 fps (169 frames); looped N times it lasts N x this."""
MATCH_FRAMES = 135_000
UPLOAD_RSS_TARGET_MB = 300
QUICK_ENV = "PITCHLENS_BENCH_MATCH_QUICK"
REPO = Path(__file__).resolve().parents[2]


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--loops", type=int, default=800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pitchlens-match-") as tmp:
        folder = Path(tmp)
        video = looped(args.shared, args.loops, folder)
        functions = functions_without({"detect", "track"}, folder / "functions")
        with embedded_stack(folder / "stack", PITCHLENS_FUNCTIONS_DIR=str(functions)) as stack:
            upload = process_upload(stack, video)
        print(upload, f"{upload.mb_per_s:.1f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
