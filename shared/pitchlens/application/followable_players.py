from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pitchlens.domain.rendering import ClipNotReady
from pitchlens.domain.vision import BoundingBox, Clip, FrameTracks, TrajectoryStore

SEARCH_FRAMES = 5
"""Frames either side of the detection frame searched (trackers confirm a track a frame or two
after its first detection)."""


@dataclass(frozen=True, slots=True)
class FollowablePlayer:
    number: int
    """1-based, left to right on the frame: what a person picks."""
    track_id: int
    box: BoundingBox
    confidence: float


@dataclass(frozen=True, slots=True)
class FollowablePlayers:
    clip_id: str
    frame_index: int
    """The frame the boxes are on (the detection frame, or the nearest one with the most tracks)."""
    width: int
    height: int
    players: tuple[FollowablePlayer, ...]

    def numbered(self, number: int) -> FollowablePlayer:
        for player in self.players:
            if player.number == number:
                return player
        raise LookupError(f"no player {number} on clip {self.clip_id} (1..{len(self.players)})")


def followable_players(clip: Clip, trajectories: TrajectoryStore) -> FollowablePlayers:
    """The players a person can choose to follow in a processed clip: the tracked boxes on (or next
    to) its detection frame, numbered left to right. Players found on the detection frame by sliced
    inference but never tracked over the clip are not offered: they could not be followed.
    ClipNotReady while the clip has no trajectories."""
    if clip.trajectories_uri is None or clip.info is None:
        raise ClipNotReady(
            f"clip {clip.clip_id} is {clip.status.value}: it has no tracks to choose a player from"
        )
    frame = _busiest_frame_near(trajectories.tracks(clip.trajectories_uri), clip.detection_frame)
    width, height = clip.info.width, clip.info.height
    candidates: list[tuple[int, BoundingBox, float]] = []
    if frame is not None:
        for track_id, box, confidence in zip(frame.track_ids, frame.boxes, frame.confidences, strict=True):
            inside = _within(box, width, height)  # tracked boxes may reach past the frame's edges
            if inside is not None:
                candidates.append((int(track_id), inside, float(confidence)))
    candidates.sort(key=lambda candidate: candidate[1].x1)
    players = tuple(
        FollowablePlayer(number, track_id, box, confidence)
        for number, (track_id, box, confidence) in enumerate(candidates, 1)
    )
    frame_index = clip.detection_frame if frame is None else frame.frame_index
    return FollowablePlayers(clip.clip_id, frame_index, width, height, players)


def _busiest_frame_near(tracks: list[FrameTracks], frame_index: int) -> FrameTracks | None:
    """The frame within SEARCH_FRAMES of `frame_index` with the most tracks (the nearest on a tie)."""
    near = [frame for frame in tracks if abs(frame.frame_index - frame_index) <= SEARCH_FRAMES and len(frame)]
    if not near:
        return None
    return max(near, key=lambda frame: (len(frame), -abs(frame.frame_index - frame_index)))


def _within(box: Sequence[float], width: int, height: int) -> BoundingBox | None:
    """`box` cut to the frame; None when nothing of it is inside."""
    x1, y1, x2, y2 = (float(value) for value in box)
    x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)
    return BoundingBox(x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None
