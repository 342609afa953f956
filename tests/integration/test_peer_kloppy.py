"""Our provider adapters against kloppy (the de facto open-source reader) on the shared real files.

How kloppy's output is brought into the PitchLens frame (metres, centre origin, home attacking +x
in every period, +y to the home team's left):

* StatsBomb: loaded with `coordinates="statsbomb"` (kloppy's own 120 x 80 yard frame) and
  transformed to `Orientation.STATIC_HOME_AWAY` (home plays left to right in both periods), then
  scaled linearly: x_m = x / 120 * 105 - 52.5, y_m = 34 - y / 80 * 68. We do not let kloppy
  convert to a metric pitch: its StatsBomb pitch is "standardized", so kloppy would map it
  piecewise-linearly through the pitch markings (18 yd box -> 16.5 m), up to ~2 m away from the
  linear scaling PitchLens uses. kloppy also moves StatsBomb's cell-based locations to the cell
  centre (-0.5 yd in standard fidelity, -0.05 yd in high fidelity), i.e. up to 0.44 m along x and
  0.43 m along y; hence a per-axis tolerance of 0.5 m.
* Metrica events: `coordinates="metrica"` (0..1, origin top-left, y down, as the files) and
  `STATIC_HOME_AWAY`, then x_m = x * 105 - 52.5, y_m = 34 - y * 68. Both sides read the same
  numbers, so the tolerance is numerical (1e-6 m).
* Metrica tracking: EPTS as the events. kloppy's raw-CSV tracking reader mirrors y (it reads
  `1 - y`), unlike its EPTS and JSON readers and unlike the Metrica documentation; the shared files
  show the CSV y is the events' y (at the kick-off, Sample Game 1's first pass starts at
  (0.45, 0.39) and the tracking excerpt's frame 1 has the ball at (0.45472, 0.38709)), so for the
  CSV pair we compare against kloppy with y mirrored back.

Event counts are compared per raw provider type in the tables below, which say what kloppy and
PitchLens make of that type. kloppy adds synthetic events (BALL_OUT after a ball goes out, CARD
from a foul's card, DUEL from an aerial pass/clearance), re-types some, and drops others; those
types are listed in the EXCLUDED tables with the reason, and not counted.
"""

from __future__ import annotations

import collections
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pitchlens.domain.model import EventType, Match
from pitchlens.domain.ports import RawMatchData
from pitchlens.infrastructure.providers import MetricaParser, StatsBombParser

pytestmark = pytest.mark.integration

pytest.importorskip("kloppy")
from kloppy import metrica as kloppy_metrica  # noqa: E402  (after the importorskip)
from kloppy import statsbomb as kloppy_statsbomb  # noqa: E402
from kloppy.domain import Orientation  # noqa: E402

STATSBOMB_MATCHES = ("3788741", "9880")
COUNT_TOLERANCE = 0.01  # relative; at least one event
STATSBOMB_AXIS_TOLERANCE_M = 0.5
METRICA_AXIS_TOLERANCE_M = 1e-6
TIMESTAMP_TOLERANCE_S = 0.001


@dataclass(frozen=True)
class Correspondence:
    raw_type: str
    kloppy_type: str  # kloppy's EventType name
    ours: EventType
    note: str = ""
    our_outcome_excluded: str | None = None  # our events with this outcome have no kloppy twin


STATSBOMB_CORRESPONDENCE = (
    Correspondence("Pass", "PASS", EventType.PASS),
    Correspondence("Carry", "CARRY", EventType.CARRY),
    Correspondence("Shot", "SHOT", EventType.SHOT),
    Correspondence("Own Goal Against", "SHOT", EventType.SHOT, "both: a shot with result own goal"),
    Correspondence("Pressure", "PRESSURE", EventType.PRESSURE),
    Correspondence("Dribble", "TAKE_ON", EventType.TAKE_ON),
    Correspondence("Duel", "DUEL", EventType.DUEL),
    Correspondence("Clearance", "CLEARANCE", EventType.CLEARANCE),
    Correspondence("Interception", "INTERCEPTION", EventType.INTERCEPTION),
    Correspondence("Miscontrol", "MISCONTROL", EventType.MISCONTROL),
    Correspondence("Foul Committed", "FOUL_COMMITTED", EventType.FOUL_COMMITTED),
    Correspondence("Substitution", "SUBSTITUTION", EventType.SUBSTITUTION),
    Correspondence("Tactical Shift", "FORMATION_CHANGE", EventType.FORMATION_CHANGE),
    Correspondence(
        "Ball Recovery",
        "RECOVERY",
        EventType.RECOVERY,
        "kloppy turns a failed recovery into a lost DUEL; we keep it a RECOVERY with outcome Failed",
        our_outcome_excluded="Failed",
    ),
)

