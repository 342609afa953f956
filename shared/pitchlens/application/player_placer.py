"""`PlayerPlacer`: a clip's tracked people placed on the pitch: on it or not, team, metres."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pitchlens.domain.camera import CameraPath, CameraView, PitchArea, PitchCamera, Shot, follow_camera
from pitchlens.domain.pitch import Homography, Orientation
from pitchlens.domain.teams import TeamClassifier, Teams
from pitchlens.domain.vision import FrameTracks


@dataclass(frozen=True, slots=True)
class FramePlacement:
    """Per tracked box of one frame (in the order of its FrameTracks): on the pitch or not, the
    foot point in the match frame's metres (NaN where the frame has no homography), the team
    (None where the kit was never seen)."""

    frame_index: int
    on_pitch: Sequence[bool]
    pitch_x: Sequence[float]
    pitch_y: Sequence[float]
    team: Sequence[str | None]


@dataclass(frozen=True, slots=True)
class ClipPlacement:
    """A clip's tracks (ids renumbered where a track crossed a cut) with their placement."""

    tracks: tuple[FrameTracks, ...]
    frames: tuple[FramePlacement, ...]
    teams: Teams
    path: CameraPath
    cuts: tuple[int, ...]
    orientation: Orientation

    @property
    def reason(self) -> str | None:
        """Why some rows have no pitch coordinates (None when every frame has a homography)."""
        return self.path.reason


def split_at_cuts(tracks: Sequence[FrameTracks], cuts: Sequence[int]) -> list[FrameTracks]:
    """`tracks` with every track that crosses a cut cut there: its rows after each cut get a new id
    (above every id in the clip), as a tracker restarted at the cut would give. Trackers keep ids
    alive across a cut by position alone, which pairs unrelated people of two camera views."""
    if not cuts:
        return list(tracks)
    bounds = sorted(cuts)
    top = max((int(i) for frame in tracks for i in frame.track_ids), default=0)
    renamed: dict[tuple[int, int], int] = {}
    first_shot: dict[int, int] = {}
    result = []
    for frame in tracks:
        shot = sum(1 for cut in bounds if cut <= frame.frame_index)
        ids = []
        for track_id in (int(i) for i in frame.track_ids):
            first = first_shot.setdefault(track_id, shot)
            if shot == first:
                ids.append(track_id)
                continue
            if (track_id, shot) not in renamed:
                top += 1
                renamed[(track_id, shot)] = top
            ids.append(renamed[(track_id, shot)])
        result.append(frame.renumbered(ids))
    return result


ON_PITCH_EVERY = 5
"""Frames between two judgements of who stands on the pitch (0.2 s at 25 fps: people do not cross a
touchline faster; judging costs ~60 ms on a 720p frame). A new track is judged on its first frame."""


