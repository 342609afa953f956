"""Highlight intervals: time parsing, the CSV table, merging (padding, gaps, clamping), the errors
bad input gets, and the HighlightCutter use case against a fake editor."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitchlens.application.highlight_cutter import HighlightCutter, safe_name
from pitchlens.domain.errors import InvalidVideo, PermanentError
from pitchlens.domain.highlights import (
    CutMode,
    HighlightError,
    Interval,
    format_time,
    merge_intervals,
    parse_interval,
    parse_time,
)
from pitchlens.infrastructure.intervals_csv import CsvIntervalReader
from tests.fakes.highlights import FakeVideoEditor

pytestmark = pytest.mark.unit


# --------------------------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------------------------

TIME_CASES = [
    ("0", 0.0),
    ("75", 75.0),
    ("75.5", 75.5),
    (" 12.250 ", 12.25),
    ("0:00", 0.0),
    ("1:15", 75.0),
    ("01:15.5", 75.5),
    ("75:30", 4530.0),  # a match clock: minutes past 59 in mm:ss
    ("1:02:03", 3723.0),
    ("01:02:03.250", 3723.25),
    ("0:00:07.1", 7.1),
    ("10:00:00", 36000.0),
]


@pytest.mark.parametrize(("text", "seconds"), TIME_CASES, ids=[case[0].strip() for case in TIME_CASES])
def test_parse_time(text: str, seconds: float) -> None:
    assert parse_time(text) == pytest.approx(seconds)


BAD_TIMES = [
    ("", "unparseable time ''"),
    ("abc", "unparseable time 'abc'"),
    ("-5", "unparseable time '-5'"),
    ("1:75", "seconds must be below 60"),
    ("1:60:00", "minutes must be below 60"),
    ("1:2:3:4", "unparseable time"),
    ("1::2", "unparseable time"),
    ("nan", "unparseable time"),
    ("inf", "unparseable time"),
    ("1e3", "unparseable time"),
    ("1,5", "unparseable time"),
    ("12.", "unparseable time"),
    ("1:05:", "unparseable time"),
]


@pytest.mark.parametrize(("text", "message"), BAD_TIMES, ids=[repr(case[0]) for case in BAD_TIMES])
def test_parse_time_rejects(text: str, message: str) -> None:
    with pytest.raises(HighlightError, match=message):
        parse_time(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0:00.000"), (75.5, "1:15.500"), (4530, "1:15:30.000"), (3723.25, "1:02:03.250")],
)
def test_format_time(seconds: float, text: str) -> None:
    assert format_time(seconds) == text


def test_highlight_error_is_a_permanent_value_error() -> None:
    assert issubclass(HighlightError, ValueError)
    assert issubclass(HighlightError, PermanentError)


# --------------------------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------------------------

INTERVAL_ERRORS = [
    ("0:20", "0:10", 3, r"row 3: reversed interval: start 0:20\.000 is after end 0:10\.000"),
    ("10", "10", 2, r"row 2: empty interval"),
    ("x", "10", 4, r"row 4: column 'start': unparseable time 'x'"),
    ("1", "1:99", 5, r"row 5: column 'end': unparseable time '1:99'"),
    ("", "10", 6, r"row 6: column 'start' is empty"),
]


@pytest.mark.parametrize(("start", "end", "row", "message"), INTERVAL_ERRORS)
def test_parse_interval_errors_name_row_and_column(start: str, end: str, row: int, message: str) -> None:
    with pytest.raises(HighlightError, match=message):
        parse_interval(start, end, row)


def test_parse_interval_keeps_its_row() -> None:
    interval = parse_interval("1:00", "1:10.5", 7)
    assert (interval.start_s, interval.end_s, interval.rows, interval.duration_s) == (60, 70.5, (7,), 10.5)


# --------------------------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------------------------


def spans(*pairs: tuple[float, float]) -> list[Interval]:
    return [Interval(start, end, (row,)) for row, (start, end) in enumerate(pairs, 1)]


MERGE_CASES = [
    # (intervals, padding, min gap, duration, expected, what)
    ([(1, 2)], 0, 0, None, [(1, 2)], "one interval unchanged"),
    ([(5, 6), (1, 2)], 0, 0, None, [(1, 2), (5, 6)], "sorted by start"),
    ([(1, 4), (3, 6)], 0, 0, None, [(1, 6)], "overlapping merge"),
    ([(1, 3), (3, 5)], 0, 0, None, [(1, 5)], "adjacent (touching) merge"),
    ([(1, 10), (2, 3)], 0, 0, None, [(1, 10)], "contained interval absorbed"),
    ([(1, 2), (3, 4)], 0, 0, None, [(1, 2), (3, 4)], "a gap keeps them apart"),
    ([(1, 2), (3, 4)], 0.5, 0, None, [(0.5, 4.5)], "padding closes a 1 s gap"),
    ([(1, 2), (3, 4)], 0.4, 0, None, [(0.6, 2.4), (2.6, 4.4)], "padding too small to close it"),
    ([(1, 2), (3, 4)], 0, 1.0, None, [(1, 4)], "a gap up to min_gap merges"),
    ([(1, 2), (3.5, 4)], 0, 1.0, None, [(1, 2), (3.5, 4)], "a gap over min_gap does not"),
    ([(0.5, 2)], 2, 0, None, [(0, 4)], "padding clamped at 0"),
    ([(8, 9.5)], 1, 0, 10, [(7, 10)], "padding clamped at the duration"),
    ([(0, 10)], 3, 0, 10, [(0, 10)], "whole video"),
    ([(1, 2), (2, 3), (3, 4), (9, 10)], 0, 0, 10, [(1, 4), (9, 10)], "a chain of adjacent intervals"),
    ([(2.999, 4), (1, 3)], 0, 0, None, [(1, 4)], "unsorted overlap"),
]


@pytest.mark.parametrize(
    ("pairs", "padding", "gap", "duration", "expected"),
    [case[:5] for case in MERGE_CASES],
    ids=[case[5] for case in MERGE_CASES],
)
def test_merge_intervals(
    pairs: list[tuple[float, float]],
    padding: float,
    gap: float,
    duration: float | None,
    expected: list[tuple[float, float]],
) -> None:
    merged = merge_intervals(spans(*pairs), padding, gap, duration)
    assert [(item.start_s, item.end_s) for item in merged] == [
        (pytest.approx(start), pytest.approx(end)) for start, end in expected
    ]


def test_merged_intervals_keep_their_source_rows() -> None:
    merged = merge_intervals(spans((5, 6), (1, 3), (2, 4)))
    assert [item.rows for item in merged] == [(2, 3), (1,)]


OUT_OF_RANGE = [
    ([(1, 2), (25, 30)], 21.0, r"row 2: out of range: interval 0:25\.000-0:30\.000 starts at or after"),
    (
        [(20, 22)],
        21.0,
        r"row 1: out of range: interval 0:20\.000-0:22\.000 ends after the end of the video "
        r"\(0:21\.000\)",
    ),
    ([(21, 22)], 21.0, r"row 1: out of range: .* starts at or after the end"),
]


@pytest.mark.parametrize(("pairs", "duration", "message"), OUT_OF_RANGE)
def test_out_of_range_intervals_name_their_row(
    pairs: list[tuple[float, float]], duration: float, message: str
) -> None:
    with pytest.raises(HighlightError, match=message):
        merge_intervals(spans(*pairs), padding_s=1, duration_s=duration)


def test_an_interval_ending_at_the_duration_is_in_range() -> None:
    assert merge_intervals(spans((20, 21.041)), duration_s=21.041)[0].end_s == 21.041


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"padding_s": -1}, "padding must be"),
        ({"min_gap_s": -0.5}, "minimum gap must be"),
        ({"duration_s": 0}, "duration must be positive"),
    ],
)
def test_merge_rejects_bad_settings(arguments: dict[str, float], message: str) -> None:
    with pytest.raises(HighlightError, match=message):
        merge_intervals(spans((1, 2)), **arguments)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (5, 4, "reversed interval"),
        (4, 4, "empty interval"),
        (-1, 4, "starts before 0"),
        (1, float("inf"), "finite"),
    ],
)
def test_interval_invariants(start: float, end: float, message: str) -> None:
    with pytest.raises(HighlightError, match=message):
        Interval(start, end)


# --------------------------------------------------------------------------------------------
# The CSV table
# --------------------------------------------------------------------------------------------

CSV_CASES = [
    ("start,end\n10,20\n1:00,1:30\n", [(10, 20), (60, 90)], "seconds and mm:ss"),
    ("START_TIME,End_Time\n0:00:05.5,0:00:07\n", [(5.5, 7)], "start_time/end_time, any case"),
    (" start , end ,label,note\n1,2,goal,left foot\n", [(1, 2)], "label and note ignored, spaces trimmed"),
    ("end,start\n20,10\n", [(10, 20)], "column order does not matter"),
    ("\ufeffstart,end\r\n1,2\r\n\r\n3,4\r\n", [(1, 2), (3, 4)], "BOM, CRLF and blank lines"),
    ("start,end,label\n1,2\n", [(1, 2)], "a short row (missing label)"),
    ("start,end\n5,6\n1,2\n", [(5, 6), (1, 2)], "table order kept (merging sorts)"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [case[:2] for case in CSV_CASES], ids=[case[2] for case in CSV_CASES]
)
def test_csv_reader(text: str, expected: list[tuple[float, float]]) -> None:
    intervals = CsvIntervalReader().read(text)
    assert [(item.start_s, item.end_s) for item in intervals] == expected
    assert [item.rows for item in intervals] == [(row,) for row in range(1, len(expected) + 1)]


CSV_ERRORS = [
    ("start,end,player\n1,2,x\n", r"unknown column\(s\) 'player'"),
    ("start,end,Team,minute\n1,2,a,b\n", r"unknown column\(s\) 'Team', 'minute'"),
    ("begin,end\n1,2\n", r"no 'start' / 'start_time' column"),
    ("start,end,start_time\n1,2,3\n", r"more than one 'start' / 'start_time' column"),
    ("start,end\n1,2\n30,20\n", r"row 2: reversed interval: start 0:30\.000 is after end 0:20\.000"),
    ("start,end\n1,2\n3,soon\n", r"row 2: column 'end': unparseable time 'soon'"),
    ("start,end\n1,2,3\n", r"row 1: 3 values but the header has 2 columns"),
    ("start,end\n1,\n", r"row 1: column 'end' is empty"),
    ("", "the intervals CSV is empty"),
    ("start,end\n", "has a header but no rows"),
]


@pytest.mark.parametrize(("text", "message"), CSV_ERRORS, ids=[case[1][:40] for case in CSV_ERRORS])
def test_csv_reader_errors(text: str, message: str) -> None:
    with pytest.raises(HighlightError, match=message):
        CsvIntervalReader().read(text)


# --------------------------------------------------------------------------------------------
# HighlightCutter (fake editor)
# --------------------------------------------------------------------------------------------

GAME_VIDEO = "/videos/game.mp4"


def test_cutter_merges_then_cuts_and_joins(tmp_path: Path) -> None:
    editor = FakeVideoEditor({GAME_VIDEO: 100.0})
    cutter = HighlightCutter(CsvIntervalReader(), editor, padding_s=1.0, min_gap_s=0.5)

    result = cutter.execute(
        GAME_VIDEO, "start,end\n1:00,1:10\n10,20\n1:11.5,1:20\n1:39,1:40\n", "G1", "Jo Doe", tmp_path
    )

    assert result.output == tmp_path / "G1_Jo-Doe.mp4"
    assert [(item.start_s, item.end_s) for item in result.intervals] == [(9, 21), (59, 81), (98, 100)]
    assert result.clips == tuple(tmp_path / "G1_Jo-Doe" / f"G1_Jo-Doe_{n:03d}.mp4" for n in (1, 2, 3))
    assert [cut[2] for cut in editor.cuts] == [CutMode.ACCURATE] * 3
    assert editor.joins == [(result.clips, result.output)]
    assert result.output.read_text().splitlines() == ["9.0-21.0", "59.0-81.0", "98.0-100.0"]
    assert result.source_duration_s == 100.0


@pytest.mark.parametrize(
    ("csv_text", "video", "error", "message"),
    [
        ("start,end\n1,2\n200,210\n", GAME_VIDEO, HighlightError, "row 2: out of range"),
        ("start,end,speed\n1,2,3\n", GAME_VIDEO, HighlightError, "unknown column"),
        ("start,end\n2,1\n", GAME_VIDEO, HighlightError, "row 1: reversed interval"),
        ("start,end\n1,2\n", "/videos/notes.txt", InvalidVideo, "not a readable video"),
    ],
)
def test_cutter_writes_nothing_for_bad_input(
    tmp_path: Path, csv_text: str, video: str, error: type[Exception], message: str
) -> None:
    editor = FakeVideoEditor({GAME_VIDEO: 100.0})
    with pytest.raises(error, match=message):
        HighlightCutter(CsvIntervalReader(), editor).execute(video, csv_text, "G1", "P", tmp_path)
    assert not editor.cuts and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("text", "name"),
    [("Real Madrid v Sevilla", "Real-Madrid-v-Sevilla"), ("../../etc", "etc"), ("Zé_10", "Z-_10")],
)
def test_safe_name(text: str, name: str) -> None:
    assert safe_name(text, "game") == name


def test_safe_name_rejects_empty() -> None:
    with pytest.raises(HighlightError, match="the player name '//' has no letters"):
        safe_name("//", "player")
