from __future__ import annotations

import dataclasses
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
    """1-based, left to right on the frame among the players offered: what a person picks."""
    track_id: int
    box: BoundingBox
    confidence: float
    on_pitch: bool | None = None
    """On the playing area (None: the clip's people were not placed on the pitch)."""
    team: str | None = None
    """The team by kit colour, "other", or None (kit not seen, or not placed)."""


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
        numbers = ", ".join(str(player.number) for player in self.players)
        raise LookupError(f"no player {number} on clip {self.clip_id} (players: {numbers})")


def followable_players(
    clip: Clip, trajectories: TrajectoryStore, include_all: bool = False
) -> FollowablePlayers:
    """The players a person can choose to follow in a processed clip: the tracked boxes on (or next
    to) its detection frame that stand on the pitch (everybody with `include_all`: staff, benches,
    spectators too), numbered left to right. Players found on the detection frame by sliced
    inference but never tracked over the clip are not offered: they could not be followed. A clip
    whose people were not placed (trajectories of schema version 1) offers everybody.
    ClipNotReady while the clip has no trajectories."""
    if clip.trajectories_uri is None or clip.info is None:
        raise ClipNotReady(
            f"clip {clip.clip_id} is {clip.status.value}: it has no tracks to choose a player from"
        )
    frame = _busiest_frame_near(trajectories.tracks(clip.trajectories_uri), clip.detection_frame)
    width, height = clip.info.width, clip.info.height
    candidates: list[FollowablePlayer] = []
    if frame is not None:
        flags = frame.on_pitch if frame.on_pitch is not None else [None] * len(frame)
        teams = frame.teams if frame.teams is not None else [None] * len(frame)
        columns = zip(frame.track_ids, frame.boxes, frame.confidences, flags, teams, strict=True)
        for track_id, box, confidence, on_pitch, team in columns:
            inside = _within(box, width, height)  # tracked boxes may reach past the frame's edges
            if inside is None:
                continue
            placed = None if on_pitch is None else bool(on_pitch)
            candidates.append(
                FollowablePlayer(0, int(track_id), inside, float(confidence), placed, team and str(team))
            )
    candidates.sort(key=lambda candidate: candidate.box.x1)
    offered = [p for p in candidates if include_all or p.on_pitch is not False]
    players = tuple(dataclasses.replace(player, number=number) for number, player in enumerate(offered, 1))
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
