"""Automatic calibration: a frame's image-to-pitch homography from its pitch lines alone (the fit of
the 105 x 68 line model, `pitch_lines.LINE_MODEL`, in camera-frame metres). numpy / OpenCV.

The camera is taken to be a broadcast main camera: on a gantry behind the near touchline, near the
halfway line (|x| <= `MAX_CAMERA_X` m), some 5-60 m up and 5-90 m back, panned, tilted down and
zoomed, hardly rolled (`MAX_ROLL`), its principal point the frame's centre. Such a pose gives a
homography of the ground plane; the fit is a search over poses, scored against the line pixels,
then a free refinement of the homography:

1. coarse: every pose of a grid (`CAMERA_SPOTS`, fields of view `FIELDS_OF_VIEW`, pan and tilt in
   steps of a fraction of the view, the picture's centre on or near the pitch; ~22,000 poses)
   projects every 8th model point; a point scores by how close it lands to a line pixel of its
   direction (truncated linear, `COARSE_TOLERANCE` of the frame's width), less `MISS_PENALTY` where
   none is near, weighted by the picture length it stands for (distance maps `COARSE_WIDTH` wide);
2. the best `CANDIDATES` distinct poses are improved by a pattern search over the pose (x,
   distance, height, pan, tilt, zoom, roll) while the tolerance narrows (`SEARCH_TOLERANCES`);
3. each is refined by `pitch_lines.refine` (iterative closest points from a radius of
   `START_RADIUS` of the width, a weak pull to the pose, then `POLISH_ROUNDS` more), which frees
   all eight degrees of the homography;
4. the best-scoring refined fit is taken when it is the pitch: median distance of the matched
   points to their lines <= `MAX_ERROR_PX`, at least `MIN_MATCHED` model points matched and at
   least `MIN_MATCHED_SHARE` of those in view, the matched points spread in both directions of
   the pitch (not one line: `MIN_SPREAD_M`), `pitch.check_unfolded` passes, and a main camera
   explains the refined homography (`MAX_CAMERA_ERROR`: lines that leave the free fit a degree of
   freedom, such as the centre circle and one touchline, let it bend onto a wrong pitch).

Measured (2026-12-02, 2 busy cores): ~1.1-1.9 s of CPU per frame tried; on the shared clips' frames
it finds the pitch or nothing (README "Players on the pitch").

The pitch is symmetric: from the lines of one half alone its left and right halves (or near and
far touchlines) cannot be told apart. The camera model decides: it stands behind the near
touchline near the halfway line, so a picture of a penalty area is of the left one when the camera
pans left to see it (pan < 0) and of the right one when it pans right, and the touchline nearer the
camera is the near one. A camera elsewhere (behind a goal, on the far side) is not modelled: its
frames are mis-sided or not calibrated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from pitchlens.domain import pitch as model
from pitchlens.domain.camera import CameraView
from pitchlens.domain.pitch import Homography, InvalidCalibration, check_unfolded
from pitchlens.infrastructure.vision import pitch_lines

CAMERA_SPOTS = ((14.0, 30.0), (20.0, 45.0), (30.0, 30.0))
"""(height, distance behind the near touchline) in metres where the coarse search puts the camera
(the pattern search then moves it 5-60 m up, 5-90 m back)."""
MAX_CAMERA_X = 20.0
FIELDS_OF_VIEW = tuple(np.radians(np.geomspace(8.0, 70.0, 10)))
"""Horizontal fields of view tried (radians): from a close-up to the widest main-camera shot."""
PAN_STEPS_PER_VIEW = 7
TILT_STEPS_PER_VIEW = 9
MAX_PAN = np.radians(65.0)
MAX_ROLL = np.radians(4.0)
COARSE_WIDTH = 320
COARSE_SAMPLE = 8
FINE_SAMPLE = 2
COARSE_TOLERANCE = 0.06
SEARCH_TOLERANCES = (0.06, 0.03, 0.012)
"""Tolerances (share of the width) the pattern search narrows through (the last on full maps)."""
MISS_PENALTY = 0.3
CANDIDATES = 6
START_RADIUS = 0.025
REFINE_PRIOR = 0.1
POLISH_ROUNDS = 3
MAX_ERROR_PX = 2.5
MIN_MATCHED = 120
"""Model points (every 0.5 m of line) matched: 60 m of line seen."""
MIN_MATCHED_SHARE = 0.4
MIN_SPREAD_M = 3.0
"""The matched model points' spread (standard deviation) across their main direction: lines in
two directions or a curve, not one straight line."""
MAX_CAMERA_ERROR = 0.03
"""The refined homography as a main camera's (share of the width, see `_camera_error`): the
free fit may bend one line onto another when the lines leave it a degree of freedom."""
MIN_LINE_PIXELS = pitch_lines.MIN_MATCHED_POINTS


def calibrate_from_lines(view: CameraView) -> np.ndarray | None:
    """The image-to-pitch homography (3 x 3, camera-frame metres) of a view from its pitch lines
    (`view.lines`: x, y, direction bin rows, as `pitch_lines.line_pixels` finds them); None when
    they do not show the pitch clearly enough (see the module docstring)."""
    lines = np.asarray(view.lines, np.int32).reshape(-1, 3)
    return _LineFit(lines, view.width, view.height).run()


# Pose columns: camera x, distance behind the near touchline, height, pan, tilt, log(field of view),
# roll (0 in the coarse grid, within MAX_ROLL in the search: a gantry camera is levelled, nearly).
_X, _DISTANCE, _HEIGHT, _PAN, _TILT, _FOV, _ROLL = range(7)
_LOW = np.array([-MAX_CAMERA_X, 5.0, 5.0, -MAX_PAN, np.radians(1.0), np.log(np.radians(4.0)), -MAX_ROLL])
_HIGH = np.array([MAX_CAMERA_X, 90.0, 60.0, MAX_PAN, np.radians(70.0), np.log(np.radians(90.0)), MAX_ROLL])


def camera_homographies(poses: np.ndarray, width: int, height: int) -> np.ndarray:
    """(n, 3, 3) homographies from camera-frame metres on the grass to pixels, one per pose row."""
    poses = np.atleast_2d(poses)
    x, distance, up, pan, tilt, fov, roll = (poses[:, i] for i in range(7))
    focal = (width / 2) / np.tan(np.exp(fov) / 2)
    sp, cp, st, ct = np.sin(pan), np.cos(pan), np.sin(tilt), np.cos(tilt)
    zero = np.zeros_like(pan)
    right = np.stack([cp, -sp, zero], 1)
    down = np.stack([-st * sp, -st * cp, -ct], 1)
    forward = np.stack([sp * ct, cp * ct, -st], 1)
    sr, cr = np.sin(roll)[:, None], np.cos(roll)[:, None]
    right, down = cr * right + sr * down, cr * down - sr * right
    rotation = np.stack([right, down, forward], 1)  # rows: the camera's axes in pitch metres
    centre = np.stack([x, -(model.HALF_WIDTH + distance), up], 1)
    ground = np.concatenate([rotation[:, :, :2], -(rotation @ centre[:, :, None])], 2)
    intrinsics = np.zeros((len(poses), 3, 3))
    intrinsics[:, 0, 0] = intrinsics[:, 1, 1] = focal
    intrinsics[:, 0, 2], intrinsics[:, 1, 2], intrinsics[:, 2, 2] = width / 2, height / 2, 1.0
    result: np.ndarray = intrinsics @ ground
    return result


@dataclass(frozen=True, slots=True)
class _DistanceMaps:
    """Per direction bin: the distance (full-frame pixels) to the nearest line pixel within
    `spread` bins of it, on a copy `factor` times the frame's size."""

    maps: np.ndarray
    factor: float

    @classmethod
    def of(cls, lines: np.ndarray, width: int, height: int, factor: float, spread: int) -> _DistanceMaps:
        size = (max(1, round(height * factor)), max(1, round(width * factor)))
        xs = np.clip(np.round(lines[:, 0] * factor).astype(np.intp), 0, size[1] - 1)
        ys = np.clip(np.round(lines[:, 1] * factor).astype(np.intp), 0, size[0] - 1)
        maps = np.empty((pitch_lines.DIRECTION_BINS, *size), np.float32)
        for direction in range(pitch_lines.DIRECTION_BINS):
            gap = np.abs(lines[:, 2] - direction)
            similar = np.minimum(gap, pitch_lines.DIRECTION_BINS - gap) <= spread
            free = np.ones(size, np.uint8)
            free[ys[similar], xs[similar]] = 0
            # capped: with no pixel of a direction OpenCV answers the float maximum everywhere
            maps[direction] = np.minimum(cv2.distanceTransform(free, cv2.DIST_L2, 3), 1e6) / factor
        return cls(maps, factor)


