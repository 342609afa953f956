"""Calibrating a processed clip from marked landmarks (CalibrationRequester -> ClipCalibrator), with
fakes: bad points refused before anything is stored, good ones place the clip's people in metres."""

from __future__ import annotations

import math
from typing import Any

import pytest
import typer

from pitchlens.application.clip_calibrator import CalibrationRequester, ClipCalibrator, calibration_window
from pitchlens.application.player_placer import PlayerPlacer
from pitchlens.domain.camera import CameraView, PitchCamera
from pitchlens.domain.jobs import JobKind, JobStatus
from pitchlens.domain.messages import CalibrationRequested, Delivery
from pitchlens.domain.pitch import LANDMARKS, Homography, InvalidCalibration
from pitchlens.domain.rendering import ClipNotReady
from pitchlens.domain.vision import Clip, ClipStatus, FrameTracks, VideoInfo
from pitchlens.runtime.cli.video import parse_point
from tests.fakes import vision as fakes
from tests.fakes.adapters import FakeClock, FakeDatabase, FakeObjectStorage, FakePublisher, FakeUnitOfWork
from tests.fakes.vision import FakePitchArea, FakeTeams, FakeTrajectoryStore, FakeVideoReader, FakeVideoStore

pytestmark = pytest.mark.unit

FRAMES = 30
TRAJECTORIES = "s3://tracking-data/tracking/m1/c1/trajectories.parquet"
PITCH_TO_IMAGE = Homography.of((12.0, 2.0, 640.0, 0.0, -5.0, 420.0, 0.0, 0.004, 1.0))
"""A broadcast-like view of a 1280 x 720 frame: camera-frame metres -> pixels."""


def marked(*names: str) -> list[tuple[str, float, float]]:
    return [(name, *PITCH_TO_IMAGE.apply(*LANDMARKS[name])) for name in names]


GOOD = marked("centre_spot", "centre_circle_far", "box_left_near", "penalty_spot_right", "halfway_far")
[SHIFTED] = marked("box_right_near")


class StillCamera(fakes.StillCamera):
    """The fakes' still camera over the 1280 x 720 frames of the broadcast-like view."""

    SIZE = (1280, 720)


@pytest.fixture
def database() -> FakeDatabase:
    database = FakeDatabase()
    now = FakeClock().now()
    database.clips["c1"] = Clip(
        "c1",
        "m1",
        "s3://videos/m1/clip.mp4",
        ClipStatus.PERSISTED,
        now,
        now,
        info=VideoInfo(1280, 720, 25.0, FRAMES, FRAMES / 25, "h264"),
        trajectories_uri=TRAJECTORIES,
    )
    return database


def requester(
    database: FakeDatabase, publisher: FakePublisher, max_frames: int = 1000
) -> CalibrationRequester:
    return CalibrationRequester(lambda: FakeUnitOfWork(database), publisher, FakeClock(), max_frames)


@pytest.mark.parametrize(
    ("frame", "points", "problem"),
    [
        (0, GOOD[:3], "at least 4 landmarks"),
        (0, [*GOOD[:3], ("penalty_spot_middle", 600.0, 400.0)], "unknown landmark penalty_spot_middle"),
        (0, [*GOOD[:3], ("halfway_near", 2000.0, 900.0)], "off the 1280x720 frame"),
        (0, marked("centre_spot", "centre_circle_near", "centre_circle_far", "halfway_far"), "collinear"),
        (0, [*GOOD, ("box_right_near", SHIFTED[1] + 120, SHIFTED[2])], "do not fit one pitch"),
        (FRAMES, GOOD, "outside the clip"),
    ],
)
def test_bad_points_are_refused_naming_the_problem_and_nothing_is_stored(
    database: FakeDatabase, frame: int, points: list[tuple[str, float, float]], problem: str
) -> None:
    publisher = FakePublisher()
    with pytest.raises(InvalidCalibration, match=problem):
        requester(database, publisher).execute("c1", frame, points, "corr")
    assert not database.jobs and not publisher.sent