class PlacementPass:
    """Sees one clip's (or one segment's) frames in order, each while its image is in hand (the
    tracking loop's `on_frame`), and keeps only what placing needs: per frame the on-pitch flags
    and the camera's view, per track a kit sample every few frames. `place` then puts the tracks
    on the pitch. Memory grows with the frames seen (a camera view holds at most a few thousand
    line pixels), so a long video is placed segment by segment."""

    def __init__(
        self,
        area: PitchArea,
        camera: PitchCamera | None,
        classifier: TeamClassifier,
        judge_every: int = ON_PITCH_EVERY,
    ) -> None:
        self._area = area
        self._camera = camera
        self._classifier = classifier
        self._judge_every = judge_every
        self._views: list[CameraView] = []
        self._flags: dict[int, list[bool]] = {}
        self._judged: dict[int, tuple[int, bool]] = {}
        """Per track: the frame it was last judged on and whether it stood on the pitch there."""

    def see(self, index: int, image: Any, tracks: FrameTracks | None) -> None:
        boxes = tracks.boxes if tracks is not None else []
        if self._camera is not None:
            self._views.append(self._camera.observe(index, image, boxes))
        if tracks is None or not len(tracks):
            return
        ids = [int(track_id) for track_id in tracks.track_ids]
        stale = any(index - self._judged.get(t, (-(10**9), False))[0] >= self._judge_every for t in ids)
        if stale:
            flags = [bool(flag) for flag in self._area.on_pitch(image, boxes)]
            self._judged.update({t: (index, flag) for t, flag in zip(ids, flags, strict=True)})
        else:
            flags = [self._judged[t][1] for t in ids]
        self._flags[index] = flags
        self._classifier.observe(index, image, tracks.track_ids, boxes, flags)

    def place(
        self,
        tracks: Sequence[FrameTracks],
        anchors: Mapping[int, Homography] | None = None,
        orientation: Orientation = Orientation.HOME_ATTACKS_RIGHT,
        automatic: bool = True,
    ) -> ClipPlacement:
        """`tracks` (those of the frames seen) placed: tracks crossing a cut split there, each box's
        on-pitch flag and team, and its metres where the camera path has a homography (from a
        manual anchor, else automatic calibration when `automatic`)."""
        cuts: list[int] = []
        if self._camera is not None:
            cuts = self._camera.cuts()
            path = follow_camera(self._views, cuts, self._camera, anchors, automatic=automatic)
        else:
            first = tracks[0].frame_index if tracks else 0
            last = tracks[-1].frame_index if tracks else 0
            path = CameraPath((), (Shot(first, last, reason=NOT_CALIBRATED),))
        split = split_at_cuts(tracks, cuts)
        teams = self._classifier.teams()
        first_seen = self._views[0].frame_index if self._views else 0
        homographies = _by_frame(self._views, path)
        placed = []
        frames = []
        for original, frame in zip(tracks, split, strict=True):
            homography = homographies.get(frame.frame_index)
            xy = [_metres(homography, box, orientation) for box in frame.boxes]
            on = self._flags.get(frame.frame_index) or [False] * len(frame)
            team = [teams.of(int(track_id), frame.frame_index) for track_id in original.track_ids]
            placed.append(FramePlacement(frame.frame_index, on, [p[0] for p in xy], [p[1] for p in xy], team))
            shot: int | None = None
            if self._camera is not None:
                shot = max((c for c in cuts if c <= frame.frame_index), default=first_seen)
            frames.append(dataclasses.replace(frame, on_pitch=on, teams=team, pitch_xy=xy, shot=shot))
        return ClipPlacement(tuple(frames), tuple(placed), teams, path, tuple(cuts), orientation)


NOT_CALIBRATED = "not calibrated: mark 4 or more pitch points on a frame (pitchlens calibrate)"


def continuous_shots(tracks: Iterable[FrameTracks], segment_starts: Collection[int]) -> Iterator[FrameTracks]:
    """Stitched segments' tracks with one shot numbering, frame by frame: each segment numbers its
    first shot by the first frame it tracked (`segment_starts`: its overlap's first frame), which is
    no cut; that shot continues the one the frames before it are in. Any other shot starts at a
    cut, whether or not its first frame has anybody on it."""
    current: int | None = None
    last_raw: int | None = None
    mapped: dict[int, int | None] = {}
    for frame in tracks:
        raw = None if frame.shot is None else int(frame.shot)
        if raw is None:
            yield frame
            continue
        if raw != last_raw:
            if raw not in segment_starts or current is None:
                mapped[raw] = raw  # a cut, or the clip's first shot
            else:
                mapped.setdefault(raw, current)  # a segment's start, not a cut
            last_raw = raw
        current = mapped[raw]
        yield frame if current == raw else dataclasses.replace(frame, shot=current)


class PitchSummary:
    """Whether a clip's tracks have pitch coordinates, learnt frame by frame (`see`) as they pass:
    `reason` why not (None when some box has them: not placed at all, or placed without a
    homography), `source` where those it has come from (`automatic` when tracking placed them).
    `tracks` given at the start are seen at once."""

    def __init__(self, tracks: Iterable[FrameTracks] = ()) -> None:
        self._placed = False
        self._in_metres = False
        for frame in tracks:
            self.see(frame)

    def see(self, frame: FrameTracks) -> FrameTracks:
        if not self._in_metres:
            if frame.pitch_xy is not None:
                self._placed = True
                self._in_metres = any(not math.isnan(float(x)) for x, _ in frame.pitch_xy)
            self._placed = self._placed or frame.on_pitch is not None
        return frame

    @property
    def reason(self) -> str | None:
        if self._in_metres:
            return None
        return NOT_CALIBRATED if self._placed else "players were not placed on the pitch (placement is off)"

    @property
    def source(self) -> str | None:
        return AUTOMATIC if self._in_metres else None


