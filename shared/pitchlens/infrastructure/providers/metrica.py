"""Metrica Sports adapters: events (CSV or JSON), tracking (CSV pair or EPTS) and EPTS metadata
to the domain `Match`.

Files are recognised by name and content: `*.xml` is the EPTS (FIFA) metadata; `*.json` is the
events JSON (`{"data": [...]}`); a `*.csv` whose header starts `Team,Type,...` is the events CSV
and one starting with three empty cells is a raw tracking CSV (its first row says Home or Away);
a `*.txt` whose lines look like `<frame>:...` is EPTS tracking, split with the metadata's
DataFormatSpecifications. A folder may hold events, tracking or both; one of them is required.

Event types, Metrica → PitchLens (every raw event becomes one domain event; the subtypes are
kept in `attributes["subtypes"]`):

==============  =================  ==============================================
Metrica type    EventType          outcome
==============  =================  ==============================================
PASS            PASS               "Complete" ("Offside" with subtype OFFSIDE)
SHOT            SHOT               Goal, Saved, Blocked, Woodwork or Off Target
RECOVERY        RECOVERY           None
BALL LOST       BALL_LOST          None (a failed pass or a dispossession)
BALL OUT        BALL_OUT           None
CHALLENGE       DUEL               "Won" / "Lost"; TAKE_ON with subtype DRIBBLE
FAULT RECEIVED  FOUL_WON           None (the team is the fouled team)
CARD            CARD               the card colour ("Yellow", "Red")
SET PIECE       SET_PIECE          None (the kind is the subtype)
CARRY           CARRY              None
anything else   GENERIC            None
==============  =================  ==============================================

Coordinates. Metrica's frame is fixed to the pitch and the teams change ends at half-time, so
for each period we decide whether the home team attacks towards Metrica x=1 and flip when it
does not (`Coordinates.from_metrica(flip=...)`). The first rule that applies wins:

1. EPTS metadata: the home team's `attack_direction_first_half` (period 1) and its opposite
   (period 2) -- the provider's own statement, also what kloppy uses for its orientation.
2. Tracking: at the first frame of the period (the kick-off) each team stands in its own half,
   so the home team attacks towards x=1 when its mean x is below the away team's (kloppy's
   `attacking_direction_from_frame`).
3. Events: every shot votes for the goal it is aimed at (a shot at x > 0.5 means its team
   attacks x=1) and every goal kick for the goal it is taken from (its team defends that side).
4. A period no rule decides is the opposite of its neighbour's; with no evidence at all the home
   team attacks towards x=1 in odd periods.

Timestamps are seconds since the period's first frame: from the metadata's period start frames,
else the first tracking frame, else the first event of the period.
"""

from __future__ import annotations

import csv
import io
import math
import re
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from pitchlens.domain.errors import InvalidMatchData
from pitchlens.domain.model import Coordinates, Event, EventType, Match, Player, Team, TrackingData
from pitchlens.domain.ports import MatchParser, RawMatchData
from pitchlens.infrastructure.providers.raw_files import (
    collector_paused,
    decode_json,
    decode_text,
    require_content,
)

SOURCE = "metrica"
DEFAULT_FRAME_RATE = 25.0

EVENT_TYPES: Mapping[str, EventType] = {
    "PASS": EventType.PASS,
    "SHOT": EventType.SHOT,
    "RECOVERY": EventType.RECOVERY,
    "BALL LOST": EventType.BALL_LOST,
    "BALL OUT": EventType.BALL_OUT,
    "CHALLENGE": EventType.DUEL,
    "FAULT RECEIVED": EventType.FOUL_WON,
    "CARD": EventType.CARD,
    "SET PIECE": EventType.SET_PIECE,
    "CARRY": EventType.CARRY,
}

# Shot subtypes by precedence: a shot off the woodwork and in is a goal.
_SHOT_OUTCOMES = (
    ("GOAL", "Goal"),
    ("SAVED", "Saved"),
    ("BLOCKED", "Blocked"),
    ("WOODWORK", "Woodwork"),
    ("OFF TARGET", "Off Target"),
    ("OUT", "Off Target"),
)

