"""StatsBomb adapters: open-data JSON files (events, lineups, 360 frames) to the domain `Match`.

Every raw event becomes exactly one domain event, in file order. Types map as follows
(`outcome` is the type's own `outcome.name` unless the table says otherwise):

==================  =================  ==================================================
StatsBomb type      EventType          outcome
==================  =================  ==================================================
Pass                PASS               pass.outcome, "Complete" when StatsBomb omits it
Shot                SHOT               shot.outcome
Own Goal Against    SHOT               "Own Goal" (attribute own_goal=True), see below
Carry               CARRY              None
Dribble             TAKE_ON            dribble.outcome
Duel                DUEL               duel.outcome; "Lost" for an "Aerial Lost" duel
Pressure            PRESSURE           None
Interception        INTERCEPTION       interception.outcome
Clearance           CLEARANCE          None
Block               BLOCK              None
Ball Recovery       RECOVERY           "Failed" when recovery_failure, else "Complete"
Ball Receipt*       BALL_RECEIPT       ball_receipt.outcome, "Complete" when omitted
Dispossessed        BALL_LOST          None
Miscontrol          MISCONTROL         None
Foul Committed      FOUL_COMMITTED     None (a card goes to attributes["card"])
Foul Won            FOUL_WON           None
Bad Behaviour       CARD               the card's name
Goal Keeper         GOALKEEPER         goalkeeper.outcome
Substitution        SUBSTITUTION       substitution.outcome (Tactical, Injury)
Tactical Shift      FORMATION_CHANGE   None
Half Start / End    PERIOD_START / END None
anything else       GENERIC            None (Starting XI, Own Goal For, Injury Stoppage, ...)
==================  =================  ==================================================

An own goal is recorded by StatsBomb twice: "Own Goal Against" for the conceding player and
"Own Goal For" for the team credited. Like kloppy (whose type names PitchLens follows) the
"against" event is a SHOT with outcome "Own Goal", so goal tallies can be read from shots alone;
its location is at the player's own goal, so direction checks on shots must skip it. The "for"
event carries no action and stays GENERIC.

The home team is the team of the first "Starting XI" event (StatsBomb lists the home team
first), else the first team of the lineups file, else the first team seen in the events.
Locations are seen by the acting team attacking left to right; away-team events are flipped
(`Coordinates.from_statsbomb(flip=True)`) so every point lands in the one PitchLens frame.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

from pitchlens.domain.errors import (
    InvalidMatchData,
    MatchNotFound,
    ServiceUnavailable,
    UnsupportedSource,
)
from pitchlens.domain.model import Coordinates, Event, EventType, Match, Player, Team
from pitchlens.domain.ports import MatchParser, MatchSource, RawMatchData
from pitchlens.infrastructure.providers.raw_files import collector_paused, decode_json

SOURCE = "statsbomb"

EVENT_TYPES: Mapping[str, EventType] = {
    "Pass": EventType.PASS,
    "Shot": EventType.SHOT,
    "Own Goal Against": EventType.SHOT,
    "Carry": EventType.CARRY,
    "Dribble": EventType.TAKE_ON,
    "Duel": EventType.DUEL,
    "Pressure": EventType.PRESSURE,
    "Interception": EventType.INTERCEPTION,
    "Clearance": EventType.CLEARANCE,
    "Block": EventType.BLOCK,
    "Ball Recovery": EventType.RECOVERY,
    "Ball Receipt*": EventType.BALL_RECEIPT,
    "Dispossessed": EventType.BALL_LOST,
    "Miscontrol": EventType.MISCONTROL,
    "Foul Committed": EventType.FOUL_COMMITTED,
    "Foul Won": EventType.FOUL_WON,
    "Bad Behaviour": EventType.CARD,
    "Goal Keeper": EventType.GOALKEEPER,
    "Substitution": EventType.SUBSTITUTION,
    "Tactical Shift": EventType.FORMATION_CHANGE,
    "Half Start": EventType.PERIOD_START,
    "Half End": EventType.PERIOD_END,
}

# The key of the type-specific object StatsBomb nests in an event of that type.
_DETAIL_KEYS: Mapping[str, str] = {
    "Pass": "pass",
    "Shot": "shot",
    "Carry": "carry",
    "Dribble": "dribble",
    "Duel": "duel",
    "Interception": "interception",
    "Clearance": "clearance",
    "Block": "block",
    "Ball Recovery": "ball_recovery",
    "Ball Receipt*": "ball_receipt",
    "Miscontrol": "miscontrol",
    "Foul Committed": "foul_committed",
    "Foul Won": "foul_won",
    "Bad Behaviour": "bad_behaviour",
    "Goal Keeper": "goalkeeper",
    "Substitution": "substitution",
    "50/50": "50_50",
}

# StatsBomb only writes an outcome for the exceptions (a failed pass, a lost receipt).
_IMPLICIT_OUTCOMES: Mapping[str, str] = {
    "Pass": "Complete",
    "Ball Receipt*": "Complete",
    "Ball Recovery": "Complete",
    "Own Goal Against": "Own Goal",
}

_TEAM_SHEET_TYPES = frozenset({"Own Goal Against", "Starting XI", "Tactical Shift"})
_DERIVED_OUTCOMES = frozenset({"Bad Behaviour", "Ball Recovery", "Duel"})

_NAME, _ID, _VALUE = "name", "id", "value"

# (key in the type-specific object, attribute name, how to read it): a few extras worth keeping.
_DETAIL_ATTRIBUTES: Mapping[str, tuple[tuple[str, str, str], ...]] = {
    "Pass": (
        ("recipient", "recipient_id", _ID),
        ("height", "height", _NAME),
        ("body_part", "body_part", _NAME),
        ("type", "pass_type", _NAME),
        ("cross", "cross", _VALUE),
        ("shot_assist", "shot_assist", _VALUE),
        ("goal_assist", "goal_assist", _VALUE),
    ),
    "Shot": (
        ("statsbomb_xg", "statsbomb_xg", _VALUE),
        ("body_part", "body_part", _NAME),
        ("type", "shot_type", _NAME),
        ("technique", "technique", _NAME),
    ),
    "Duel": (("type", "duel_type", _NAME),),
    "Clearance": (("body_part", "body_part", _NAME),),
    "Goal Keeper": (("type", "goalkeeper_type", _NAME), ("body_part", "body_part", _NAME)),
    "Foul Committed": (("card", "card", _NAME), ("penalty", "penalty", _VALUE)),
    "Bad Behaviour": (("card", "card", _NAME),),
    "Substitution": (("replacement", "replacement_id", _ID),),
}

_REQUIRED_KEYS = ("type", "period", "timestamp")
_PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)
_THREE_SIXTY_NAME = re.compile(r"three-sixty|(?<![0-9])360(?![0-9])")


class StatsBombParser(MatchParser):
    """Parses StatsBomb events (+ optional lineups and 360 frames) into a `Match`; bad files raise
    InvalidMatchData naming the file."""

    def parse(self, raw: RawMatchData) -> Match:
        with collector_paused():
            return self._parse(raw)

    def _parse(self, raw: RawMatchData) -> Match:
        files = _StatsBombFiles.pick(raw.files)
        items = _event_items(files.events_name, decode_json(files.events_name, files.events))
        lineups = (
            _lineup_items(files.lineups_name, decode_json(files.lineups_name, files.lineups))
            if files.lineups is not None and files.lineups_name is not None
            else []
        )
        frames = (
            _freeze_frames(files.three_sixty_name, decode_json(files.three_sixty_name, files.three_sixty))
            if files.three_sixty is not None and files.three_sixty_name is not None
            else {}
        )
        teams = _team_order(items, lineups)
        roster = _Roster.from_lineups(files.lineups_name or "lineups.json", lineups)
        # Validate every event before judging the teams: a broken event is the more useful message.
        events = _events(
            files.events_name, items, teams[1].team_id if len(teams) > 1 else None, frames, roster
        )
        if len(teams) < 2:
            raise InvalidMatchData(f"{files.events_name}: the events name fewer than two teams")
        return Match(
            match_id=raw.match_id,
            source=SOURCE,
            home_team=roster.team(teams[0]),
            away_team=roster.team(teams[1]),
            events=tuple(events),
        )


@dataclass(frozen=True, slots=True)
class _StatsBombFiles:
    events_name: str
    events: bytes
    lineups_name: str | None = None
    lineups: bytes | None = None
    three_sixty_name: str | None = None
    three_sixty: bytes | None = None

    @classmethod
    def pick(cls, files: Mapping[str, bytes]) -> _StatsBombFiles:
        """Recognises the files by name: `events.json` or `events/<id>.json` (any JSON name with
        "event"), "lineup", and "three-sixty"/"360", else by their first keys; others are ignored."""
        found: dict[str, list[str]] = {"events": [], "lineups": [], "three_sixty": []}
        for name, data in files.items():
            role = _file_role(name, data)
            if role is not None:
                found[role].append(name)
        for role, names in found.items():
            if len(names) > 1:
                raise InvalidMatchData(
                    f"{', '.join(sorted(names))}: several StatsBomb {role} files for one match"
                )
        if not found["events"]:
            listed = ", ".join(sorted(files)) or "no files"
            raise InvalidMatchData(
                f"events.json: missing, no StatsBomb events file among the files ({listed})"
            )
        events_name = found["events"][0]
        lineups_name = found["lineups"][0] if found["lineups"] else None
        three_sixty_name = found["three_sixty"][0] if found["three_sixty"] else None
        return cls(
            events_name=events_name,
            events=files[events_name],
            lineups_name=lineups_name,
            lineups=files[lineups_name] if lineups_name else None,
            three_sixty_name=three_sixty_name,
            three_sixty=files[three_sixty_name] if three_sixty_name else None,
        )


def _file_role(name: str, data: bytes) -> str | None:
    path = name.replace("\\", "/").lower()
    if not path.endswith(".json"):
        return None
    # 360 and lineups first: their open-data folders hold `<id>.json` files too.
    if _THREE_SIXTY_NAME.search(path):
        return "three_sixty"
    if "lineup" in path:
        return "lineups"
    if "event" in path:
        return "events"
    # A bare `<id>.json` (an upload that lost its folder): recognise it by its first keys.
    head = data[:4096]
    if b'"event_uuid"' in head:
        return "three_sixty"
    if b'"team_id"' in head and b'"lineup"' in head:
        return "lineups"
    if b'"period"' in head and b'"timestamp"' in head:
        return "events"
    return None


def _event_items(file_name: str, document: object) -> list[Any]:
    if not isinstance(document, list):
        raise InvalidMatchData(
            f"{file_name}: not a StatsBomb events file: expected a JSON list of events, "
            f"got {_json_kind(document)}"
        )
    if not document:
        raise InvalidMatchData(f"{file_name}: the events list is empty")
    return document


def _lineup_items(file_name: str, document: object) -> list[dict[str, Any]]:
    if not isinstance(document, list) or not all(
        isinstance(team, dict) and "team_id" in team and isinstance(team.get("lineup"), list)
        for team in document
    ):
        raise InvalidMatchData(
            f"{file_name}: not a StatsBomb lineups file: expected a JSON list of "
            "{team_id, team_name, lineup: [...]} objects"
        )
    return document


def _freeze_frames(file_name: str, document: object) -> dict[str, list[Any]]:
    if not isinstance(document, list):
        raise InvalidMatchData(
            f"{file_name}: not a StatsBomb 360 file: expected a JSON list of frames, "
            f"got {_json_kind(document)}"
        )
    frames: dict[str, list[Any]] = {}
    for number, frame in enumerate(document, start=1):
        if (
            not isinstance(frame, dict)
            or not isinstance(frame.get("event_uuid"), str)
            or not isinstance(frame.get("freeze_frame"), list)
        ):
            raise InvalidMatchData(
                f"{file_name}: frame #{number} is not a StatsBomb 360 frame "
                "(it needs event_uuid and freeze_frame)"
            )
        frames[frame["event_uuid"]] = frame["freeze_frame"]
    return frames


def _json_kind(document: object) -> str:
    if isinstance(document, dict):
        return "a JSON object"
    if isinstance(document, list):
        return "a JSON list"
    return f"a JSON {type(document).__name__}"


@dataclass(frozen=True, slots=True)
class _TeamRef:
    team_id: str
    name: str


def _team_order(items: list[Any], lineups: list[dict[str, Any]]) -> list[_TeamRef]:
    """Home first: the team of the first Starting XI, else the lineups' order, else the events'."""
    teams: dict[str, str] = {}
    starting: list[str] = []
    for item in items:
        team = item.get("team") if isinstance(item, dict) else None
        if not isinstance(team, dict) or "id" not in team:
            continue
        team_id = str(team["id"])
        teams.setdefault(team_id, str(team.get("name", team_id)))
        kind = item.get("type")
        if isinstance(kind, dict) and kind.get("name") == "Starting XI" and team_id not in starting:
            starting.append(team_id)
            if len(starting) == 2:
                break
    for lineup in lineups:
        teams.setdefault(str(lineup["team_id"]), str(lineup.get("team_name", lineup["team_id"])))
    order = starting + [str(lineup["team_id"]) for lineup in lineups] + list(teams)
    return [_TeamRef(team_id, teams[team_id]) for team_id in dict.fromkeys(order)][:2]


class _Roster:
    """Players by team: lineups first, then Starting XI tactics, then anyone seen in the events."""

    def __init__(self) -> None:
        self._players: dict[str, dict[str, dict[str, Any]]] = {}

    @classmethod
    def from_lineups(cls, file_name: str, lineups: list[dict[str, Any]]) -> _Roster:
        roster = cls()
        try:
            roster._add_lineups(lineups)
        except _PARSE_ERRORS as exc:
            raise InvalidMatchData(
                f"{file_name}: malformed lineup entry ({type(exc).__name__}: {exc})"
            ) from None
        return roster

    def _add_lineups(self, lineups: list[dict[str, Any]]) -> None:
        for lineup in lineups:
            team_id = str(lineup["team_id"])
            squad = self._players.setdefault(team_id, {})
            for entry in lineup["lineup"]:
                if not isinstance(entry, dict) or "player_id" not in entry:
                    continue
                positions = entry.get("positions") or []
                squad[str(entry["player_id"])] = {
                    "name": str(entry.get("player_name") or entry["player_id"]),
                    "jersey_number": entry.get("jersey_number"),
                    "position": positions[0].get("position") if positions else None,
                    "starting": any(p.get("start_reason") == "Starting XI" for p in positions),
                }

    def add_starting_xi(self, team_id: str, tactics: Any) -> None:
        squad = self._players.setdefault(team_id, {})
        for entry in tactics.get("lineup") or []:
            player = entry["player"]
            known = squad.setdefault(
                str(player["id"]), {"name": str(player.get("name") or player["id"]), "jersey_number": None}
            )
            known["starting"] = True
            known["position"] = (entry.get("position") or {}).get("name") or known.get("position")
            if known.get("jersey_number") is None:
                known["jersey_number"] = entry.get("jersey_number")

    def seen(self, team_id: str, player_id: str, name: str, position: str | None) -> None:
        squad = self._players.setdefault(team_id, {})
        if player_id not in squad:
            squad[player_id] = {"name": name, "jersey_number": None, "position": position, "starting": False}

    def player_ids(self) -> set[str]:
        return {player_id for squad in self._players.values() for player_id in squad}

    def team(self, ref: _TeamRef) -> Team:
        players = tuple(
            Player(
                player_id=player_id,
                name=known["name"],
                team_id=ref.team_id,
                jersey_number=_jersey(known.get("jersey_number")),
                position=known.get("position"),
                starting=bool(known.get("starting")),
            )
            for player_id, known in self._players.get(ref.team_id, {}).items()
        )
        return Team(team_id=ref.team_id, name=ref.name, players=players)


def _jersey(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _events(
    file_name: str,
    items: list[Any],
    away_id: str | None,
    frames: Mapping[str, list[Any]],
    roster: _Roster,
) -> list[Event]:
    # The hot path of ingestion (~4000 events a match): locals instead of attribute and function
    # look-ups, and the rare cases behind cheap tests.
    events: list[Event] = []
    append = events.append
    seen_ids: set[str] = set()
    from_statsbomb = Coordinates.from_statsbomb
    event_types = EVENT_TYPES
    detail_keys = _DETAIL_KEYS
    implicit_outcomes = _IMPLICIT_OUTCOMES
    derived_outcomes = _DERIVED_OUTCOMES
    detail_attributes = _DETAIL_ATTRIBUTES
    generic = EventType.GENERIC
    team_ids: dict[object, str] = {}
    known_players = roster.player_ids()
    number = 0
    item: Any = None
    try:
        for number, item in enumerate(items, start=1):
            type_name = item["type"]["name"]
            period = item["period"]
            if type(period) is not int:
                raise ValueError(f"period must be an integer, got {period!r}")
            hours, minutes, seconds = item["timestamp"].split(":")
            timestamp = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
            team = item.get("team")
            team_id = None
            if team is not None:
                raw_team_id = team["id"]
                team_id = team_ids.get(raw_team_id)
                if team_id is None:
                    team_id = team_ids[raw_team_id] = str(raw_team_id)
            flip = team_id == away_id
            player = item.get("player")
            player_id = None
            if player is not None:
                player_id = str(player["id"])
                if player_id not in known_players and team_id is not None:
                    known_players.add(player_id)
                    name = str(player.get("name") or player_id)
                    roster.seen(team_id, player_id, name, _name(item.get("position")))
            location = item.get("location")
            start = (
                from_statsbomb(location[0], location[1], flip=flip)
                if location and location[0] is not None and location[1] is not None
                else None
            )
            attributes: dict[str, object] = {}
            related = item.get("related_events")
            if related:
                attributes["related_events"] = related
            if item.get("under_pressure"):
                attributes["under_pressure"] = True
            end = None
            outcome = implicit_outcomes.get(type_name)
            detail_key = detail_keys.get(type_name)
            detail = item.get(detail_key) if detail_key is not None else None
            if detail is not None:
                named_outcome = detail.get("outcome")
                if named_outcome is not None:
                    outcome = str(named_outcome["name"])
                elif type_name in derived_outcomes:
                    outcome = _derived_outcome(type_name, detail) or outcome
                end_location = detail.get("end_location")
                if end_location:
                    end = _point(end_location, flip)
                    if len(end_location) > 2:
                        attributes["end_z"] = end_location[2]
                if type_name in detail_attributes:
                    _add_detail_attributes(detail_attributes[type_name], detail, attributes)
                    if type_name == "Substitution" and team_id is not None:
                        _note_replacement(roster, known_players, team_id, detail)
                    elif type_name == "Shot" and detail.get("freeze_frame"):
                        attributes["freeze_frame"] = _shot_freeze_frame(detail["freeze_frame"], flip)
            elif type_name in _TEAM_SHEET_TYPES:
                _add_team_sheet_attributes(type_name, item, team_id, roster, attributes)
            event_id = item.get("id")
            if frames and event_id in frames:
                attributes["freeze_frame"] = _freeze_frame(frames[event_id], flip)
            key = str(event_id) if event_id is not None else str(item.get("index", number))
            if key in seen_ids:
                # Seen in open data (Barcelona v Alavés): two different events under one id. Both are
                # kept; the later one is told apart by its index, which is unique within a match.
                attributes["statsbomb_id"] = key
                key = f"{key}#{item.get('index', number)}"
            seen_ids.add(key)
            append(
                Event(
                    key,
                    event_types.get(type_name, generic),
                    period,
                    timestamp,
                    team_id,
                    player_id,
                    start,
                    end,
                    outcome,
                    type_name,
                    attributes,
                )
            )
    except _PARSE_ERRORS as exc:
        raise InvalidMatchData(
            f"{file_name}: event #{number} is not a valid StatsBomb event: {_problem(item, exc)}"
        ) from None
    return events


def _note_replacement(roster: _Roster, known_players: set[str], team_id: str, detail: Any) -> None:
    replacement = detail.get("replacement")
    if replacement is not None and str(replacement["id"]) not in known_players:
        known_players.add(str(replacement["id"]))
        roster.seen(team_id, str(replacement["id"]), str(replacement.get("name") or replacement["id"]), None)


def _add_team_sheet_attributes(
    type_name: str, item: Any, team_id: str | None, roster: _Roster, attributes: dict[str, object]
) -> None:
    if type_name == "Own Goal Against":
        attributes["own_goal"] = True
    elif type_name in ("Starting XI", "Tactical Shift"):
        tactics = item.get("tactics") or {}
        if tactics.get("formation") is not None:
            attributes["formation"] = tactics["formation"]
        if type_name == "Starting XI" and team_id is not None:
            roster.add_starting_xi(team_id, tactics)


def _add_detail_attributes(
    fields: tuple[tuple[str, str, str], ...], detail: Any, attributes: dict[str, object]
) -> None:
    for key, attribute, kind in fields:
        value = detail.get(key)
        if value is None:
            continue
        if kind == _NAME:
            value = value["name"]
        elif kind == _ID:
            value = str(value["id"])
        attributes[attribute] = value


def _problem(item: object, exc: Exception) -> str:
    if not isinstance(item, dict):
        return f"expected a JSON object, got {_json_kind(item)}"
    missing = [key for key in _REQUIRED_KEYS if key not in item]
    if missing:
        return "missing " + ", ".join(repr(key) for key in missing)
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}"


def _point(location: Any, flip: bool) -> Coordinates | None:
    # StatsBomb occasionally publishes a location as [null, null].
    if not location or location[0] is None or location[1] is None:
        return None
    return Coordinates.from_statsbomb(location[0], location[1], flip=flip)


def _name(value: Any) -> str | None:
    return value.get("name") if isinstance(value, dict) else None


def _derived_outcome(type_name: str, detail: Any) -> str | None:
    """Outcomes StatsBomb encodes as flags or names rather than an `outcome` object."""
    if type_name == "Bad Behaviour":
        return _name(detail.get("card"))
    if type_name == "Ball Recovery":
        return "Failed" if detail.get("recovery_failure") else None
    if type_name == "Duel" and _name(detail.get("type")) == "Aerial Lost":
        return "Lost"
    return None


def _freeze_frame(entries: list[Any], flip: bool) -> list[dict[str, object]]:
    """360 freeze frame, in the event's own frame like its location, so it flips the same way."""
    frame: list[dict[str, object]] = []
    for entry in entries:
        point = _point(entry["location"], flip)
        if point is None:
            continue
        frame.append(
            {
                "x": point.x,
                "y": point.y,
                "teammate": bool(entry.get("teammate")),
                "actor": bool(entry.get("actor")),
                "keeper": bool(entry.get("keeper")),
            }
        )
    return frame


