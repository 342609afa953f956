"""Which frames of a video are tracked, at what size they are decoded, and how every frame still
gets boxes in source pixels.

Frame rate: tracking runs at most `max_fps` frames a second. A 50 or 60 fps source is detected and
tracked every `tracking_step`-th frame: the frames whose index is a multiple of the step (absolute
indexes, so segments that overlap track the same frames), plus the first and the last frame of the
span, so that every frame lies between two tracked ones. The frames in between get the tracks seen
on both tracked frames around them, their boxes interpolated linearly (`fill_between`). So the
trajectories keep a row per source frame, as when every frame is tracked, and whatever reads them
(the follower, the stitch, the renderer) sees a box on every frame: the indicator of a 60 fps render
moves every frame. A track seen on only one of the two gets no box between them.

Size: frames can be decoded smaller than the source (`fit_within`), at the size the detection
network can use (`DetectionModel.frame_size`). Detection and tracking then work in the decoded
frame's pixels and their boxes are scaled back (`to_source`): boxes and trajectories are always in
source pixels.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TypeVar

from pitchlens.domain.vision import FrameTracks

T = TypeVar("T")

RATE_TOLERANCE = 0.01
"""A source within 1 % of `max_fps` (29.97 and 30.3 fps against 30) is tracked at every frame."""


def tracking_step(fps: float, max_fps: float | None) -> int:
    """Every how-many-th frame is tracked so that tracking runs at <= `max_fps` frames a second
    (1: every frame; also when `max_fps` is None or not positive)."""
    if max_fps is None or max_fps <= 0 or fps <= 0:
        return 1
    return max(1, math.ceil(fps / (max_fps * (1 + RATE_TOLERANCE))))


def is_tracked(index: int, start: int, stop: int, step: int) -> bool:
    """Whether frame `index` of the span [start, stop) is tracked at `step`: a multiple of the step,
    or the span's first or last frame."""
    return index % step == 0 or index == start or index == stop - 1


def tracked_count(start: int, stop: int, step: int) -> int:
    """How many frames of [start, stop) `is_tracked` keeps."""
    if stop <= start:
        return 0
    multiples = (stop - 1) // step - (start - 1) // step
    return multiples + (start % step != 0) + (stop - 1 != start and (stop - 1) % step != 0)


def fill_between(before: FrameTracks, after: FrameTracks) -> list[FrameTracks]:
    """FrameTracks for each frame strictly between `before` and `after`: the tracks present on both,
    boxes, confidences and metres interpolated linearly, in `before`'s track order; on-pitch flags,
    teams and shot as on `before` (where it was placed)."""
    gap = after.frame_index - before.frame_index
    if gap <= 1:
        return []
    later = {int(track): position for position, track in enumerate(after.track_ids)}
    pairs = [
        (int(track), position, later[int(track)])
        for position, track in enumerate(before.track_ids)
        if int(track) in later
    ]
    xy_before, xy_after = before.pitch_xy, after.pitch_xy
    filled = []
    for offset in range(1, gap):
        t = offset / gap
        filled.append(
            FrameTracks(
                before.frame_index + offset,
                [track for track, _, _ in pairs],
                [_between(before.boxes[first], after.boxes[second], t) for _, first, second in pairs],
                [
                    _between((before.confidences[first],), (after.confidences[second],), t)[0]
                    for _, first, second in pairs
                ],
                on_pitch=_kept(before.on_pitch, pairs),
                teams=_kept(before.teams, pairs),
                pitch_xy=None
                if xy_before is None or xy_after is None
                else [_between(xy_before[first], xy_after[second], t) for _, first, second in pairs],
                shot=before.shot,
            )
        )
    return filled


def to_every_frame(seen: Sequence[FrameTracks], scale: tuple[float, float] = (1.0, 1.0)) -> list[FrameTracks]:
    """The tracks of the frames tracked (`seen`, in decoded pixels) as one FrameTracks per frame from
    the first to the last, in source pixels: scaled by `scale` (source pixels per decoded pixel)
    and the frames between filled (`fill_between`)."""
    every: list[FrameTracks] = []
    for frame in seen:
        here = to_source(frame, *scale)
        if every:
            every.extend(fill_between(every[-1], here))
        every.append(here)
    return every


def _between(a: Sequence[float], b: Sequence[float], t: float) -> tuple[float, ...]:
    return tuple(float(x) + (float(y) - float(x)) * t for x, y in zip(a, b, strict=True))


def _kept(values: Sequence[T] | None, pairs: Sequence[tuple[int, int, int]]) -> list[T] | None:
    return None if values is None else [values[first] for _, first, _ in pairs]


def fit_within(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) scaled down, aspect kept, so the longer side is at most `max_side` (even
    sides, as video scalers prefer); the size itself when it already fits. Never scales up."""
    if max_side <= 0:
        raise ValueError(f"max_side must be positive, got {max_side}")
    longer = max(width, height)
    if longer <= max_side:
        return width, height
    scale = max_side / longer
    return max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))


def to_source(tracks: FrameTracks, scale_x: float, scale_y: float) -> FrameTracks:
    """`tracks` with its boxes multiplied into source pixels (the same object when unscaled)."""
    if scale_x == 1 and scale_y == 1:
        return tracks
    boxes: Sequence[Sequence[float]] = [
        (float(x1) * scale_x, float(y1) * scale_y, float(x2) * scale_x, float(y2) * scale_y)
        for x1, y1, x2, y2 in tracks.boxes
    ]
    return dataclasses.replace(tracks, boxes=boxes)  # its placement (flags, teams, metres) kept
