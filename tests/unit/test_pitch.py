"""The pitch model, homographies and calibration from named points (pure domain maths)."""

from __future__ import annotations

import math

import pytest

from pitchlens.domain.pitch import (
    LANDMARKS,
    CalibrationPoint,
    Homography,
    InvalidCalibration,
    Orientation,
    calibrate,
    check_unfolded,
    on_pitch,
)

pytestmark = pytest.mark.unit

# A broadcast-like view of the pitch, 1280 x 720: pitch metres (camera frame) -> pixels.
PITCH_TO_IMAGE = Homography.of((12.0, 2.0, 640.0, 0.0, -5.0, 420.0, 0.0, 0.004, 1.0))
IMAGE_TO_PITCH = PITCH_TO_IMAGE.inverse()


def marked(*names: str, homography: Homography = PITCH_TO_IMAGE) -> list[CalibrationPoint]:
    return [CalibrationPoint(name, *homography.apply(*LANDMARKS[name])) for name in names]


CENTRE = (
    "centre_spot",
    "centre_circle_near",
    "centre_circle_far",
    "centre_circle_left",
    "centre_circle_right",
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("centre_spot", (0.0, 0.0)),
        ("halfway_near", (0.0, -34.0)),
        ("corner_left_far", (-52.5, 34.0)),
        ("penalty_spot_right", (41.5, 0.0)),
        ("box_left_near", (-36.0, -20.16)),
        ("six_right_far_goal_line", (52.5, 9.16)),
        ("arc_right_far", (36.0, math.sqrt(9.15**2 - 5.5**2))),
        ("arc_top_left", (-52.5 + 11 + 9.15, 0.0)),
    ],
)
def test_landmarks_are_where_the_laws_put_them(name: str, expected: tuple[float, float]) -> None:
    assert LANDMARKS[name] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("point", "inverse"),
    [((0.0, 0.0), (640.0, 420.0)), ((10.0, 5.0), None), ((-30.0, 20.0), None)],
)
def test_a_homography_and_its_inverse_undo_each_other(
    point: tuple[float, float], inverse: tuple[float, float] | None
) -> None:
    image = PITCH_TO_IMAGE.apply(*point)
    if inverse is not None:
        assert image == pytest.approx(inverse)
    assert IMAGE_TO_PITCH.apply(*image) == pytest.approx(point, abs=1e-9)
    assert PITCH_TO_IMAGE.then(IMAGE_TO_PITCH).apply(*point) == pytest.approx(point, abs=1e-9)


def test_solving_from_exact_points_recovers_the_homography() -> None:
    names = ["corner_left_near", "corner_right_near", "halfway_far", "box_left_far", "penalty_spot_right"]
    sources = [PITCH_TO_IMAGE.apply(*LANDMARKS[n]) for n in names]
    found = Homography.solve(sources, [LANDMARKS[n] for n in names])
    for a, b in zip(found.matrix, IMAGE_TO_PITCH.matrix, strict=True):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9)


def test_calibration_from_four_points_fits_every_landmark() -> None:
    calibration = calibrate(
        marked("centre_spot", "centre_circle_right", "halfway_far", "box_left_far"), 12, 1280, 720
    )
    assert calibration.frame_index == 12
    assert calibration.max_residual_m < 1e-6
    for name in ("corner_right_near", "penalty_spot_left", "arc_left_near"):
        x, y = calibration.homography.apply(*PITCH_TO_IMAGE.apply(*LANDMARKS[name]))
        assert (x, y) == pytest.approx(LANDMARKS[name], abs=1e-6)


BAD_INPUT = [
    (marked("centre_spot", "halfway_far", "box_left_far"), "at least 4"),
    (
        [*marked("centre_spot", "halfway_far", "box_left_far"), CalibrationPoint("goal_kick", 1, 1)],
        "unknown landmark goal_kick",
    ),
    (
        [*marked("centre_spot", "halfway_far", "box_left_far"), CalibrationPoint("halfway_near", 2000, 50)],
        "off the 1280x720 frame",
    ),
    (marked("centre_spot", "halfway_near", "halfway_far", "centre_circle_far"), "collinear on the pitch"),
    ([*marked("centre_spot", "halfway_far", "box_left_far"), *marked("centre_spot")], "more than once"),
]


@pytest.mark.parametrize(("points", "problem"), BAD_INPUT, ids=[b[1] for b in BAD_INPUT])
def test_bad_calibration_points_are_refused_naming_the_problem(
    points: list[CalibrationPoint], problem: str
) -> None:
    with pytest.raises(InvalidCalibration, match=problem):
        calibrate(points, 0, 1280, 720)


def test_points_collinear_on_the_frame_are_refused() -> None:
    points = [CalibrationPoint(n, 100.0 + 50 * i, 200.0 + 25 * i) for i, n in enumerate(CENTRE[1:])]
    with pytest.raises(InvalidCalibration, match="collinear on the frame"):
        calibrate(points, 0, 1280, 720)


def test_a_mirrored_pitch_is_refused() -> None:
    """Near and far swapped: the far touchline would lie below the near one."""
    swapped = {
        "halfway_far": "halfway_near",
        "box_left_far": "box_left_near",
        "centre_circle_far": "centre_circle_near",
    }
    points = [
        CalibrationPoint(swapped.get(p.name, p.name), p.x, p.y)
        for p in marked("centre_spot", "halfway_far", "box_left_far", "centre_circle_far")
    ]
    points += marked("penalty_spot_left")
    with pytest.raises(InvalidCalibration, match=r"mirrors|do not fit"):
        calibrate(points, 0, 1280, 720)


def test_a_misplaced_point_is_refused_by_name() -> None:
    points = marked(
        "centre_spot",
        "halfway_far",
        "box_left_far",
        "centre_circle_right",
        "box_left_near",
        "penalty_spot_left",
    )
    points[-1] = CalibrationPoint("penalty_spot_left", points[-1].x + 150, points[-1].y)
    with pytest.raises(InvalidCalibration, match="do not fit one pitch"):
        calibrate(points, 0, 1280, 720)


def test_a_horizon_across_the_bottom_of_the_frame_is_a_fold() -> None:
    folding = Homography.of((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.004, 0.0, -2.56))  # w = 0 at x = 640
    with pytest.raises(InvalidCalibration, match="folds"):
        check_unfolded(folding, 1280, 720)


def test_a_camera_panned_far_to_one_side_is_no_fold() -> None:
    """A camera at the halfway line panned to a goal has the far end of the pitch behind it."""
    panned = Homography.of((9.0, 6.0, 640.0, -1.0, -6.0, 300.0, -0.02, 0.009, 1.0))
    check_unfolded(panned.inverse(), 1280, 720)


@pytest.mark.parametrize(
    ("orientation", "camera", "match"),
    [
        (Orientation.HOME_ATTACKS_RIGHT, (30.0, -10.0), (30.0, -10.0)),
        (Orientation.HOME_ATTACKS_LEFT, (30.0, -10.0), (-30.0, 10.0)),
    ],
)
def test_orientation_turns_camera_metres_into_the_match_frame(
    orientation: Orientation, camera: tuple[float, float], match: tuple[float, float]
) -> None:
    assert orientation.to_match(*camera) == match


@pytest.mark.parametrize(
    ("x", "y", "margin", "inside"),
    [(0, 0, 0, True), (52.5, 34, 0, True), (53.0, 0, 0, False), (53.0, 0, 1.0, True), (0, -35.5, 1.0, False)],
)
def test_on_pitch(x: float, y: float, margin: float, inside: bool) -> None:
    assert on_pitch(x, y, margin) is inside
