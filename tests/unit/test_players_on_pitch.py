"""Players on the pitch, with fakes: who is offered for following, the follower's team rule, the
placement pass (on-pitch judged every few frames, tracks split at cuts) and the reason for missing
pitch coordinates."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from pitchlens.application.followable_players import followable_players
from pitchlens.application.player_placer import NOT_CALIBRATED, PitchSummary, PlacementPass
from pitchlens.domain.camera import CameraView, PitchArea, PitchCamera, follow_camera
from pitchlens.domain.following import PlayerFollower
from pitchlens.domain.pitch import Homography
from pitchlens.domain.vision import BoundingBox, Clip, ClipStatus, FrameTracks, VideoInfo
from tests.fakes.vision import FakeTeams, FakeTrajectoryStore, SameLook

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def processed(tracks: list[FrameTracks]) -> tuple[Clip, FakeTrajectoryStore]:
    store = FakeTrajectoryStore()
    uri = "s3://tracking-data/tracking/m/c/trajectories.parquet"
    store.published[uri] = tracks
    info = VideoInfo(100, 100, 25.0, 10, 0.4, "h264")
    clip = Clip("c", "m", "s3://videos/c.mp4", ClipStatus.PERSISTED, NOW, NOW, info, trajectories_uri=uri)
    return clip, store


def test_people_off_the_pitch_are_not_offered_unless_asked() -> None:
    frame = FrameTracks(
        0,
        [4, 5, 6],
        [[60, 10, 70, 40], [5, 10, 15, 40], [30, 10, 40, 40]],
        [0.9, 0.8, 0.7],
        on_pitch=[True, False, True],
        teams=["white", None, "green"],
    )
    clip, store = processed([frame])

    offered = followable_players(clip, store)
    everybody = followable_players(clip, store, include_all=True)

    assert [(p.number, p.track_id, p.team) for p in offered.players] == [(1, 6, "green"), (2, 4, "white")]
    assert [(p.number, p.on_pitch) for p in everybody.players] == [(1, False), (2, True), (3, True)]
    assert offered.numbered(2).track_id == everybody.numbered(3).track_id == 4
    with pytest.raises(LookupError, match="players: 1, 2"):
        offered.numbered(3)


def test_a_clip_never_placed_offers_everybody() -> None:
    clip, store = processed([FrameTracks(0, [1, 2], [[5, 10, 15, 40], [30, 10, 40, 40]], [0.9, 0.8])])
    assert [(p.number, p.on_pitch, p.team) for p in followable_players(clip, store).players] == [
        (1, None, None),
        (2, None, None),
    ]


def hand_over(teams: tuple[str | None, str | None]) -> list[FrameTracks]:
    """Track 1 runs right and ends on frame 9; track 2 starts on frame 10 exactly where it would be."""
    frames = []
    for time in range(20):
        x = 10.0 + 2.0 * time
        box = [x - 8, 60.0, x + 8, 100.0]
        track, team = (1, teams[0]) if time < 10 else (2, teams[1])
        frames.append(FrameTracks(time, [track], [box], [0.9], [True], [team]))
    return frames


@pytest.mark.parametrize(
    ("teams", "followed_to_the_end"),
    [
        (("white", "white"), True),
        (("white", "green"), False),
        (("white", "other"), False),
        (("white", None), True),  # the kit never seen: motion and looks decide
    ],
)
def test_the_follower_never_continues_with_another_teams_player(
    teams: tuple[str | None, str | None], followed_to_the_end: bool
) -> None:
    tracks = hand_over(teams)
    followed = PlayerFollower().execute(tracks, SameLook(), BoundingBox(2, 60, 18, 100), 0)
    assert not followed[5].lost and followed[5].track_id == 1
    assert (followed[15].track_id == 2 and not followed[15].lost) is followed_to_the_end


class CountingArea(PitchArea):
    """On the pitch when the box's left edge is >= 0; counts the frames it judged."""

    def __init__(self) -> None:
        self.judged: list[int] = []

    def on_pitch(self, image: Any, boxes: Sequence[Sequence[float]]) -> list[bool]:
        self.judged.append(int(image))
        return [float(box[0]) >= 0 for box in boxes]


