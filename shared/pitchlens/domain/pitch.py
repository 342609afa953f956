"""The pitch: its 105 x 68 model, named landmarks, and homographies between image pixels and metres.
Standard library only.

Metres are the event data's frame (README "Coordinates"): origin at the centre spot, +x towards the
goal the home team attacks, +y to the left of that direction. A camera does not know which team is
home, so calibration works in the *camera frame* of the pitch: +x towards the goal on the right of
the main camera's picture, +y towards the far touchline (away from the camera). `Orientation` turns
camera-frame metres into the match frame; the default (`HOME_ATTACKS_RIGHT`) leaves them as they are.

Landmark names (`LANDMARKS`) use the same words: `left` / `right` is the goal on that side of the
main camera's picture, `near` / `far` the touchline nearer to / further from the camera. A
homography here maps image pixels (x right, y down) to camera-frame metres; `Homography.solve` fits
one to four or more landmarks marked on a frame (normalised DLT, least squares), and
`calibrate` refuses what cannot be a camera's view of the pitch: fewer than 4 points, unknown
names, points off the frame, (nearly) collinear points, points that do not fit one pitch, and a
mapping that folds or mirrors the pitch (a camera above the grass sees the pitch's far side above
its near side and never sees the horizon cross the pitch).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations
from typing import Any

from pitchlens.domain.errors import PermanentError

PITCH_LENGTH = 105.0
PITCH_WIDTH = 68.0
HALF_LENGTH = PITCH_LENGTH / 2
HALF_WIDTH = PITCH_WIDTH / 2
CENTRE_CIRCLE_RADIUS = 9.15
PENALTY_AREA_DEPTH = 16.5
PENALTY_AREA_HALF_WIDTH = 20.16
GOAL_AREA_DEPTH = 5.5
GOAL_AREA_HALF_WIDTH = 9.16
PENALTY_SPOT_DISTANCE = 11.0
GOAL_HALF_WIDTH = 3.66

Point = tuple[float, float]


class InvalidCalibration(PermanentError):
    """Calibration points that cannot give a homography of the pitch (the message names why)."""


def _landmarks() -> dict[str, Point]:
    arc_y = math.sqrt(CENTRE_CIRCLE_RADIUS**2 - (PENALTY_AREA_DEPTH - PENALTY_SPOT_DISTANCE) ** 2)
    points: dict[str, Point] = {
        "centre_spot": (0.0, 0.0),
        "halfway_near": (0.0, -HALF_WIDTH),
        "halfway_far": (0.0, HALF_WIDTH),
        "centre_circle_near": (0.0, -CENTRE_CIRCLE_RADIUS),
        "centre_circle_far": (0.0, CENTRE_CIRCLE_RADIUS),
        "centre_circle_left": (-CENTRE_CIRCLE_RADIUS, 0.0),
        "centre_circle_right": (CENTRE_CIRCLE_RADIUS, 0.0),
    }
    for side, sign in (("left", -1.0), ("right", 1.0)):
        goal_line = sign * HALF_LENGTH
        box_line = sign * (HALF_LENGTH - PENALTY_AREA_DEPTH)
        six_line = sign * (HALF_LENGTH - GOAL_AREA_DEPTH)
        points[f"penalty_spot_{side}"] = (sign * (HALF_LENGTH - PENALTY_SPOT_DISTANCE), 0.0)
        points[f"goal_centre_{side}"] = (goal_line, 0.0)
        points[f"arc_top_{side}"] = (sign * (HALF_LENGTH - PENALTY_SPOT_DISTANCE - CENTRE_CIRCLE_RADIUS), 0.0)
        for end, y_sign in (("near", -1.0), ("far", 1.0)):
            points[f"corner_{side}_{end}"] = (goal_line, y_sign * HALF_WIDTH)
            points[f"box_{side}_{end}"] = (box_line, y_sign * PENALTY_AREA_HALF_WIDTH)
            points[f"box_{side}_{end}_goal_line"] = (goal_line, y_sign * PENALTY_AREA_HALF_WIDTH)
            points[f"six_{side}_{end}"] = (six_line, y_sign * GOAL_AREA_HALF_WIDTH)
            points[f"six_{side}_{end}_goal_line"] = (goal_line, y_sign * GOAL_AREA_HALF_WIDTH)
            points[f"arc_{side}_{end}"] = (box_line, y_sign * arc_y)
            points[f"post_{side}_{end}"] = (goal_line, y_sign * GOAL_HALF_WIDTH)
    return points


LANDMARKS: Mapping[str, Point] = _landmarks()
"""Named points of the 105 x 68 pitch in camera-frame metres: the centre spot, the ends of the
halfway line (`halfway_near` / `_far`), where the centre circle crosses the halfway line
(`centre_circle_near` / `_far`) and its leftmost / rightmost points, and per goal (`left` /
`right`): the corners (`corner_left_near` ...), the penalty spot, the goal centre and posts, the
penalty area's corners on its front line (`box_left_near` ...) and on the goal line
(`box_left_near_goal_line` ...), the same for the goal area (`six_...`), where the penalty arc
meets the penalty area (`arc_left_near` ...) and the arc's top (`arc_top_left`)."""