STATSBOMB_EXCLUDED = {
    "Goal Keeper": "kloppy keeps some keeper actions as GOALKEEPER and turns others into CLEARANCE/generic",
    "Bad Behaviour": "kloppy emits a CARD only for some, generic otherwise; we map every one to CARD",
    "Ball Receipt*, Dispossessed, Block, Foul Won, Half Start/End, ...": "generic in kloppy",
    "(synthetic) BALL_OUT, CARD, DUEL": "kloppy adds them next to the event they derive from",
}

METRICA_CORRESPONDENCE = (
    Correspondence("PASS", "PASS", EventType.PASS),
    Correspondence("BALL LOST", "PASS", EventType.BALL_LOST, "kloppy reads type 7 as an incomplete pass"),
    Correspondence("BALL OUT", "PASS", EventType.BALL_OUT, "kloppy reads type 6 as a pass that went out"),
    Correspondence("CARRY", "CARRY", EventType.CARRY),
    Correspondence("SHOT", "SHOT", EventType.SHOT),
    Correspondence("RECOVERY", "RECOVERY", EventType.RECOVERY),
    Correspondence(
        "FAULT RECEIVED",
        "FOUL_COMMITTED",
        EventType.FOUL_WON,
        "kloppy maps type 4 to a foul committed; the event's team is the fouled team, so FOUL_WON",
    ),
    Correspondence("CHALLENGE", "GENERIC", EventType.DUEL, "kloppy has no duel mapping for Metrica"),
    Correspondence("CARD", "GENERIC", EventType.CARD, "kloppy has no card mapping for Metrica"),
)

METRICA_EXCLUDED = {
    "SET PIECE": "kloppy drops it, folding the kind into the next pass's qualifiers; we keep SET_PIECE",
    "(synthetic) BALL_OUT": "kloppy adds one after each pass that went out",
}


def _kloppy_type(event: Any) -> str:
    return str(event.event_type.name)


def _compare_counts(
    correspondence: Iterable[Correspondence], kloppy_events: list[Any], raw_type_of: Any, match: Match
) -> None:
    kloppy_counts = collections.Counter((raw_type_of(event), _kloppy_type(event)) for event in kloppy_events)
    excluded = {(c.raw_type, c.our_outcome_excluded) for c in correspondence if c.our_outcome_excluded}
    ours = collections.Counter(
        (event.raw_type, event.type)
        for event in match.events
        if (event.raw_type, event.outcome) not in excluded
    )
    rows = []
    failed = False
    for row in correspondence:
        theirs, mine = kloppy_counts[(row.raw_type, row.kloppy_type)], ours[(row.raw_type, row.ours)]
        allowed = max(1, round(COUNT_TOLERANCE * max(theirs, mine)))
        ok = abs(theirs - mine) <= allowed and (theirs > 0) == (mine > 0)
        failed |= not ok
        rows.append((row.raw_type, row.kloppy_type, row.ours.value, theirs, mine, "ok" if ok else "MISMATCH"))
    header = ("raw type", "kloppy type", "our type", "kloppy", "ours", "")
    table = "\n".join(
        f"{a:<18} {b:<16} {c:<16} {d:>7} {e:>7}  {f}" for a, b, c, d, e, f in [header, *map(_strs, rows)]
    )
    assert not failed, f"event counts differ from kloppy's:\n{table}"