class CutAt(PitchCamera):
    """A still camera with one cut; never calibrated."""

    def __init__(self, cut: int) -> None:
        self.cut = cut

    def observe(self, frame_index: int, image: Any, boxes: Sequence[Sequence[float]]) -> CameraView:
        return CameraView(frame_index, 100, 100, Homography.identity(), None)

    def cuts(self) -> list[int]:
        return [self.cut]

    def reanchor(self, view: CameraView, guess: Homography) -> Homography | None:
        return None

    def calibrate(self, view: CameraView) -> Homography | None:
        return None


def test_the_placement_pass_judges_every_few_frames_splits_at_cuts_and_says_why_there_are_no_metres() -> None:
    area = CountingArea()
    placing = PlacementPass(area, CutAt(12), FakeTeams(), judge_every=5)
    tracks = []
    for index in range(20):
        ids = [1, 2] if index < 7 else [1, 2, 3]  # track 3 is new on frame 7: judged at once
        boxes = [[10, 10, 20, 40], [-5, 10, 5, 40], [50, 10, 60, 40]][: len(ids)]
        tracks.append(FrameTracks(index, ids, boxes, [0.9] * len(ids)))
        placing.see(index, index, tracks[-1])

    placed = placing.place(tracks)

    assert area.judged == [0, 5, 7, 12, 17]
    assert placed.cuts == (12,)
    assert [f.shot for f in placed.tracks] == [0] * 12 + [12] * 8
    assert [list(f.track_ids) for f in placed.tracks[11:13]] == [[1, 2, 3], [4, 5, 6]]
    assert [list(f.on_pitch or []) for f in placed.tracks[11:13]] == [[True, False, True]] * 2
    assert [list(f.teams or []) for f in placed.tracks[11:13]] == [["white", None, "white"]] * 2
    assert all(math.isnan(x) for f in placed.tracks for x, _ in f.pitch_xy or [])
    assert placed.reason is not None and "no manual calibration" in placed.reason
    assert PitchSummary(placed.tracks).reason == NOT_CALIBRATED
    assert PitchSummary([FrameTracks(0, [1], [[0, 0, 1, 1]], [0.9])]).reason is not None
    assert (
        PitchSummary([FrameTracks(0, [1], [[0, 0, 1, 1]], [0.9], [True], ["white"], [(1.0, 2.0)])]).reason
        is None
    )


class CalibratedAfter(CutAt):
    """A still camera with one cut whose second shot the pitch lines calibrate."""

    VIEW = Homography.of((12.0, 2.0, 50.0, 0.0, -5.0, 80.0, 0.0, 0.004, 1.0)).inverse()
    """Image to pitch of a 100 x 100 frame seen from behind the near touchline."""

    def calibrate(self, view: CameraView) -> Homography | None:
        return self.VIEW if view.frame_index >= self.cut else None


def test_a_shot_without_manual_points_is_calibrated_from_the_lines_and_says_so() -> None:
    tracks = [FrameTracks(index, [1], [[40, 40, 50, 70]], [0.9]) for index in range(20)]

    def placed(anchors: dict[int, Homography], automatic: bool = True) -> Any:
        placing = PlacementPass(CountingArea(), CalibratedAfter(12), FakeTeams())
        for frame in tracks:
            placing.see(frame.frame_index, frame.frame_index, frame)
        return placing.place(tracks, anchors, automatic=automatic)

    automatic = placed({})
    assert [(s.source, s.anchor) for s in automatic.path.shots] == [(None, None), ("automatic", 15)]
    assert automatic.path.source == "automatic" and "frames 0-11" in (automatic.reason or "")
    assert all(math.isnan(x) for f in automatic.tracks[:12] for x, _ in f.pitch_xy or [])
    assert not any(math.isnan(x) for f in automatic.tracks[12:] for x, _ in f.pitch_xy or [])
    both = placed({3: CalibratedAfter.VIEW})  # manual points win in their shot
    assert both.path.source == "frames 0-11: manual; frames 12-19: automatic" and both.reason is None
    assert placed({3: CalibratedAfter.VIEW}, automatic=False).path.source == "manual"
    assert PitchSummary(automatic.tracks).source == "automatic" and PitchSummary(tracks).source is None


