"""`PlayerPlacer`: a clip's tracked people placed on the pitch: on it or not, team, metres."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pitchlens.domain.camera import CameraPath, PitchArea, PitchCamera, follow_camera
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
        result.append(FrameTracks(frame.frame_index, ids, frame.boxes, frame.confidences))
    return result


class PlayerPlacer:
    """Places a clip's tracked people on the pitch, in one pass over its frames: whether each box
    stands on the pitch (`PitchArea`), the team of each track over time (`TeamClassifier`), the
    camera's shots and motion (`PitchCamera`), and from them an image-to-pitch homography per frame
    (`follow_camera`: a manual calibration where one is given, else automatic) that puts each foot
    point in metres of the match frame (`orientation`). Tracks that cross a cut are split there."""

    def __init__(
        self,
        area: PitchArea,
        camera: Callable[[], PitchCamera],
        teams: Callable[[], TeamClassifier],
        automatic_calibration: bool = True,
    ) -> None:
        self._area = area
        self._camera_factory = camera
        self._teams_factory = teams
        self._automatic = automatic_calibration

    def execute(
        self,
        tracks: Sequence[FrameTracks],
        frames: Iterable[tuple[int, Any]],
        anchors: Mapping[int, Homography] | None = None,
        orientation: Orientation = Orientation.HOME_ATTACKS_RIGHT,
    ) -> ClipPlacement:
        camera = self._camera_factory()
        classifier = self._teams_factory()
        by_index = {frame.frame_index: frame for frame in tracks}
        views = []
        flags: dict[int, list[bool]] = {}
        for index, image in frames:
            frame = by_index.get(index)
            boxes = frame.boxes if frame is not None else []
            views.append(camera.observe(index, image, boxes))
            if frame is not None and len(frame):
                flags[index] = self._area.on_pitch(image, boxes)
                classifier.observe(index, image, frame.track_ids, boxes, flags[index])
        cuts = camera.cuts()
        path = follow_camera(views, cuts, camera, anchors, automatic=self._automatic)
        split = split_at_cuts(tracks, cuts)
        teams = classifier.teams()
        first = views[0].frame_index if views else 0
        placed = []
        for frame in split:
            position = frame.frame_index - first
            homography = path.homographies[position] if 0 <= position < len(path.homographies) else None
            xs: list[float] = []
            ys: list[float] = []
            for box in frame.boxes:
                x, y = _metres(homography, box, orientation)
                xs.append(x)
                ys.append(y)
            on = flags.get(frame.frame_index) or [False] * len(frame)
            original = by_index[frame.frame_index].track_ids
            team = [teams.of(int(track_id), frame.frame_index) for track_id in original]
            placed.append(FramePlacement(frame.frame_index, on, xs, ys, team))
        return ClipPlacement(tuple(split), tuple(placed), teams, path, tuple(cuts), orientation)


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
