"""PlayerFollower on synthetic tracks: players walking straight lines, each sighting with a kit colour."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pitchlens.domain.appearance import Appearance, AppearanceEncoder, Sighting
from pitchlens.domain.errors import PermanentError, PlayerNotTracked
from pitchlens.domain.following import FollowSettings, PlayerFollower
from pitchlens.domain.vision import BoundingBox, FrameTracks, TrackingFrame

pytestmark = pytest.mark.unit

WIDTH, HEIGHT = 16.0, 40.0


class Scene:
    """Per-frame tracks built from straight walks; remembers the kit colour of every box."""

    def __init__(self, frames: int, first_index: int = 0) -> None:
        self.first_index = first_index
        self.rows: list[list[tuple[int, tuple[float, float, float, float]]]] = [[] for _ in range(frames)]
        self.colours: dict[tuple[int, float, float], str] = {}

    def walk(
        self,
        track_id: int,
        colour: str,
        frames: range,
        start: tuple[float, float],
        velocity: tuple[float, float] = (2.0, 0.0),
        width: float = WIDTH,
    ) -> Scene:
        """A player whose foot point starts at `start` on `frames.start` and moves `velocity` a frame."""
        for time in frames:
            x = start[0] + velocity[0] * (time - frames.start)
            y = start[1] + velocity[1] * (time - frames.start)
            box = (x - width / 2, y - HEIGHT, x + width / 2, y)
            self.rows[time].append((track_id, box))
            self.colours[(self.first_index + time, round(box[0], 3), round(box[1], 3))] = colour
        return self

    def tracks(self) -> list[FrameTracks]:
        return [
            FrameTracks(
                self.first_index + time,
                [track_id for track_id, _ in row],
                [list(box) for _, box in row],
                [0.9] * len(row),
            )
            for time, row in enumerate(self.rows)
        ]

    def box(self, time: int, track_id: int) -> BoundingBox:
        return BoundingBox(*next(box for found, box in self.rows[time] if found == track_id))


class KitColours(AppearanceEncoder):
    """A sighting looks like its kit colour; the same colour is 1.0 alike, another 0.05."""

    def __init__(self, scene: Scene) -> None:
        self.colours = scene.colours
        self.calls = 0

    def describe(self, sightings: Sequence[Sighting]) -> list[Appearance | None]:
        self.calls += 1
        return [self.colours.get((s.frame_index, round(s.box.x1, 3), round(s.box.y1, 3))) for s in sightings]

    def similarity(self, first: Appearance, second: Appearance) -> float:
        return 1.0 if first == second else 0.05


def follow(
    scene: Scene, time: int, track_id: int, settings: FollowSettings | None = None
) -> list[TrackingFrame]:
    return PlayerFollower(settings).execute(
        scene.tracks(), KitColours(scene), scene.box(time, track_id), scene.first_index + time
    )


def ids(frames: list[TrackingFrame], times: range) -> set[int | None]:
    return {frames[time].track_id for time in times}


def test_follows_one_track_through_the_clip() -> None:
    scene = Scene(60).walk(1, "red", range(60), (100, 300)).walk(2, "white", range(60), (400, 300))

    frames = follow(scene, 30, 1)

    assert len(frames) == 60
    assert all(not f.lost and f.track_id == 1 and f.confidence == 0.9 for f in frames)
    assert frames[59].box == scene.box(59, 1)


def test_stitches_a_track_that_breaks_and_resumes_under_a_new_id() -> None:
    scene = (
        Scene(100)
        .walk(1, "red", range(40), (100, 300))
        .walk(7, "red", range(48, 100), (100 + 2 * 48, 300))
        .walk(2, "white", range(100), (100, 500))
    )

    frames = follow(scene, 10, 1)

    assert ids(frames, range(40)) == {1}
    assert ids(frames, range(48, 100)) == {7}
    gap = frames[40:48]
    assert all(not f.lost and f.track_id is None and f.confidence == 0.0 for f in gap)  # interpolated
    assert gap[4].box is not None and gap[4].box.foot_point == pytest.approx((188.0, 300.0))


def test_a_crossing_player_of_another_team_is_not_taken() -> None:
    # Red's track ends at 40 (occluded); a white player starts right where red was heading.
    scene = (
        Scene(100).walk(1, "red", range(41), (100, 300)).walk(3, "white", range(42, 100), (100 + 2 * 42, 300))
    )

    frames = follow(scene, 10, 1)

    assert all(f.lost for f in frames[41:])
    assert 3 not in ids(frames, range(100))
    assert frames[70].box == scene.box(40, 1)  # lost frames carry the last known box


def test_the_own_player_is_preferred_over_a_crossing_player_of_another_team() -> None:
    scene = (
        Scene(100)
        .walk(1, "red", range(41), (100, 300))
        .walk(3, "white", range(42, 100), (100 + 2 * 42, 300), velocity=(2.0, -1.0))
        .walk(4, "red", range(52, 100), (100 + 2 * 52, 303))
    )

    frames = follow(scene, 10, 1)

    assert ids(frames, range(52, 100)) == {4}
    assert not any(f.lost for f in frames)
    assert 3 not in ids(frames, range(100))


def test_a_gap_too_long_ends_the_following() -> None:
    settings = FollowSettings()
    resume = 31 + settings.max_gap + 10
    scene = (
        Scene(150)
        .walk(1, "red", range(31), (100, 300))
        .walk(5, "red", range(resume, 150), (100 + 2 * resume, 300))
    )

    frames = follow(scene, 10, 1, settings)

    assert all(f.lost and f.track_id is None for f in frames[31:])


def test_follows_backwards_from_a_later_frame() -> None:
    scene = (
        Scene(100, first_index=250)
        .walk(4, "red", range(45), (100, 300))
        .walk(9, "red", range(50, 100), (200, 300))
        .walk(2, "white", range(100), (300, 420), velocity=(-1.0, 0.0))
    )

    frames = follow(scene, 80, 9)

    assert [f.frame_index for f in frames] == list(range(250, 350))
    assert ids(frames, range(50, 100)) == {9}
    assert ids(frames, range(45)) == {4}
    assert not any(f.lost for f in frames)


def test_two_alike_candidates_where_the_player_vanished_are_ambiguous() -> None:
    # Two teammates appear symmetrically around where the player was heading: no guess.
    scene = (
        Scene(100)
        .walk(1, "red", range(41), (100, 300))
        .walk(5, "red", range(45, 100), (190, 285))
        .walk(6, "red", range(45, 100), (190, 315))
    )

    frames = follow(scene, 10, 1)

    assert all(f.lost for f in frames[41:])


def test_a_track_handed_over_to_a_player_of_another_team_is_cut() -> None:
    # The tracker moves id 1 onto a white player at frame 50; red carries on as track 6.
    scene = (
        Scene(100)
        .walk(1, "red", range(50), (100, 300))
        .walk(1, "white", range(50, 100), (200, 300), velocity=(0.0, 3.0))
        .walk(6, "red", range(52, 100), (100 + 2 * 52, 300))
    )

    frames = follow(scene, 10, 1)

    assert ids(frames, range(45)) == {1}
    assert ids(frames, range(52, 100)) == {6}
    assert not any(f.lost for f in frames)


def test_a_track_found_again_on_a_teammate_is_not_trusted() -> None:
    # The tracker loses id 1 and re-finds it on a teammate far away; the player is track 3.
    scene = (
        Scene(100)
        .walk(1, "red", range(41), (100, 300))
        .walk(1, "red", range(50, 100), (300, 380), velocity=(0.0, -1.0))
        .walk(3, "red", range(46, 100), (100 + 2 * 46, 300))
    )

    frames = follow(scene, 10, 1)

    assert ids(frames, range(41)) == {1}
    assert ids(frames, range(46, 100)) == {3}


def test_a_box_holding_two_players_does_not_cut_the_track() -> None:
    # Frames 31-45: a green player runs alongside, the detector gives one wide box for both.
    scene = Scene(100).walk(1, "white", range(31), (100, 300))
    scene.walk(1, "white+green", range(31, 46), (162, 300), width=2.2 * WIDTH)
    scene.walk(1, "white", range(46, 100), (192, 300))

    frames = follow(scene, 10, 1)

    assert ids(frames, range(100)) == {1}
    assert not any(f.lost for f in frames)


def test_a_duplicate_track_that_takes_over_is_followed() -> None:
    scene = (
        Scene(100)
        .walk(1, "red", range(61), (100, 300))
        .walk(2, "red", range(40, 100), (100 + 2 * 40 + 2, 300), width=WIDTH + 6)
    )

    frames = follow(scene, 10, 1)

    assert ids(frames, range(61)) == {1}
    assert ids(frames, range(61, 100)) == {2}


def test_a_player_the_tracker_alternates_with_a_wider_box_is_followed_to_his_own_track() -> None:
    # From frame 40 the detector alternates between a box on red alone (track 2, odd frames) and a
    # wider one holding red and a neighbour (track 1, even frames); then track 1 dies. Track 2 began
    # long before that, but it was on red all along: it takes over.
    scene = Scene(100).walk(1, "red", range(40), (100, 300))
    scene.walk(1, "red", range(40, 61, 2), (100 + 2 * 40 + 10, 300), width=2.2 * WIDTH)
    scene.walk(2, "red", range(41, 61, 2), (100 + 2 * 41, 300))
    scene.walk(2, "red", range(61, 100), (100 + 2 * 61, 300))

    frames = follow(scene, 10, 1)

    assert ids(frames, range(40)) == {1}
    assert ids(frames, range(61, 100)) == {2}
    assert not any(f.lost for f in frames)


def test_a_track_near_the_player_that_is_somebody_else_does_not_take_over() -> None:
    # Track 2 ran beside red (never on him) for 20 frames before red's track ended: a neighbour.
    scene = (
        Scene(100)
        .walk(1, "red", range(61), (100, 300))
        .walk(2, "red", range(40, 100), (100 + 2 * 40 + 1.5 * WIDTH, 300))
    )

    frames = follow(scene, 10, 1)

    assert ids(frames, range(61)) == {1}
    assert all(f.lost for f in frames[61:])


def test_a_lookalike_that_turns_up_later_does_not_veto_a_clear_continuation() -> None:
    # Red is lost at 50 and picked up at 53 by track 2, right where he was heading. A teammate
    # (track 3) appears at 75 near where red was predicted to be by then, while track 2 still has
    # him: track 2 already tells where red is, so track 3 is no rival.
    scene = (
        Scene(100)
        .walk(1, "red", range(51), (100, 300))
        .walk(2, "red", range(53, 100), (100 + 2 * 53, 300))
        .walk(3, "red", range(75, 90), (100 + 2 * 75 + 18, 300), velocity=(0.0, 0.0))
    )

    frames = follow(scene, 10, 1)

    assert ids(frames, range(51)) == {1}
    assert ids(frames, range(53, 100)) == {2}


def test_a_track_that_starts_just_after_the_chosen_frame_is_selected() -> None:
    scene = Scene(40).walk(1, "red", range(2, 40), (100, 300))
    chosen = BoundingBox(100 - WIDTH / 2, 300 - HEIGHT, 100 + WIDTH / 2, 300)

    frames = PlayerFollower().execute(scene.tracks(), KitColours(scene), chosen, 0)

    assert [f.lost for f in frames[:2]] == [True, True]
    assert ids(frames, range(2, 40)) == {1}


def test_no_track_under_the_chosen_box_is_an_error() -> None:
    scene = Scene(20).walk(1, "red", range(20), (100, 300))

    with pytest.raises(PlayerNotTracked) as raised:
        PlayerFollower().execute(scene.tracks(), KitColours(scene), BoundingBox(400, 100, 420, 140), 5)

    assert isinstance(raised.value, PermanentError)  # a 422 at the API, a FAILED job in a queue


def test_a_frame_outside_the_tracks_is_an_error() -> None:
    scene = Scene(20).walk(1, "red", range(20), (100, 300))

    with pytest.raises(PlayerNotTracked):
        PlayerFollower().execute(scene.tracks(), KitColours(scene), scene.box(0, 1), 99)


def test_appearance_is_asked_once_per_clip() -> None:
    scene = Scene(100).walk(1, "red", range(40), (100, 300)).walk(7, "red", range(48, 100), (196, 300))
    appearance = KitColours(scene)

    PlayerFollower().execute(scene.tracks(), appearance, scene.box(10, 1), 10)

    assert appearance.calls == 1


def test_settings_count_the_same_time_at_50_or_60_fps() -> None:
    tuned = FollowSettings()
    assert tuned.at_rate(25.0) is tuned and tuned.at_rate(29.97) is tuned
    fast = tuned.at_rate(60.0)
    assert (fast.max_gap, fast.interpolate_gap, fast.max_inner_gap) == (90, 40, 10)
    assert fast.max_speed == pytest.approx(tuned.max_speed / 2) and fast.gate_base == tuned.gate_base
    assert tuned.at_rate(50.0).max_gap == 75
    assert PlayerFollower().at_rate(60.0)._settings == fast
