"""StatsBombParser and the StatsBomb sources, on the shared open-data files and on small broken inputs."""

from __future__ import annotations

import collections
import gc
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from pitchlens.domain.errors import InvalidMatchData, MatchNotFound, ServiceUnavailable, UnsupportedSource
from pitchlens.domain.model import Coordinates, EventType, Match, event_types
from pitchlens.domain.ports import RawMatchData
from pitchlens.infrastructure.providers import MetricaParser, StatsBombParser, parser_for
from pitchlens.infrastructure.providers.statsbomb import (
    EVENT_TYPES,
    StatsBombOnlineSource,
    StatsBombOpenDataSource,
    StatsBombPyClient,
)

pytestmark = pytest.mark.unit

MATCHES = {
    # match id: (home id, home name, away id, away name, players per team)
    "3788741": ("909", "Turkey", "914", "Italy", 23),
    "9880": ("217", "Barcelona", "207", "Valencia", 18),
}
HALF_LENGTH, HALF_WIDTH = 52.5, 34.0


def _raw_files(statsbomb_dir: Path, match_id: str, *, lineups: bool = True) -> dict[str, bytes]:
    events = statsbomb_dir / "data" / "events" / f"{match_id}.json"
    if not events.is_file():
        pytest.skip(f"StatsBomb match {match_id} not in the shared data ({events})")
    files = {"events.json": events.read_bytes()}
    lineup_file = statsbomb_dir / "data" / "lineups" / f"{match_id}.json"
    if lineups and lineup_file.is_file():
        files["lineups.json"] = lineup_file.read_bytes()
    return files


def _parse(files: dict[str, bytes], match_id: str = "m1") -> Match:
    return StatsBombParser().parse(RawMatchData(source="statsbomb", match_id=match_id, files=files))


@pytest.fixture(scope="module", params=sorted(MATCHES))
def parsed(request: pytest.FixtureRequest, statsbomb_dir: Path) -> tuple[str, list[dict[str, Any]], Match]:
    match_id = request.param
    files = _raw_files(statsbomb_dir, match_id)
    return match_id, orjson.loads(files["events.json"]), _parse(files, match_id)


def test_every_raw_event_becomes_one_event_in_file_order(parsed: tuple[str, list[Any], Match]) -> None:
    match_id, raw_events, match = parsed
    assert match.match_id == match_id
    assert match.source == "statsbomb"
    assert len(match.events) == len(raw_events)
    assert [event.event_id for event in match.events] == [raw["id"] for raw in raw_events]
    assert [event.raw_type for event in match.events] == [raw["type"]["name"] for raw in raw_events]


def test_events_under_one_id_are_all_kept_with_ids_of_their_own(statsbomb_dir: Path) -> None:
    # Barcelona v Alavés (open data) has three different events with the same id.
    folder = statsbomb_dir / "extra_unknown_match_id"
    if not folder.is_dir():
        pytest.skip(f"the Barcelona v Alavés files are not in the shared data ({folder})")
    files = {
        "events.json": (folder / "barcelona_vs_alaves_events.json").read_bytes(),
        "lineups.json": (folder / "barcelona_vs_alaves_lineups.json").read_bytes(),
    }
    raw = orjson.loads(files["events.json"])
    match = _parse(files, "barcelona-alaves")
    ids = [event.event_id for event in match.events]
    assert len(ids) == len(raw) == len(set(ids))  # every event, each under its own id
    shared = [item for item in raw if item["id"] == "f93a1612-e2de-4efe-b202-6c4a178eebad"]
    assert len(shared) == 3
    first, *later = (match.events[raw.index(item)] for item in shared)
    assert first.event_id == shared[0]["id"] and "statsbomb_id" not in first.attributes
    for event, item in zip(later, shared[1:], strict=True):
        assert (
            event.event_id == f"{item['id']}#{item['index']}"
            and event.attributes["statsbomb_id"] == item["id"]
        )