class Orientation(StrEnum):
    """Which goal of the main camera's picture the home team attacks (the match frame's +x)."""

    HOME_ATTACKS_RIGHT = "home_attacks_right"
    HOME_ATTACKS_LEFT = "home_attacks_left"

    def to_match(self, x: float, y: float) -> Point:
        """Camera-frame metres to the match frame (+x where the home team attacks)."""
        return (x, y) if self is Orientation.HOME_ATTACKS_RIGHT else (-x, -y)


def on_pitch(x: float, y: float, margin: float = 0.0) -> bool:
    """Whether a point (metres, centre origin) lies on the 105 x 68 pitch or within `margin` of it."""
    return abs(x) <= HALF_LENGTH + margin and abs(y) <= HALF_WIDTH + margin


@dataclass(frozen=True, slots=True)
class Homography:
    """A plane-to-plane projective map, the 3 x 3 matrix in row order (normalised: last entry 1 when
    it is not 0). `apply` maps (x, y) to (x', y')."""

    matrix: tuple[float, float, float, float, float, float, float, float, float]

    @classmethod
    def of(cls, values: Iterable[Any]) -> Homography:
        """From nine numbers (row order) or three rows of three; scaled so the last entry is 1."""
        flat: list[float] = []
        for value in values:
            if isinstance(value, Iterable):
                flat.extend(float(v) for v in value)
            else:
                flat.append(float(value))
        if len(flat) != 9:
            raise ValueError(f"a homography has 9 entries, not {len(flat)}")
        if not all(math.isfinite(v) for v in flat):
            raise ValueError("a homography's entries must be finite")
        scale = flat[8] if abs(flat[8]) > 1e-12 else 1.0
        m = tuple(v / scale for v in flat)
        return cls((m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]))

    @classmethod
    def identity(cls) -> Homography:
        return cls((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))

    @property
    def rows(self) -> tuple[tuple[float, float, float], ...]:
        m = self.matrix
        return ((m[0], m[1], m[2]), (m[3], m[4], m[5]), (m[6], m[7], m[8]))

    def denominator(self, x: float, y: float) -> float:
        m = self.matrix
        return m[6] * x + m[7] * y + m[8]

    def apply(self, x: float, y: float) -> Point:
        m = self.matrix
        w = m[6] * x + m[7] * y + m[8]
        if w == 0:
            raise ValueError(f"({x}, {y}) maps to infinity")
        return ((m[0] * x + m[1] * y + m[2]) / w, (m[3] * x + m[4] * y + m[5]) / w)

    def jacobian_determinant(self, x: float, y: float) -> float:
        """The local area scale of the map at (x, y): negative where it mirrors."""
        m = self.matrix
        w = m[6] * x + m[7] * y + m[8]
        u = m[0] * x + m[1] * y + m[2]
        v = m[3] * x + m[4] * y + m[5]
        dudx, dudy = (m[0] * w - u * m[6]) / w**2, (m[1] * w - u * m[7]) / w**2
        dvdx, dvdy = (m[3] * w - v * m[6]) / w**2, (m[4] * w - v * m[7]) / w**2
        return dudx * dvdy - dudy * dvdx

    def then(self, after: Homography) -> Homography:
        """The map that applies this one, then `after`."""
        return Homography.of(_matmul(after.rows, self.rows))

    def inverse(self) -> Homography:
        a, b, c, d, e, f, g, h, i = self.matrix
        det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
        if abs(det) < 1e-15:
            raise ValueError("the homography is singular")
        return Homography.of(
            (
                (e * i - f * h) / det,
                (c * h - b * i) / det,
                (b * f - c * e) / det,
                (f * g - d * i) / det,
                (a * i - c * g) / det,
                (c * d - a * f) / det,
                (d * h - e * g) / det,
                (b * g - a * h) / det,
                (a * e - b * d) / det,
            )
        )

    @classmethod
    def solve(cls, sources: Sequence[Point], targets: Sequence[Point]) -> Homography:
        """The homography mapping `sources` onto `targets` (4 or more pairs) in the least-squares
        sense of the normalised DLT. Raises ValueError for fewer than 4 pairs or a degenerate set."""
        if len(sources) != len(targets) or len(sources) < 4:
            raise ValueError("a homography needs at least 4 point pairs")
        source_norm, normalised_sources = _normalise(sources)
        target_norm, normalised_targets = _normalise(targets)
        # h33 = 1 after normalisation (the centroid maps to a finite point for any real camera view):
        # eight unknowns, least squares through the normal equations.
        rows: list[list[float]] = []
        values: list[float] = []
        for (x, y), (u, v) in zip(normalised_sources, normalised_targets, strict=True):
            rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y])
            values.append(u)
            rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y])
            values.append(v)
        normal = [[sum(r[i] * r[j] for r in rows) for j in range(8)] for i in range(8)]
        right = [sum(r[i] * value for r, value in zip(rows, values, strict=True)) for i in range(8)]
        h = _solve_linear(normal, right)
        normalised = ((h[0], h[1], h[2]), (h[3], h[4], h[5]), (h[6], h[7], 1.0))
        target_inverse = _inverse_similarity(target_norm)
        return Homography.of(_matmul(target_inverse, _matmul(normalised, source_norm)))


