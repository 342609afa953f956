"""Distance covered and top speed per player, from trajectories in pitch metres. Standard library only.

Positions from a homography jitter from frame to frame (a pixel at the far touchline is tens of
centimetres), and differencing jitter makes speed: a player standing still would "run". So each
track's positions are smoothed with a centred moving average over `window_s` seconds before the
distance (the length of the smoothed path) and the speeds (over `speed_s` seconds) are taken.
Frames without metres (no homography) break a track into pieces that are measured apart.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pitchlens.domain.vision import FrameTracks

MAX_PLAUSIBLE_KMH = 36.0
"""Faster than any footballer's sprint (the fastest measured are ~36-37 km/h): a faster top speed
is calibration jitter or a track that jumped between players."""


@dataclass(frozen=True, slots=True)
class TrackMotion:
    track_id: int
    team: str | None
    seconds: float
    """Time with metres."""
    distance_m: float
    top_speed_kmh: float

    @property
    def plausible(self) -> bool:
        return self.top_speed_kmh <= MAX_PLAUSIBLE_KMH


def track_motion(
    tracks: Sequence[FrameTracks], fps: float, window_s: float = 0.5, speed_s: float = 0.4
) -> list[TrackMotion]:
    """Per track with metres: distance covered and top speed after smoothing, and its most
    frequent team."""
    series: dict[int, list[tuple[int, float, float]]] = {}
    teams: dict[int, dict[str, int]] = {}
    for frame in tracks:
        if frame.pitch_xy is None:
            continue
        names = frame.teams if frame.teams is not None else [None] * len(frame)
        for track_id, (x, y), team in zip(frame.track_ids, frame.pitch_xy, names, strict=True):
            if team is not None:
                counts = teams.setdefault(int(track_id), {})
                counts[str(team)] = counts.get(str(team), 0) + 1
            if not (math.isnan(float(x)) or math.isnan(float(y))):
                series.setdefault(int(track_id), []).append((frame.frame_index, float(x), float(y)))
    half = max(1, round(window_s * fps / 2))
    lag = max(1, round(speed_s * fps))
    found = []
    for track_id, points in sorted(series.items()):
        distance = top = 0.0
        frames = 0
        for piece in _pieces(points):
            smooth = _moving_average(piece, half)
            frames += len(smooth)
            distance += sum(math.dist(a[1:], b[1:]) for a, b in itertools.pairwise(smooth))
            for a, b in zip(smooth, smooth[lag:], strict=False):
                top = max(top, math.dist(a[1:], b[1:]) / ((b[0] - a[0]) / fps) * 3.6)
        counts = teams.get(track_id, {})
        team = max(counts, key=lambda name: counts[name]) if counts else None
        found.append(TrackMotion(track_id, team, frames / fps, distance, top))
    return found


def _pieces(points: list[tuple[int, float, float]]) -> list[list[tuple[int, float, float]]]:
    pieces: list[list[tuple[int, float, float]]] = []
    for point in points:
        if pieces and point[0] == pieces[-1][-1][0] + 1:
            pieces[-1].append(point)
        else:
            pieces.append([point])
    return pieces


def _moving_average(piece: list[tuple[int, float, float]], half: int) -> list[tuple[int, float, float]]:
    smooth = []
    for i, (frame, _, _) in enumerate(piece):
        window = piece[max(0, i - half) : i + half + 1]
        smooth.append(
            (frame, sum(p[1] for p in window) / len(window), sum(p[2] for p in window) / len(window))
        )
    return smooth
