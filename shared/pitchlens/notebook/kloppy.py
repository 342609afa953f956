"""A match's events as a kloppy `EventDataset` (kloppy is the de facto open standard of event data).

The dataset is built from what PitchLens stores (the normalised events and the lineups), not from the
provider's files, so every source reads the same way. It arrives in kloppy's own conventions: its
coordinate system (`Provider.KLOPPY`: 0..1 along a 105 x 68 m pitch, origin top-left, y down) and
the orientation asked for (kloppy's StatsBomb loader's `ACTION_EXECUTING_TEAM` by default: every
event seen by the team performing it attacking left to right). It is first declared in the PitchLens
frame (metres, centre origin, y up, home attacking +x in every period: kloppy's `STATIC_HOME_AWAY`)
and transformed by kloppy itself, so coordinates map linearly (PitchLens scales provider pitches
linearly; kloppy's loaders bend StatsBomb's through the pitch markings, up to ~2 m apart).

Types map to kloppy's event classes as `TYPE_BUILDERS` says, outcomes to its results as `RESULTS`;
what kloppy has no class for (ball receipts, blocks, fouls won, set pieces, period starts and ends)
becomes a `GenericEvent` named after the provider's type. Every event keeps our row as `raw_event`.
kloppy's loaders also add synthetic events (a BALL_OUT after a ball goes out, a CARD from a foul's
card): this dataset has only the events PitchLens stores.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from pitchlens.domain.model import PITCH_LENGTH, PITCH_WIDTH

TYPE_BUILDERS = {
    "pass": "build_pass",
    "shot": "build_shot",
    "carry": "build_carry",
    "take_on": "build_take_on",
    "duel": "build_duel",
    "pressure": "build_pressure_event",
    "interception": "build_interception",
    "clearance": "build_clearance",
    "recovery": "build_recovery",
    "miscontrol": "build_miscontrol",
    "foul_committed": "build_foul_committed",
    "card": "build_card",
    "goalkeeper": "build_goalkeeper_event",
    "substitution": "build_substitution",
    "ball_out": "build_ball_out",
}
"""Our event type -> kloppy's EventFactory method; every other type is a generic event."""

RESULTS: dict[str, tuple[str, dict[str, str], str | None]] = {
    # our type: (kloppy result enum, our outcome (lower case) -> member, member when no outcome)
    "pass": (
        "PassResult",
        {
            "complete": "COMPLETE",
            "incomplete": "INCOMPLETE",
            "out": "OUT",
            "injury clearance": "OUT",
            "pass offside": "OFFSIDE",
        },
        "COMPLETE",
    ),
    "shot": (
        "ShotResult",
        {
            "goal": "GOAL",
            "own goal": "OWN_GOAL",
            "saved": "SAVED",
            "saved to post": "SAVED",
            "saved off target": "SAVED",
            "post": "POST",
            "blocked": "BLOCKED",
            "off t": "OFF_TARGET",
            "wayward": "OFF_TARGET",
        },
        None,
    ),
    "carry": ("CarryResult", {}, "COMPLETE"),
    "take_on": ("TakeOnResult", {"complete": "COMPLETE", "incomplete": "INCOMPLETE"}, None),
    "duel": (
        "DuelResult",
        {
            "won": "WON",
            "success": "WON",
            "success in play": "WON",
            "success out": "WON",
            "lost": "LOST",
            "lost in play": "LOST",
            "lost out": "LOST",
        },
        None,
    ),
    "interception": (
        "InterceptionResult",
        {
            "won": "SUCCESS",
            "success": "SUCCESS",
            "success in play": "SUCCESS",
            "success out": "OUT",
            "lost": "LOST",
            "lost in play": "LOST",
            "lost out": "OUT",
        },
        None,
    ),
}

CARD_TYPES = {"yellow card": "FIRST_YELLOW", "second yellow": "SECOND_YELLOW", "red card": "RED"}

Row = Mapping[str, Any]


