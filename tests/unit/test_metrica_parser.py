"""MetricaParser on the shared Metrica samples (events CSV/JSON, tracking CSV/EPTS) and on broken inputs."""

from __future__ import annotations

import collections
import csv
import io
import math
from pathlib import Path

import orjson
import pytest

from pitchlens.domain.errors import InvalidMatchData
from pitchlens.domain.model import Coordinates, EventType, Match, event_types
from pitchlens.domain.ports import RawMatchData
from pitchlens.infrastructure.providers.metrica import EVENT_TYPES, MetricaParser

pytestmark = pytest.mark.unit

HALF_LENGTH, HALF_WIDTH = 52.5, 34.0
# Metrica records where the ball is: throw-ins and corners are taken a little beyond the lines,
# and balls going out end beyond them, so points may leave the 105 x 68 m pitch by a few metres.
OFF_PITCH_MARGIN = 3.0


def _files(metrica_dir: Path, *relative: str) -> dict[str, bytes]:
    files = {}
    for path in relative:
        full = metrica_dir / path
        if not full.is_file():
            pytest.skip(f"Metrica sample {full} not in the shared data")
        files[full.name] = full.read_bytes()
    return files


def _parse(files: dict[str, bytes], match_id: str = "m1") -> Match:
    return MetricaParser().parse(RawMatchData(source="metrica", match_id=match_id, files=files))


GAME_1_EVENTS = "Sample_Game_1/Sample_Game_1_RawEventsData.csv"
GAME_3_EVENTS = "Sample_Game_3/Sample_Game_3_events.json"
GAME_3_METADATA = "Sample_Game_3/Sample_Game_3_metadata.xml"
TRACKING_HOME = "kloppy_test_excerpts/metrica_home.csv"
TRACKING_AWAY = "kloppy_test_excerpts/metrica_away.csv"
EPTS_TRACKING = "kloppy_test_excerpts/epts_metrica_tracking.txt"
EPTS_METADATA = "kloppy_test_excerpts/epts_metrica_metadata.xml"


def _assert_shots_point_at_the_right_goal(match: Match) -> None:
    home = match.home_team.team_id
    shots = [event for event in match.events if event.type is EventType.SHOT]
    assert {(shot.period, shot.team_id == home) for shot in shots} == {
        (1, True),
        (1, False),
        (2, True),
        (2, False),
    }
    for shot in shots:
        assert shot.start is not None
        assert (shot.start.x > 0) == (shot.team_id == home), shot


def _assert_on_the_pitch(match: Match) -> None:
    starts = [event.start for event in match.events if event.start is not None]
    assert len(starts) > 1000
    assert all(abs(point.x) <= HALF_LENGTH + OFF_PITCH_MARGIN for point in starts)
    assert all(abs(point.y) <= HALF_WIDTH + OFF_PITCH_MARGIN for point in starts)
    inside = sum(abs(point.x) <= HALF_LENGTH and abs(point.y) <= HALF_WIDTH for point in starts)
    assert inside / len(starts) > 0.95


# --- events CSV (Sample Game 1) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def game_1(metrica_dir: Path) -> tuple[list[dict[str, str]], Match]:
    files = _files(metrica_dir, GAME_1_EVENTS)
    rows = list(csv.DictReader(io.StringIO(next(iter(files.values())).decode())))
    return rows, _parse(files, "game-1")


def test_csv_events_one_per_row_with_home_and_away_teams(game_1: tuple[list[dict[str, str]], Match]) -> None:
    rows, match = game_1
    assert len(match.events) == len(rows) == 1745
    assert [event.event_id for event in match.events] == [str(n) for n in range(1, len(rows) + 1)]
    assert (match.home_team.team_id, match.home_team.name) == ("home", "Home")
    assert (match.away_team.team_id, match.away_team.name) == ("away", "Away")
    assert match.competition is None and match.tracking is None
    for team in match.teams:
        assert 11 <= len(team.players) <= 18
        assert all(player.player_id.startswith("Player") for player in team.players)
    home_players = {player.player_id for player in match.home_team.players}
    for row, event in zip(rows, match.events, strict=True):
        assert event.team_id == row["Team"].lower()
        assert event.player_id == (row["From"] or None)
        if event.team_id == "home" and event.player_id:
            assert event.player_id in home_players


