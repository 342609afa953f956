"""Match data: one model for every provider.

Pitch coordinate system (used by every `Coordinates` in PitchLens):

* units are metres on a nominal 105 x 68 m pitch (`PITCH_LENGTH` x `PITCH_WIDTH`);
* the origin is the centre spot;
* +x points along the length towards the goal the **home team attacks**, in every
  period (providers that flip sides at half-time are normalised, so a home shot
  is always at x > 0 and an away shot at x < 0);
* +y points to the left-hand touchline as seen by the home team attacking +x
  (a right-handed frame: x right, y up when the home team plays left to right).

Provider-specific factories (`Coordinates.from_statsbomb`, `Coordinates.from_metrica`)
are the only place that knows a provider's frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

PITCH_LENGTH = 105.0
PITCH_WIDTH = 68.0

STATSBOMB_LENGTH = 120.0
STATSBOMB_WIDTH = 80.0


@dataclass(frozen=True, slots=True)
class Coordinates:
    """A point on the pitch in metres (see the module docstring for the frame)."""

    x: float
    y: float

    @classmethod
    def from_statsbomb(cls, x: float, y: float, *, flip: bool = False) -> Coordinates:
        """StatsBomb: 120 x 80 yard-units, origin top-left, y downwards, each event seen by
        the team performing it attacking left to right. `flip` when that team is the away team."""
        point = cls(
            x=x / STATSBOMB_LENGTH * PITCH_LENGTH - PITCH_LENGTH / 2,
            y=PITCH_WIDTH / 2 - y / STATSBOMB_WIDTH * PITCH_WIDTH,
        )
        return point.flipped() if flip else point

    @classmethod
    def from_metrica(cls, x: float, y: float, *, flip: bool = False) -> Coordinates:
        """Metrica: normalised 0..1, origin top-left, y downwards, fixed to the pitch (teams
        change ends at half-time). `flip` when the home team attacks towards x=0 in this period."""
        point = cls(x=x * PITCH_LENGTH - PITCH_LENGTH / 2, y=PITCH_WIDTH / 2 - y * PITCH_WIDTH)
        return point.flipped() if flip else point

    def flipped(self) -> Coordinates:
        """The same point seen from the other end of the pitch."""
        return Coordinates(x=-self.x, y=-self.y)


class Provider(StrEnum):
    """The event-data providers PitchLens reads (the `source` of a match)."""

    STATSBOMB = "statsbomb"
    METRICA = "metrica"


class EventType(StrEnum):
    """Normalised event types (names follow kloppy's, the de facto open standard)."""

    PASS = "pass"
    SHOT = "shot"
    CARRY = "carry"
    TAKE_ON = "take_on"
    DUEL = "duel"
    PRESSURE = "pressure"
    INTERCEPTION = "interception"
    CLEARANCE = "clearance"
    BLOCK = "block"
    RECOVERY = "recovery"
    BALL_RECEIPT = "ball_receipt"
    BALL_LOST = "ball_lost"
    BALL_OUT = "ball_out"
    MISCONTROL = "miscontrol"
    FOUL_COMMITTED = "foul_committed"
    FOUL_WON = "foul_won"
    CARD = "card"
    GOALKEEPER = "goalkeeper"
    SUBSTITUTION = "substitution"
    FORMATION_CHANGE = "formation_change"
    SET_PIECE = "set_piece"
    PERIOD_START = "period_start"
    PERIOD_END = "period_end"
    GENERIC = "generic"


@dataclass(frozen=True, slots=True)
class Player:
    player_id: str
    name: str
    team_id: str
    jersey_number: int | None = None
    position: str | None = None
    starting: bool = False


@dataclass(frozen=True, slots=True)
class Team:
    team_id: str
    name: str
    players: tuple[Player, ...] = ()


@dataclass(frozen=True, slots=True)
class Event:
    """One on-ball or match event. `timestamp` is seconds since the start of its period."""

    event_id: str
    type: EventType
    period: int
    timestamp: float
    team_id: str | None
    player_id: str | None
    start: Coordinates | None
    end: Coordinates | None = None
    outcome: str | None = None
    raw_type: str = ""
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TrackingData:
    """Positions of players and ball, one row per object per frame, stored as columns.

    `object_id` is a player_id, or "ball". Coordinates use the pitch frame above;
    a missing position is NaN.
    """

    frame_rate: float
    frame: Sequence[int]  # array("q") on hot paths
    period: Sequence[int]
    timestamp: Sequence[float]  # seconds since the start of the period
    object_id: Sequence[str]
    team_id: Sequence[str | None]
    x: Sequence[float]
    y: Sequence[float]

    def __post_init__(self) -> None:
        lengths = {
            len(self.frame),
            len(self.period),
            len(self.timestamp),
            len(self.object_id),
            len(self.team_id),
            len(self.x),
            len(self.y),
        }
        if len(lengths) != 1:
            raise ValueError("tracking columns must all have the same length")

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def frames(self) -> int:
        return len(set(self.frame))


@dataclass(frozen=True, slots=True)
class Match:
    """The match aggregate: teams, players and every event, in provider order."""

    match_id: str
    source: str
    home_team: Team
    away_team: Team
    events: tuple[Event, ...]
    competition: str | None = None
    kickoff: datetime | None = None
    tracking: TrackingData | None = None

    @property
    def teams(self) -> tuple[Team, Team]:
        return (self.home_team, self.away_team)

    @property
    def players(self) -> tuple[Player, ...]:
        return self.home_team.players + self.away_team.players

    def counts(self) -> dict[str, int]:
        """Row counts a persisted copy of this match must have."""
        counts = {"events": len(self.events), "players": len(self.players), "teams": 2}
        if self.tracking is not None:
            counts["tracking_rows"] = self.tracking.rows
        return counts


def event_types(events: Sequence[Event]) -> dict[str, int]:
    """Number of events per normalised type."""
    totals: dict[str, int] = {}
    for event in events:
        totals[event.type.value] = totals.get(event.type.value, 0) + 1
    return totals
