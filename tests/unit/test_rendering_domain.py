"""Rendering rules of the domain: smoothing the followed boxes, preset sizes, checking a selection,
what the minimap shows."""

from __future__ import annotations

import pytest

from pitchlens.domain.rendering import (
    PRESETS,
    InvalidSelection,
    PitchPositions,
    check_selection,
    pitch_positions,
    smooth_followed,
)
from pitchlens.domain.vision import BoundingBox, FrameTracks, TrackingFrame

pytestmark = pytest.mark.unit


def seen(index: int, x: float) -> TrackingFrame:
    return TrackingFrame(index, BoundingBox(x, 10, x + 10, 30), 0.9)


def lost(index: int) -> TrackingFrame:
    return TrackingFrame(index, None, 0.0, lost=True)


def test_smoothing_averages_jitter_within_a_run() -> None:
    jittery = [seen(i, 100 + (4 if i % 2 else -4)) for i in range(20)]
    smoothed = smooth_followed(jittery, radius=3)
    middle = [frame.box.x1 for frame in smoothed[3:-3] if frame.box]
    assert max(middle) - min(middle) < 2 < 8  # +-4 px of jitter becomes less than 2 px of wobble
    assert [f.frame_index for f in smoothed] == list(range(20))


def test_smoothing_keeps_a_steady_motion_and_the_ends_of_a_run() -> None:
    walking = [seen(i, 3.0 * i) for i in range(10)]
    smoothed = smooth_followed(walking, radius=3)
    assert [f.box.x1 for f in smoothed if f.box] == pytest.approx([3.0 * i for i in range(10)])


def test_smoothing_never_crosses_a_lost_frame_or_a_gap() -> None:
    frames = [seen(0, 0), seen(1, 0), lost(2), seen(3, 100), seen(4, 100), seen(6, 500), seen(7, 500)]
    smoothed = smooth_followed(frames, radius=3)
    assert [f.box.x1 if f.box else None for f in smoothed] == [0, 0, None, 100, 100, 500, 500]
    assert smoothed[2].lost and smoothed[2].box is None


def test_lost_frames_lose_their_last_known_box() -> None:
    frames = [seen(0, 0), TrackingFrame(1, BoundingBox(0, 0, 1, 1), 0.0, lost=True)]
    assert smooth_followed(frames)[1].box is None


@pytest.mark.parametrize(
    ("preset", "source", "expected"),
    [
        ("preview", (1920, 1080), (1280, 720)),
        ("preview", (3840, 2160), (1280, 720)),
        ("preview", (1280, 720), (1280, 720)),
        ("preview", (848, 478), (1278, 720)),  # aspect kept, even width
        ("final", (848, 478), (848, 478)),
        ("final", (1921, 1081), (1920, 1080)),  # yuv420p needs even sizes
    ],
)
def test_preset_sizes(preset: str, source: tuple[int, int], expected: tuple[int, int]) -> None:
    assert PRESETS[preset].output_size(*source) == expected


def test_preset_frame_rates() -> None:
    assert PRESETS["preview"].output_fps(59.94) == 30
    assert PRESETS["final"].output_fps(59.94) == 59.94


def test_a_selection_inside_the_frame_becomes_a_box() -> None:
    assert check_selection([1, 2, 30, 40], 0, 64, 48, 10) == BoundingBox(1, 2, 30, 40)


@pytest.mark.parametrize(
    ("box", "frame", "message"),
    [
        ([0, 0, 65, 10], 0, "outside the 64x48 frame"),
        ([10, 10, 5, 20], 0, "empty box"),
        ([float("nan"), 0, 5, 5], 0, "finite"),
        ([0, 0, 5, 5], -1, "outside the clip"),
        ([0, 0, 5, 5], 10, "frame 10 is outside the clip"),
        ([0, 0, 5], 0, "four numbers"),
    ],
)
def test_bad_selections_say_what_is_wrong(box: list[float], frame: int, message: str) -> None:
    with pytest.raises(InvalidSelection, match=message):
        check_selection(box, frame, 64, 48, 10)


NAN = float("nan")


def placed(index: int, xy: list[tuple[float, float]] | None, on: list[bool] | None = None) -> FrameTracks:
    """Frame `index` with people 1, 2, 3 ... at `xy` (metres; None: not placed), teams white, green,
    other, ..."""
    count = 3 if xy is None else len(xy)
    teams = ["white", "green", "other", None][:count]
    boxes = [[10.0 * k, 0.0, 10.0 * k + 5, 10.0] for k in range(count)]
    return FrameTracks(
        index, list(range(1, count + 1)), boxes, [0.9] * count, on, teams, xy, None if xy is None else 0
    )


def follows(track_id: int | None, frames: int) -> list[TrackingFrame]:
    box = BoundingBox(0, 0, 5, 10)
    if track_id is None:
        return [TrackingFrame(i, None, 0.0, lost=True) for i in range(frames)]
    return [TrackingFrame(i, box, 0.9, track_id=track_id) for i in range(frames)]


@pytest.mark.parametrize(
    ("frame", "followed", "expected"),
    [
        # everybody on the pitch with metres; the followed one marked by his index
        (
            placed(0, [(0.0, 0.0), (10.0, -5.0), (-40.0, 20.0)]),
            2,
            PitchPositions(
                0, ((0.0, 0.0), (10.0, -5.0), (-40.0, 20.0)), ("white", "green", "other"), 1, True
            ),
        ),
        # people off the pitch are left out, the followed player is kept wherever he stands
        (
            placed(0, [(0.0, 0.0), (54.0, 0.0), (-40.0, 36.0)], on=[True, False, False]),
            3,
            PitchPositions(0, ((0.0, 0.0), (-40.0, 36.0)), ("white", "other"), 1, True),
        ),
        # lost: nobody highlighted
        (
            placed(0, [(0.0, 0.0), (10.0, -5.0)]),
            None,
            PitchPositions(0, ((0.0, 0.0), (10.0, -5.0)), ("white", "green"), None, True),
        ),
        # a frame without a homography: no metres, no dots, not calibrated
        (placed(0, [(NAN, NAN), (NAN, NAN)]), 1, PitchPositions(0, calibrated=False)),
        # a clip that was never placed
        (placed(0, None), 1, PitchPositions(0, calibrated=False)),
    ],
)
def test_the_minimap_shows_people_on_the_pitch_with_metres(
    frame: FrameTracks, followed: int | None, expected: PitchPositions
) -> None:
    assert pitch_positions([frame], follows(followed, 1)) == [expected]


def test_an_empty_frame_keeps_the_calibration_state_of_the_frame_before() -> None:
    empty = lambda i: FrameTracks(i, [], [], [])  # noqa: E731
    tracks = [empty(0), placed(1, [(1.0, 2.0)]), empty(2), placed(3, [(NAN, NAN)]), empty(4)]
    found = pitch_positions(tracks, follows(1, 5))
    assert [p.calibrated for p in found] == [True, True, True, False, False]
    assert [p.xy for p in found] == [(), ((1.0, 2.0),), (), (), ()]
    assert [p.followed for p in found] == [None, 0, None, None, None]
    never = pitch_positions([empty(0), placed(1, [(NAN, NAN)])], follows(None, 2))
    assert [p.calibrated for p in never] == [False, False]