def test_csv_event_types_outcomes_and_attributes(game_1: tuple[list[dict[str, str]], Match]) -> None:
    rows, match = game_1
    expected = collections.Counter(
        (
            EventType.TAKE_ON
            if "DRIBBLE" in row["Subtype"]
            else EVENT_TYPES.get(row["Type"], EventType.GENERIC)
        ).value
        for row in rows
    )
    assert event_types(match.events) == dict(expected)
    assert {event.raw_type for event in match.events} == {row["Type"] for row in rows}
    goals = [event for event in match.events if event.type is EventType.SHOT and event.outcome == "Goal"]
    assert len(goals) == 3  # 2 home goals + 1 more, as the subtypes say
    duels = [event for event in match.events if event.type is EventType.DUEL]
    assert {event.outcome for event in duels} == {"Won", "Lost", None}
    assert all(event.outcome == "Complete" for event in match.events if event.type is EventType.PASS)
    cards = [event for event in match.events if event.type is EventType.CARD]
    assert cards and {event.outcome for event in cards} == {"Yellow"}
    header = next(event for event in match.events if event.attributes.get("subtypes") == ["HEAD"])
    assert header.attributes["start_frame"] > 0
    a_pass = next(event for event in match.events if event.type is EventType.PASS)
    assert a_pass.attributes["recipient_id"].startswith("Player")


def test_csv_events_attack_the_right_goal_in_both_halves(game_1: tuple[list[dict[str, str]], Match]) -> None:
    _, match = game_1
    _assert_shots_point_at_the_right_goal(match)
    _assert_on_the_pitch(match)


def test_csv_event_coordinates_and_timestamps(game_1: tuple[list[dict[str, str]], Match]) -> None:
    rows, match = game_1
    # Row 2 (a home-less first-half pass by the away team): the home team attacks Metrica x=1 in
    # period 1, so nothing is flipped.
    second = match.events[1]
    assert second.start == Coordinates.from_metrica(0.45, 0.39)
    assert second.end == Coordinates.from_metrica(0.55, 0.43)
    assert match.events[0].start is None  # the kick-off row has NaN coordinates
    period_2 = next(i for i, row in enumerate(rows) if row["Period"] == "2")
    assert match.events[period_2].timestamp == 0.0
    first_half_x = float(rows[period_2 + 1]["Start X"])
    assert match.events[period_2 + 1].start is not None
    assert match.events[period_2 + 1].start.x == pytest.approx(-(first_half_x * 105 - 52.5))
    assert all(event.timestamp >= 0 for event in match.events)
    assert match.events[-1].timestamp == pytest.approx(
        float(rows[-1]["Start Time [s]"]) - float(rows[period_2]["Start Time [s]"])
    )


# --- events JSON + EPTS metadata (Sample Game 3) -------------------------------------------------


@pytest.fixture(scope="module")
def game_3(metrica_dir: Path) -> tuple[list[dict[str, object]], Match]:
    files = _files(metrica_dir, GAME_3_EVENTS, GAME_3_METADATA)
    data = orjson.loads(files["Sample_Game_3_events.json"])["data"]
    return data, _parse(files, "game-3")


def test_json_events_with_metadata(game_3: tuple[list[dict[str, object]], Match]) -> None:
    data, match = game_3
    assert len(match.events) == len(data) == 3620
    assert (match.home_team.team_id, match.home_team.name) == ("FIFATMA", "Team A")
    assert (match.away_team.team_id, match.away_team.name) == ("FIFATMB", "Team B")
    assert match.competition == "Demo"
    assert match.kickoff is not None and match.kickoff.year == 2019
    assert (len(match.home_team.players), len(match.away_team.players)) == (17, 18)
    for team in match.teams:
        assert sum(player.starting for player in team.players) == 11
        assert all(player.jersey_number is not None for player in team.players)
        assert [p.position for p in team.players if p.starting].count("Goalkeeper") == 1
    known = {player.player_id for player in match.players}
    assert {event.player_id for event in match.events} <= known
    # Period 1 starts at frame 1 (0.04 s): event 2 starts at 14.44 s on Metrica's clock.
    assert match.events[1].timestamp == pytest.approx(14.40)
    assert match.events[1].event_id == "2"