def test_teams_and_players_come_from_the_lineups(parsed: tuple[str, list[Any], Match]) -> None:
    match_id, _, match = parsed
    home_id, home_name, away_id, away_name, squad = MATCHES[match_id]
    assert (match.home_team.team_id, match.home_team.name) == (home_id, home_name)
    assert (match.away_team.team_id, match.away_team.name) == (away_id, away_name)
    for team in match.teams:
        assert len(team.players) == squad
        assert sum(player.starting for player in team.players) == 11
        assert all(player.team_id == team.team_id for player in team.players)
        assert all(player.jersey_number is not None for player in team.players)
        goalkeepers = [p for p in team.players if p.starting and p.position == "Goalkeeper"]
        assert len(goalkeepers) == 1
    player_ids = {player.player_id for player in match.players}
    assert {event.player_id for event in match.events if event.player_id} <= player_ids


def test_types_follow_the_documented_mapping(parsed: tuple[str, list[Any], Match]) -> None:
    _, raw_events, match = parsed
    expected: collections.Counter[str] = collections.Counter(
        EVENT_TYPES.get(raw["type"]["name"], EventType.GENERIC).value for raw in raw_events
    )
    assert event_types(match.events) == dict(expected)
    by_raw = {(event.raw_type, event.type) for event in match.events}
    assert ("Ball Receipt*", EventType.BALL_RECEIPT) in by_raw
    assert ("Half Start", EventType.PERIOD_START) in by_raw
    assert ("Half End", EventType.PERIOD_END) in by_raw
    assert ("Starting XI", EventType.GENERIC) in by_raw
    assert ("Dribble", EventType.TAKE_ON) in by_raw


def test_outcomes_and_attributes(parsed: tuple[str, list[Any], Match]) -> None:
    _, raw_events, match = parsed
    raw_by_id = {raw["id"]: raw for raw in raw_events}
    passes = [event for event in match.events if event.type is EventType.PASS]
    for event in passes:
        raw_outcome = raw_by_id[event.event_id]["pass"].get("outcome")
        assert event.outcome == (raw_outcome["name"] if raw_outcome else "Complete")
        assert event.end is not None
    completed = [event for event in passes if event.outcome == "Complete"]
    assert completed and all("recipient_id" in event.attributes for event in completed)
    shots = [event for event in match.events if event.raw_type == "Shot"]
    assert shots and all(isinstance(event.attributes["statsbomb_xg"], float) for event in shots)
    assert all(event.outcome for event in shots)
    assert all(event.outcome is None for event in match.events if event.type is EventType.PRESSURE)
    substitutions = [event for event in match.events if event.type is EventType.SUBSTITUTION]
    assert substitutions and all("replacement_id" in event.attributes for event in substitutions)


def test_timestamps_are_seconds_since_the_period_start(parsed: tuple[str, list[Any], Match]) -> None:
    _, raw_events, match = parsed
    for raw, event in zip(raw_events, match.events, strict=True):
        hours, minutes, seconds = raw["timestamp"].split(":")
        assert event.timestamp == pytest.approx(int(hours) * 3600 + int(minutes) * 60 + float(seconds))
        assert event.period == raw["period"]
    starts = [event for event in match.events if event.type is EventType.PERIOD_START]
    assert {event.timestamp for event in starts} == {0.0}


def test_coordinates_land_on_the_pitch(parsed: tuple[str, list[Any], Match]) -> None:
    _, _, match = parsed
    points = [point for event in match.events for point in (event.start, event.end) if point is not None]
    assert len(points) > 5000
    assert all(-HALF_LENGTH <= point.x <= HALF_LENGTH for point in points)
    assert all(-HALF_WIDTH <= point.y <= HALF_WIDTH for point in points)


def test_home_shoots_at_positive_x_and_away_at_negative_x_in_both_halves(
    parsed: tuple[str, list[Any], Match],
) -> None:
    _, _, match = parsed
    home = match.home_team.team_id
    # Own goals are SHOTs located at the scorer's own goal (see the adapter's docstring): skip them.
    shots = [e for e in match.events if e.type is EventType.SHOT and e.outcome != "Own Goal"]
    # Both halves and both teams are represented (Turkey had no first-half shot against Italy).
    assert {shot.period for shot in shots} == {1, 2}
    assert {shot.team_id == home for shot in shots} == {True, False}
    for shot in shots:
        assert shot.start is not None
        assert (shot.start.x > 0) == (shot.team_id == home), shot
        assert shot.end is not None and (shot.end.x > 0) == (shot.team_id == home), shot