def _matmul(
    first: Sequence[Sequence[float]], second: Sequence[Sequence[float]]
) -> tuple[tuple[float, float, float], ...]:
    return tuple(
        (
            sum(first[i][k] * second[k][0] for k in range(3)),
            sum(first[i][k] * second[k][1] for k in range(3)),
            sum(first[i][k] * second[k][2] for k in range(3)),
        )
        for i in range(3)
    )


def _normalise(points: Sequence[Point]) -> tuple[tuple[tuple[float, float, float], ...], list[Point]]:
    """Hartley normalisation: centroid to the origin, mean distance sqrt(2)."""
    cx = sum(p[0] for p in points) / len(points)
    cy = sum(p[1] for p in points) / len(points)
    spread = sum(math.hypot(p[0] - cx, p[1] - cy) for p in points) / len(points)
    if spread == 0:
        raise ValueError("the points coincide")
    s = math.sqrt(2) / spread
    matrix = ((s, 0.0, -s * cx), (0.0, s, -s * cy), (0.0, 0.0, 1.0))
    return matrix, [(s * (p[0] - cx), s * (p[1] - cy)) for p in points]


def _inverse_similarity(matrix: Sequence[Sequence[float]]) -> tuple[tuple[float, float, float], ...]:
    s, tx, ty = matrix[0][0], matrix[0][2], matrix[1][2]
    return ((1 / s, 0.0, -tx / s), (0.0, 1 / s, -ty / s), (0.0, 0.0, 1.0))