def test_a_folding_fit_is_refused() -> None:
    # The near and far touchlines swapped: the pitch would be seen from below.
    mirrored = Homography.of((12.0, -2.0, 640.0, 0.0, 5.0, 420.0, 0.0, -0.004, 1.0))
    database = FakeDatabase()
    now = FakeClock().now()
    info = VideoInfo(1280, 720, 25.0, FRAMES, FRAMES / 25, "h264")
    database.clips["c1"] = Clip(
        "c1", "m1", "s3://v/c.mp4", ClipStatus.PERSISTED, now, now, info, trajectories_uri=TRAJECTORIES
    )
    names = ("centre_spot", "box_left_near", "penalty_spot_right", "halfway_far", "box_right_far")
    points = [(name, *mirrored.apply(*LANDMARKS[name])) for name in names]
    with pytest.raises(InvalidCalibration, match=r"mirrors|folds"):
        requester(database, FakePublisher()).execute("c1", 0, points, "corr")


def placed_on_the_centre_spot() -> FakeTrajectoryStore:
    """The clip's trajectories as tracked: one red player on the centre spot all clip long, on the
    pitch, no metres yet; a cut at frame 10."""
    trajectories = FakeTrajectoryStore()
    feet = PITCH_TO_IMAGE.apply(0.0, 0.0)
    box = [feet[0] - 10, feet[1] - 60, feet[0] + 10, feet[1]]
    nowhere = [(float("nan"), float("nan"))]
    trajectories.published[TRAJECTORIES] = [
        FrameTracks(i, [1], [box], [0.9], [True], ["red"], nowhere, shot=0 if i < 10 else 10)
        for i in range(FRAMES)
    ]
    return trajectories


class SeesThePitch(StillCamera):
    """A still camera that calibrates itself from its lines on frames 10 and later (the first
    shot shows no lines)."""

    def calibrate(self, view: CameraView) -> Homography | None:
        return PITCH_TO_IMAGE.inverse() if view.frame_index >= 10 else None


def test_a_clip_calibrated_automatically_gets_metres_in_every_shot_its_lines_fit(
    database: FakeDatabase,
) -> None:
    trajectories = placed_on_the_centre_spot()
    publisher = FakePublisher()
    job = requester(database, publisher).automatic("c1", "corr")
    [(message, _, key)] = publisher.sent
    assert isinstance(message, CalibrationRequested) and message.automatic and message.points == ()
    assert job.source == "automatic"
    calibrator(database, trajectories, camera=SeesThePitch).execute(message, Delivery("corr", key, 1, 3))

    done = database.jobs[job.job_id]
    assert done.status is JobStatus.SUCCEEDED and done.outputs["placed_frames"] == f"0-{FRAMES - 1}"
    assert done.counts["rows_with_metres"] == FRAMES - 10
    assert "frames 0-9: no pitch lines fitted" in (done.reason or "")
    [placed] = [tracks for uri, tracks in trajectories.staged.items() if uri.endswith("calibrated.parquet")]
    for frame in placed:
        ((x, y),) = frame.pitch_xy or []
        if frame.frame_index >= 10:
            assert (x, y) == pytest.approx((0.0, 0.0), abs=1e-6)
        else:
            assert math.isnan(x)


def test_an_automatic_calibration_of_a_match_is_refused_naming_what_to_do(database: FakeDatabase) -> None:
    with pytest.raises(InvalidCalibration, match="PITCHLENS_AUTOMATIC_CALIBRATION"):
        requester(database, FakePublisher(), max_frames=FRAMES - 1).automatic("c1", "corr")


def test_an_unprocessed_clip_is_refused(database: FakeDatabase) -> None:
    database.clips["c1"] = Clip(
        "c1", "m1", "s3://v/c.mp4", ClipStatus.TRACKED, FakeClock().now(), FakeClock().now()
    )
    with pytest.raises(ClipNotReady, match="once it is processed"):
        requester(database, FakePublisher()).execute("c1", 0, GOOD, "corr")


