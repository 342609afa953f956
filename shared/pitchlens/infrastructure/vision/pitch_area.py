"""`GrassPitchArea`: who stands on the pitch, from the picture alone (no calibration).

The playing area is the grass (`pitch_lines.grass_region`) cut at its boundary lines. Broadcast
grounds have grass beyond the touchlines (the benches' side, the strip behind the goal lines),
where coaches, substitutes, ball kids and the assistant referees stand, so the grass edge alone is
not the pitch's. A boundary line is a long straight white line beyond which the grass ends soon
(within `BOUNDARY_DEPTH` of the frame's height) while on its other side it goes on, and which has
no other such line of its direction on its inner side (the dashed line of a technical area and
the edge of boards standing on the grass lie beyond the touchline or the goal line). A person is
on the pitch when the foot point (the box's bottom centre) lies on the grass and on the inner
side of every boundary line, allowing `MARGIN_HEIGHTS` of the box's own height beyond it (about
a metre of ground near the camera: a throw-in, a corner; a standing person's height in pixels is
about twice the pixels of the same length of ground seen from a broadcast camera's height).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pitchlens.domain.camera import PitchArea
from pitchlens.infrastructure.vision import pitch_lines

MIN_LINE_FRACTION = 0.15
"""Shortest boundary-line candidate, as a fraction of the frame's width."""
BOUNDARY_DEPTH = 0.12
"""Grass ending within this fraction of the frame's height beyond a line makes it a boundary."""
OPEN_DEPTH = 0.2
"""...while on the other side it goes on at least this far."""
PARALLEL_DEGREES = 12.0
MARGIN_HEIGHTS = 0.25
"""Allowed beyond a boundary (or off the grass), in heights of the person's box."""


@dataclass(frozen=True, slots=True)
class BoundaryLine:
    """a x + b y + c = 0 with (a, b) a unit normal pointing into the pitch."""

    a: float
    b: float
    c: float

    def inside_by(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Signed distance (px) of points into the pitch side (negative: beyond the line)."""
        return self.a * x + self.b * y + self.c


class GrassPitchArea(PitchArea):
    def on_pitch(self, image: Any, boxes: Sequence[Sequence[float]]) -> list[bool]:
        people = np.asarray(boxes, np.float32).reshape(-1, 4)
        if not len(people):
            return []
        frame = np.asarray(image)
        region = pitch_lines.grass_region(frame)
        if not region.any():
            return [False] * len(people)
        lines = boundary_lines(frame, people, region)
        return on_pitch(region, lines, people).tolist()


def on_pitch(region: np.ndarray, lines: list[BoundaryLine], people: np.ndarray) -> np.ndarray:
    height, width = region.shape
    foot_x = (people[:, 0] + people[:, 2]) / 2
    foot_y = people[:, 3]
    margin = MARGIN_HEIGHTS * (people[:, 3] - people[:, 1])
    # On the grass, or within `margin` of it (a foot on the paint, a player half out of the grass
    # mask by his own shadow).
    to_grass = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 3)
    xi = np.clip(np.round(foot_x), 0, width - 1).astype(np.intp)
    yi = np.clip(np.round(foot_y), 0, height - 1).astype(np.intp)
    inside = region[yi, xi] | (to_grass[yi, xi] <= margin)
    for line in lines:
        inside &= line.inside_by(foot_x, foot_y) >= -margin
    return inside


def boundary_lines(image: np.ndarray, people: np.ndarray, region: np.ndarray) -> list[BoundaryLine]:
    height, width = region.shape
    points = pitch_lines.line_pixels(image, people, region)
    mask = np.zeros((height, width), np.uint8)
    if len(points):
        mask[points[:, 1], points[:, 0]] = 255
    segments = cv2.HoughLinesP(
        mask, 1, np.pi / 360, threshold=60, minLineLength=MIN_LINE_FRACTION * width, maxLineGap=10
    )
    if segments is None:
        return []
    candidates: list[tuple[BoundaryLine, float, np.ndarray]] = []
    for x1, y1, x2, y2 in np.asarray(segments, np.float64).reshape(-1, 4):
        found = _classify(region, (x1, y1), (x2, y2))
        if found is not None:
            candidates.append(found)
    lines = []
    for line, angle, _ in candidates:
        # innermost: no other boundary candidate of this direction lies on its inner side (the
        # dashed line of a technical area, or the edge of boards standing on the grass, beyond it)
        within = [
            other
            for other, other_angle, middle in candidates
            if other is not line
            and _angle_difference(angle, other_angle) < PARALLEL_DEGREES
            and line.inside_by(middle[:1], middle[1:])[0] > 3
        ]
        if not within:
            lines.append(line)
    return _deduplicated(lines)


def _classify(
    region: np.ndarray, start: tuple[float, float], end: tuple[float, float]
) -> tuple[BoundaryLine, float, np.ndarray] | None:
    height, width = region.shape
    direction = np.subtract(end, start)
    length = float(np.hypot(*direction))
    if length == 0:
        return None
    direction /= length
    normal = np.array([-direction[1], direction[0]])
    short, long_ = BOUNDARY_DEPTH * height, OPEN_DEPTH * height
    samples = np.linspace(0.1, 0.9, 9)
    depths = []
    for sign in (1.0, -1.0):
        side = []
        for t in samples:
            origin = np.add(start, t * length * direction)
            steps = np.arange(4, long_ + 1, 2.0)
            xs = np.round(origin[0] + sign * normal[0] * steps).astype(np.intp)
            ys = np.round(origin[1] + sign * normal[1] * steps).astype(np.intp)
            inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
            grass = np.zeros(len(steps), bool)
            grass[inside] = region[ys[inside], xs[inside]]
            off_frame = ~inside
            # the frame's edge is not the grass's: depth counts as open there
            ends = np.flatnonzero(~grass & ~off_frame)
            side.append(steps[ends[0]] if len(ends) else long_)
        depths.append(float(np.median(side)))
    positive, negative = depths
    if min(positive, negative) >= short or max(positive, negative) < long_:
        return None
    into = normal if positive > negative else -normal
    c = -float(into @ np.asarray(start))
    angle = float(np.degrees(np.arctan2(direction[1], direction[0])) % 180)
    middle = np.add(start, 0.5 * length * direction)
    return BoundaryLine(float(into[0]), float(into[1]), c), angle, middle


def _angle_difference(first: float, second: float) -> float:
    difference = abs(first - second) % 180
    return min(difference, 180 - difference)


def _deduplicated(lines: list[BoundaryLine]) -> list[BoundaryLine]:
    kept: list[BoundaryLine] = []
    for line in lines:
        if not any(abs(line.a * k.a + line.b * k.b) > 0.999 and abs(line.c - k.c) < 2 for k in kept):
            kept.append(line)
    return kept