_EVENTS_CSV_COLUMNS = (
    "Team",
    "Type",
    "Subtype",
    "Period",
    "Start Frame",
    "Start Time [s]",
    "End Frame",
    "End Time [s]",
    "From",
    "To",
    "Start X",
    "Start Y",
    "End X",
    "End Y",
)
_CSV_TEAMS = {"home": "home", "away": "away"}
_EPTS_LINE = re.compile(rb"\s*\d+\s*:")
_PERIOD_PARAMETERS = (
    (1, "first_half"),
    (2, "second_half"),
    (3, "first_extra_half"),
    (4, "second_extra_half"),
)
_PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class MetricaParser(MatchParser):
    """Parses Metrica events and/or tracking (+ optional EPTS metadata) into a `Match` in the PitchLens
    frame; bad or missing files raise InvalidMatchData naming the file."""

    def parse(self, raw: RawMatchData) -> Match:
        with collector_paused():
            return self._parse(raw)

    def _parse(self, raw: RawMatchData) -> Match:
        files = _MetricaFiles.sniff(raw.files)
        metadata = _parse_metadata(*files.metadata) if files.metadata else None
        teams = _Teams.from_metadata(metadata) if metadata else _Teams()
        raw_events: list[_RawEvent] = []
        if files.events_csv:
            raw_events = _csv_events(*files.events_csv, teams)
        elif files.events_json:
            raw_events = _json_events(*files.events_json, teams)
        tracking: _RawTracking | None = None
        if files.tracking_csv:
            tracking = _csv_tracking(files.tracking_csv, teams)
        elif files.tracking_epts:
            if metadata is None:
                raise InvalidMatchData(
                    f"{files.tracking_epts[0]}: EPTS tracking needs its metadata XML, which is missing"
                )
            tracking = _epts_tracking(*files.tracking_epts, metadata, teams)
        home_id, away_id = teams.home_and_away(files.names())

        frame_rate = (metadata.frame_rate if metadata else None) or (
            tracking.frame_rate if tracking else DEFAULT_FRAME_RATE
        )
        periods = sorted(
            {event.period for event in raw_events} | (set(tracking.periods()) if tracking else set())
        )
        flips = _flips(
            periods,
            metadata_first_half=metadata.home_attacks_high_x_first_half if metadata else None,
            kickoff=tracking.home_attacks_high_x_at_kickoff(home_id, away_id) if tracking else {},
            evidence=_event_evidence(raw_events, home_id),
        )
        period_starts = _period_starts(periods, metadata, tracking, raw_events, frame_rate)
        events = tuple(_domain_events(raw_events, flips, period_starts))
        return Match(
            match_id=raw.match_id,
            source=SOURCE,
            home_team=teams.team(home_id),
            away_team=teams.team(away_id),
            events=events,
            competition=metadata.competition if metadata else None,
            kickoff=metadata.kickoff if metadata else None,
            tracking=tracking.to_domain(flips, period_starts) if tracking else None,
        )


# --- files -------------------------------------------------------------------------------------


@dataclass
class _MetricaFiles:
    metadata: tuple[str, bytes] | None = None
    events_csv: tuple[str, bytes] | None = None
    events_json: tuple[str, bytes] | None = None
    tracking_csv: list[tuple[str, bytes]] = field(default_factory=list)
    tracking_epts: tuple[str, bytes] | None = None

    @classmethod
    def sniff(cls, files: Mapping[str, bytes]) -> _MetricaFiles:
        found = cls()
        for name in sorted(files):
            data = files[name]
            role = _file_role(name, data)
            if role is None:
                continue
            if role == "tracking_csv":
                found.tracking_csv.append((name, data))
                continue
            current = getattr(found, role)
            if current is not None:
                raise InvalidMatchData(f"{current[0]}, {name}: two Metrica {role.replace('_', ' ')} files")
            setattr(found, role, (name, data))
        if found.events_csv and found.events_json:
            raise InvalidMatchData(f"{found.events_csv[0]}, {found.events_json[0]}: two Metrica events files")
        if found.tracking_csv and found.tracking_epts:
            raise InvalidMatchData(
                f"{found.tracking_csv[0][0]}, {found.tracking_epts[0]}: two kinds of Metrica tracking files"
            )
        if not (found.events_csv or found.events_json or found.tracking_csv or found.tracking_epts):
            listed = ", ".join(sorted(files)) or "no files"
            raise InvalidMatchData(
                f"events: missing, no Metrica events or tracking file among the files ({listed})"
            )
        return found

    def names(self) -> str:
        """The events and tracking files, for messages."""
        named = [self.events_csv, self.events_json, self.tracking_epts, *self.tracking_csv]
        return ", ".join(pair[0] for pair in named if pair is not None)


def _file_role(name: str, data: bytes) -> str | None:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base.endswith((".csv", ".json", ".xml")):
        require_content(name, data)
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if base.endswith(".xml") or head.startswith(b"<?xml"):
        return "metadata"
    if base.endswith(".json"):
        return "events_json"
    if base.endswith(".csv"):
        first_line = head.split(b"\n", 1)[0].rstrip(b"\r")
        if first_line.startswith(b"Team,") or b",Type," in first_line:
            return "events_csv"
        if first_line.startswith(b",,,"):
            return "tracking_csv"
        raise InvalidMatchData(
            f"{name}: not a Metrica events CSV (header Team,Type,Subtype,...) nor a raw tracking CSV "
            f"(three header rows); the first line is {first_line[:80].decode('utf-8', 'replace')!r}"
        )
    if base.endswith(".txt") or "tracking" in base:
        if _EPTS_LINE.match(head):
            return "tracking_epts"
        if "tracking" in base:
            require_content(name, data)
            raise InvalidMatchData(f"{name}: not EPTS tracking data (lines of the form <frame>:<values>)")
    return None


# --- metadata ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Leaf:
    """One value in an EPTS line: the frame number, a player's or the ball's x or y, or ignored."""

    kind: str  # "frame", "player", "ball" or "skip"
    player_id: str | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class _FormatSpec:
    start_frame: int
    end_frame: int
    separators: str
    leaves: tuple[_Leaf, ...]


@dataclass(frozen=True, slots=True)
class _Metadata:
    file_name: str
    home_id: str
    away_id: str
    team_names: Mapping[str, str]
    players: tuple[Player, ...]
    frame_rate: float
    periods: Mapping[int, tuple[int, int]]
    home_attacks_high_x_first_half: bool | None
    competition: str | None
    kickoff: datetime | None
    specs: tuple[_FormatSpec, ...]


