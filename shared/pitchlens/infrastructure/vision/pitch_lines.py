"""The pitch as seen in a frame: the playing surface (grass), the white lines on it, and the fit
of the 105 x 68 line model to those lines. numpy / OpenCV, whole arrays.

- `grass_region`: the grass of the frame. The dominant hue of saturated green-ish pixels is the
  grass colour of this frame (it changes with stadium, light and shadow); pixels near it, closed
  over the lines and players, the largest connected part, its holes filled.
- `line_pixels`: thin bright ridges on the grass (a pixel brighter than both neighbours 3 px away,
  across or along, and unsaturated: paint, not a lime shirt), outside people's boxes.
- `refine`: re-anchors an image-to-pitch homography on those pixels (iterative closest points:
  each visible point of the line model is paired with the nearest line pixel within a radius that
  shrinks from `start_radius` to 3 px, and the homography refitted by weighted least squares, with
  a weak pull towards the starting guess so that a frame showing one line cannot tilt it freely).
- `LINE_MODEL`: points every 0.5 m along every line of the pitch (touchlines, goal lines, halfway
  line, penalty and goal areas, centre circle, penalty arcs) in camera-frame metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pitchlens.domain import pitch as model

GRASS_HUES = (25, 95)
"""OpenCV hue range (0..180) the grass colour is looked for in: yellow-green to cyan-green."""
GRASS_HUE_TOLERANCE = 14
RIDGE_OFFSET = 3
RIDGE_CONTRAST = 10
LINE_MAX_SATURATION = 110
MAX_LINE_POINTS = 4000
"""Line pixels kept per frame (evenly subsampled): enough for the fit, small enough to keep."""
MIN_MATCHED_POINTS = 40
"""Fewer model points near a line pixel than this: the frame shows too little of the lines."""
PRIOR_WEIGHT = 0.3


def _model_points(step: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    half_length, half_width = model.HALF_LENGTH, model.HALF_WIDTH
    parts: list[np.ndarray] = []
    tangents: list[np.ndarray] = []

    def segment(a: tuple[float, float], b: tuple[float, float]) -> None:
        length = float(np.hypot(b[0] - a[0], b[1] - a[1]))
        count = max(2, int(length / step))
        t = np.linspace(0.0, 1.0, count)[:, None]
        parts.append(np.asarray(a) * (1 - t) + np.asarray(b) * t)
        tangents.append(np.tile((np.asarray(b) - np.asarray(a)) / length, (count, 1)))

    def circle(centre: tuple[float, float], count: int, keep: Any = None) -> None:
        angles = np.linspace(0.0, 2 * np.pi, count, endpoint=False)
        points = np.c_[
            centre[0] + model.CENTRE_CIRCLE_RADIUS * np.cos(angles),
            centre[1] + model.CENTRE_CIRCLE_RADIUS * np.sin(angles),
        ]
        directions = np.c_[-np.sin(angles), np.cos(angles)]
        chosen = np.ones(count, bool) if keep is None else keep(points)
        parts.append(points[chosen])
        tangents.append(directions[chosen])

    segment((-half_length, -half_width), (half_length, -half_width))
    segment((-half_length, half_width), (half_length, half_width))
    segment((-half_length, -half_width), (-half_length, half_width))
    segment((half_length, -half_width), (half_length, half_width))
    segment((0.0, -half_width), (0.0, half_width))
    box_y, six_y = model.PENALTY_AREA_HALF_WIDTH, model.GOAL_AREA_HALF_WIDTH
    for sign in (-1.0, 1.0):
        goal = sign * half_length
        box = sign * (half_length - model.PENALTY_AREA_DEPTH)
        six = sign * (half_length - model.GOAL_AREA_DEPTH)
        segment((box, -box_y), (box, box_y))
        segment((goal, -box_y), (box, -box_y))
        segment((goal, box_y), (box, box_y))
        segment((six, -six_y), (six, six_y))
        segment((goal, -six_y), (six, -six_y))
        segment((goal, six_y), (six, six_y))
        spot = sign * (half_length - model.PENALTY_SPOT_DISTANCE)
        edge = half_length - model.PENALTY_AREA_DEPTH
        circle((spot, 0.0), 240, lambda points, s=sign, e=edge: points[:, 0] * s < e)
    circle((0.0, 0.0), 360)
    return np.vstack(parts), np.vstack(tangents)


LINE_MODEL, LINE_TANGENTS = _model_points()
"""Points every 0.5 m along the pitch's lines (camera-frame metres) and the lines' unit directions there."""


GRASS_WIDTH = 320
"""Width the grass is found at (a mask for the whole frame, scaled back up)."""


def grass_region(image: np.ndarray) -> np.ndarray:
    """Boolean mask of the frame's grass (its largest connected part, holes filled); all False
    when the frame shows no grass-coloured area. Found on a copy `GRASS_WIDTH` wide."""
    height, width = image.shape[:2]
    factor = GRASS_WIDTH / width
    if factor < 1.0:
        small = cv2.resize(image, (GRASS_WIDTH, max(1, round(height * factor))), interpolation=cv2.INTER_AREA)
        region = _grass(small)
        return cv2.resize(region.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
    return _grass(image)


def _grass(image: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    hue = hsv[..., 0].astype(np.int16)
    saturation, value = hsv[..., 1], hsv[..., 2]
    candidates = (saturation > 50) & (value > 40) & (hue > GRASS_HUES[0]) & (hue < GRASS_HUES[1])
    if candidates.mean() < 0.05:
        return np.zeros(hue.shape, bool)
    histogram = np.convolve(np.bincount(hue[candidates].ravel(), minlength=180), np.ones(5), "same")
    dominant = int(np.argmax(histogram))
    near = (np.abs(hue - dominant) < GRASS_HUE_TOLERANCE) & (saturation > 40) & (value > 35)
    grass: Any = near.astype(np.uint8)
    size = max(3, image.shape[1] // 60) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    grass = cv2.morphologyEx(cv2.morphologyEx(grass, cv2.MORPH_CLOSE, kernel), cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grass, connectivity=8)
    if count <= 1:
        return np.zeros(hue.shape, bool)
    region = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    # Holes (players, lines, the ball) are grass too; what touches the frame's edge is not a hole.
    _, hole_labels, hole_stats, _ = cv2.connectedComponentsWithStats(1 - region, connectivity=4)
    height, width = region.shape
    x, y, w, h = (hole_stats[:, i] for i in range(4))
    inner = (x > 0) & (y > 0) & (x + w < width) & (y + h < height)
    inner[0] = False
    region |= inner[hole_labels].astype(np.uint8)
    return region.astype(bool)


def line_pixels(image: np.ndarray, boxes: np.ndarray, region: np.ndarray | None = None) -> np.ndarray:
    """(x, y, direction) int32 rows of pixels on white pitch lines: thin ridges on the grass outside
    the people's boxes (float (n, 4) x1, y1, x2, y2), at most MAX_LINE_POINTS, evenly subsampled.
    `direction` is the line's local direction in DIRECTION_BINS bins of 180 / DIRECTION_BINS
    degrees (from the structure tensor of the picture around the pixel)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.int16)
    ridge = np.zeros(grey.shape, bool)
    for axis in (0, 1):
        before = np.roll(grey, RIDGE_OFFSET, axis)
        after = np.roll(grey, -RIDGE_OFFSET, axis)
        ridge |= np.minimum(grey - before, grey - after) > RIDGE_CONTRAST
    ridge &= cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[..., 1] < LINE_MAX_SATURATION
    if region is None:
        region = grass_region(image)
    ridge &= cv2.dilate(region.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    border = RIDGE_OFFSET
    ridge[:border] = ridge[-border:] = False
    ridge[:, :border] = ridge[:, -border:] = False
    for x1, y1, x2, y2 in np.asarray(boxes, np.float32).reshape(-1, 4):
        ridge[max(0, int(y1) - 2) : int(y2) + 3, max(0, int(x1) - 2) : int(x2) + 3] = False
    ys, xs = np.nonzero(ridge)
    if len(xs) > MAX_LINE_POINTS:
        keep = np.linspace(0, len(xs) - 1, MAX_LINE_POINTS).astype(np.intp)
        ys, xs = ys[keep], xs[keep]
    return np.c_[xs, ys, _directions(grey, xs, ys)].astype(np.int32)


def _directions(grey: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Direction bin of the line through each pixel: perpendicular to the dominant gradient
    orientation of its neighbourhood (structure tensor)."""
    if not len(xs):
        return np.zeros(0, np.int32)
    picture = grey.astype(np.float32)
    gx = cv2.Sobel(picture, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(picture, cv2.CV_32F, 0, 1, ksize=3)
    size = (2 * RIDGE_OFFSET + 1, 2 * RIDGE_OFFSET + 1)
    xx = cv2.GaussianBlur(gx * gx, size, 0)[ys, xs]
    yy = cv2.GaussianBlur(gy * gy, size, 0)[ys, xs]
    xy = cv2.GaussianBlur(gx * gy, size, 0)[ys, xs]
    gradient = 0.5 * np.arctan2(2 * xy, xx - yy)
    return direction_bins(gradient + np.pi / 2)


DIRECTION_BINS = 12


def direction_bins(angles: np.ndarray) -> np.ndarray:
    """Undirected angles (radians) into DIRECTION_BINS bins over 180 degrees."""
    folded = np.mod(angles, np.pi)
    return np.minimum((folded / np.pi * DIRECTION_BINS).astype(np.int32), DIRECTION_BINS - 1)


@dataclass(frozen=True, slots=True)
class _Nearest:
    distance: np.ndarray
    labels: np.ndarray
    coordinates: np.ndarray

    @classmethod
    def of(cls, points: np.ndarray, width: int, height: int) -> _Nearest:
        free = np.ones((height, width), np.uint8)
        if len(points):
            free[points[:, 1], points[:, 0]] = 0
        distance, labels = cv2.distanceTransformWithLabels(
            free, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
        )
        lines = free == 0
        coordinates = np.zeros((int(labels.max()) + 1, 2), np.float32)
        ys, xs = np.nonzero(lines)
        coordinates[labels[lines]] = np.c_[xs, ys]
        return cls(distance, labels, coordinates)


@dataclass(frozen=True, slots=True)
class LineField:
    """Nearest-line lookups for one frame, per line direction: for a point and a direction, the
    nearest line pixel whose own direction is within one bin of it (so a curve of the model is not
    pulled onto a straight line crossing it) and how far it is."""

    fields: tuple[_Nearest, ...]

    @classmethod
    def of(cls, points: np.ndarray, width: int, height: int) -> LineField:
        points = np.asarray(points, np.int32).reshape(-1, 3)
        fields = []
        for direction in range(DIRECTION_BINS):
            gap = np.abs(points[:, 2] - direction)
            similar = np.minimum(gap, DIRECTION_BINS - gap) <= 1
            fields.append(_Nearest.of(points[similar, :2], width, height))
        return cls(tuple(fields))

    @property
    def shape(self) -> tuple[int, int]:
        height, width = self.fields[0].distance.shape
        return height, width

    def lookup(self, xs: np.ndarray, ys: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per pixel (xs[i], ys[i]) seen along `directions[i]` (bin): the distance to the nearest
        line pixel of that direction and its (x, y)."""
        distance = np.full(len(xs), np.inf, np.float32)
        nearest = np.zeros((len(xs), 2), np.float32)
        for direction, field in enumerate(self.fields):
            chosen = directions == direction
            if chosen.any():
                distance[chosen] = field.distance[ys[chosen], xs[chosen]]
                nearest[chosen] = field.coordinates[field.labels[ys[chosen], xs[chosen]]]
        return distance, nearest


def project(homography: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 2) through a 3x3 homography; also which of them land in front (w > 0 after the
    homography is signed so that it maps the pitch centre in front)."""
    mapped = np.c_[points, np.ones(len(points))] @ homography.T
    w = mapped[:, 2]
    safe = np.where(np.abs(w) < 1e-12, 1e-12, w)
    return mapped[:, :2] / safe[:, None], w > 0


def weighted_homography(sources: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The homography mapping `sources` onto `targets` by weighted, normalised DLT (SVD)."""

    def normaliser(points: np.ndarray) -> np.ndarray:
        centre = points.mean(0)
        spread = np.mean(np.linalg.norm(points - centre, axis=1)) or 1.0
        s = np.sqrt(2) / spread
        return np.array([[s, 0, -s * centre[0]], [0, s, -s * centre[1]], [0, 0, 1.0]])

    source_norm, target_norm = normaliser(sources), normaliser(targets)
    s = np.c_[sources, np.ones(len(sources))] @ source_norm.T
    t = np.c_[targets, np.ones(len(targets))] @ target_norm.T
    zeros = np.zeros((len(s), 3))
    rows = np.vstack(
        [
            np.c_[s, zeros, -t[:, :1] * s] * weights[:, None],
            np.c_[zeros, s, -t[:, 1:2] * s] * weights[:, None],
        ]
    )
    _, _, vt = np.linalg.svd(rows, full_matrices=False)
    homography = np.linalg.inv(target_norm) @ vt[-1].reshape(3, 3) @ source_norm
    return homography / homography[2, 2]


def pitch_to_image(image_to_pitch: np.ndarray, width: int, height: int) -> np.ndarray:
    """The inverse homography, signed so that the grass in front of the camera maps with w > 0
    (`project`'s `in_front`): the bottom centre of a `width` x `height` frame is on the grass.
    (A plain inverse of a homography scaled to h33 = 1 is signed by whether the frame's top-left
    corner sees the grass, which it does not when the stands fill it.)"""
    inverse: np.ndarray = np.linalg.inv(image_to_pitch)
    ground = image_to_pitch @ [width / 2, height, 1.0]
    if ground[2] != 0 and (inverse @ (ground / ground[2]))[2] < 0:
        inverse = -inverse
    return inverse


def match(
    image_to_pitch: np.ndarray, field: LineField, region: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points of LINE_MODEL that `image_to_pitch` puts on the frame (and on `region` when given),
    each with the distance to the nearest line pixel of its direction and that pixel's (x, y)."""
    height, width = field.shape
    to_image = pitch_to_image(image_to_pitch, width, height)
    image_points, visible = project(to_image, LINE_MODEL)
    ahead, _ = project(to_image, LINE_MODEL + 0.25 * LINE_TANGENTS)
    x, y = image_points[:, 0], image_points[:, 1]
    visible &= (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
    xi, yi = np.round(x[visible]).astype(np.intp), np.round(y[visible]).astype(np.intp)
    pitch_points = LINE_MODEL[visible]
    step = ahead[visible] - image_points[visible]
    directions = direction_bins(np.arctan2(step[:, 1], step[:, 0]))
    if region is not None:
        on_grass = region[yi, xi]
        xi, yi, pitch_points, directions = (
            xi[on_grass],
            yi[on_grass],
            pitch_points[on_grass],
            directions[on_grass],
        )
    distance, nearest = field.lookup(xi, yi, directions)
    return pitch_points, distance, nearest


@dataclass(frozen=True, slots=True)
class Fit:
    homography: np.ndarray
    """Image to camera-frame metres."""
    matched: int
    """Model points paired with a line pixel in the last round."""
    error_px: float
    """Their median distance to it."""


def refine(
    image_to_pitch: np.ndarray,
    field: LineField,
    region: np.ndarray | None = None,
    start_radius: float = 10.0,
    rounds: int = 8,
    prior_weight: float = PRIOR_WEIGHT,
) -> Fit | None:
    """`image_to_pitch` re-anchored on the frame's line pixels; None when fewer than
    MIN_MATCHED_POINTS model points find a line pixel (too few lines in view)."""
    height, width = field.shape
    guess = image_to_pitch / image_to_pitch[2, 2]
    if (guess @ [width / 2, height, 1.0])[2] < 0:
        guess = -guess  # the grid's pixels on the grass `in_front` (see `pitch_to_image`)
    grid_x, grid_y = np.meshgrid(np.linspace(0.05, 0.95, 6) * width, np.linspace(0.3, 0.95, 5) * height)
    grid = np.c_[grid_x.ravel(), grid_y.ravel()]
    anchored, in_front = project(guess, grid)
    grid, anchored = grid[in_front], anchored[in_front]
    homography = guess
    fit: Fit | None = None
    for radius in np.linspace(start_radius, 3.0, rounds):
        pitch_points, distance, nearest = match(homography, field, region)
        near = distance < radius
        matched = int(near.sum())
        if matched < MIN_MATCHED_POINTS:
            return None
        sources = np.vstack([nearest[near], grid])
        targets = np.vstack([pitch_points[near], anchored])
        prior = prior_weight * np.sqrt(matched / max(1, len(grid)))
        weights = np.r_[np.ones(matched), np.full(len(grid), prior)]
        homography = weighted_homography(sources, targets, weights)
        fit = Fit(homography, matched, float(np.median(distance[near])))
    return fit


def as_array(homography: Sequence[Sequence[float]] | Sequence[float]) -> np.ndarray:
    return np.asarray(homography, np.float64).reshape(3, 3)