def test_away_event_is_flipped_into_the_home_frame(parsed: tuple[str, list[Any], Match]) -> None:
    _, raw_events, match = parsed
    away = match.away_team.team_id
    for raw, event in zip(raw_events, match.events, strict=True):
        if "location" in raw and event.team_id == away:
            expected = Coordinates.from_statsbomb(*raw["location"][:2], flip=True)
            assert event.start == expected
            break
    else:
        pytest.fail("no away event with a location")


def test_own_goal_is_a_shot_with_outcome_own_goal(statsbomb_dir: Path) -> None:
    match = _parse(_raw_files(statsbomb_dir, "3788741"))
    own_goals = [event for event in match.events if event.raw_type == "Own Goal Against"]
    assert len(own_goals) == 1
    own_goal = own_goals[0]
    assert (own_goal.type, own_goal.outcome, own_goal.attributes["own_goal"]) == (
        EventType.SHOT,
        "Own Goal",
        True,
    )
    # Demiral (Turkey, home) turned the ball into his own net: at Turkey's goal, x < 0.
    assert own_goal.team_id == "909" and own_goal.start is not None and own_goal.start.x < -45
    credited = [event for event in match.events if event.raw_type == "Own Goal For"]
    assert [event.type for event in credited] == [EventType.GENERIC]


def test_without_lineups_players_come_from_the_starting_xi_and_events(statsbomb_dir: Path) -> None:
    with_lineups = _parse(_raw_files(statsbomb_dir, "3788741"))
    match = _parse(_raw_files(statsbomb_dir, "3788741", lineups=False))
    assert (match.home_team.name, match.away_team.name) == ("Turkey", "Italy")
    assert len(match.events) == len(with_lineups.events)
    lineup_ids = {player.player_id for player in with_lineups.players}
    for team in match.teams:
        starters = [player for player in team.players if player.starting]
        assert len(starters) == 11
        assert all(player.jersey_number is not None for player in starters)
        assert {player.player_id for player in team.players} <= lineup_ids
    # Substitutes who came on appear too (from the events).
    assert len(match.players) > 22


@pytest.mark.parametrize("enabled", [True, False])
def test_parsing_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    was_enabled = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        _parse({"events.json": orjson.dumps(MINIMAL_EVENTS)})
        assert gc.isenabled() is enabled
        with pytest.raises(InvalidMatchData):
            _parse({"events.json": b"[1]"})
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was_enabled else gc.disable()


# --- 360 freeze frames ---------------------------------------------------------------------------


def test_three_sixty_frames_become_freeze_frames_in_our_coordinates(statsbomb_dir: Path) -> None:
    files = _raw_files(statsbomb_dir, "3788741")
    raw_events = orjson.loads(files["events.json"])
    home_pass = next(e for e in raw_events if e["type"]["name"] == "Pass" and e["team"]["id"] == 909)
    away_pass = next(e for e in raw_events if e["type"]["name"] == "Pass" and e["team"]["id"] == 914)
    frame = [
        {"teammate": True, "actor": True, "keeper": False, "location": [100.0, 20.0]},
        {"teammate": False, "actor": False, "keeper": True, "location": [118.0, 40.0]},
    ]
    three_sixty = [
        {"event_uuid": home_pass["id"], "visible_area": [0, 0, 120, 0, 120, 80], "freeze_frame": frame},
        {"event_uuid": away_pass["id"], "visible_area": [0, 0, 120, 0, 120, 80], "freeze_frame": frame},
    ]
    files["data/three-sixty/3788741.json"] = orjson.dumps(three_sixty)
    match = _parse(files)
    by_id = {event.event_id: event for event in match.events}
    home_frame = by_id[home_pass["id"]].attributes["freeze_frame"]
    away_frame = by_id[away_pass["id"]].attributes["freeze_frame"]
    assert home_frame == [
        {
            "x": pytest.approx(35.0),
            "y": pytest.approx(17.0),
            "teammate": True,
            "actor": True,
            "keeper": False,
        },
        {
            "x": pytest.approx(50.75),
            "y": pytest.approx(0.0),
            "teammate": False,
            "actor": False,
            "keeper": True,
        },
    ]
    # Same raw frame, seen by the away team: flipped like the event itself.
    assert [(p["x"], p["y"]) for p in away_frame] == [
        (pytest.approx(-35.0), pytest.approx(-17.0)),
        (pytest.approx(-50.75), pytest.approx(0.0)),
    ]
    assert sum("freeze_frame" in event.attributes for event in match.events if event.raw_type == "Pass") == 2


