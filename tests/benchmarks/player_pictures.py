"""The tracked players' picture routes on a 90-minute clip, through the real app (FastAPI's
TestClient) with the trajectories in an in-process moto S3 server read by the real trajectory store.

22 players x 135,000 frames (90 minutes at 25 fps; 2,970,000 rows), each player one track for the
whole match (the worst case for one player's picture: 135,000 positions), placed in metres by a
random walk on the pitch (about 0.1 m a frame), 2% of the rows off the pitch. Per picture: the
median time of the request, and of its parts (reading the rows, motion, drawing + PNG).

`python -m tests.benchmarks.player_pictures [--minutes 90] [--repeats 3]` prints the table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from pitchlens.domain.vision import Clip, ClipStatus, FrameTracks, VideoInfo

FPS = 25.0
PLAYERS = 22
PLAYER = 7
"""The track drawn (any: every track spans the match)."""


def placed_tracks(minutes: float, players: int = PLAYERS, seed: int = 11) -> list[FrameTracks]:
    rng = np.random.default_rng(seed)
    frames = round(FPS * 60 * minutes)
    start = rng.uniform([-50.0, -32.0], [50.0, 32.0], size=(players, 2))
    walk = start + np.cumsum(rng.normal(0.0, 0.1, size=(frames, players, 2)), axis=0)
    for axis, half in ((0, 52.0), (1, 33.0)):  # reflected at the lines: a triangle wave
        walk[..., axis] = np.abs(np.mod(walk[..., axis] + half, 4 * half) - 2 * half) - half
    walk = walk.astype(np.float32)
    on = rng.random((frames, players)) > 0.02
    ids = np.arange(1, players + 1)
    teams = np.asarray(["white"] * (players // 2) + ["green"] * (players - players // 2), dtype=object)
    boxes = np.tile(np.asarray([[100, 100, 130, 180]], np.float32), (players, 1))
    confidences = np.full(players, 0.8, np.float32)
    return [
        FrameTracks(f, ids, boxes, confidences, on_pitch=on[f], teams=teams, pitch_xy=walk[f])
        for f in range(frames)
    ]


class _Counting:
    """An S3 client that counts the bytes its GETs bring back."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.fetched = 0

    def get_object(self, **request: Any) -> Any:
        answer = self._client.get_object(**request)
        self.fetched += int(answer["ContentLength"])
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def median_time(work: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(s3_client: Any, bucket: str, *, minutes: float = 90.0, repeats: int = 3) -> list[tuple[str, str]]:
    """(measurement, seconds) rows: each route's median time and its parts."""
    from fastapi.testclient import TestClient

    from pitchlens.application import views
    from pitchlens.domain.motion import track_motion
    from pitchlens.infrastructure.http.analysis import clip_tracks, player_track
    from pitchlens.infrastructure.http.app import create_app
    from pitchlens.infrastructure.plots import TrackPlotKind, draw_player, draw_positions
    from pitchlens.infrastructure.storage.trajectories import S3TrajectoryStore, trajectory_table
    from tests.fakes.system import FakeSystem

    tracks = placed_tracks(minutes)
    store = S3TrajectoryStore(s3_client, bucket)
    store.ensure_bucket()
    ref = store.save("bench", "match", trajectory_table("bench", "match", FPS, tracks))
    del tracks
    system = FakeSystem()
    system.trajectories = store  # type: ignore[assignment]
    now = datetime.now(UTC)
    frames = round(FPS * 60 * minutes)
    info = VideoInfo(1920, 1080, FPS, frames, frames / FPS, "h264")
    system.database.clips["match"] = Clip(
        "match", "bench", "s3://videos/bench/match.mp4", ClipStatus.PERSISTED, now, now, info,
        trajectories_uri=ref.uri, trajectory_rows=ref.rows, schema_version=ref.schema_version,
    )  # fmt: skip
    rows = [("rows in the file", f"{ref.rows:,}")]
    with TestClient(create_app(lambda: system)) as client:

        def get(path: str) -> None:
            response = client.get(f"/api/v1/clips/match/{path}")
            assert response.status_code == 200, response.text

        get(f"players/{PLAYER}/plots/path.png")  # warm-up: matplotlib and mplsoccer imported once
        for kind in ("path", "heatmap"):
            rows.append(
                (
                    f"GET .../players/{PLAYER}/plots/{kind}.png",
                    f"{median_time(lambda k=kind: get(f'players/{PLAYER}/plots/{k}.png'), repeats):.2f}",
                )
            )
        one = store.tracks(ref.uri, [PLAYER])
        size = int(s3_client.head_object(Bucket=bucket, Key=ref.uri.split("/", 3)[3])["ContentLength"])
        counting = _Counting(s3_client)
        S3TrajectoryStore(counting, bucket).tracks(ref.uri, [PLAYER])
        rows.append(("  bytes fetched for one player / file size", f"{counting.fetched:,} / {size:,}"))
        rows.append(
            (
                "  one player's rows read (range requests)",
                f"{median_time(lambda: store.tracks(ref.uri, [PLAYER]), repeats):.2f}",
            )
        )
        rows.append(
            (
                "  distance and top speed (domain/motion.py)",
                f"{median_time(lambda: track_motion(one, FPS), repeats):.2f}",
            )
        )
        tracked = views.tracked_player(system.unit_of_work, store, "match", PLAYER)
        columns = player_track(tracked)
        for kind in (TrackPlotKind.PATH, TrackPlotKind.HEATMAP):
            rows.append(
                (
                    f"  {kind} drawn + PNG",
                    f"{median_time(lambda k=kind: draw_player(k, columns).png(), repeats):.2f}",
                )
            )
        rows.append(
            ("  whole file read (for comparison)", f"{median_time(lambda: store.tracks(ref.uri), 1):.2f}")
        )
        rows.append(
            (
                "GET .../plots/positions.png (every row)",
                f"{median_time(lambda: get('plots/positions.png'), 1):.2f}",
            )
        )
        placed = views.placed_clip(system.unit_of_work, store, "match")
        rows.append(
            (
                "  positions drawn + PNG",
                f"{median_time(lambda: draw_positions(clip_tracks(placed)).png(), 1):.2f}",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    from tests.moto_s3 import moto_s3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=90.0)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args(argv)
    with moto_s3() as (client, _):
        rows = run(client, "tracking-data", minutes=arguments.minutes, repeats=arguments.repeats)
    width = max(len(name) for name, _ in rows)
    print(f"{arguments.minutes:g} minutes, {PLAYERS} players, {FPS:g} fps; median of {arguments.repeats}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