def test_json_events_attack_the_right_goal_in_both_halves(
    game_3: tuple[list[dict[str, object]], Match],
) -> None:
    _, match = game_3
    _assert_shots_point_at_the_right_goal(match)
    _assert_on_the_pitch(match)
    # The metadata says Team A (home) attacks right to left in the first half: flipped.
    first_pass = match.events[1]
    assert first_pass.start == Coordinates.from_metrica(0.50125, 0.48725, flip=True)


def test_json_events_without_metadata_find_the_directions_from_the_events(metrica_dir: Path) -> None:
    match = _parse(_files(metrica_dir, GAME_3_EVENTS))
    assert match.home_team.team_id == "FIFATMA"  # the first team in the file
    assert len(match.events) == 3620
    _assert_shots_point_at_the_right_goal(match)
    assert match.events[1].start == Coordinates.from_metrica(0.50125, 0.48725, flip=True)


# --- tracking ---------------------------------------------------------------------------------


def test_csv_tracking_pair(metrica_dir: Path) -> None:
    match = _parse(_files(metrica_dir, TRACKING_HOME, TRACKING_AWAY))
    tracking = match.tracking
    assert tracking is not None and match.events == ()
    # 6 frames (3 per period) x (14 home + 14 away players + the ball)
    assert (tracking.frames, tracking.rows) == (6, 6 * 29)
    assert tracking.frame_rate == 25.0
    assert set(tracking.period) == {1, 2}
    assert list(tracking.frame[::29]) == [1, 2, 3, 145004, 145005, 145006]
    assert list(tracking.timestamp[::29]) == pytest.approx([0.0, 0.04, 0.08, 0.0, 0.04, 0.08])
    assert tracking.object_id.count("ball") == 6
    assert tracking.team_id[:14] == ("home",) * 14 and tracking.team_id[14:28] == ("away",) * 14
    assert [p.jersey_number for p in match.home_team.players][:2] == [11, 1]
    rows = range(tracking.rows)
    goalkeeper = [(tracking.period[i], tracking.x[i]) for i in rows if tracking.object_id[i] == "Player11"]
    # The home goalkeeper stands at Metrica x=0.0008 in period 1 and x=0.905 in period 2: teams
    # changed ends, and in our frame he stays at the home team's own goal (x < 0) throughout.
    assert len(goalkeeper) == 6 and all(x < -40 for _, x in goalkeeper)
    absent = [i for i in rows if tracking.object_id[i] == "Player12" and tracking.period[i] == 1]
    assert all(math.isnan(tracking.x[i]) for i in absent)


def test_epts_tracking_split_by_the_metadata_format(metrica_dir: Path) -> None:
    match = _parse(_files(metrica_dir, EPTS_TRACKING, EPTS_METADATA))
    tracking = match.tracking
    assert tracking is not None
    # 100 frames (450-499 in period 1, 650-699 in period 2) x (22 players + the ball)
    assert (tracking.frames, tracking.rows) == (100, 100 * 23)
    assert (match.home_team.team_id, match.away_team.team_id) == ("TEAM_A", "TEAM_B")
    assert (len(match.home_team.players), len(match.away_team.players)) == (11, 11)
    period_of = dict(zip(tracking.frame, tracking.period, strict=True))
    assert {frame for frame, period in period_of.items() if period == 1} == set(range(450, 500))
    assert {frame for frame, period in period_of.items() if period == 2} == set(range(650, 700))
    assert tracking.timestamp[0] == 0.0 and tracking.timestamp[23] == pytest.approx(0.04)
    # First line: Track_1 at (0.30602, 0.97029); Team A attacks left to right in period 1.
    assert (tracking.object_id[0], tracking.team_id[0]) == ("Track_1", "TEAM_A")
    assert tracking.x[0] == pytest.approx(Coordinates.from_metrica(0.30602, 0.97029).x)
    assert tracking.y[0] == pytest.approx(Coordinates.from_metrica(0.30602, 0.97029).y)
    ball = [i for i in range(tracking.rows) if tracking.object_id[i] == "ball"]
    assert len(ball) == 100
    assert tracking.x[ball[0]] == pytest.approx(Coordinates.from_metrica(0.52867, 0.70690).x)
    second_half_ball = ball[50]
    assert tracking.period[second_half_ball] == 2
    nan_player = next(i for i in range(23) if tracking.object_id[i] == "Track_9")
    assert math.isnan(tracking.x[nan_player])