AUTOMATIC = "automatic"


class PlayerPlacer:
    """Places a clip's tracked people on the pitch, in one pass over its frames: whether each box
    stands on the pitch (`PitchArea`), the team of each track over time (`TeamClassifier`), the
    camera's shots and motion (`PitchCamera`), and from them an image-to-pitch homography per frame
    (`follow_camera`: a manual calibration where one is given, else automatic) that puts each foot
    point in metres of the match frame (`orientation`). Tracks that cross a cut are split there."""

    def __init__(
        self,
        area: PitchArea,
        camera: Callable[[], PitchCamera] | None,
        teams: Callable[[], TeamClassifier],
        automatic_calibration: bool = True,
    ) -> None:
        self._area = area
        self._camera_factory = camera
        self._teams_factory = teams
        self._automatic = automatic_calibration

    def start(self) -> PlacementPass:
        """A pass over one clip's (or segment's) frames."""
        camera = self._camera_factory() if self._camera_factory is not None else None
        return PlacementPass(self._area, camera, self._teams_factory())

    def execute(
        self,
        tracks: Sequence[FrameTracks],
        frames: Iterable[tuple[int, Any]],
        anchors: Mapping[int, Homography] | None = None,
        orientation: Orientation = Orientation.HOME_ATTACKS_RIGHT,
    ) -> ClipPlacement:
        placing = self.start()
        by_index = {frame.frame_index: frame for frame in tracks}
        for index, image in frames:
            placing.see(index, image, by_index.get(index))
        return placing.place(tracks, anchors, orientation, self._automatic)

    def metres(
        self,
        tracks: Sequence[FrameTracks],
        frames: Iterable[tuple[int, Any]],
        anchors: Mapping[int, Homography],
        orientation: Orientation = Orientation.HOME_ATTACKS_RIGHT,
        cuts: Sequence[int] = (),
    ) -> tuple[list[FrameTracks], CameraPath]:
        """The metres of already placed tracks, their shots starting at `cuts` (the tracks' `shot`
        column: no cut search): each shot from its manual anchor, else from its pitch lines
        (the camera's automatic calibration), the camera followed through `frames` (motion,
        re-anchored on the lines), each box's foot point placed. Their on-pitch flags, teams and
        shot are kept (no kits, no on-pitch judging: a third of `execute`'s work). Returns the
        tracks of the frames given, and the camera path."""
        if self._camera_factory is None:
            raise ValueError("this placer has no camera: nothing can be put in metres")
        camera = self._camera_factory()
        by_index = {frame.frame_index: frame for frame in tracks}
        views = [
            camera.observe(index, image, by_index[index].boxes if index in by_index else [])
            for index, image in frames
        ]
        path = follow_camera(views, cuts, camera, anchors, automatic=True)
        homographies = _by_frame(views, path)
        placed = [
            dataclasses.replace(
                frame,
                pitch_xy=[
                    _metres(homographies.get(frame.frame_index), box, orientation) for box in frame.boxes
                ],
            )
            for frame in tracks
        ]
        return placed, path


def _by_frame(views: Sequence[CameraView], path: CameraPath) -> dict[int, Homography | None]:
    """The camera path's homography of each frame seen (every tracked one, not every frame)."""
    return {view.frame_index: homography for view, homography in zip(views, path.homographies, strict=True)}


def _metres(
    homography: Homography | None, box: Sequence[float], orientation: Orientation
) -> tuple[float, float]:
    if homography is None:
        return math.nan, math.nan
    foot_x, foot_y = (float(box[0]) + float(box[2])) / 2, float(box[3])
    try:
        x, y = homography.apply(foot_x, foot_y)
    except ValueError:
        return math.nan, math.nan
    return orientation.to_match(x, y)