def test_shots_carry_their_own_freeze_frame_when_there_is_no_360_file(statsbomb_dir: Path) -> None:
    match = _parse(_raw_files(statsbomb_dir, "9880"))
    shot = next(
        event for event in match.events if event.raw_type == "Shot" and "freeze_frame" in event.attributes
    )
    frame = shot.attributes["freeze_frame"]
    assert isinstance(frame, list) and frame
    assert any(player["keeper"] and not player["teammate"] for player in frame)


# --- file recognition and malformed input -----------------------------------------------------


MINIMAL_EVENTS = [
    {
        "id": "e1",
        "index": 1,
        "period": 1,
        "timestamp": "00:00:00.000",
        "type": {"id": 35, "name": "Starting XI"},
        "team": {"id": 1, "name": "Home FC"},
        "tactics": {"formation": 442, "lineup": [{"player": {"id": 10, "name": "A"}, "jersey_number": 9}]},
    },
    {
        "id": "e2",
        "index": 2,
        "period": 1,
        "timestamp": "00:00:00.000",
        "type": {"id": 35, "name": "Starting XI"},
        "team": {"id": 2, "name": "Away FC"},
        "tactics": {"formation": 433, "lineup": [{"player": {"id": 20, "name": "B"}, "jersey_number": 4}]},
    },
    {
        "id": "e3",
        "index": 3,
        "period": 2,
        "timestamp": "00:01:02.500",
        "type": {"id": 16, "name": "Shot"},
        "team": {"id": 2, "name": "Away FC"},
        "player": {"id": 20, "name": "B"},
        "location": [110.0, 40.0],
        "shot": {"statsbomb_xg": 0.3, "end_location": [120.0, 38.0, 1.2], "outcome": {"name": "Goal"}},
    },
]


@pytest.mark.parametrize(
    "name",
    ["events.json", "events/123.json", "data/events/123.json", "123_events.json", "match_event_data.json"],
)
def test_events_file_is_recognised_by_name(name: str) -> None:
    match = _parse({name: orjson.dumps(MINIMAL_EVENTS), "README.md": b"ignored"})
    assert len(match.events) == 3
    shot = match.events[2]
    assert (shot.type, shot.outcome, shot.timestamp) == (EventType.SHOT, "Goal", 62.5)
    assert shot.start == Coordinates.from_statsbomb(110.0, 40.0, flip=True)
    assert shot.end == Coordinates.from_statsbomb(120.0, 38.0, flip=True)
    assert shot.attributes["end_z"] == 1.2
    assert match.home_team.players[0].jersey_number == 9
    assert match.events[0].attributes["formation"] == 442


def test_bare_id_files_are_recognised_by_content(statsbomb_dir: Path) -> None:
    files = _raw_files(statsbomb_dir, "9880")
    match = _parse({"9880.json": files["events.json"], "9880-l.json": files["lineups.json"]})
    assert len(match.events) == 4108
    assert sum(player.jersey_number is not None for player in match.players) == 36


def _broken(name: str, data: bytes) -> dict[str, bytes]:
    return {name: data, "lineups.json": b"[]"}


TRUNCATED = orjson.dumps(MINIMAL_EVENTS)[:-40]

