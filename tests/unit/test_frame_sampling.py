"""Which frames are tracked, how the others get boxes, and the decode size (domain/frame_sampling)."""

from __future__ import annotations

import math

import pytest

from pitchlens.domain.frame_sampling import (
    fill_between,
    fit_within,
    is_tracked,
    to_every_frame,
    to_source,
    tracked_count,
    tracking_step,
)
from pitchlens.domain.vision import FrameTracks

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("fps", "max_fps", "step"),
    [
        (25.0, 30.0, 1),
        (29.97, 30.0, 1),
        (30.0, 30.0, 1),
        (30.2, 30.0, 1),  # within the 1 % tolerance
        (31.0, 30.0, 2),
        (50.0, 30.0, 2),  # tracked at 25
        (59.94, 30.0, 2),
        (60.0, 30.0, 2),
        (90.0, 30.0, 3),
        (120.0, 30.0, 4),
        (60.0, 60.0, 1),
        (60.0, None, 1),  # no limit
        (60.0, 0.0, 1),
    ],
)
def test_tracking_step_keeps_the_rate_at_or_under_the_limit(
    fps: float, max_fps: float | None, step: int
) -> None:
    assert tracking_step(fps, max_fps) == step


@pytest.mark.parametrize(
    ("start", "stop", "step", "tracked"),
    [
        (0, 7, 1, [0, 1, 2, 3, 4, 5, 6]),
        (0, 7, 2, [0, 2, 4, 6]),
        (0, 8, 2, [0, 2, 4, 6, 7]),  # the last frame, so that no frame is left after the last tracked one
        (3, 10, 2, [3, 4, 6, 8, 9]),  # the first frame, then the grid of absolute multiples
        (5, 6, 3, [5]),
        (0, 10, 4, [0, 4, 8, 9]),
    ],
)
def test_tracked_frames_are_the_grid_plus_both_ends(
    start: int, stop: int, step: int, tracked: list[int]
) -> None:
    assert [i for i in range(start, stop) if is_tracked(i, start, stop, step)] == tracked
    assert tracked_count(start, stop, step) == len(tracked)


def test_tracked_count_matches_is_tracked_everywhere() -> None:
    for step in range(1, 6):
        for start in range(12):
            for stop in range(start + 1, start + 25):
                expected = sum(is_tracked(i, start, stop, step) for i in range(start, stop))
                assert tracked_count(start, stop, step) == expected, (start, stop, step)


def test_frames_between_get_the_tracks_seen_on_both_sides_interpolated() -> None:
    before = FrameTracks(
        10, [1, 2, 3], [(0, 0, 10, 20), (100, 0, 110, 20), (50, 50, 60, 70)], [0.5, 0.9, 0.8]
    )
    after = FrameTracks(14, [3, 1, 4], [(58, 50, 68, 70), (4, 8, 14, 28), (0, 0, 1, 1)], [0.4, 0.7, 0.9])

    filled = fill_between(before, after)

    assert [f.frame_index for f in filled] == [11, 12, 13]
    # Tracks 1 and 3 are on both frames, in `before`'s order; 2 ended and 4 began: neither between.
    assert [list(f.track_ids) for f in filled] == [[1, 3]] * 3
    assert filled[1].boxes[0] == pytest.approx((2, 4, 12, 24))
    assert filled[0].boxes[1] == pytest.approx((52, 50, 62, 70))
    assert filled[2].confidences == pytest.approx([0.65, 0.5])


@pytest.mark.parametrize("gap", [0, 1])
def test_adjacent_frames_have_nothing_between(gap: int) -> None:
    frame = FrameTracks(5, [1], [(0, 0, 1, 1)], [0.5])
    assert fill_between(frame, FrameTracks(5 + gap, [1], [(0, 0, 1, 1)], [0.5])) == []


@pytest.mark.parametrize(
    ("width", "height", "max_side", "size"),
    [
        (3840, 2160, 1152, (1152, 648)),
        (1920, 1080, 1152, (1152, 648)),
        (1280, 720, 1152, (1152, 648)),
        (1152, 648, 1152, (1152, 648)),
        (848, 478, 1152, (848, 478)),  # never up
        (2160, 3840, 1152, (648, 1152)),  # portrait: the longer side is the height
        (4096, 2160, 640, (640, 338)),  # even sides
    ],
)
def test_fit_within_shrinks_to_the_longer_side(
    width: int, height: int, max_side: int, size: tuple[int, int]
) -> None:
    assert fit_within(width, height, max_side) == size


def test_boxes_found_on_a_smaller_frame_go_back_to_source_pixels() -> None:
    tracks = FrameTracks(3, [7], [(10, 20, 30, 60)], [0.9])

    assert to_source(tracks, 1.0, 1.0) is tracks
    scaled = to_source(tracks, 3840 / 1152, 2160 / 648)
    assert (scaled.frame_index, list(scaled.track_ids), list(scaled.confidences)) == (3, [7], [0.9])
    assert scaled.boxes[0] == pytest.approx((33.333, 66.667, 100.0, 200.0), abs=1e-3)


def test_placed_frames_keep_their_placement_when_scaled_and_filled() -> None:
    # Placed in the decoded frame's pixels on the tracked frames (every second one of a 50 fps
    # video), then brought to source pixels on every frame: flags, teams and shot carried from the
    # frame before, metres interpolated like the boxes.
    seen = [
        FrameTracks(
            0, [1, 2], [(0, 0, 10, 20), (50, 0, 60, 20)], [0.5, 0.9],
            on_pitch=[True, False], teams=["white", None], shot=0,
            pitch_xy=[(0.0, 0.0), (math.nan, math.nan)],
        ),
        FrameTracks(
            2, [1], [(4, 0, 14, 20)], [0.7],
            on_pitch=[True], teams=["white"], pitch_xy=[(2.0, -1.0)], shot=0,
        ),
    ]  # fmt: skip

    every = to_every_frame(seen, (2.0, 2.0))

    assert [f.frame_index for f in every] == [0, 1, 2]
    assert every[0].boxes[1] == pytest.approx((100, 0, 120, 40)) and every[0].teams == ["white", None]
    middle = every[1]
    assert list(middle.track_ids) == [1] and middle.boxes[0] == pytest.approx((4, 0, 24, 40))
    assert (middle.on_pitch, middle.teams, middle.shot) == ([True], ["white"], 0)
    assert middle.pitch_xy is not None and middle.pitch_xy[0] == pytest.approx((1.0, -0.5))
    assert every[2].pitch_xy == [(2.0, -1.0)] and every[2].on_pitch == [True]


def test_unplaced_frames_stay_unplaced_when_filled() -> None:
    every = to_every_frame(
        [FrameTracks(0, [1], [(0, 0, 1, 1)], [0.5]), FrameTracks(2, [1], [(2, 0, 3, 1)], [0.5])]
    )
    assert (every[1].on_pitch, every[1].teams, every[1].pitch_xy, every[1].shot) == (None, None, None, None)