def _solve_linear(matrix: list[list[float]], right: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting; ValueError when singular."""
    n = len(right)
    a = [[*row, value] for row, value in zip(matrix, right, strict=True)]
    scale = max(abs(v) for row in matrix for v in row) or 1.0
    for column in range(n):
        pivot = max(range(column, n), key=lambda r: abs(a[r][column]))
        if abs(a[pivot][column]) < 1e-12 * scale:
            raise ValueError("the points are degenerate (collinear or coincident)")
        a[column], a[pivot] = a[pivot], a[column]
        for r in range(column + 1, n):
            factor = a[r][column] / a[column][column]
            for c in range(column, n + 1):
                a[r][c] -= factor * a[column][c]
    solution = [0.0] * n
    for r in range(n - 1, -1, -1):
        solution[r] = (a[r][n] - sum(a[r][c] * solution[c] for c in range(r + 1, n))) / a[r][r]
    return solution


# ------------------------------------------------------------------------------------------------
# Calibration from named points marked on one frame
# ------------------------------------------------------------------------------------------------

MIN_POINTS = 4
COLLINEAR_TOLERANCE = 0.02
"""Three points are collinear when the triangle they span is thinner than this fraction of its
longest side (in metres on the pitch, and in pixels on the frame)."""
MAX_RESIDUAL_M = 2.0
"""A marked point the fitted homography puts further than this from its landmark does not fit one
pitch with the others (a misnamed or misplaced point)."""


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    """A landmark (`LANDMARKS` name) marked at pixel (x, y) of the calibrated frame."""

    name: str
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Calibration:
    """A frame's image-to-pitch homography (camera-frame metres) and how well its points fit."""

    frame_index: int
    homography: Homography
    points: tuple[CalibrationPoint, ...]
    residuals_m: tuple[float, ...]
    source: str = "manual"
    """`manual` (marked points) or `automatic` (fitted to the pitch lines)."""

    @property
    def max_residual_m(self) -> float:
        return max(self.residuals_m, default=0.0)


def calibrate(points: Sequence[CalibrationPoint], frame_index: int, width: int, height: int) -> Calibration:
    """The image-to-pitch homography of a `width` x `height` frame from landmarks marked on it.
    Raises InvalidCalibration naming the problem."""
    if len(points) < MIN_POINTS:
        raise InvalidCalibration(
            f"calibration needs at least {MIN_POINTS} landmarks marked on the frame, got {len(points)}"
        )
    unknown = sorted({p.name for p in points if p.name not in LANDMARKS})
    if unknown:
        raise InvalidCalibration(
            f"unknown landmark {', '.join(unknown)}; known landmarks: {', '.join(sorted(LANDMARKS))}"
        )
    names = [p.name for p in points]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidCalibration(f"landmark {', '.join(twice)} is marked more than once")
    for p in points:
        if not (math.isfinite(p.x) and math.isfinite(p.y) and 0 <= p.x <= width and 0 <= p.y <= height):
            raise InvalidCalibration(
                f"landmark {p.name} at ({p.x:g}, {p.y:g}) is off the {width}x{height} frame"
            )
    image = [(p.x, p.y) for p in points]
    pitch = [LANDMARKS[p.name] for p in points]
    if not _general_position(pitch):
        raise InvalidCalibration(
            "the landmarks are collinear on the pitch: mark at least 4 of which no 3 lie on one line"
        )
    if not _general_position(image):
        raise InvalidCalibration(
            "the marked points are collinear on the frame: mark at least 4 of which no 3 lie on one line"
        )
    try:
        homography = Homography.solve(image, pitch)
    except ValueError as error:
        raise InvalidCalibration(f"the landmarks give no homography: {error}") from error
    check_unfolded(homography, width, height)
    residuals = tuple(_residual(homography, p) for p in points)
    worst = max(range(len(points)), key=lambda i: residuals[i])
    if residuals[worst] > MAX_RESIDUAL_M:
        raise InvalidCalibration(
            f"the landmarks do not fit one pitch: {points[worst].name} lands {residuals[worst]:.1f} m "
            "from where the others put it (misnamed or misplaced?)"
        )
    return Calibration(frame_index, homography, tuple(points), residuals)


def _residual(homography: Homography, point: CalibrationPoint) -> float:
    x, y = homography.apply(point.x, point.y)
    lx, ly = LANDMARKS[point.name]
    return math.hypot(x - lx, y - ly)


def check_unfolded(image_to_pitch: Homography, width: int, height: int) -> None:
    """Raises InvalidCalibration when the mapping cannot be a camera above the pitch looking down at
    it: the horizon (where pixels map to infinity) crossing the bottom of the frame, the bottom of
    the frame landing far from the pitch, or the ground seen mirrored (far side below near side,
    or left and right swapped). `width` x `height` is the frame."""
    bottom = [(width * f, float(height)) for f in (0.0, 0.5, 1.0)]
    signs = {image_to_pitch.denominator(x, y) > 0 for x, y in bottom}
    if len(signs) > 1 or any(image_to_pitch.denominator(x, y) == 0 for x, y in bottom):
        raise InvalidCalibration(
            "the homography folds the pitch: its horizon crosses the bottom of the frame"
        )
    ground = 1.0 if signs.pop() else -1.0
    x, y = image_to_pitch.apply(width / 2, float(height))
    if math.hypot(x, y) > 3 * PITCH_LENGTH:
        raise InvalidCalibration(
            f"the homography puts the bottom of the frame {math.hypot(x, y):.0f} m from the centre spot"
        )
    grid = [(width * fx, height * fy) for fx in (0.05, 0.5, 0.95) for fy in (0.3, 0.65, 1.0)]
    for gx, gy in grid:
        if (
            image_to_pitch.denominator(gx, gy) * ground > 0
            and image_to_pitch.jacobian_determinant(gx, gy) >= 0
        ):
            raise InvalidCalibration(
                "the homography mirrors the pitch (near and far, or left and right, swapped?)"
            )


def _general_position(points: Sequence[Point]) -> bool:
    """Whether some 4 of the points have no 3 on one line (within COLLINEAR_TOLERANCE)."""
    for quad in combinations(points, 4):
        if all(not _collinear(a, b, c) for a, b, c in combinations(quad, 3)):
            return True
    return False


def _collinear(a: Point, b: Point, c: Point) -> bool:
    twice_area = abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))
    longest = max(math.dist(a, b), math.dist(b, c), math.dist(a, c))
    if longest == 0:
        return True
    return twice_area / longest < COLLINEAR_TOLERANCE * longest