def _pattern_search(pose: np.ndarray, score: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The pose improved by a pattern search: each parameter moved by its step both ways, the best
    move taken, the steps halved when none improves `score` (higher is better, per pose row)."""
    fov = np.exp(pose[_FOV])
    steps = np.array([4.0, 8.0, 4.0, fov / 8, fov / 10, 0.1, np.radians(1.0)])
    current = pose.copy()
    best = score(current[None])[0]
    for _ in range(40):
        moves = np.clip(np.vstack([np.diag(steps), -np.diag(steps)]) + current, _LOW, _HIGH)
        scores = score(moves)
        chosen = int(np.argmax(scores))
        if scores[chosen] > best:
            current, best = moves[chosen], scores[chosen]
        else:
            steps = steps / 2
            if steps[_FOV] < 0.005:
                break
    return current


class _LineFit:
    def __init__(self, lines: np.ndarray, width: int, height: int) -> None:
        self.lines, self.width, self.height = lines, width, height

    def run(self) -> np.ndarray | None:
        if len(self.lines) < MIN_LINE_PIXELS:
            return None
        coarse = _DistanceMaps.of(self.lines, self.width, self.height, COARSE_WIDTH / self.width, 2)
        fine = _DistanceMaps.of(self.lines, self.width, self.height, min(1.0, 640 / self.width), 1)
        poses = self._grid()
        scores = self._score(poses, coarse, COARSE_SAMPLE, COARSE_TOLERANCE)
        field = pitch_lines.LineField.of(self.lines, self.width, self.height)
        best: tuple[float, np.ndarray] | None = None
        for pose in self._distinct(poses, scores):
            for tolerance in SEARCH_TOLERANCES:
                maps, sample = (fine, FINE_SAMPLE) if tolerance < 0.02 else (coarse, COARSE_SAMPLE)
                pose = self._search(pose, maps, sample, tolerance)
            found = self._refined(pose, field, fine)
            if found is not None and (best is None or found[0] > best[0]):
                best = found
        return None if best is None else best[1]

    def _grid(self) -> np.ndarray:
        rows = []
        for up, distance in CAMERA_SPOTS:
            for fov in FIELDS_OF_VIEW:
                pans = np.arange(-MAX_PAN, MAX_PAN + 1e-9, fov / PAN_STEPS_PER_VIEW)
                tilts = np.arange(np.radians(2.0), np.radians(60.0), fov / TILT_STEPS_PER_VIEW)
                pan, tilt = (a.ravel() for a in np.meshgrid(pans, tilts))
                reach = up / np.tan(tilt)  # where the picture's centre meets the grass
                look_x = reach * np.sin(pan)
                look_y = -(model.HALF_WIDTH + distance) + reach * np.cos(pan)
                keep = (np.abs(look_x) < model.HALF_LENGTH + 10) & (np.abs(look_y) < model.HALF_WIDTH + 10)
                count = int(keep.sum())
                rows.append(
                    np.c_[
                        np.zeros(count),
                        np.full(count, distance),
                        np.full(count, up),
                        pan[keep],
                        tilt[keep],
                        np.full(count, np.log(fov)),
                        np.zeros(count),
                    ]
                )
        return np.vstack(rows)

    def _score(self, poses: np.ndarray, maps: _DistanceMaps, sample: int, tolerance: float) -> np.ndarray:
        scores = np.empty(len(poses))
        for start in range(0, len(poses), 2048):
            homographies = camera_homographies(poses[start : start + 2048], self.width, self.height)
            scores[start : start + 2048] = self._score_homographies(homographies, maps, sample, tolerance)
        return scores

    def _score_homographies(
        self, homographies: np.ndarray, maps: _DistanceMaps, sample: int, tolerance: float
    ) -> np.ndarray:
        """Per pitch-to-image homography: the picture length (px) of model lines landing on a line
        pixel of their direction, less MISS_PENALTY times that of those landing on none."""
        points = pitch_lines.LINE_MODEL[::sample]
        tangents = pitch_lines.LINE_TANGENTS[::sample]
        spacing = 0.5 * sample
        ones = np.ones((len(points), 1))
        here = np.c_[points, ones].T
        ahead = np.c_[points + 0.5 * tangents, ones].T
        limit = tolerance * self.width
        a, b = homographies @ here, homographies @ ahead
        wa, wb = a[:, 2], b[:, 2]
        front = (wa > 1e-6) & (wb > 1e-6)
        wa, wb = np.where(front, wa, 1.0), np.where(front, wb, 1.0)
        x, y = a[:, 0] / wa, a[:, 1] / wa
        dx, dy = b[:, 0] / wb - x, b[:, 1] / wb - y
        inside = front & (x >= 0) & (x <= self.width - 1) & (y >= 0) & (y <= self.height - 1)
        length = np.minimum(np.hypot(dx, dy) * (spacing / 0.5), 0.1 * self.width)
        direction = pitch_lines.direction_bins(np.arctan2(dy, dx))
        map_height, map_width = maps.maps.shape[1:]
        xi = np.clip((x * maps.factor).astype(np.intp), 0, map_width - 1)
        yi = np.clip((y * maps.factor).astype(np.intp), 0, map_height - 1)
        distance = maps.maps[direction, yi, xi]
        close = np.clip(1.0 - distance / limit, 0.0, 1.0)
        gain = close - MISS_PENALTY * (1.0 - close)
        scores: np.ndarray = np.where(inside, gain * length, 0.0).sum(1)
        return scores

    @staticmethod
    def _distinct(poses: np.ndarray, scores: np.ndarray) -> list[np.ndarray]:
        """The `CANDIDATES` best-scoring poses, none near a better one (pan and tilt within 0.3 of
        its field of view, the zoom within a third)."""
        chosen: list[np.ndarray] = []
        for index in np.argsort(-scores):
            if scores[index] <= 0 or len(chosen) == CANDIDATES:
                break
            pose = poses[index]
            near = any(
                abs(pose[_PAN] - other[_PAN]) < 0.3 * np.exp(other[_FOV])
                and abs(pose[_TILT] - other[_TILT]) < 0.3 * np.exp(other[_FOV])
                and abs(pose[_FOV] - other[_FOV]) < 0.3
                for other in chosen
            )
            if not near:
                chosen.append(pose)
        return chosen

    def _search(self, pose: np.ndarray, maps: _DistanceMaps, sample: int, tolerance: float) -> np.ndarray:
        return _pattern_search(pose, lambda poses: self._score(poses, maps, sample, tolerance))

    def _camera_error(self, homography: np.ndarray, pose: np.ndarray) -> float:
        """How far (median px) the nearest main-camera pose to `homography` (image to pitch)
        puts the grass pixels of a grid over the frame: a free homography that no camera of the
        model explains (skewed, or one line tilted to fit) is not the pitch."""
        xs, ys = np.meshgrid(np.linspace(0.05, 0.95, 7) * self.width, np.linspace(0.1, 0.95, 6) * self.height)
        grid = np.c_[xs.ravel(), ys.ravel()]
        # signed so that the bottom centre of the frame, on the grass, is in front
        signed = homography if (homography @ [self.width / 2, self.height, 1.0])[2] > 0 else -homography
        on_grass, in_front = pitch_lines.project(signed, grid)
        keep = in_front & (np.abs(on_grass[:, 0]) < model.HALF_LENGTH + 5)
        keep &= np.abs(on_grass[:, 1]) < model.HALF_WIDTH + 5
        grid, on_grass = grid[keep], on_grass[keep]
        if len(grid) < 6:
            return np.inf
        targets = np.c_[on_grass, np.ones(len(grid))].T

        def errors(poses: np.ndarray) -> np.ndarray:
            mapped = camera_homographies(poses, self.width, self.height) @ targets
            w = np.where(mapped[:, 2] > 1e-6, mapped[:, 2], np.nan)
            gap = np.hypot(mapped[:, 0] / w - grid[:, 0], mapped[:, 1] / w - grid[:, 1])
            return np.nan_to_num(np.median(gap, axis=1), nan=1e9)

        nearest = _pattern_search(pose, lambda poses: -errors(poses))
        return float(errors(nearest[None])[0])

    def _refined(
        self, pose: np.ndarray, field: pitch_lines.LineField, maps: _DistanceMaps
    ) -> tuple[float, np.ndarray] | None:
        """The pose's homography refined on the lines, with its score, when it is the pitch."""
        guess = np.linalg.inv(camera_homographies(pose, self.width, self.height)[0])
        fit = pitch_lines.refine(
            guess, field, start_radius=START_RADIUS * self.width, rounds=10, prior_weight=REFINE_PRIOR
        )
        if fit is None:
            return None
        for _ in range(POLISH_ROUNDS):  # each pass pulls towards the last one's fit, not the pose's
            polished = pitch_lines.refine(fit.homography, field)
            if polished is None:
                break
            fit = polished
        if fit.error_px > MAX_ERROR_PX or fit.matched < MIN_MATCHED:
            return None
        try:
            check_unfolded(Homography.of(fit.homography.ravel().tolist()), self.width, self.height)
        except (InvalidCalibration, ValueError, ZeroDivisionError):
            return None
        pitch_points, distance, _ = pitch_lines.match(fit.homography, field)
        matched = pitch_points[distance < 3.0]
        if len(matched) < MIN_MATCHED or len(matched) < MIN_MATCHED_SHARE * len(pitch_points):
            return None
        spread = np.sqrt(np.linalg.eigvalsh(np.cov(matched.T))[0])
        if spread < MIN_SPREAD_M or self._camera_error(fit.homography, pose) > MAX_CAMERA_ERROR * self.width:
            return None
        to_image = pitch_lines.pitch_to_image(fit.homography, self.width, self.height)
        score = self._score_homographies(to_image[None], maps, FINE_SAMPLE, SEARCH_TOLERANCES[-1])
        return float(score[0]), fit.homography