MALFORMED = [
    # (files, text the message must contain besides the file name)
    (_broken("events/9.json", b""), "empty"),
    (_broken("events/9.json", b"  \n "), "empty"),
    (_broken("events/9.json", b"<html>not json</html>"), "not valid JSON"),
    (_broken("events/9.json", TRUNCATED), "truncated"),
    (_broken("events/9.json", b'{"events": []}'), "JSON object"),
    (_broken("events/9.json", b"[]"), "empty"),
    (_broken("events/9.json", b"[1, 2, 3]"), "event #1"),
    (_broken("events/9.json", b'[{"id": "x"}]'), "missing 'type', 'period', 'timestamp'"),
    (_broken("events/9.json", b'[{"type": {"name": "Pass"}, "period": 1}]'), "missing 'timestamp'"),
    (
        _broken("events/9.json", orjson.dumps([{**MINIMAL_EVENTS[2], "timestamp": "soon"}])),
        "event #1",
    ),
    (_broken("events/9.json", orjson.dumps([{**MINIMAL_EVENTS[2], "period": "2"}])), "period"),
    (_broken("events/9.json", orjson.dumps([{**MINIMAL_EVENTS[2], "location": "centre"}])), "event #1"),
    (
        _broken("events/9.json", orjson.dumps([MINIMAL_EVENTS[0], MINIMAL_EVENTS[0]])),
        "fewer than two teams",
    ),
]


@pytest.mark.parametrize(("files", "problem"), MALFORMED)
def test_malformed_events_raise_invalid_match_data_naming_the_file(
    files: dict[str, bytes], problem: str
) -> None:
    with pytest.raises(InvalidMatchData) as caught:
        _parse(files)
    message = str(caught.value)
    assert "events/9.json" in message
    assert problem in message


def test_invalid_json_names_the_parser_position() -> None:
    with pytest.raises(InvalidMatchData, match=r"events.json: not valid JSON: .* line 1, column 2"):
        _parse({"events.json": b"[x]"})


def test_missing_events_file() -> None:
    with pytest.raises(InvalidMatchData, match=r"events.json: missing.*lineups/1.json"):
        _parse({"lineups/1.json": b"[]"})


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("lineups.json", b'{"a": 1}', "not a StatsBomb lineups file"),
        ("lineups.json", b'[{"team_id": 1, "lineup": [{"player_id": 3, "positions": [7]}]}]', "malformed"),
        ("three-sixty.json", b'{"a": 1}', "not a StatsBomb 360 file"),
        ("three-sixty.json", b'[{"event_uuid": "e1"}]', "frame #1"),
        ("three-sixty.json", b"[{", "truncated"),
    ],
)
def test_malformed_companion_files(name: str, data: bytes, problem: str) -> None:
    with pytest.raises(InvalidMatchData) as caught:
        _parse({"events.json": orjson.dumps(MINIMAL_EVENTS), name: data})
    assert name in str(caught.value) and problem in str(caught.value)


def test_two_events_files_are_ambiguous() -> None:
    with pytest.raises(InvalidMatchData, match="several StatsBomb events files"):
        _parse({"events.json": orjson.dumps(MINIMAL_EVENTS), "events/1.json": orjson.dumps(MINIMAL_EVENTS)})


# --- parser_for -------------------------------------------------------------------------------


def test_parser_for_known_and_unknown_sources() -> None:
    assert isinstance(parser_for("statsbomb"), StatsBombParser)
    assert isinstance(parser_for(" StatsBomb "), StatsBombParser)
    assert isinstance(parser_for("metrica"), MetricaParser)
    with pytest.raises(UnsupportedSource, match="opta"):
        parser_for("opta")


# --- sources ----------------------------------------------------------------------------------


def test_open_data_source_reads_the_open_data_layout(statsbomb_dir: Path) -> None:
    _raw_files(statsbomb_dir, "9880")  # skips without the data
    raw = StatsBombOpenDataSource(statsbomb_dir).fetch("statsbomb", "9880", None)
    assert (raw.source, raw.match_id) == ("statsbomb", "9880")
    assert set(raw.files) == {"events.json", "lineups.json"}
    assert len(StatsBombParser().parse(raw).events) == 4108


