"""Automatic calibration on synthetic views: the line model seen through a known broadcast camera
(points dropped, shifted, people's boxes cut out, clutter added) gives that camera's homography
back; a view with too few lines gives none."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("cv2", reason="needs the `vision` extra (opencv-python-headless)")

from pitchlens.domain.camera import CameraView
from pitchlens.domain.pitch import LANDMARKS
from pitchlens.domain.vision import FrameTracks
from pitchlens.infrastructure.vision import pitch_lines
from pitchlens.infrastructure.vision.auto_calibration import calibrate_from_lines, camera_homographies

pytestmark = pytest.mark.unit

WIDTH, HEIGHT = 1280, 720
MAX_MEDIAN_ERROR_M = 0.5
MAX_ERROR_M = 2.5
"""At the landmarks in view (pitch.LANDMARKS), between where they are and where the homography found
puts their pixels: the median, and the largest (a far corner, a pixel there is ~0.5 m)."""


def camera(x: float, distance: float, height: float, pan: float, tilt: float, fov: float) -> np.ndarray:
    """Pitch-to-image homography of a main camera (angles in degrees)."""
    pose = np.array([x, distance, height, np.radians(pan), np.radians(tilt), np.log(np.radians(fov)), 0.0])
    return camera_homographies(pose, WIDTH, HEIGHT)[0]


def seen(
    to_image: np.ndarray, keep: float = 0.6, clutter: int = 300, seed: int = 7, only: np.ndarray | None = None
) -> np.ndarray:
    """Line pixels (x, y, direction bin) of the model (its points `only` when given) through
    `to_image`: a share `keep` of the points, moved up to 1 px, none inside three people's boxes,
    plus `clutter` random pixels."""
    random = np.random.default_rng(seed)
    # The lines painted every 0.1 m (the model has a point every 0.5 m), as a frame shows them.
    along = np.arange(0.0, 0.5, 0.1)
    model = (pitch_lines.LINE_MODEL[:, None] + along[:, None] * pitch_lines.LINE_TANGENTS[:, None]).reshape(
        -1, 2
    )
    tangents = np.repeat(pitch_lines.LINE_TANGENTS, len(along), 0)
    only = None if only is None else np.repeat(only, len(along))
    points, in_front = pitch_lines.project(to_image, model)
    ahead, _ = pitch_lines.project(to_image, model + 0.25 * tangents)
    step = ahead - points
    directions = pitch_lines.direction_bins(np.arctan2(step[:, 1], step[:, 0]))
    points = points + random.uniform(-1, 1, points.shape)
    inside = in_front & (points[:, 0] >= 4) & (points[:, 0] < WIDTH - 4)
    inside &= (points[:, 1] >= 4) & (points[:, 1] < HEIGHT - 4)
    inside &= random.random(len(points)) < keep
    if only is not None:
        inside &= only
    for x, y in ((400, 300), (700, 420), (900, 250)):  # people standing on lines
        inside &= ~((abs(points[:, 0] - x) < 20) & (abs(points[:, 1] - y) < 50))
    lines = np.unique(np.c_[np.round(points[inside]), directions[inside]].astype(np.int32), axis=0)
    if len(lines) > pitch_lines.MAX_LINE_POINTS:  # evenly subsampled, as `line_pixels` keeps them
        lines = lines[np.linspace(0, len(lines) - 1, pitch_lines.MAX_LINE_POINTS).astype(np.intp)]
    noise = np.c_[
        random.integers(0, WIDTH, clutter),
        random.integers(HEIGHT // 4, HEIGHT, clutter),
        random.integers(0, pitch_lines.DIRECTION_BINS, clutter),
    ]
    return np.vstack([lines, noise]).astype(np.int16)


def landmark_errors(found: np.ndarray, truth_to_image: np.ndarray) -> np.ndarray:
    """Per landmark in view: the distance (m) between where it is and where `found` (image to
    pitch) puts its pixel."""
    landmarks = np.array(list(LANDMARKS.values()))
    pixels, in_front = pitch_lines.project(truth_to_image, landmarks)
    seen_here = in_front & (pixels[:, 0] >= 0) & (pixels[:, 0] < WIDTH)
    seen_here &= (pixels[:, 1] >= 0) & (pixels[:, 1] < HEIGHT)
    placed, _ = pitch_lines.project(found, pixels[seen_here])
    return np.asarray(np.linalg.norm(placed - landmarks[seen_here], axis=1))


@pytest.mark.parametrize(
    ("case", "pose"),
    [
        ("wide, the left half", (0.0, 36.0, 18.0, -12.0, 14.0, 45.0)),
        ("wide, the right half", (2.0, 36.0, 18.0, 12.0, 14.0, 45.0)),
        ("closer, the centre circle", (0.0, 36.0, 18.0, 3.0, 13.0, 30.0)),
        ("a higher, nearer camera, the right half", (-3.0, 28.0, 26.0, 9.0, 20.0, 42.0)),
    ],
)
def test_the_camera_is_found_from_the_lines(case: str, pose: tuple[float, ...]) -> None:
    truth = camera(*pose)
    found = calibrate_from_lines(CameraView(0, WIDTH, HEIGHT, None, seen(truth)))
    assert found is not None, case
    errors = landmark_errors(found, truth)
    assert len(errors) >= 4, case
    assert np.median(errors) <= MAX_MEDIAN_ERROR_M and errors.max() <= MAX_ERROR_M, (case, errors.round(2))


def test_a_view_of_one_line_or_none_is_not_calibrated() -> None:
    truth = camera(0.0, 30.0, 22.0, 0.0, 9.0, 25.0)
    far_touchline = np.isclose(pitch_lines.LINE_MODEL[:, 1], 34.0)
    one_line = seen(truth, keep=1.0, clutter=0, only=far_touchline)
    assert len(one_line) > 200
    assert calibrate_from_lines(CameraView(0, WIDTH, HEIGHT, None, one_line)) is None
    assert calibrate_from_lines(CameraView(0, WIDTH, HEIGHT, None, np.zeros((0, 3), np.int16))) is None
    clutter = seen(truth, keep=0.0, clutter=600)
    assert calibrate_from_lines(CameraView(0, WIDTH, HEIGHT, None, clutter)) is None


def test_the_tracking_placer_calibrates_from_the_lines_only_when_the_setting_is_on() -> None:
    import cv2

    from pitchlens.infrastructure.bootstrap import Container
    from pitchlens.infrastructure.settings import Settings

    truth = camera(0.0, 36.0, 18.0, 3.0, 13.0, 30.0)
    picture = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    picture[:] = (40, 140, 40)  # grass
    for x, y, _ in seen(truth, keep=1.0, clutter=0):
        cv2.circle(picture, (int(x), int(y)), 1, (235, 235, 235), -1)  # painted lines, ~3 px wide
    tracks = [FrameTracks(index, [1], [[600.0, 420.0, 630.0, 500.0]], [0.9]) for index in range(3)]
    foot = pitch_lines.project(np.linalg.inv(truth), np.array([[615.0, 500.0]]))[0][0]

    placed = Container(Settings(automatic_calibration=True)).player_placer.execute(
        tracks, ((index, picture) for index in range(3))
    )
    assert placed.path.source == "automatic" and placed.reason is None
    assert all(math.dist(xy, foot) < 0.5 for frame in placed.tracks for xy in frame.pitch_xy or [])

    unplaced = Container(Settings()).player_placer.execute(tracks, ((index, picture) for index in range(3)))
    assert unplaced.path.source is None and unplaced.reason is not None