def _shot_freeze_frame(entries: list[Any], flip: bool) -> list[dict[str, object]]:
    """A shot's own freeze frame (players other than the shooter), used when no 360 frame exists."""
    frame: list[dict[str, object]] = []
    for entry in entries:
        point = _point(entry.get("location"), flip)
        if point is None:
            continue
        player = entry.get("player") or {}
        frame.append(
            {
                "x": point.x,
                "y": point.y,
                "teammate": bool(entry.get("teammate")),
                "actor": False,
                "keeper": _name(entry.get("position")) == "Goalkeeper",
                "player_id": str(player["id"]) if "id" in player else None,
            }
        )
    return frame


_MATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OPEN_DATA_FILES = (
    ("events", "events.json"),
    ("lineups", "lineups.json"),
    ("three-sixty", "three-sixty.json"),
)


class StatsBombOpenDataSource(MatchSource):
    """Reads one match's events, lineups and 360 files from a folder laid out like statsbomb/open-data
    (`[data/]events/<id>.json`, ...); an unknown id raises MatchNotFound."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)

    def fetch(self, source: str, match_id: str, location: str | None) -> RawMatchData:
        """`location` is not used: the folder is configuration, never request input."""
        _require_statsbomb(source)
        files: dict[str, bytes] = {}
        for name, path in self.paths(match_id).items():
            try:
                files[name] = path.read_bytes()
            except OSError as exc:
                raise InvalidMatchData(f"{path}: cannot be read ({exc.strerror or exc})") from None
        return RawMatchData(source=SOURCE, match_id=match_id, files=files)

    def paths(self, match_id: str) -> dict[str, Path]:
        """The match's files in the folder, by the name an upload gives them (`events.json`, ...)."""
        base = self._root / "data" if (self._root / "data" / "events").is_dir() else self._root
        if not _MATCH_ID.fullmatch(match_id):
            raise MatchNotFound(f"StatsBomb match {match_id!r} not found: not a valid match id")
        events = base / "events" / f"{match_id}.json"
        if not events.is_file():
            raise MatchNotFound(f"StatsBomb match {match_id} not found: no {events.name} in {events.parent}")
        found = {name: base / folder / f"{match_id}.json" for folder, name in _OPEN_DATA_FILES}
        return {name: path for name, path in found.items() if path.is_file()}