def test_events_and_tracking_together(metrica_dir: Path) -> None:
    match = _parse(_files(metrica_dir, GAME_1_EVENTS, TRACKING_HOME, TRACKING_AWAY))
    assert len(match.events) == 1745
    tracking = match.tracking
    assert tracking is not None and tracking.rows == 174
    _assert_shots_point_at_the_right_goal(match)
    # Events and tracking share one frame: at the kick-off (frame 1) the first pass starts where
    # the tracking has the ball (events round positions to 0.01, i.e. ~1 m along x).
    first_pass = match.events[1]
    ball = next(
        row for row in range(tracking.rows) if tracking.object_id[row] == "ball" and tracking.frame[row] == 1
    )
    assert first_pass.start is not None and first_pass.attributes["start_frame"] == 1
    assert first_pass.start.x == pytest.approx(tracking.x[ball], abs=1.0)
    assert first_pass.start.y == pytest.approx(tracking.y[ball], abs=1.0)


# --- attacking direction without metadata or tracking -------------------------------------------

CSV_HEADER = (
    "Team,Type,Subtype,Period,Start Frame,Start Time [s],End Frame,End Time [s],"
    "From,To,Start X,Start Y,End X,End Y\n"
)


def _csv(*rows: str) -> bytes:
    return (CSV_HEADER + "".join(row + "\n" for row in rows)).encode()


@pytest.mark.parametrize(
    ("rows", "home_attacks_x1"),
    [
        # Period 1 decided by a home shot at x=0.9; period 2 by alternation.
        (
            [
                "Home,SHOT,OFF TARGET,1,10,0.4,12,0.48,Player1,,0.9,0.5,1.0,0.5",
                "Away,PASS,,2,5000,200.0,5010,200.4,Player15,Player16,0.5,0.5,0.6,0.5",
            ],
            {1: True, 2: False},
        ),
        # Period 2 decided by an away goal kick at x=0.05 (away defends x=0, so home defends x=1).
        (
            [
                "Home,PASS,,1,10,0.4,12,0.48,Player1,Player2,0.5,0.5,0.6,0.5",
                "Away,PASS,GOAL KICK,2,5000,200.0,5010,200.4,Player15,Player16,0.05,0.5,0.3,0.5",
            ],
            {1: True, 2: False},
        ),
        # No evidence at all: home attacks x=1 in odd periods.
        (
            [
                "Home,PASS,,1,10,0.4,12,0.48,Player1,Player2,0.5,0.5,0.6,0.5",
                "Away,PASS,,2,5000,200.0,5010,200.4,Player15,Player16,0.5,0.5,0.6,0.5",
            ],
            {1: True, 2: False},
        ),
        # Away shot at x=0.95 in period 1: home attacks x=0 then, x=1 after the break.
        (
            [
                "Away,SHOT,ON TARGET-SAVED,1,10,0.4,12,0.48,Player15,,0.95,0.5,1.0,0.5",
                "Home,PASS,,2,5000,200.0,5010,200.4,Player1,Player2,0.7,0.5,0.6,0.5",
            ],
            {1: False, 2: True},
        ),
    ],
    ids=["home-shot", "away-goal-kick", "default", "away-shot"],
)
def test_attacking_direction_rules(rows: list[str], home_attacks_x1: dict[int, bool]) -> None:
    match = _parse({"events.csv": _csv(*rows)})
    for event, row in zip(match.events, rows, strict=True):
        fields = row.split(",")
        x, y = float(fields[10]), float(fields[11])
        flip = not home_attacks_x1[event.period]
        assert event.start == Coordinates.from_metrica(x, y, flip=flip), row


# --- malformed input ----------------------------------------------------------------------------


GOOD_ROW = "Home,PASS,,1,10,0.4,12,0.48,Player1,Player2,0.5,0.5,0.6,0.5"