def test_a_calibrated_clip_gets_its_people_in_metres_in_the_match_frame(database: FakeDatabase) -> None:
    publisher, trajectories = FakePublisher(), FakeTrajectoryStore()
    # Player 1 stands on the centre spot, player 2 on the right penalty spot, all clip long.
    feet = {1: PITCH_TO_IMAGE.apply(0.0, 0.0), 2: PITCH_TO_IMAGE.apply(41.5, 0.0)}
    boxes = [[x - 10, y - 60, x + 10, y] for x, y in feet.values()]
    trajectories.published[TRAJECTORIES] = [FrameTracks(i, [1, 2], boxes, [0.9, 0.9]) for i in range(FRAMES)]

    job, calibration = requester(database, publisher).execute("c1", 12, GOOD, "corr", "home_attacks_left")
    assert calibration.max_residual_m < 1e-6 and job.kind is JobKind.CALIBRATE
    [(message, _, key)] = publisher.sent
    assert isinstance(message, CalibrationRequested) and key == job.job_id

    calibrator(database, trajectories, max_frames=1000).execute(message, Delivery("corr", key, 1, 3))

    done = database.jobs[job.job_id]
    assert done.status is JobStatus.SUCCEEDED and done.counts["rows_with_metres"] == 2 * FRAMES
    [(uri, placed)] = [(u, t) for u, t in trajectories.staged.items() if u.endswith("calibrated.parquet")]
    assert trajectories.pitch_sources[uri] == "manual" and trajectories.pitch_reasons[uri] is None
    for frame in placed:
        assert frame.pitch_xy is not None
        (x1, y1), (x2, y2) = frame.pitch_xy
        # The home team attacks the left goal: the match frame is the camera frame turned round.
        assert (x1, y1, x2, y2) == pytest.approx((0.0, 0.0, -41.5, 0.0), abs=1e-6)
        assert list(frame.teams or []) == ["white", "green"]


def calibrator(
    database: FakeDatabase,
    trajectories: FakeTrajectoryStore,
    max_frames: int = 1000,
    camera: type[PitchCamera] = StillCamera,
) -> ClipCalibrator:
    storage = FakeObjectStorage()
    storage.put("videos", "m1/clip.mp4", str(FRAMES).encode())
    placer = PlayerPlacer(FakePitchArea(), camera, FakeTeams, automatic_calibration=False)
    return ClipCalibrator(
        lambda: FakeUnitOfWork(database),
        FakeVideoStore(storage),
        FakeVideoReader(),
        trajectories,
        placer,
        FakeClock(),
        max_frames,
    )


@pytest.mark.parametrize(
    ("shots", "frame", "max_frames", "expected"),
    [
        ([0, 100, 300], 150, 1000, range(100, 300)),  # the marked frame's shot
        ([0, 100, 300], 150, 50, range(125, 175)),  # a long shot: the window around the frame
        ([0, 100, 300], 105, 50, range(100, 150)),  # ... kept inside the shot
        ([0, 100, 300], 299, 50, range(250, 300)),
        ([0, 100, 300], 900, 5000, range(300, 1000)),  # the last shot ends with the clip
        ([], 400, 100, range(350, 450)),  # cuts never looked for: the clip is one shot
    ],
)
def test_a_calibration_places_the_marked_frames_shot_at_most_max_frames_of_it(
    shots: list[int], frame: int, max_frames: int, expected: range
) -> None:
    tracks = [
        FrameTracks(i, [1], [[0, 0, 1, 1]], [0.9], shot=max((s for s in shots if s <= i), default=None))
        for i in range(1000)
    ]
    assert calibration_window(tracks, frame, 1000, max_frames) == expected


