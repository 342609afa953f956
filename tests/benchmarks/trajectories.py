"""Trajectory persistence against a bare pyarrow write, measured side by side in one run.

A 90-minute match tracked at 25 fps with 22 players (2,970,000 rows, random-walk boxes made with
numpy) goes through PitchLens' `trajectory_table` + `S3TrajectoryStore.save` (columns from
FrameTracks, sort, Parquet, one PUT to the object store) and, as the baseline, through
`pyarrow.parquet.write_table` of the same finished table to a local file with pyarrow's defaults.
Targets: ours <= 3 s and at least 0.8x the baseline's speed. Runs alternate between the two and
each figure is the median of REPEATS, so load on a shared machine hits both alike.

`python -m tests.benchmarks.trajectories` starts an in-process moto S3 server and prints the table;
`run(s3_client, bucket)` measures against any S3-compatible server.
"""

from __future__ import annotations

import gc
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from boto3.s3.transfer import TransferConfig

from pitchlens.domain.vision import FrameTracks
from pitchlens.infrastructure.storage.trajectories import (
    S3TrajectoryStore,
    encode_parquet,
    trajectory_table,
)

FPS = 25.0
PLAYERS = 22
MINUTES = 90
WIDTH, HEIGHT = 1920, 1080
REPEATS = 5

Row = tuple[str, str, str, str, str]
T = TypeVar("T")


def synthetic_tracks(
    *, fps: float = FPS, players: int = PLAYERS, minutes: float = MINUTES, seed: int = 7
) -> list[FrameTracks]:
    """One FrameTracks per frame, as a tracker emits them: each player's box centre does a random
    walk (about 2 px per frame) reflected at the image edges, box size grows towards the bottom of
    the image (perspective) with a few % of jitter, confidences around 0.8, and now and then a
    player gets a new track id (the tracker lost and re-found them, ~every 2 minutes)."""
    rng = np.random.default_rng(seed)
    frames = round(fps * 60 * minutes)
    steps = rng.normal(0.0, 2.0, size=(frames, players, 2))
    start = rng.uniform([100.0, 150.0], [WIDTH - 100.0, HEIGHT - 50.0], size=(players, 2))
    walk = start + np.cumsum(steps, axis=0)
    # Reflect at the margins: a triangle wave of the unbounded walk.
    x_span, y_span = WIDTH - 100.0, HEIGHT - 150.0
    walk[..., 0] = np.abs(np.mod(walk[..., 0] - 50.0, 2 * x_span) - x_span) + 50.0
    walk[..., 1] = np.abs(np.mod(walk[..., 1] - 100.0, 2 * y_span) - y_span) + 100.0
    size = np.array([36.0, 90.0]) * (0.7 + 0.6 * walk[..., 1:2] / HEIGHT)
    half = size * rng.normal(1.0, 0.03, size=(frames, players, 2)) / 2
    boxes = np.concatenate([walk - half, walk + half], axis=-1).astype(np.float32)
    confidences = np.clip(rng.normal(0.8, 0.1, size=(frames, players)), 0.25, 0.99).astype(np.float32)
    lost = rng.random((frames, players)) < 1.0 / (fps * 120)
    track_ids = np.cumsum(lost, axis=0) * players + np.arange(1, players + 1)
    # Copies, as a tracker hands over fresh arrays per frame (not views of one big array).
    return [
        FrameTracks(index, track_ids[index].copy(), boxes[index].copy(), confidences[index].copy())
        for index in range(frames)
    ]


