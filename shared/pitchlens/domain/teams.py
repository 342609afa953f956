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

KIT_RGB: Mapping[str, tuple[int, int, int]] = {
    "black": (0x21, 0x21, 0x21),
    "dark grey": (0x61, 0x61, 0x61),
    "light grey": (0xCF, 0xD8, 0xDC),
    "white": (0xFA, 0xFA, 0xFA),
    "red": (0xE5, 0x39, 0x35),
    "orange": (0xFB, 0x8C, 0x00),
    "yellow": (0xFD, 0xD8, 0x35),
    "green": (0x76, 0xFF, 0x03),
    "cyan": (0x18, 0xFF, 0xFF),
    "blue": (0x29, 0x79, 0xFF),
    "purple": (0xAA, 0x00, 0xFF),
    "pink": (0xFF, 0x40, 0x81),
}
"""The colour each kit colour name a team is given stands for (RGB), bright enough to show on the
grass in pictures and minimaps; "light X" / "dark X" (two teams of one hue) are X lightened or
darkened (`kit_rgb`)."""
KIT_SHADE = 0.45
"""How far "light X" / "dark X" are from X towards white / black."""


def kit_rgb(team: str | None) -> tuple[int, int, int] | None:
    """The colour a team's name stands for; None for OTHER, a kit never seen and unknown names."""
    if team is None:
        return None
    if team in KIT_RGB:
        return KIT_RGB[team]
    shade, _, base = team.partition(" ")
    if base not in KIT_RGB or shade not in ("light", "dark"):
        return None
    towards = 255 if shade == "light" else 0
    r, g, b = (round(c + (towards - c) * KIT_SHADE) for c in KIT_RGB[base])
    return r, g, b


def kit_hex(team: str | None) -> str | None:
    """`kit_rgb` as #rrggbb (what matplotlib and the web page take)."""
    rgb = kit_rgb(team)
    return None if rgb is None else "#{:02x}{:02x}{:02x}".format(*rgb)


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
