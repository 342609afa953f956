"""Pictures of tracked players (mplsoccer, the `plots` extra): what a path joins and counts, the
heatmap's positions, a clip's mean positions, team colours, the PNG's metadata; and the read side
that feeds them: one track read alone, refused with the stored reason when it has no metres."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime

import pytest

from pitchlens.application import views
from pitchlens.application.player_placer import NOT_CALIBRATED
from pitchlens.domain.errors import NotCalibrated, TrackNotFound
from pitchlens.domain.motion import track_motion
from pitchlens.domain.rendering import ClipNotReady
from pitchlens.domain.teams import kit_hex
from pitchlens.domain.vision import Clip, ClipStatus, FrameTracks, VideoInfo
from pitchlens.infrastructure.http.analysis import clip_tracks, player_track
from pitchlens.infrastructure.plots import (
    OTHER_COLOUR,
    ClipTracks,
    PlayerTrack,
    TrackPlotKind,
    draw_player,
    draw_positions,
    team_colour,
)
from tests.fakes.system import FakeSystem

pytestmark = pytest.mark.unit

FPS = 25.0
NOW = datetime(2026, 12, 2, tzinfo=UTC)
URI = "s3://tracking-data/tracking/m/c/trajectories.parquet"
NAN = math.nan


def _mplsoccer() -> None:
    pytest.importorskip("mplsoccer", reason="pictures need the `plots` extra (mplsoccer)")


def track(frames: range, on: bool | None = True, *, x0: float = -20.0, known: bool = True) -> PlayerTrack:
    """A player running along +x at 5 m/s (0.2 m a frame) over `frames`."""
    return PlayerTrack(
        frame=list(frames),
        x=[x0 + 0.2 * i if known else NAN for i in frames],
        y=[3.0 for _ in frames],
        on_pitch=[on for _ in frames],
        fps=FPS,
        label="Track 7",
        team="white",
        distance_m=123.0,
        top_speed_kmh=18.0,
        seconds=len(frames) / FPS,
    )


def joined(*parts: PlayerTrack) -> PlayerTrack:
    first = parts[0]
    return PlayerTrack(
        frame=[f for p in parts for f in p.frame],
        x=[x for p in parts for x in p.x],
        y=[y for p in parts for y in p.y],
        on_pitch=[o for p in parts for o in p.on_pitch],
        fps=FPS,
        label=first.label,
        team=first.team,
        distance_m=first.distance_m,
        top_speed_kmh=first.top_speed_kmh,
        seconds=first.seconds,
    )


# Frames 0-49 on the pitch; 50-59 lost (no rows); 60-79 on; 80-89 off the pitch; 90-99 without
# metres; 100 alone; 101-105 without the on-pitch flag (a clip placed without it counts as on).
PLAYER = joined(
    track(range(50)),
    track(range(60, 80)),
    track(range(80, 90), on=False),
    track(range(90, 100), known=False),
    track(range(100, 101)),
    track(range(101, 106), on=None),
)


def test_a_path_joins_only_consecutive_frames_on_the_pitch_with_metres() -> None:
    runs = PLAYER.stretches()
    assert [len(xs) for xs, _ in runs] == [50, 20, 6]  # frame 100 runs on into 101-105
    assert runs[1][0][0] == pytest.approx(-20.0 + 0.2 * 60)


def _png_metadata(png: bytes) -> dict[str, str]:
    from PIL import Image

    return dict(Image.open(io.BytesIO(png)).text)


def test_the_path_counts_the_positions_it_draws_in_the_teams_colour() -> None:
    _mplsoccer()
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_hex

    picture = draw_player(TrackPlotKind.PATH, PLAYER)

    assert picture.markers == 76 and picture.kind is TrackPlotKind.PATH
    axes = picture.figure.axes[0]
    [lines] = [c for c in axes.collections if isinstance(c, LineCollection)]
    segments = lines.get_segments()
    assert sorted(len(s) for s in segments) == [6, 20, 50]
    assert sum(len(s) for s in segments) == picture.markers
    assert segments[0][0].tolist() == pytest.approx([-20.0 + 52.5, 3.0 + 34.0])  # mplsoccer's corner origin
    assert {to_hex(colour) for colour in lines.get_colors()} == {kit_hex("white")}
    title = axes.get_title()
    assert "Track 7 (white)" in title and "123 m covered" in title and "18.0 km/h" in title
    metadata = _png_metadata(picture.png())
    assert metadata == {**metadata, "pitchlens.markers": "76", "pitchlens.kind": "path"}


def test_the_heatmap_bins_every_position_it_counts() -> None:
    _mplsoccer()
    picture = draw_player(TrackPlotKind.HEATMAP, PLAYER)
    assert picture.markers == 76
    assert _png_metadata(picture.png())["pitchlens.kind"] == "heatmap"
    with pytest.raises(ValueError, match="whole clip"):
        draw_player(TrackPlotKind.POSITIONS, PLAYER)


@pytest.mark.parametrize(
    ("team", "colour"),
    [
        ("white", kit_hex("white")),
        ("green", kit_hex("green")),
        ("dark grey", kit_hex("dark grey")),
        ("light blue", "#89b5ff"),  # blue #2979ff 45% towards white
        ("dark red", "#7e1f1d"),  # red #e53935 45% towards black
        ("other", OTHER_COLOUR),
        (None, OTHER_COLOUR),
        ("mauve", OTHER_COLOUR),
    ],
)
def test_team_colours(team: str | None, colour: str) -> None:
    assert team_colour(team) == colour


def test_positions_draw_each_players_mean_on_the_pitch_coloured_by_team() -> None:
    _mplsoccer()
    from matplotlib.colors import to_hex

    rows: list[tuple[int, float, float, str | None, bool | None]] = []
    rows += [(1, 10.0 + (i % 2), 5.0, "white", True) for i in range(50)]  # 2 s around (10.5, 5)
    rows += [(1, 40.0, 30.0, "white", False) for _ in range(50)]  # off the pitch: left out
    rows += [(2, -20.0, -10.0, "green" if i else None, True) for i in range(30)]  # 1.2 s
    rows += [(3, 0.0, 0.0, "other", True) for _ in range(20)]  # 0.8 s: too short
    rows += [(4, NAN, NAN, "white", True) for _ in range(60)]  # no metres
    rows += [(5, 30.0, -30.0, "other", None) for _ in range(25)]  # a goalkeeper, 1 s, flag unknown
    ids, x, y, teams, on = (list(column) for column in zip(*rows, strict=True))
    picture = draw_positions(ClipTracks(ids, x, y, teams, on, FPS, "Clip c"))

    assert picture.markers == 3 and picture.kind is TrackPlotKind.POSITIONS
    [dots] = picture.figure.axes[0].collections[-1:]
    assert dots.get_offsets().ravel().tolist() == pytest.approx([63.0, 39.0, 32.5, 24.0, 82.5, 4.0])
    edges = [to_hex(c) for c in dots.get_edgecolors()]
    faces = [to_hex(c, keep_alpha=True) for c in dots.get_facecolors()]
    assert faces[:2] == [kit_hex("white") + "ff", kit_hex("green") + "ff"]
    assert faces[2].endswith("00") and edges[2] == OTHER_COLOUR  # "other": hollow
    assert "white 1, green 1, other 1" in picture.figure.axes[0].get_title()


# --- The read side ----------------------------------------------------------------------------------


def placed_frames(frames: int, metres: bool = True) -> list[FrameTracks]:
    """Tracks 1 and 2 on every frame, track 1 running 0.2 m a frame along +x."""
    return [
        FrameTracks(
            f,
            [1, 2],
            [[10, 10, 20, 40], [50, 10, 60, 40]],
            [0.9, 0.8],
            on_pitch=[True, True],
            teams=["white", "green"],
            pitch_xy=[[0.2 * f, 1.0], [-5.0, 2.0]] if metres else [[NAN, NAN], [NAN, NAN]],
        )
        for f in range(frames)
    ]


def system_with(frames: list[FrameTracks] | None, reason: str | None = None) -> FakeSystem:
    system = FakeSystem()
    info = VideoInfo(100, 60, FPS, 100, 4.0, "h264")
    uri = URI if frames is not None else None
    status = ClipStatus.PERSISTED if frames is not None else ClipStatus.DETECTED
    system.database.clips["c"] = Clip(
        "c", "m", "s3://videos/m/c.mp4", status, NOW, NOW, info, trajectories_uri=uri
    )
    if frames is not None:
        system.trajectories.published[URI] = frames
        system.trajectories.pitch_reasons[URI] = reason
    return system


def test_one_tracked_player_is_read_alone_with_his_motion() -> None:
    system = system_with(placed_frames(100))
    tracked = views.tracked_player(system.unit_of_work, system.trajectories, "c", 1)
    assert [len(frame) for frame in tracked.frames] == [1] * 100
    assert {int(frame.track_ids[0]) for frame in tracked.frames} == {1}
    [expected] = [m for m in track_motion(placed_frames(100), FPS) if m.track_id == 1]
    assert tracked.motion == expected and tracked.motion.team == "white"
    assert tracked.motion.distance_m == pytest.approx(0.2 * 99, rel=0.1)

    columns = player_track(tracked)
    assert (
        columns.x[:2] == pytest.approx([0.0, 0.2]) and columns.label == "Track 1" and columns.team == "white"
    )
    whole = clip_tracks(views.placed_clip(system.unit_of_work, system.trajectories, "c"))
    assert list(whole.track_id[:4]) == [1, 2, 1, 2] and whole.x[3] == pytest.approx(-5.0)


def test_a_clip_without_metres_is_refused_with_the_stored_reason() -> None:
    system = system_with(placed_frames(10, metres=False), reason=NOT_CALIBRATED)
    with pytest.raises(NotCalibrated, match=r"track 1 of clip c has no positions in metres: not calibrated"):
        views.tracked_player(system.unit_of_work, system.trajectories, "c", 1)
    with pytest.raises(NotCalibrated, match=r"clip c has no positions in metres: not calibrated"):
        views.placed_clip(system.unit_of_work, system.trajectories, "c")
    with pytest.raises(TrackNotFound, match="no track 9"):
        views.tracked_player(system.unit_of_work, system.trajectories, "c", 9)
    unprocessed = system_with(None)
    with pytest.raises(ClipNotReady):
        views.tracked_player(unprocessed.unit_of_work, unprocessed.trajectories, "c", 1)