def _strs(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(str(value) for value in row)


def _compare_points(pairs: list[tuple[str, float, float, float, float]], tolerance: float, what: str) -> None:
    assert pairs, f"no {what} to compare"
    worst = sorted(pairs, key=lambda p: -max(abs(p[1] - p[3]), abs(p[2] - p[4])))
    bad = [p for p in worst if abs(p[1] - p[3]) > tolerance or abs(p[2] - p[4]) > tolerance]
    lines = "\n".join(
        f"{key:<40} kloppy ({kx:8.3f}, {ky:8.3f})  ours ({ox:8.3f}, {oy:8.3f})"
        for key, kx, ky, ox, oy in (bad or worst)[:10]
    )
    assert not bad, f"{len(bad)} of {len(pairs)} {what} differ by more than {tolerance} m:\n{lines}"


# --- StatsBomb --------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=STATSBOMB_MATCHES)
def statsbomb_pair(request: pytest.FixtureRequest, statsbomb_dir: Path) -> tuple[Any, Match]:
    match_id = request.param
    events = statsbomb_dir / "data" / "events" / f"{match_id}.json"
    lineups = statsbomb_dir / "data" / "lineups" / f"{match_id}.json"
    if not (events.is_file() and lineups.is_file()):
        pytest.skip(f"StatsBomb match {match_id} (events + lineups) not in the shared data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = kloppy_statsbomb.load(
            event_data=str(events), lineup_data=str(lineups), coordinates="statsbomb"
        ).transform(to_orientation=Orientation.STATIC_HOME_AWAY)
    files = {"events.json": events.read_bytes(), "lineups.json": lineups.read_bytes()}
    return dataset, StatsBombParser().parse(RawMatchData(source="statsbomb", match_id=match_id, files=files))


def test_statsbomb_teams_and_players_match_kloppy(statsbomb_pair: tuple[Any, Match]) -> None:
    dataset, match = statsbomb_pair
    home, away = dataset.metadata.teams
    assert (match.home_team.team_id, match.away_team.team_id) == (home.team_id, away.team_id)
    for ours, theirs in ((match.home_team, home), (match.away_team, away)):
        assert {p.player_id for p in ours.players} == {p.player_id for p in theirs.players}
        assert {p.player_id for p in ours.players if p.starting} == {
            p.player_id for p in theirs.players if p.starting
        }


def test_statsbomb_event_counts_match_kloppy(statsbomb_pair: tuple[Any, Match]) -> None:
    dataset, match = statsbomb_pair
    _compare_counts(
        STATSBOMB_CORRESPONDENCE, dataset.events, lambda event: event.raw_event["type"]["name"], match
    )


def test_statsbomb_coordinates_and_timestamps_match_kloppy(statsbomb_pair: tuple[Any, Match]) -> None:
    dataset, match = statsbomb_pair
    ours = {event.event_id: event for event in match.events}
    counted = {(row.raw_type, row.kloppy_type) for row in STATSBOMB_CORRESPONDENCE}
    starts, pass_ends, timestamps = [], [], []
    for event in dataset.events:
        raw_type = event.raw_event["type"]["name"]
        mine = ours.get(event.event_id)
        if mine is None or (raw_type, _kloppy_type(event)) not in counted:
            continue  # synthetic kloppy events reuse their source event's id
        timestamps.append((event.event_id, event.timestamp.total_seconds(), mine.timestamp))
        if event.coordinates is not None and mine.start is not None:
            starts.append((event.event_id, *_statsbomb_metres(event.coordinates), mine.start.x, mine.start.y))
        receiver = getattr(event, "receiver_coordinates", None)
        if _kloppy_type(event) == "PASS" and receiver is not None and mine.end is not None:
            pass_ends.append((event.event_id, *_statsbomb_metres(receiver), mine.end.x, mine.end.y))
    assert len(starts) > 0.9 * sum(
        1 for e in match.events if e.start is not None and e.raw_type != "Ball Receipt*"
    )
    _compare_points(starts, STATSBOMB_AXIS_TOLERANCE_M, "start locations")
    _compare_points(pass_ends, STATSBOMB_AXIS_TOLERANCE_M, "pass end locations")
    late = [t for t in timestamps if abs(t[1] - t[2]) > TIMESTAMP_TOLERANCE_S]
    assert not late, f"{len(late)} timestamps differ, e.g. {late[:5]}"


def _statsbomb_metres(point: Any) -> tuple[float, float]:
    return point.x / 120 * 105 - 52.5, 34 - point.y / 80 * 68


# --- Metrica events (Sample Game 3) --------------------------------------------------------------


@pytest.fixture(scope="module")
def metrica_pair(metrica_dir: Path) -> tuple[Any, Match]:
    events = metrica_dir / "Sample_Game_3" / "Sample_Game_3_events.json"
    metadata = metrica_dir / "Sample_Game_3" / "Sample_Game_3_metadata.xml"
    if not (events.is_file() and metadata.is_file()):
        pytest.skip("Metrica Sample Game 3 (events JSON + metadata XML) not in the shared data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = kloppy_metrica.load_event(
            event_data=str(events), meta_data=str(metadata), coordinates="metrica"
        ).transform(to_orientation=Orientation.STATIC_HOME_AWAY)
    files = {events.name: events.read_bytes(), metadata.name: metadata.read_bytes()}
    return dataset, MetricaParser().parse(RawMatchData(source="metrica", match_id="game-3", files=files))


def test_metrica_teams_and_players_match_kloppy(metrica_pair: tuple[Any, Match]) -> None:
    dataset, match = metrica_pair
    home, away = dataset.metadata.teams
    assert (match.home_team.team_id, match.away_team.team_id) == (home.team_id, away.team_id)
    for ours, theirs in ((match.home_team, home), (match.away_team, away)):
        assert {(p.player_id, p.jersey_number) for p in ours.players} == {
            (p.player_id, p.jersey_no) for p in theirs.players
        }


def test_metrica_event_counts_match_kloppy(metrica_pair: tuple[Any, Match]) -> None:
    dataset, match = metrica_pair
    events = [event for event in dataset.events if _kloppy_type(event) != "BALL_OUT"]
    _compare_counts(METRICA_CORRESPONDENCE, events, lambda event: event.raw_event["type"]["name"], match)


def test_metrica_coordinates_and_timestamps_match_kloppy(metrica_pair: tuple[Any, Match]) -> None:
    dataset, match = metrica_pair
    ours = {event.event_id: event for event in match.events}
    starts, timestamps = [], []
    for event in dataset.events:
        mine = ours.get(event.event_id)
        if mine is None or _kloppy_type(event) == "BALL_OUT":
            continue
        timestamps.append((event.event_id, event.timestamp.total_seconds(), mine.timestamp))
        if event.coordinates is not None and mine.start is not None:
            starts.append((event.event_id, *_metrica_metres(event.coordinates), mine.start.x, mine.start.y))
    assert len(starts) > 3000
    _compare_points(starts, METRICA_AXIS_TOLERANCE_M, "start locations")
    late = [t for t in timestamps if abs(t[1] - t[2]) > TIMESTAMP_TOLERANCE_S]
    assert not late, f"{len(late)} timestamps differ, e.g. {late[:5]}"


def _metrica_metres(point: Any) -> tuple[float, float]:
    return point.x * 105 - 52.5, 34 - point.y * 68


# --- Metrica tracking (excerpts) ----------------------------------------------------------------


def _tracking_pairs(dataset: Any, match: Match, player_key: Any, mirror_y: bool) -> list[Any]:
    tracking = match.tracking
    assert tracking is not None
    ours = {
        (tracking.frame[row], tracking.object_id[row]): (tracking.x[row], tracking.y[row])
        for row in range(tracking.rows)
    }
    pairs = []
    for frame in dataset.frames:
        objects = [(player_key(player), data.coordinates) for player, data in frame.players_data.items()]
        objects.append(("ball", frame.ball_coordinates))
        for object_id, point in objects:
            if point is None or math.isnan(point.x):
                continue
            x, y = _metrica_metres(point)
            mine = ours[(frame.frame_id, object_id)]
            pairs.append((f"{frame.frame_id}/{object_id}", x, -y if mirror_y else y, *mine))
    return pairs


def test_metrica_epts_tracking_matches_kloppy(metrica_dir: Path) -> None:
    excerpts = metrica_dir / "kloppy_test_excerpts"
    raw_data, metadata = excerpts / "epts_metrica_tracking.txt", excerpts / "epts_metrica_metadata.xml"
    if not (raw_data.is_file() and metadata.is_file()):
        pytest.skip("EPTS excerpt not in the shared data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = kloppy_metrica.load_tracking_epts(
            meta_data=str(metadata), raw_data=str(raw_data), coordinates="metrica"
        ).transform(to_orientation=Orientation.STATIC_HOME_AWAY)
    files = {raw_data.name: raw_data.read_bytes(), metadata.name: metadata.read_bytes()}
    match = MetricaParser().parse(RawMatchData(source="metrica", match_id="epts", files=files))
    assert match.tracking is not None and match.tracking.frames == len(dataset.frames)
    pairs = _tracking_pairs(dataset, match, lambda player: player.player_id, mirror_y=False)
    _compare_points(pairs, METRICA_AXIS_TOLERANCE_M, "tracked positions")


def test_metrica_csv_tracking_matches_kloppy_up_to_its_y_mirror(metrica_dir: Path) -> None:
    excerpts = metrica_dir / "kloppy_test_excerpts"
    home, away = excerpts / "metrica_home.csv", excerpts / "metrica_away.csv"
    if not (home.is_file() and away.is_file()):
        pytest.skip("Metrica CSV tracking excerpt not in the shared data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = kloppy_metrica.load_tracking_csv(
            home_data=str(home), away_data=str(away), coordinates="metrica"
        ).transform(to_orientation=Orientation.STATIC_HOME_AWAY)
    files = {home.name: home.read_bytes(), away.name: away.read_bytes()}
    match = MetricaParser().parse(RawMatchData(source="metrica", match_id="csv", files=files))
    assert match.tracking is not None and match.tracking.frames == len(dataset.frames)
    pairs = _tracking_pairs(dataset, match, lambda player: f"Player{player.jersey_no}", mirror_y=True)
    _compare_points(pairs, METRICA_AXIS_TOLERANCE_M, "tracked positions")