def _require_statsbomb(source: str) -> None:
    if source.strip().lower() != SOURCE:
        raise UnsupportedSource(f"this source serves StatsBomb data only, not {source!r}")


class StatsBombClient(Protocol):
    """Raw StatsBomb documents for one match, in the open-data file shapes."""

    def events(self, match_id: int) -> list[Any]: ...

    def lineups(self, match_id: int) -> list[Any]: ...

    def frames(self, match_id: int) -> list[Any]:
        """Raises MatchNotFound when the match has no 360 data."""
        ...


class StatsBombPyClient:
    """statsbombpy: the StatsBomb API when SB_USERNAME/SB_PASSWORD are set, else open data on GitHub.
    Network failures raise ServiceUnavailable and a 404 raises MatchNotFound."""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self._creds = {
            "user": username if username is not None else os.environ.get("SB_USERNAME"),
            "passwd": password if password is not None else os.environ.get("SB_PASSWORD"),
        }

    @property
    def _authenticated(self) -> bool:
        return bool(self._creds["user"] and self._creds["passwd"])

    def events(self, match_id: int) -> list[Any]:
        return self._documents("events", match_id)

    def lineups(self, match_id: int) -> list[Any]:
        return self._documents("lineups", match_id)

    def frames(self, match_id: int) -> list[Any]:
        return self._documents("frames", match_id)

    def _documents(self, kind: str, match_id: int) -> list[Any]:
        try:
            import requests  # statsbombpy's own HTTP client
            import statsbombpy  # noqa: F401
        except ImportError:
            raise UnsupportedSource(
                "fetching StatsBomb matches online needs statsbombpy: install the online extra "
                "(pip install 'pitchlens[online]'), or upload the match's files"
            ) from None

        try:
            if self._authenticated:
                # Imported here: statsbombpy.sb pulls in pandas and installs a requests cache.
                from statsbombpy import sb

                call = {"events": sb.events, "lineups": sb.lineups, "frames": sb.frames}[kind]
                result = call(match_id=match_id, fmt="dict", creds=self._creds)
            else:
                from statsbombpy import public

                result = {"events": public.events, "lineups": public.lineups, "frames": public.frames}[kind](
                    match_id
                )
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status == 404:
                raise MatchNotFound(f"StatsBomb has no {kind} for match {match_id} (HTTP 404)") from None
            raise ServiceUnavailable(f"StatsBomb {kind} for match {match_id}: HTTP {status}") from None
        except (requests.RequestException, OSError) as exc:
            raise ServiceUnavailable(f"StatsBomb cannot be reached ({type(exc).__name__}: {exc})") from None
        except ValueError as exc:  # a response body that is not JSON
            raise ServiceUnavailable(f"StatsBomb sent an unreadable {kind} response: {exc}") from None
        # statsbombpy keys events by id and lineups by team id, and stamps each event with match_id.
        documents = list(result.values()) if isinstance(result, dict) else list(result)
        for document in documents:
            if isinstance(document, dict):
                document.pop("match_id", None)
        return documents