def test_open_data_source_without_the_data_level(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    (tmp_path / "three-sixty").mkdir()
    (tmp_path / "events" / "77.json").write_bytes(orjson.dumps(MINIMAL_EVENTS))
    (tmp_path / "three-sixty" / "77.json").write_bytes(b"[]")
    raw = StatsBombOpenDataSource(tmp_path).fetch("statsbomb", "77", None)
    assert set(raw.files) == {"events.json", "three-sixty.json"}
    assert len(StatsBombParser().parse(raw).events) == 3


@pytest.mark.parametrize("match_id", ["424242", "../events/77", ""])
def test_open_data_source_unknown_match(tmp_path: Path, match_id: str) -> None:
    (tmp_path / "data" / "events").mkdir(parents=True)
    with pytest.raises(MatchNotFound) as caught:
        StatsBombOpenDataSource(tmp_path).fetch("statsbomb", match_id, None)
    if match_id == "424242":
        assert "424242" in str(caught.value) and str(tmp_path / "data" / "events") in str(caught.value)


def test_open_data_source_serves_statsbomb_only(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedSource):
        StatsBombOpenDataSource(tmp_path).fetch("metrica", "1", None)


class FakeStatsBomb:
    """A StatsBombClient answering from memory, or failing the way it is told."""

    def __init__(self, events: list[Any] | Exception, frames: list[Any] | Exception | None = None) -> None:
        self._events = events
        self._frames = frames if frames is not None else MatchNotFound("no 360 data")

    def events(self, match_id: int) -> list[Any]:
        if isinstance(self._events, Exception):
            raise self._events
        return self._events

    def lineups(self, match_id: int) -> list[Any]:
        return []

    def frames(self, match_id: int) -> list[Any]:
        if isinstance(self._frames, Exception):
            raise self._frames
        return self._frames


def test_online_source_serialises_open_data_shapes_for_the_parser() -> None:
    raw = StatsBombOnlineSource(FakeStatsBomb(MINIMAL_EVENTS)).fetch("statsbomb", "77", None)
    assert set(raw.files) == {"events.json", "lineups.json"}  # no 360 data: no file
    assert len(StatsBombParser().parse(raw).events) == 3
    with_frames = StatsBombOnlineSource(
        FakeStatsBomb(MINIMAL_EVENTS, frames=[{"event_uuid": "e3", "freeze_frame": []}])
    ).fetch("statsbomb", "77", None)
    assert "three-sixty.json" in with_frames.files


@pytest.mark.parametrize(
    ("failure", "expected"),
    [(ServiceUnavailable("down"), ServiceUnavailable), (MatchNotFound("404"), MatchNotFound)],
)
def test_online_source_passes_client_failures_through(failure: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected):
        StatsBombOnlineSource(FakeStatsBomb(failure)).fetch("statsbomb", "77", None)


def test_online_source_rejects_non_numeric_ids_and_empty_answers() -> None:
    with pytest.raises(MatchNotFound, match="integers"):
        StatsBombOnlineSource(FakeStatsBomb(MINIMAL_EVENTS)).fetch("statsbomb", "abc", None)
    with pytest.raises(MatchNotFound, match="no events"):
        StatsBombOnlineSource(FakeStatsBomb([])).fetch("statsbomb", "77", None)


def test_online_source_gives_up_on_a_silent_server() -> None:
    class Silent(FakeStatsBomb):
        def events(self, match_id: int) -> list[Any]:
            time.sleep(2)
            return []

    started = time.perf_counter()
    with pytest.raises(ServiceUnavailable, match="did not answer"):
        StatsBombOnlineSource(Silent([]), timeout_s=0.1).fetch("statsbomb", "77", None)
    assert time.perf_counter() - started < 1.5


def test_statsbombpy_client_maps_network_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    requests = pytest.importorskip("requests")
    public = pytest.importorskip("statsbombpy.public")

    def refuse(url: str, *args: Any, **kwargs: Any) -> Any:
        raise requests.ConnectionError(f"cannot connect to {url}")

    monkeypatch.setattr(public.req, "get", refuse)
    client = StatsBombPyClient(username="", password="")
    with pytest.raises(ServiceUnavailable, match="cannot be reached"):
        client.events(3788741)

    def not_found(url: str, *args: Any, **kwargs: Any) -> Any:
        response = requests.Response()
        response.status_code = 404
        response.url = url
        return response

    monkeypatch.setattr(public.req, "get", not_found)
    with pytest.raises(MatchNotFound, match="404"):
        client.events(3788741)
    with pytest.raises(MatchNotFound):
        StatsBombOnlineSource(client).fetch("statsbomb", "3788741", None)
