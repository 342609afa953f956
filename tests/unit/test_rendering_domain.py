"""Rendering rules of the domain: smoothing the followed boxes, preset sizes, checking a selection."""

from __future__ import annotations

import pytest

from pitchlens.domain.rendering import PRESETS, InvalidSelection, check_selection, smooth_followed
from pitchlens.domain.vision import BoundingBox, TrackingFrame

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