def _parse_metadata(file_name: str, data: bytes) -> _Metadata:
    try:
        root = etree.fromstring(data, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise InvalidMatchData(
            f"{file_name}: not valid XML: {exc.msg} (line {line}, column {column})"
        ) from None
    meta = root.find("{*}Metadata")
    if meta is None:
        raise InvalidMatchData(f"{file_name}: not EPTS metadata: no <Metadata> element")
    try:
        return _read_metadata(file_name, root, meta)
    except _PARSE_ERRORS as exc:
        raise InvalidMatchData(
            f"{file_name}: malformed EPTS metadata ({type(exc).__name__}: {exc})"
        ) from None


def _read_metadata(file_name: str, root: etree._Element, meta: etree._Element) -> _Metadata:
    teams = meta.findall("{*}Teams/{*}Team")
    if len(teams) != 2:
        raise InvalidMatchData(f"{file_name}: EPTS metadata must list two teams, found {len(teams)}")
    team_names = {team.get("id"): _text(team, "{*}Name") or team.get("id") for team in teams}
    score = meta.find("{*}Sessions/{*}Session/{*}MatchParameters/{*}Score")
    if (
        score is not None
        and score.get("idLocalTeam") in team_names
        and score.get("idVisitingTeam") in team_names
    ):
        home_id, away_id = score.get("idLocalTeam"), score.get("idVisitingTeam")
    else:
        home_id, away_id = teams[0].get("id"), teams[1].get("id")
    directions = {team.get("id"): _parameters(team.find("{*}ProviderTeamsParameters")) for team in teams}
    direction = directions[home_id].get("attack_direction_first_half")
    home_attacks_high_x = {"left_to_right": True, "right_to_left": False}.get(direction or "")

    frame_rate = float(_text(meta, "{*}GlobalConfig/{*}FrameRate") or DEFAULT_FRAME_RATE)
    global_parameters = _parameters(meta.find("{*}GlobalConfig/{*}ProviderGlobalParameters"))
    periods: dict[int, tuple[int, int]] = {}
    for period, prefix in _PERIOD_PARAMETERS:
        start, end = global_parameters.get(f"{prefix}_start"), global_parameters.get(f"{prefix}_end")
        if start and end:
            periods[period] = (int(float(start)), int(float(end)))

    specs = tuple(_format_specs(root, meta))
    starters = {leaf.player_id for leaf in specs[0].leaves if leaf.kind == "player"} if specs else set()
    players = []
    for element in meta.findall("{*}Players/{*}Player"):
        player_id = element.get("id")
        parameters = _parameters(element.find("{*}ProviderPlayerParameters"))
        position = parameters.get("position_type")
        players.append(
            Player(
                player_id=player_id,
                name=_text(element, "{*}Name") or player_id,
                team_id=element.get("teamId"),
                jersey_number=_int_or_none(_text(element, "{*}ShirtNumber")),
                position=position if position and position != "Unknown" else None,
                starting=player_id in starters,
            )
        )

    session = meta.find("{*}Sessions/{*}Session")
    competition = _text(session, "{*}Competition") if session is not None else None
    return _Metadata(
        file_name=file_name,
        home_id=home_id,
        away_id=away_id,
        team_names=team_names,
        players=tuple(players),
        frame_rate=frame_rate,
        periods=periods,
        home_attacks_high_x_first_half=home_attacks_high_x,
        competition=competition or None,
        kickoff=_datetime(_text(session, "{*}Start")) if session is not None else None,
        specs=specs,
    )


def _format_specs(root: etree._Element, meta: etree._Element) -> Iterable[_FormatSpec]:
    channels = {
        channel.get("id"): (channel.get("playerId"), channel.get("channelId"))
        for channel in meta.iterfind("{*}PlayerChannels/{*}PlayerChannel")
    }
    for spec in root.iterfind("{*}DataFormatSpecifications/{*}DataFormatSpecification"):
        separators: set[str] = set()
        leaves: list[_Leaf] = []
        _collect_leaves(spec, channels, separators, leaves)
        yield _FormatSpec(
            start_frame=int(spec.get("startFrame")),
            end_frame=int(spec.get("endFrame")),
            separators="".join(sorted(separators)),
            leaves=tuple(leaves),
        )


def _collect_leaves(
    register: etree._Element,
    channels: Mapping[str, tuple[str, str]],
    separators: set[str],
    leaves: list[_Leaf],
) -> None:
    # Each register splits its text on its own separator and hands the parts to its children in
    # order; separators never occur inside values, so splitting a line on all of them at once
    # yields the leaves in document order.
    separators.add(register.get("separator"))
    for child in register:
        tag = etree.QName(child).localname
        if tag == "SplitRegister":
            _collect_leaves(child, channels, separators, leaves)
        elif tag == "StringRegister":
            leaves.append(_Leaf("frame" if child.get("name") == "frameCount" else "skip"))
        elif tag == "PlayerChannelRef":
            player_id, channel = channels.get(child.get("playerChannelId"), (None, None))
            if channel in ("x", "y"):
                leaves.append(_Leaf("player", player_id, channel))
            else:
                leaves.append(_Leaf("skip"))
        elif tag == "BallChannelRef":
            channel = child.get("channelId")
            leaves.append(_Leaf("ball", None, channel) if channel in ("x", "y") else _Leaf("skip"))


def _parameters(parent: etree._Element | None) -> dict[str, str]:
    if parent is None:
        return {}
    return {
        (_text(parameter, "{*}Name") or ""): (_text(parameter, "{*}Value") or "")
        for parameter in parent.iterfind("{*}ProviderParameter")
    }


def _text(element: etree._Element, path: str) -> str | None:
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# --- teams and players -------------------------------------------------------------------------


class _Teams:
    """Team ids, names and players gathered from the metadata, the tracking and the events."""

    def __init__(self) -> None:
        self.home_id: str | None = None
        self.away_id: str | None = None
        self.names: dict[str, str] = {}
        self.players: dict[str, dict[str, Player]] = {}
        self.from_metadata_file: str | None = None

    @classmethod
    def from_metadata(cls, metadata: _Metadata) -> _Teams:
        teams = cls()
        teams.home_id, teams.away_id = metadata.home_id, metadata.away_id
        teams.names.update(metadata.team_names)
        teams.from_metadata_file = metadata.file_name
        for player in metadata.players:
            teams.players.setdefault(player.team_id, {})[player.player_id] = player
        return teams

    def csv_team(self, label: str) -> str | None:
        """The team id for a CSV's "Home"/"Away" label."""
        side = _CSV_TEAMS.get(label.strip().lower())
        if side is None:
            return None
        if side == "home":
            self.home_id = self.home_id or "home"
            self.names.setdefault(self.home_id, "Home")
            return self.home_id
        self.away_id = self.away_id or "away"
        self.names.setdefault(self.away_id, "Away")
        return self.away_id

    def json_team(self, team_id: str, name: str | None) -> bool:
        """Registers a team seen in the events JSON; False when the metadata does not know it."""
        if self.from_metadata_file is not None:
            return team_id in self.names
        # The events JSON carries no home/away flag: without metadata the first team seen is home.
        if self.home_id is None:
            self.home_id = team_id
        elif self.away_id is None and team_id != self.home_id:
            self.away_id = team_id
        elif team_id not in (self.home_id, self.away_id):
            return False
        self.names.setdefault(team_id, name or team_id)
        return True

    def add_player(
        self, team_id: str, player_id: str, name: str | None, jersey_number: int | None = None
    ) -> None:
        squad = self.players.setdefault(team_id, {})
        if player_id not in squad:
            squad[player_id] = Player(
                player_id=player_id, name=name or player_id, team_id=team_id, jersey_number=jersey_number
            )

    def home_and_away(self, file_names: str) -> tuple[str, str]:
        if self.home_id is None or self.away_id is None:
            raise InvalidMatchData(f"{file_names}: fewer than two teams (a home and an away team are needed)")
        return self.home_id, self.away_id

    def team(self, team_id: str) -> Team:
        return Team(
            team_id=team_id,
            name=self.names.get(team_id, team_id),
            players=tuple(self.players.get(team_id, {}).values()),
        )


# --- events ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _RawEvent:
    """One Metrica event with its values parsed but still in Metrica's pitch frame and clock."""

    event_id: str
    team_id: str
    type_name: str
    subtypes: tuple[str, ...]
    period: int
    start_time: float
    start_frame: int | None
    end_frame: int | None
    player_id: str | None
    recipient_id: str | None
    start: tuple[float, float] | None
    end: tuple[float, float] | None


def _csv_events(file_name: str, data: bytes, teams: _Teams) -> list[_RawEvent]:
    reader = csv.reader(io.StringIO(decode_text(file_name, data)))
    header = [column.strip() for column in next(reader, [])]
    missing = [column for column in _EVENTS_CSV_COLUMNS if column not in header]
    if missing:
        raise InvalidMatchData(f"{file_name}: not a Metrica events CSV: missing columns {', '.join(missing)}")
    (
        team_col,
        type_col,
        subtype_col,
        period_col,
        start_frame_col,
        start_time_col,
        end_frame_col,
        _end_time_col,
        from_col,
        to_col,
        start_x_col,
        start_y_col,
        end_x_col,
        end_y_col,
    ) = (header.index(column) for column in _EVENTS_CSV_COLUMNS)
    events: list[_RawEvent] = []
    line = 1  # the header
    try:
        for row in reader:
            line += 1
            if not row or not any(row):
                continue
            team_id = teams.csv_team(row[team_col])
            if team_id is None:
                raise ValueError(f"Team must be Home or Away, got {row[team_col]!r}")
            player_id = row[from_col].strip() or None
            recipient_id = row[to_col].strip() or None
            type_name = row[type_col].strip()
            if player_id:
                teams.add_player(team_id, player_id, player_id)
            if recipient_id and type_name == "PASS":
                teams.add_player(team_id, recipient_id, recipient_id)
            subtype = row[subtype_col].strip()
            events.append(
                _RawEvent(
                    event_id=str(len(events) + 1),
                    team_id=team_id,
                    type_name=type_name,
                    subtypes=tuple(part.strip() for part in subtype.split("-")) if subtype else (),
                    period=int(row[period_col]),
                    start_time=float(row[start_time_col]),
                    start_frame=_int_or_none(row[start_frame_col].strip()),
                    end_frame=_int_or_none(row[end_frame_col].strip()),
                    player_id=player_id,
                    recipient_id=recipient_id,
                    start=_fractions(row[start_x_col], row[start_y_col]),
                    end=_fractions(row[end_x_col], row[end_y_col]),
                )
            )
    except (*_PARSE_ERRORS, csv.Error) as exc:
        raise InvalidMatchData(f"{file_name}: line {line} is not a Metrica event ({exc})") from None
    if not events:
        raise InvalidMatchData(f"{file_name}: the events CSV has a header but no events")
    return events


def _json_events(file_name: str, data: bytes, teams: _Teams) -> list[_RawEvent]:
    document = decode_json(file_name, data)
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise InvalidMatchData(
            f'{file_name}: not a Metrica events JSON: expected an object with a "data" list of events'
        )
    items = document["data"]
    if not items:
        raise InvalidMatchData(f"{file_name}: the events list is empty")
    events: list[_RawEvent] = []
    number = 0
    try:
        for number, item in enumerate(items, start=1):
            team = item["team"]
            team_id = str(team["id"])
            if not teams.json_team(team_id, team.get("name")):
                raise ValueError(f"unknown team {team_id!r}")
            start, end = item["start"], item.get("end") or {}
            source, target = item.get("from"), item.get("to")
            player_id = str(source["id"]) if source else None
            recipient_id = str(target["id"]) if target else None
            if player_id is not None:
                teams.add_player(team_id, player_id, source.get("name"))
            if recipient_id is not None:
                teams.add_player(team_id, recipient_id, target.get("name"))
            period = item["period"]
            if type(period) is not int:
                raise ValueError(f"period must be an integer, got {period!r}")
            events.append(
                _RawEvent(
                    event_id=str(item.get("index", number)),
                    team_id=team_id,
                    type_name=str(item["type"]["name"]),
                    subtypes=_json_subtypes(item.get("subtypes")),
                    period=period,
                    start_time=float(start["time"]),
                    start_frame=start.get("frame"),
                    end_frame=end.get("frame"),
                    player_id=player_id,
                    recipient_id=recipient_id,
                    start=_json_point(start),
                    end=_json_point(end),
                )
            )
    except _PARSE_ERRORS as exc:
        problem = f"missing key {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
        raise InvalidMatchData(f"{file_name}: event #{number} is not a Metrica event ({problem})") from None
    return events


def _json_subtypes(subtypes: object) -> tuple[str, ...]:
    if subtypes is None:
        return ()
    if isinstance(subtypes, dict):
        return (str(subtypes["name"]),)
    if isinstance(subtypes, list):
        return tuple(str(subtype["name"]) for subtype in subtypes)
    raise TypeError(f"subtypes must be an object or a list, got {type(subtypes).__name__}")


def _json_point(point: Mapping[str, object]) -> tuple[float, float] | None:
    x, y = point.get("x"), point.get("y")
    if x is None or y is None:
        return None
    return _fractions(x, y)


def _fractions(x: object, y: object) -> tuple[float, float] | None:
    """A Metrica position (0..1 along each axis); None when either value is blank or NaN."""
    if x == "" or y == "":
        return None
    fx, fy = float(x), float(y)  # type: ignore[arg-type]
    if math.isnan(fx) or math.isnan(fy):
        return None
    return (fx, fy)


def _event_evidence(events: Sequence[_RawEvent], home_id: str) -> dict[int, int]:
    """Per period, shots and goal kicks voting +1 for "home attacks x=1" and -1 against."""
    votes: dict[int, int] = {}
    for event in events:
        if event.start is None or event.start[0] == 0.5:
            continue
        if event.type_name == "SHOT":
            towards_high_x = event.start[0] > 0.5
        elif "GOAL KICK" in event.subtypes:
            towards_high_x = event.start[0] < 0.5
        else:
            continue
        vote = 1 if towards_high_x == (event.team_id == home_id) else -1
        votes[event.period] = votes.get(event.period, 0) + vote
    return votes


def _flips(
    periods: Sequence[int],
    *,
    metadata_first_half: bool | None,
    kickoff: Mapping[int, bool],
    evidence: Mapping[int, int],
) -> dict[int, bool]:
    """Per period, True when the home team attacks towards Metrica x=0 (see the module docstring)."""
    high_x: dict[int, bool] = {}
    for period in periods:
        if metadata_first_half is not None and period in (1, 2):
            high_x[period] = metadata_first_half if period == 1 else not metadata_first_half
        elif period in kickoff:
            high_x[period] = kickoff[period]
        elif evidence.get(period):
            high_x[period] = evidence[period] > 0
    for period in periods:
        if period in high_x:
            continue
        if period - 1 in high_x:
            high_x[period] = not high_x[period - 1]
        elif period + 1 in high_x:
            high_x[period] = not high_x[period + 1]
        else:
            high_x[period] = period % 2 == 1
    return {period: not towards_high for period, towards_high in high_x.items()}


def _period_starts(
    periods: Sequence[int],
    metadata: _Metadata | None,
    tracking: _RawTracking | None,
    events: Sequence[_RawEvent],
    frame_rate: float,
) -> dict[int, float]:
    """Seconds on Metrica's match clock at which each period starts."""
    starts: dict[int, float] = {}
    first_events: dict[int, float] = {}
    for event in events:
        if event.period not in first_events or event.start_time < first_events[event.period]:
            first_events[event.period] = event.start_time
    tracking_starts = tracking.period_start_times() if tracking else {}
    for period in periods:
        if metadata is not None and period in metadata.periods:
            starts[period] = metadata.periods[period][0] / frame_rate
        elif period in tracking_starts:
            starts[period] = tracking_starts[period]
        else:
            starts[period] = first_events.get(period, 0.0)
    return starts


def _domain_events(
    events: Sequence[_RawEvent], flips: Mapping[int, bool], period_starts: Mapping[int, float]
) -> Iterable[Event]:
    from_metrica = Coordinates.from_metrica
    for event in events:
        flip = flips[event.period]
        subtypes = event.subtypes
        attributes: dict[str, object] = {}
        if subtypes:
            attributes["subtypes"] = list(subtypes)
        if event.recipient_id is not None:
            attributes["recipient_id"] = event.recipient_id
        if event.start_frame is not None:
            attributes["start_frame"] = event.start_frame
        if event.end_frame is not None:
            attributes["end_frame"] = event.end_frame
        event_type = EVENT_TYPES.get(event.type_name, EventType.GENERIC)
        if event.type_name == "CHALLENGE" and "DRIBBLE" in subtypes:
            event_type = EventType.TAKE_ON
        yield Event(
            event_id=event.event_id,
            type=event_type,
            period=event.period,
            timestamp=round(event.start_time - period_starts[event.period], 6),
            team_id=event.team_id,
            player_id=event.player_id,
            start=from_metrica(*event.start, flip=flip) if event.start else None,
            end=from_metrica(*event.end, flip=flip) if event.end else None,
            outcome=_outcome(event.type_name, subtypes),
            raw_type=event.type_name,
            attributes=attributes,
        )


def _outcome(type_name: str, subtypes: tuple[str, ...]) -> str | None:
    if type_name == "PASS":
        return "Offside" if "OFFSIDE" in subtypes else "Complete"
    if type_name == "SHOT":
        return next((outcome for subtype, outcome in _SHOT_OUTCOMES if subtype in subtypes), None)
    if type_name == "CHALLENGE":
        if "WON" in subtypes:
            return "Won"
        return "Lost" if "LOST" in subtypes else None
    if type_name == "CARD" and subtypes:
        return subtypes[0].title()
    return None


# --- tracking ----------------------------------------------------------------------------------


@dataclass
class _RawTracking:
    """Tracking rows in Metrica's frame (0..1, fixed to the pitch), one per object per frame, in
    frame order; columns grow a whole frame at a time because a match has millions of rows."""

    frame_rate: float
    frame: array = field(default_factory=lambda: array("q"))
    period: array = field(default_factory=lambda: array("b"))
    time: array = field(default_factory=lambda: array("d"))
    object_id: list[str] = field(default_factory=list)
    team_id: list[str | None] = field(default_factory=list)
    x: array = field(default_factory=lambda: array("d"))
    y: array = field(default_factory=lambda: array("d"))
    # period -> (first row, rows) of the period's first frame, and the row where the period ends
    first_frames: dict[int, tuple[int, int]] = field(default_factory=dict)
    period_ends: dict[int, int] = field(default_factory=dict)

    def add_frame(
        self,
        frame: int,
        period: int,
        time: float,
        object_ids: Sequence[str],
        team_ids: Sequence[str | None],
        xs: list[float],
        ys: list[float],
    ) -> None:
        rows = len(object_ids)
        if period not in self.first_frames:
            self.first_frames[period] = (len(self.frame), rows)
        # fromlist is the fast path into an array (extend goes item by item through the iterator).
        self.frame.fromlist([frame] * rows)
        self.period.fromlist([period] * rows)
        self.time.fromlist([time] * rows)
        self.object_id.extend(object_ids)
        self.team_id.extend(team_ids)
        self.x.fromlist(xs)
        self.y.fromlist(ys)
        self.period_ends[period] = len(self.frame)

    def periods(self) -> list[int]:
        return sorted(self.first_frames)

    def period_start_times(self) -> dict[int, float]:
        return {period: self.time[first] for period, (first, _) in self.first_frames.items()}

    def home_attacks_high_x_at_kickoff(self, home_id: str, away_id: str) -> dict[int, bool]:
        directions: dict[int, bool] = {}
        for period, (first, rows) in self.first_frames.items():
            sums = {home_id: [0.0, 0], away_id: [0.0, 0]}
            for row in range(first, first + rows):
                totals = sums.get(self.team_id[row])  # type: ignore[arg-type]
                if totals is not None and not math.isnan(self.x[row]):
                    totals[0] += self.x[row]
                    totals[1] += 1
            (home_x, home_n), (away_x, away_n) = sums[home_id], sums[away_id]
            if home_n and away_n:
                directions[period] = home_x / home_n < away_x / away_n
        return directions

    def to_domain(self, flips: Mapping[int, bool], period_starts: Mapping[int, float]) -> TrackingData:
        x, y, timestamp = array("d"), array("d"), array("d")
        begin = 0
        for period in sorted(self.period_ends, key=self.period_ends.__getitem__):
            end = self.period_ends[period]
            # The factory is the one authority on Metrica's frame; it is affine, so three points
            # give its coefficients and millions of rows need arithmetic only.
            origin = Coordinates.from_metrica(0.0, 0.0, flip=flips[period])
            unit_x = Coordinates.from_metrica(1.0, 0.0, flip=flips[period])
            unit_y = Coordinates.from_metrica(0.0, 1.0, flip=flips[period])
            xx, xy = unit_x.x - origin.x, unit_y.x - origin.x
            yx, yy = unit_x.y - origin.y, unit_y.y - origin.y
            ox, oy = origin.x, origin.y
            raw_xs, raw_ys = self.x[begin:end], self.y[begin:end]
            x.fromlist([ox + rx * xx + ry * xy for rx, ry in zip(raw_xs, raw_ys, strict=True)])
            y.fromlist([oy + rx * yx + ry * yy for rx, ry in zip(raw_xs, raw_ys, strict=True)])
            start = period_starts[period]
            timestamp.fromlist([time - start for time in self.time[begin:end]])
            begin = end
        return TrackingData(
            frame_rate=self.frame_rate,
            frame=self.frame,
            period=self.period,
            timestamp=timestamp,
            object_id=tuple(self.object_id),
            team_id=tuple(self.team_id),
            x=x,
            y=y,
        )


@dataclass(frozen=True, slots=True)
class _CsvTrackingFile:
    file_name: str
    side: str
    players: tuple[tuple[str, int | None, int], ...]  # (player id, jersey number, x column)
    ball_column: int | None
    lines: list[str]  # the data lines, split one at a time (a list per line would load the GC)


def _csv_tracking(files: Sequence[tuple[str, bytes]], teams: _Teams) -> _RawTracking:
    sides: dict[str, _CsvTrackingFile] = {}
    for file_name, data in files:
        parsed = _csv_tracking_file(file_name, data)
        if parsed.side in sides:
            raise InvalidMatchData(
                f"{sides[parsed.side].file_name}, {file_name}: two {parsed.side} tracking files"
            )
        sides[parsed.side] = parsed
    for side in ("home", "away"):
        if side not in sides:
            present = ", ".join(name for name, _ in files)
            raise InvalidMatchData(f"{present}: the {side} team's tracking CSV is missing (both are needed)")
    home, away = sides["home"], sides["away"]
    home_id, away_id = teams.csv_team("Home"), teams.csv_team("Away")
    assert home_id is not None and away_id is not None
    for parsed, team_id in ((home, home_id), (away, away_id)):
        for player_id, jersey, _ in parsed.players:
            teams.add_player(team_id, player_id, player_id, jersey)
    if len(home.lines) != len(away.lines):
        raise InvalidMatchData(
            f"{home.file_name}, {away.file_name}: "
            f"the files hold {len(home.lines)} and {len(away.lines)} frames"
        )
    # Both files carry the ball; the home file's copy is used.
    ball_file = home if home.ball_column is not None else away
    object_ids = tuple(
        [player_id for player_id, _, _ in home.players]
        + [player_id for player_id, _, _ in away.players]
        + ["ball"]
    )
    team_ids = (home_id,) * len(home.players) + (away_id,) * len(away.players) + (None,)
    home_columns = [column for _, _, column in home.players]
    away_columns = [column for _, _, column in away.players]
    ball_columns = [ball_file.ball_column] if ball_file.ball_column is not None else []
    tracking = _RawTracking(frame_rate=_csv_frame_rate(home))
    parsed_file = home
    line = 3
    try:
        for home_line, away_line in zip(home.lines, away.lines, strict=True):
            line += 1
            parsed_file = home
            home_row, away_row = home_line.split(","), away_line.split(",")
            period, frame, time = int(home_row[0]), int(home_row[1]), float(home_row[2])
            xs = [float(home_row[column]) for column in home_columns]
            ys = [float(home_row[column + 1]) for column in home_columns]
            parsed_file = away
            if int(away_row[1]) != frame:
                raise ValueError(f"frame {away_row[1]} where the home file has frame {frame}")
            xs += [float(away_row[column]) for column in away_columns]
            ys += [float(away_row[column + 1]) for column in away_columns]
            parsed_file = ball_file
            ball_row = home_row if ball_file is home else away_row
            xs += [float(ball_row[column]) for column in ball_columns] or [math.nan]
            ys += [float(ball_row[column + 1]) for column in ball_columns] or [math.nan]
            tracking.add_frame(frame, period, time, object_ids, team_ids, xs, ys)
    except (*_PARSE_ERRORS, OverflowError) as exc:
        raise InvalidMatchData(
            f"{parsed_file.file_name}: line {line} is not a tracking row ({exc})"
        ) from None
    return tracking


def _csv_frame_rate(parsed: _CsvTrackingFile) -> float:
    """Metrica's clock is frame / frame rate, so any row gives the rate (the files do not state it)."""
    try:
        first = parsed.lines[0].split(",")
        frame, time = int(first[1]), float(first[2])
    except (IndexError, ValueError):
        return DEFAULT_FRAME_RATE
    return round(frame / time, 3) if time > 0 else DEFAULT_FRAME_RATE


def _csv_tracking_file(file_name: str, data: bytes) -> _CsvTrackingFile:
    lines = decode_text(file_name, data).splitlines()
    if len(lines) < 4:
        raise InvalidMatchData(
            f"{file_name}: a Metrica tracking CSV needs three header rows and at least one frame"
        )
    teams_row, jerseys_row, names_row = (line.split(",") for line in lines[:3])
    if [cell.strip() for cell in names_row[:3]] != ["Period", "Frame", "Time [s]"]:
        raise InvalidMatchData(f"{file_name}: the third header row must start with Period,Frame,Time [s]")
    label = next((cell.strip() for cell in teams_row[3:] if cell.strip()), "")
    side = _CSV_TEAMS.get(label.lower())
    if side is None:
        lowered = file_name.lower()
        side = "home" if "home" in lowered else "away" if "away" in lowered else None
    if side is None:
        raise InvalidMatchData(
            f"{file_name}: cannot tell whether this tracking CSV is the home or the away team"
        )
    players: list[tuple[str, int | None, int]] = []
    ball_column = None
    for column in range(3, len(names_row)):
        name = names_row[column].strip()
        if not name:
            continue
        if name == "Ball":
            ball_column = column
        else:
            jersey = jerseys_row[column].strip() if column < len(jerseys_row) else ""
            players.append((name, _int_or_none(jersey), column))
    if not players:
        raise InvalidMatchData(f"{file_name}: the header names no players")
    data_lines = [line for line in lines[3:] if line.strip()]
    return _CsvTrackingFile(file_name, side, tuple(players), ball_column, data_lines)


@dataclass(frozen=True, slots=True)
class _EptsLayout:
    """Where one DataFormatSpecification puts the values a frame needs, as indexes into a split line."""

    spec: _FormatSpec
    split: Callable[[str], list[str]]
    frame_index: int
    object_ids: tuple[str, ...]
    team_ids: tuple[str | None, ...]
    x_indexes: tuple[int | None, ...]
    y_indexes: tuple[int | None, ...]

    @classmethod
    def of(cls, spec: _FormatSpec, team_of: Mapping[str, str]) -> _EptsLayout:
        frame_indexes = [i for i, leaf in enumerate(spec.leaves) if leaf.kind == "frame"]
        if not frame_indexes:
            raise ValueError("the format has no frameCount register")
        positions: dict[str, list[int | None]] = {}
        for index, leaf in enumerate(spec.leaves):
            if leaf.kind in ("player", "ball"):
                key = (leaf.player_id or "") if leaf.kind == "player" else "ball"
                positions.setdefault(key, [None, None])[leaf.channel == "y"] = index
        # The ball last, like the CSV layout.
        ordered = [key for key in positions if key != "ball"] + ["ball"]
        ball = positions.get("ball", [None, None])
        return cls(
            spec=spec,
            split=re.compile("[" + re.escape(spec.separators) + "]").split,
            frame_index=frame_indexes[0],
            object_ids=tuple(ordered),
            team_ids=tuple(team_of.get(key) if key != "ball" else None for key in ordered),
            x_indexes=tuple((positions[key] if key != "ball" else ball)[0] for key in ordered),
            y_indexes=tuple((positions[key] if key != "ball" else ball)[1] for key in ordered),
        )


def _epts_tracking(file_name: str, data: bytes, metadata: _Metadata, teams: _Teams) -> _RawTracking:
    if not metadata.specs:
        raise InvalidMatchData(f"{metadata.file_name}: no DataFormatSpecification to read {file_name} with")
    text = decode_text(file_name, data)
    team_of = {player.player_id: player.team_id for player in metadata.players}
    try:
        layouts = [
            _EptsLayout.of(spec, team_of) for spec in sorted(metadata.specs, key=lambda s: s.start_frame)
        ]
    except ValueError as exc:
        raise InvalidMatchData(f"{metadata.file_name}: unusable DataFormatSpecification ({exc})") from None
    periods = sorted(metadata.periods.items())
    frame_rate = metadata.frame_rate
    tracking = _RawTracking(frame_rate=frame_rate)
    nan = math.nan
    layout = layouts[0]
    line_number = 0
    try:
        for line in text.splitlines():
            line_number += 1
            line = line.strip()
            if not line:
                continue
            values = layout.split(line)
            frame = int(values[layout.frame_index])
            if not layout.spec.start_frame <= frame <= layout.spec.end_frame:
                # Substitutions change the columns: each spec covers a range of frames.
                layout = next(
                    (each for each in layouts if each.spec.start_frame <= frame <= each.spec.end_frame),
                    layout,
                )
                values = layout.split(line)
            expected = len(layout.spec.leaves)
            if len(values) < expected or any(values[expected:]):
                raise ValueError(f"{len(values)} values where the format specifies {expected}")
            period = _period_of(frame, periods)
            if period is None:
                continue  # between periods (half-time): no period to attach the frame to
            xs = [float(values[i]) if i is not None and values[i] else nan for i in layout.x_indexes]
            ys = [float(values[i]) if i is not None and values[i] else nan for i in layout.y_indexes]
            tracking.add_frame(frame, period, frame / frame_rate, layout.object_ids, layout.team_ids, xs, ys)
    except (*_PARSE_ERRORS, OverflowError) as exc:
        raise InvalidMatchData(
            f"{file_name}: line {line_number} does not match the EPTS format ({exc})"
        ) from None
    if not tracking.frame:
        raise InvalidMatchData(
            f"{file_name}: no tracking frame falls inside the periods of {metadata.file_name}"
        )
    return tracking


def _period_of(frame: int, periods: Sequence[tuple[int, tuple[int, int]]]) -> int | None:
    if not periods:
        return 1
    for period, (start, end) in periods:
        if start <= frame <= end:
            return period
    return None