@pytest.mark.parametrize(
    ("files", "named", "problem"),
    [
        ({"game_RawEventsData.csv": b""}, "game_RawEventsData.csv", "empty"),
        ({"garbage.csv": b"a,b,c\n1,2,3\n"}, "garbage.csv", "not a Metrica events CSV"),
        ({"events.csv": b"Team,Type,Period\nHome,PASS,1\n"}, "events.csv", "missing columns"),
        ({"events.csv": _csv(GOOD_ROW.replace(",1,10,", ",first,10,"))}, "events.csv", "line 2"),
        ({"events.csv": _csv(GOOD_ROW.replace("Home,", "Visitors,"))}, "events.csv", "Home or Away"),
        ({"events.csv": _csv(GOOD_ROW.replace("0.5,0.5,0.6", "left,0.5,0.6"))}, "events.csv", "line 2"),
        ({"events.csv": _csv()}, "events.csv", "no events"),
        ({"events.csv": _csv(GOOD_ROW, GOOD_ROW)}, "events.csv", "fewer than two teams"),
        ({"events.csv": b"\xff\xfe\x00garbage"}, "events.csv", ""),
        ({"Sample_events.json": b"{not json"}, "Sample_events.json", "not valid JSON"),
        ({"Sample_events.json": b'{"data": [{"index": 1'}, "Sample_events.json", "truncated"),
        ({"Sample_events.json": b"[]"}, "Sample_events.json", '"data" list'),
        ({"Sample_events.json": b'{"data": []}'}, "Sample_events.json", "empty"),
        ({"Sample_events.json": b'{"data": [{"index": 1}]}'}, "Sample_events.json", "event #1"),
        ({"metadata.xml": b"<main><Metadata>"}, "events", "missing"),
        (
            {"metadata.xml": b"<main><Metadata>", "events.csv": _csv(GOOD_ROW)},
            "metadata.xml",
            "not valid XML",
        ),
        ({"notes.md": b"hello"}, "events", "no Metrica events or tracking file"),
        (
            {
                "Home_tracking.csv": (
                    b",,,Home,,\n,,,1,,\nPeriod,Frame,Time [s],Player1,,Ball,\n1,1,0.04,0.1,0.2,0.3,0.4\n"
                )
            },
            "Home_tracking.csv",
            "away team's tracking CSV is missing",
        ),
        (
            {"tracking.csv": b",,,Home,,\n,,,1,,\nPeriod,Frame,Time [s],Player1,,Ball,\n"},
            "tracking.csv",
            "header",
        ),
        ({"match_tracking.txt": b"450:0.1,0.2;0.3:0.5,0.5\n"}, "match_tracking.txt", "metadata XML"),
        ({"match_tracking.txt": b"hello world\n"}, "match_tracking.txt", "not EPTS"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_malformed_files_raise_invalid_match_data_naming_the_file(
    files: dict[str, bytes], named: str, problem: str
) -> None:
    with pytest.raises(InvalidMatchData) as caught:
        _parse(files)
    assert named in str(caught.value)
    assert problem in str(caught.value)


def test_tracking_csv_rows_that_do_not_line_up(metrica_dir: Path) -> None:
    files = _files(metrica_dir, TRACKING_HOME, TRACKING_AWAY)
    away = files["metrica_away.csv"].decode().splitlines()
    away[4] = away[4].replace("1,2,0.08", "1,99,0.08", 1)
    files["metrica_away.csv"] = "\n".join(away).encode()
    with pytest.raises(InvalidMatchData, match=r"metrica_away.csv: line 5 .*frame 99"):
        _parse(files)


def test_epts_line_that_does_not_match_the_format(metrica_dir: Path) -> None:
    files = _files(metrica_dir, EPTS_TRACKING, EPTS_METADATA)
    lines = files["epts_metrica_tracking.txt"].decode().splitlines()
    lines[3] = lines[3].split(";", 1)[0]
    files["epts_metrica_tracking.txt"] = "\n".join(lines).encode()
    with pytest.raises(InvalidMatchData, match=r"epts_metrica_tracking.txt: line 4 "):
        _parse(files)


def test_json_team_missing_from_the_metadata(metrica_dir: Path) -> None:
    files = _files(metrica_dir, GAME_3_METADATA)
    event = {
        "index": 1,
        "team": {"id": "OTHER", "name": "Other"},
        "type": {"name": "PASS", "id": 1},
        "subtypes": None,
        "start": {"frame": 1, "time": 0.04, "x": 0.5, "y": 0.5},
        "end": {"frame": 2, "time": 0.08, "x": 0.6, "y": 0.5},
        "period": 1,
        "from": {"name": "P", "id": "P1"},
        "to": None,
    }
    files["events.json"] = orjson.dumps({"data": [event]})
    with pytest.raises(InvalidMatchData, match=r"events.json: event #1 .*unknown team 'OTHER'"):
        _parse(files)