_T = TypeVar("_T")


class StatsBombOnlineSource(MatchSource):
    """Downloads one match from StatsBomb and returns the open-data file shapes as `events.json`,
    `lineups.json` and (when published) `three-sixty.json`, so `StatsBombParser` reads both alike."""

    def __init__(self, client: StatsBombClient | None = None, *, timeout_s: float = 30.0) -> None:
        self._client: StatsBombClient = client if client is not None else StatsBombPyClient()
        self._timeout_s = timeout_s

    def fetch(self, source: str, match_id: str, location: str | None) -> RawMatchData:
        _require_statsbomb(source)
        if not match_id.strip().isdigit():
            raise MatchNotFound(f"StatsBomb match {match_id!r} not found: StatsBomb match ids are integers")
        number = int(match_id)
        events = self._call(self._client.events, number)
        if not events:
            raise MatchNotFound(f"StatsBomb match {match_id} not found: no events were returned")
        files = {
            "events.json": orjson.dumps(events),
            "lineups.json": orjson.dumps(self._call(self._client.lineups, number)),
        }
        try:
            frames = self._call(self._client.frames, number)
        except MatchNotFound:
            frames = []  # most matches have no 360 data
        if frames:
            files["three-sixty.json"] = orjson.dumps(frames)
        return RawMatchData(source=SOURCE, match_id=match_id, files=files)

    def _call(self, function: Callable[[int], _T], match_id: int) -> _T:
        # statsbombpy sets no HTTP timeout; a black-holed connection must not hang the worker, so the
        # call runs on a daemon thread we stop waiting for (a pool's thread would be joined at exit).
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = function(match_id)
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc

        worker = threading.Thread(target=run, name=f"statsbomb-{match_id}", daemon=True)
        worker.start()
        worker.join(self._timeout_s)
        if worker.is_alive():
            raise ServiceUnavailable(
                f"StatsBomb did not answer within {self._timeout_s:g} s (match {match_id})"
            )
        if "error" in outcome:
            raise outcome["error"]
        value: _T = outcome["value"]
        return value