def event_dataset(
    match: Row,
    lineup: Row,
    events: Iterable[Row],
    *,
    orientation: Any = None,
) -> Any:
    """A kloppy EventDataset of one match: `match` as `GET /matches/{id}` answers, `lineup` as
    `GET /matches/{id}/players`, `events` as the rows of `Lens.events` (in match order)."""
    from kloppy.domain import (
        BallState,
        CustomCoordinateSystem,
        DatasetFlag,
        Dimension,
        EventDataset,
        EventFactory,
        Ground,
        KloppyCoordinateSystem,
        Metadata,
        MetricPitchDimensions,
        Orientation,
        Origin,
        Period,
        Player,
        Point,
        Provider,
        Team,
        VerticalOrientation,
    )
    from kloppy.domain import models as kloppy_models

    rows = list(events)
    teams: dict[str, Any] = {}
    players: dict[str, Any] = {}
    for side, ground in (("home", Ground.HOME), ("away", Ground.AWAY)):
        [view] = [t for t in lineup["teams"] if t["side"] == side]
        team = Team(team_id=view["team_id"], name=view["name"], ground=ground)
        teams[team.team_id] = team
        for listed in lineup["players"]:
            if listed["team_id"] == team.team_id:
                player = Player(
                    player_id=listed["player_id"],
                    team=team,
                    jersey_no=listed["jersey_number"],
                    name=listed["name"],
                    starting=listed["starting"],
                )
                team.players.append(player)
                players[player.player_id] = player

    periods = _periods(rows, Period)
    own_frame = CustomCoordinateSystem(
        origin=Origin.CENTER,
        vertical_orientation=VerticalOrientation.BOTTOM_TO_TOP,
        pitch_dimensions=MetricPitchDimensions(
            x_dim=Dimension(-PITCH_LENGTH / 2, PITCH_LENGTH / 2),
            y_dim=Dimension(-PITCH_WIDTH / 2, PITCH_WIDTH / 2),
            pitch_length=PITCH_LENGTH,
            pitch_width=PITCH_WIDTH,
            standardized=False,
        ),
    )
    factory = EventFactory()
    records = []
    for row in rows:
        team = teams.get(row["team_id"] or "")
        common: dict[str, Any] = {
            "event_id": row["event_id"],
            "period": periods[row["period"]],
            "timestamp": timedelta(seconds=row["timestamp"]),
            "team": team,
            "player": players.get(row["player_id"] or ""),
            "ball_owning_team": team,
            "ball_state": BallState.ALIVE,
            "coordinates": _point(Point, row["start_x"], row["start_y"]),
            "raw_event": dict(row),
            "qualifiers": None,
        }
        built = _specific(row, common, players, kloppy_models, Point)
        method = TYPE_BUILDERS.get(row["type"])
        if method is None or built is None:
            records.append(
                factory.build_generic(event_name=row["raw_type"] or row["type"], result=None, **common)
            )
        else:
            records.append(getattr(factory, method)(**common, **built))
    metadata = Metadata(
        teams=list(teams.values()),
        periods=list(periods.values()),
        pitch_dimensions=own_frame.pitch_dimensions,
        coordinate_system=own_frame,
        orientation=Orientation.STATIC_HOME_AWAY,
        flags=DatasetFlag.BALL_OWNING_TEAM,
        provider=Provider.OTHER,
        game_id=str(match["match_id"]),
        attributes={"source": match.get("source"), "competition": match.get("competition")},
    )
    dataset = EventDataset(metadata=metadata, records=records)
    return dataset.transform(
        to_coordinate_system=KloppyCoordinateSystem(pitch_length=PITCH_LENGTH, pitch_width=PITCH_WIDTH),
        to_orientation=orientation or Orientation.ACTION_EXECUTING_TEAM,
    )


def _point(point: Callable[..., Any], x: float | None, y: float | None) -> Any:
    return None if x is None or y is None else point(x=x, y=y)


def _periods(rows: list[Row], period: Callable[..., Any]) -> dict[int, Any]:
    """Periods back to back: each starts where the previous one's last event was."""
    ends: dict[int, float] = {}
    for row in rows:
        ends[row["period"]] = max(ends.get(row["period"], 0.0), row["timestamp"])
    built: dict[int, Any] = {}
    start = 0.0
    for number in sorted(ends):
        built[number] = period(
            id=number,
            start_timestamp=timedelta(seconds=start),
            end_timestamp=timedelta(seconds=start + ends[number]),
        )
        start += ends[number]
    return built


def _attributes(row: Row) -> dict[str, Any]:
    value = row.get("attributes")
    if isinstance(value, str):
        return dict(json.loads(value or "{}"))
    return dict(value or {})


def _specific(
    row: Row, common: Mapping[str, Any], players: Mapping[str, Any], models: Any, point: Callable[..., Any]
) -> dict[str, Any] | None:
    """The arguments only this type's kloppy class takes; None: build a generic event instead."""
    kind = row["type"]
    outcome = (row["outcome"] or "").lower()
    end = _point(point, row["end_x"], row["end_y"])
    arguments: dict[str, Any] = {}
    if kind in RESULTS:
        enum_name, members, default = RESULTS[kind]
        member = members.get(outcome, default if not outcome else None)
        arguments["result"] = getattr(models, enum_name)[member] if member else None
    else:
        arguments["result"] = None
    if kind == "pass":
        receiver = players.get(str(_attributes(row).get("recipient_id", "")))
        arguments |= {"receiver_coordinates": end, "receive_timestamp": None, "receiver_player": receiver}
    elif kind == "shot":
        arguments["result_coordinates"] = end
    elif kind in ("carry", "pressure"):
        duration = _attributes(row).get("duration")
        arguments["end_timestamp"] = (
            models.Time(period=common["period"], timestamp=common["timestamp"] + timedelta(seconds=duration))
            if isinstance(duration, int | float)
            else None
        )
        if kind == "carry":
            arguments["end_coordinates"] = end
    elif kind == "card":
        card = CARD_TYPES.get(outcome) or CARD_TYPES.get(str(_attributes(row).get("card", "")).lower())
        if card is None:
            return None
        arguments["card_type"] = models.CardType[card]
    elif kind == "substitution":
        replacement = players.get(str(_attributes(row).get("replacement_id", "")))
        if replacement is None:
            return None
        arguments["replacement_player"] = replacement
    return arguments