def test_stitched_segments_keep_one_shot_until_a_real_cut() -> None:
    from pitchlens.application.player_placer import continuous_shots

    # Segment 2 starts on frame 4 (its first shot "starts" there: no cut); a real cut on frame 6.
    raw = [0, 0, 0, 0, 3, 3, 6, 6]  # segment 2 was tracked from frame 3 (its overlap)
    tracks = [FrameTracks(i, [1], [[0, 0, 1, 1]], [0.9], shot=shot) for i, shot in enumerate(raw)]
    assert [f.shot for f in continuous_shots(tracks, {0, 3})] == [0, 0, 0, 0, 0, 0, 6, 6]
    # Nobody on the cut's own frame (trackers confirm a track a frame after its first detection).
    after_a_gap = [frame for frame in tracks if frame.frame_index != 6]
    assert [f.shot for f in continuous_shots(after_a_gap, {0, 3})] == [0, 0, 0, 0, 0, 0, 6]


def test_the_follower_never_continues_across_a_cut() -> None:
    tracks = [
        dataclasses.replace(frame, shot=0 if frame.frame_index < 10 else 10)
        for frame in hand_over(("white", "white"))
    ]
    followed = PlayerFollower().execute(tracks, SameLook(), BoundingBox(2, 60, 18, 100), 0)
    assert not followed[9].lost and all(frame.lost for frame in followed[10:])


@pytest.mark.parametrize(
    ("speed_ms", "jitter_m"), [(0.0, 0.0), (0.0, 0.3), (8.0, 0.0), (8.0, 0.3), (9.5, 0.5)]
)
def test_top_speed_after_smoothing_is_the_running_speed_not_the_jitter(
    speed_ms: float, jitter_m: float
) -> None:
    """A player running straight at `speed_ms`, his position jittering +-`jitter_m` frame to frame
    (a homography's jitter at the far side): +-0.3 m a frame unsmoothed would be 54 km/h."""
    from pitchlens.domain.motion import track_motion

    fps = 25.0
    tracks = [
        FrameTracks(
            i,
            [7],
            [[0, 0, 1, 1]],
            [0.9],
            teams=["white"],
            pitch_xy=[(speed_ms * i / fps + jitter_m * (-1) ** i, 0.0)],
        )
        for i in range(100)
    ]
    [motion] = track_motion(tracks, fps)
    assert motion.team == "white" and motion.seconds == pytest.approx(4.0)
    assert motion.top_speed_kmh == pytest.approx(speed_ms * 3.6, abs=1.5)
    assert motion.plausible
    if not jitter_m:
        assert motion.distance_m == pytest.approx(speed_ms * 99 / fps, rel=0.1)  # ends smoothed


def test_frames_without_metres_break_a_track_into_pieces() -> None:
    from pitchlens.domain.motion import track_motion

    nan = float("nan")
    xs = [0.0] * 10 + [nan] * 5 + [50.0] * 10  # no metres for 5 frames: no 50 m jump
    tracks = [FrameTracks(i, [1], [[0, 0, 1, 1]], [0.9], pitch_xy=[(x, 0.0)]) for i, x in enumerate(xs)]
    [motion] = track_motion(tracks, 25.0)
    assert (motion.distance_m, motion.top_speed_kmh, motion.seconds) == (0.0, 0.0, 0.8)


class CalibratesItself(CutAt):
    """A still camera with one cut that calibrates itself on any frame."""

    FIT = Homography.of((0.1, 0.0, -5.0, 0.0, -0.1, 5.0, 0.0, 0.0, 1.0))

    def calibrate(self, view: CameraView) -> Homography | None:
        return self.FIT


def test_a_50_or_60_fps_clip_tracked_on_every_other_frame_is_followed_by_the_frames_seen() -> None:
    """A 60 fps source is tracked (and seen by the camera) on every second frame: the camera path
    has one homography per frame seen, shots start at the first frame seen after a cut, and a
    manual anchor on a frame not seen is taken on the nearest one."""
    seen = list(range(0, 120, 2))
    camera = CalibratesItself(61)
    views = [camera.observe(index, None, []) for index in seen]
    manual = Homography.of((0.2, 0.0, -10.0, 0.0, -0.2, 10.0, 0.0, 0.0, 1.0))

    path = follow_camera(views, camera.cuts(), camera, {95: manual})

    assert len(path.homographies) == len(seen) and all(h is not None for h in path.homographies)
    first, second = path.shots
    assert (first.first, first.last, first.source) == (0, 60, "automatic")
    assert (second.first, second.last, second.anchor, second.source) == (62, 118, 94, "manual")
    assert path.homographies[seen.index(60)] == CalibratesItself.FIT
    assert path.homographies[seen.index(62)] == manual and path.homographies[-1] == manual