def _timed(work: Callable[[], T]) -> tuple[float, T]:
    """(seconds, result) of `work`, the garbage collector run before and kept out during (as timeit)."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        result = work()
        return time.perf_counter() - started, result
    finally:
        gc.enable()


def run(
    s3_client: Any,
    bucket: str,
    *,
    minutes: float = MINUTES,
    repeats: int = REPEATS,
    unsigned_client: Any | None = None,
) -> list[Row]:
    """Measures PitchLens' trajectory persistence against a bare pyarrow write; rows of
    (measurement, PitchLens, baseline, ratio, target). Writes (and deletes) objects under
    `tracking/bench-*/` in `bucket`, which is created if needed. `minutes` and `repeats` shrink
    the run for a smoke test; the targets are for the defaults.

    `unsigned_client`, a client of the same server with `s3.payload_signing_enabled=False`, adds
    a row for it: over plain HTTP (a local server) botocore otherwise SHA-256-hashes every body to
    sign it, which it never does over HTTPS on AWS, where the CRC32 checksum covers the body."""
    tracks = synthetic_tracks(minutes=minutes)
    store = S3TrajectoryStore(s3_client, bucket)
    unsigned_store = S3TrajectoryStore(unsigned_client, bucket) if unsigned_client is not None else None
    store.ensure_bucket()
    match_id = f"bench-{uuid.uuid4().hex[:8]}"
    table = trajectory_table(match_id, "clip-0", FPS, tracks)
    rows = table.num_rows

    ours: list[float] = []
    ours_unsigned: list[float] = []
    baseline: list[float] = []
    builds: list[float] = []
    encodes: list[float] = []
    puts: list[float] = []
    multiparts: list[float] = []
    multipart = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=4)
    with tempfile.TemporaryDirectory(prefix="pitchlens-bench-") as tmp:
        baseline_path = Path(tmp) / "baseline.parquet"
        store.save(match_id, "clip-0", table)  # warm-up: connection pool, lazy imports, first-touch memory
        for repeat in range(repeats):

            def persist(clip_id: str = f"clip-{repeat}", store: S3TrajectoryStore = store) -> None:
                store.save(match_id, clip_id, trajectory_table(match_id, clip_id, FPS, tracks))

            def bare() -> None:
                pq.write_table(table, baseline_path)

            runs: list[tuple[Callable[[], None], list[float]]] = [(persist, ours), (bare, baseline)]
            if unsigned_store is not None:
                runs.append((partial(persist, store=unsigned_store), ours_unsigned))
            # Rotate which goes first, so none always runs right after another's garbage.
            for work, times in runs[repeat % len(runs) :] + runs[: repeat % len(runs)]:
                times.append(_timed(work)[0])
        baseline_size = baseline_path.stat().st_size

        # The same work in its steps, and the multipart upload it does not use, for the breakdown.
        for _ in range(repeats):
            seconds, built = _timed(lambda: trajectory_table(match_id, "clip-steps", FPS, tracks))
            builds.append(seconds)
            seconds, body = _timed(lambda built=built: encode_parquet(built))
            encodes.append(seconds)
            puts.append(
                _timed(
                    lambda body=body: s3_client.put_object(
                        Bucket=bucket, Key=f"{match_id}.tmp", Body=pa.BufferReader(body)
                    )
                )[0]
            )
            multiparts.append(
                _timed(
                    lambda body=body: s3_client.upload_fileobj(
                        pa.BufferReader(body), bucket, f"{match_id}.tmp", Config=multipart
                    )
                )[0]
            )
        ours_size = body.size

    stored = store.load_tracks(store.uri(match_id, "clip-0"))
    assert stored.num_rows == rows and stored.equals(table.replace_schema_metadata(stored.schema.metadata))
    for page in s3_client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"tracking/{match_id}/"
    ):
        for item in page.get("Contents", []):
            s3_client.delete_object(Bucket=bucket, Key=item["Key"])
    s3_client.delete_object(Bucket=bucket, Key=f"{match_id}.tmp")

    ours_s = statistics.median(ours)
    baseline_s = statistics.median(baseline)
    label = f"trajectories, {rows:,} rows ({PLAYERS} players x {FPS:g} fps x {minutes:g} min)"
    results = [
        (
            f"{label}: table build + Parquet + upload",
            f"{ours_s:.2f} s",
            f"{baseline_s:.2f} s (pq.write_table, defaults, local file)",
            f"{baseline_s / ours_s:.2f}x the speed",
            "<= 3 s, >= 0.8x",
        ),
        (
            "  of which: table from FrameTracks / Parquet encode / one PUT",
            " / ".join(f"{statistics.median(step):.2f} s" for step in (builds, encodes, puts)),
            "-",
            "-",
            "-",
        ),
        (
            "  upload of the same file: one PUT vs multipart (8 MiB parts, 4 threads)",
            f"{statistics.median(puts):.2f} s",
            f"{statistics.median(multiparts):.2f} s",
            f"{statistics.median(multiparts) / statistics.median(puts):.2f}x faster",
            "-",
        ),
        (
            "  file size",
            f"{ours_size / 1e6:.1f} MB (zstd level -1, byte-stream-split, delta)",
            f"{baseline_size / 1e6:.1f} MB (snappy, dictionaries)",
            f"{baseline_size / ours_size:.2f}x smaller",
            "-",
        ),
    ]
    if ours_unsigned:
        unsigned_s = statistics.median(ours_unsigned)
        results.insert(
            1,
            (
                "  same, client not signing the payload (as on AWS over HTTPS)",
                f"{unsigned_s:.2f} s",
                f"{baseline_s:.2f} s (same runs)",
                f"{baseline_s / unsigned_s:.2f}x the speed",
                "-",
            ),
        )
    return results


def render(rows: list[Row]) -> str:
    header = ("measurement", "PitchLens", "baseline", "ratio", "target")
    lines = [
        f"Trajectory persistence ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"medians of {REPEATS})",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main_rows() -> list[Row]:
    """Starts an in-process moto S3 server and measures against it with the project's client."""
    import httpx
    from moto.server import ThreadedMotoServer

    from pitchlens.infrastructure.aws_clients import s3_client
    from pitchlens.infrastructure.settings import Settings

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        httpx.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        # The project's client configuration (timeouts, retries, unsigned payloads), at this server.
        settings = Settings.model_validate(
            {"PITCHLENS_S3_ENDPOINT": endpoint, "PITCHLENS_AWS_REGION": "us-east-1"}
        )
        return run(s3_client(settings), "tracking-data")
    finally:
        server.stop()


def main() -> int:
    print(render(main_rows()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