def test_a_placed_match_calibrated_on_one_frame_gets_metres_in_that_window_only(
    database: FakeDatabase,
) -> None:
    """Tracks already placed (on the pitch, teams, shots) keep all that; only the marked frame's
    shot, at most max_frames of it, is read again and put in metres; other frames stay as they were."""
    trajectories = placed_on_the_centre_spot()
    publisher = FakePublisher()
    job, _ = requester(database, publisher).execute("c1", 12, GOOD, "corr")
    [(message, _, key)] = publisher.sent
    assert isinstance(message, CalibrationRequested)
    calibrator(database, trajectories, max_frames=8).execute(message, Delivery("corr", key, 1, 3))

    done = database.jobs[job.job_id]
    assert done.status is JobStatus.SUCCEEDED
    assert done.outputs["placed_frames"] == "10-17" and done.counts["frames_placed"] == 8
    assert done.counts["rows_with_metres"] == 8
    [placed] = [tracks for uri, tracks in trajectories.staged.items() if uri.endswith("calibrated.parquet")]
    assert [f.frame_index for f in placed] == list(range(FRAMES))  # every frame, once
    for frame in placed:
        ((x, y),) = frame.pitch_xy or []
        if 10 <= frame.frame_index <= 17:
            assert (x, y) == pytest.approx((0.0, 0.0), abs=1e-6)
        else:
            assert math.isnan(x) and math.isnan(y)
        assert list(frame.teams or []) == ["red"] and list(frame.on_pitch or []) == [True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("centre_spot=424,260", ("centre_spot", 424.0, 260.0)), (" box_left_near = 1.5,2 ", None)],
)
def test_cli_points_are_name_equals_x_comma_y(text: str, expected: tuple[str, float, float] | None) -> None:
    if expected is None:
        assert parse_point(text) == ("box_left_near", 1.5, 2.0)
    else:
        assert parse_point(text) == expected


@pytest.mark.parametrize("text", ["centre_spot", "centre_spot=424", "=1,2", "centre_spot=a,b", "x=1,2,3"])
def test_cli_points_not_name_equals_x_comma_y_are_refused(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="not NAME=x,y"):
        parse_point(text)


def test_the_api_answers_bad_points_with_422_naming_the_problem_and_good_ones_with_the_fit() -> None:
    from fastapi.testclient import TestClient

    from pitchlens.infrastructure.http.app import create_app
    from tests.fakes.system import FakeSystem

    system = FakeSystem()
    now = system.clock.now()
    info = VideoInfo(1280, 720, 25.0, FRAMES, FRAMES / 25, "h264")
    system.database.clips["c1"] = Clip(
        "c1", "m1", "s3://v/c.mp4", ClipStatus.PERSISTED, now, now, info, trajectories_uri=TRAJECTORIES
    )
    api = TestClient(create_app(lambda: system), raise_server_exceptions=False)

    def post(points: list[tuple[str, float, float]]) -> Any:
        body = {"frame_index": 0, "points": [{"name": n, "x": x, "y": y} for n, x, y in points]}
        return api.post("/api/v1/clips/c1/calibration", json=body)

    few = post(GOOD[:3])
    assert few.status_code == 422 and "at least 4 landmarks" in few.json()["detail"]
    unknown = post([*GOOD[:3], ("spot", 1.0, 1.0)])
    assert unknown.status_code == 422 and "unknown landmark spot" in unknown.json()["detail"]
    accepted = post(GOOD)
    assert accepted.status_code == 202, accepted.text
    assert set(accepted.json()["residuals_m"]) == {name for name, _, _ in GOOD}
    assert api.get("/api/v1/pitch/landmarks").json()["centre_spot"] == [0.0, 0.0]
    automatic = api.post("/api/v1/clips/c1/calibration", json={"automatic": True})
    assert automatic.status_code == 202 and automatic.json()["homography"] is None, automatic.text
    both = api.post(
        "/api/v1/clips/c1/calibration",
        json={"automatic": True, "points": [{"name": n, "x": x, "y": y} for n, x, y in GOOD]},
    )
    assert both.status_code == 422 and "not both" in both.json()["detail"]
