"""Teams by kit: which team each tracked person plays for. Standard library only; the colour work is
behind `TeamClassifier`.

Per clip the people on the pitch fall into two large groups by kit colour (the two teams, named by
their kit's colour: "white", "green", "red" ...) and a few people who belong to neither
(goalkeepers, referees): `OTHER`. A tracker sometimes hands one id from one player to another, so
a team is known per stretch of a track (`TeamRun`), not per track.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OTHER = "other"
"""Neither team: goalkeepers, referees, anybody whose kit is unlike both teams'."""


@dataclass(frozen=True, slots=True)
class TeamRun:
    """Frames `first`..`last` of a track, in `team` (a team's name or OTHER)."""

    first: int
    last: int
    team: str


@dataclass(frozen=True, slots=True)
class Teams:
    """The clip's two teams (kit names) and the team of every stretch of every track."""

    names: tuple[str, ...]
    runs: Mapping[int, tuple[TeamRun, ...]] = field(default_factory=dict)

    def of(self, track_id: int, frame_index: int) -> str | None:
        """The team of a track at a frame: the run holding the frame, else the nearest run of the
        track; None for a track whose kit was never seen."""
        runs = self.runs.get(track_id)
        if not runs:
            return None
        position = bisect_right([run.first for run in runs], frame_index) - 1
        if position >= 0 and frame_index <= runs[position].last:
            return runs[position].team
        before = runs[position] if position >= 0 else None
        after = runs[position + 1] if position + 1 < len(runs) else None
        if before is None:
            return after.team if after else None
        if after is None or frame_index - before.last <= after.first - frame_index:
            return before.team
        return after.team

    def majority(self, track_id: int) -> str | None:
        """The team a track spends most frames in."""
        totals: dict[str, int] = {}
        for run in self.runs.get(track_id, ()):
            totals[run.team] = totals.get(run.team, 0) + run.last - run.first + 1
        return max(totals, key=lambda team: totals[team]) if totals else None


class TeamClassifier(ABC):
    """Collects the kits of one clip's tracked people frame by frame (stateful), then groups them."""

    @abstractmethod
    def observe(
        self,
        frame_index: int,
        image: Any,
        track_ids: Sequence[int],
        boxes: Sequence[Sequence[float]],
        on_pitch: Sequence[bool],
    ) -> None:
        """One frame's tracked boxes; only people on the pitch are grouped into teams."""

    @abstractmethod
    def teams(self) -> Teams:
        """After the last frame: the two teams and every track's team over time."""
