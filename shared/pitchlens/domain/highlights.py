"""Highlight cuts: time intervals of a game video, merged and cut into one highlights video.
Standard library only.

Times are seconds from the start of the game video. Interval rows come from a table (a CSV):
each keeps the row numbers it came from so errors and merged clips can point back at them.
Accepted time formats: seconds (`75`, `75.5`), `mm:ss(.fff)` (minutes may exceed 59, as a
match clock does: `75:30`) and `hh:mm:ss(.fff)`.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pitchlens.domain.errors import PermanentError

_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")
_CLOCK = re.compile(r"^(?:(?P<h>\d+):(?P<hm>\d{1,2})|(?P<m>\d+)):(?P<s>\d{1,2}(?:\.\d+)?)$")
_EPSILON_S = 1e-6
"""Float slack when comparing times (parsed values are exact to the millisecond at most)."""


class HighlightError(PermanentError, ValueError):
    """Highlight input is wrong: an unparseable time, a reversed or out-of-range interval, a table
    with unknown columns. The message names the row, the column and the problem."""


class VideoEditFailed(PermanentError):
    """Cutting or joining videos failed for a reason other than an unreadable input (which is
    `InvalidVideo`); the message names the file."""


class CutMode(StrEnum):
    ACCURATE = "accurate"
    """Re-encode: clips start and end on the requested frame."""
    COPY = "copy"
    """Keyframe stream copy: fast, lossless, but a clip starts at the keyframe before its start."""


@dataclass(frozen=True, slots=True)
class Interval:
    """[start_s, end_s) of the game video; `rows` are the table rows it came from (1 = the first
    data row), not part of its identity."""

    start_s: float
    end_s: float
    rows: tuple[int, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)):
            raise HighlightError(f"{self._where()}interval times must be finite numbers")
        if self.start_s < 0:
            raise HighlightError(f"{self._where()}interval starts before 0 ({self.start_s:.3f} s)")
        if self.end_s < self.start_s:
            raise HighlightError(
                f"{self._where()}reversed interval: start {format_time(self.start_s)} is after "
                f"end {format_time(self.end_s)}"
            )
        if self.end_s - self.start_s < _EPSILON_S:
            raise HighlightError(
                f"{self._where()}empty interval: start and end are both {format_time(self.start_s)}"
            )

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def _where(self) -> str:
        return _rows_label(self.rows)

    def __str__(self) -> str:
        return f"{format_time(self.start_s)}-{format_time(self.end_s)}"


def parse_time(text: str) -> float:
    """Seconds from `75`, `75.5`, `1:15`, `75:30.250` or `1:02:03.5`; HighlightError otherwise."""
    value = text.strip()
    if _SECONDS.match(value):
        return float(value)
    clock = _CLOCK.match(value)
    if clock is None:
        raise HighlightError(
            f"unparseable time {text!r} (expected seconds, mm:ss or hh:mm:ss, optionally with .fff)"
        )
    seconds = float(clock["s"])
    if seconds >= 60:
        raise HighlightError(f"unparseable time {text!r}: seconds must be below 60")
    if clock["h"] is not None:
        minutes = int(clock["hm"])
        if minutes >= 60:
            raise HighlightError(f"unparseable time {text!r}: minutes must be below 60 in hh:mm:ss")
        return int(clock["h"]) * 3600 + minutes * 60 + seconds
    return int(clock["m"]) * 60 + seconds


def format_time(seconds: float) -> str:
    """`m:ss.fff` (or `h:mm:ss.fff`), for messages."""
    whole_ms = round(seconds * 1000)
    hours, rest = divmod(whole_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    clock = f"{minutes:02d}:{rest / 1000:06.3f}" if hours else f"{minutes}:{rest / 1000:06.3f}"
    return f"{hours}:{clock}" if hours else clock


def parse_interval(start: str, end: str, row: int | None = None) -> Interval:
    """One table row; errors name the row and the column ("start" / "end")."""
    where = _rows_label(() if row is None else (row,))
    times: list[float] = []
    for column, text in (("start", start), ("end", end)):
        if not text.strip():
            raise HighlightError(f"{where}column {column!r} is empty")
        try:
            times.append(parse_time(text))
        except HighlightError as error:
            raise HighlightError(f"{where}column {column!r}: {error}") from None
    return Interval(times[0], times[1], () if row is None else (row,))


def merge_intervals(
    intervals: Iterable[Interval],
    padding_s: float = 0.0,
    min_gap_s: float = 0.0,
    duration_s: float | None = None,
) -> list[Interval]:
    """Sorted, disjoint intervals: each is widened by `padding_s` on both sides and clamped to
    [0, duration_s]; intervals that then overlap, touch, or are at most `min_gap_s` apart become
    one (keeping every source row). With `duration_s`, an interval (before padding) that starts at
    or after the end of the video, or ends after it, is an error naming its row."""
    if padding_s < 0 or not math.isfinite(padding_s):
        raise HighlightError(f"padding must be a finite number >= 0, got {padding_s}")
    if min_gap_s < 0 or not math.isfinite(min_gap_s):
        raise HighlightError(f"the minimum gap must be a finite number >= 0, got {min_gap_s}")
    if duration_s is not None and not (duration_s > 0 and math.isfinite(duration_s)):
        raise HighlightError(f"the video's duration must be positive, got {duration_s}")
    ordered = sorted(intervals, key=lambda interval: (interval.start_s, interval.end_s))
    if duration_s is not None:
        for interval in ordered:
            _check_within(interval, duration_s)
    upper = math.inf if duration_s is None else duration_s
    merged: list[Interval] = []
    for interval in ordered:
        start = max(0.0, interval.start_s - padding_s)
        end = min(upper, interval.end_s + padding_s)
        if merged and start <= merged[-1].end_s + min_gap_s + _EPSILON_S:
            last = merged[-1]
            merged[-1] = Interval(last.start_s, max(last.end_s, end), last.rows + interval.rows)
        else:
            merged.append(Interval(start, end, interval.rows))
    return merged


def _check_within(interval: Interval, duration_s: float) -> None:
    video_end = format_time(duration_s)
    if interval.start_s >= duration_s - _EPSILON_S:
        raise HighlightError(
            f"{_rows_label(interval.rows)}out of range: interval {interval} starts at or after the "
            f"end of the video ({video_end})"
        )
    if interval.end_s > duration_s + _EPSILON_S:
        raise HighlightError(
            f"{_rows_label(interval.rows)}out of range: interval {interval} ends after the end of "
            f"the video ({video_end})"
        )


def _rows_label(rows: Sequence[int]) -> str:
    if not rows:
        return ""
    return f"row {rows[0]}: " if len(rows) == 1 else f"rows {', '.join(map(str, rows))}: "


@dataclass(frozen=True, slots=True)
class Concatenation:
    """A joined video, and whether its clips were stream-copied (same format) or re-encoded."""

    path: Path
    stream_copied: bool


class IntervalReader(ABC):
    """Reads a table of intervals (rows of start/end times)."""

    @abstractmethod
    def read(self, text: str) -> list[Interval]:
        """One Interval per data row, in table order (rows numbered from 1); HighlightError naming
        the row/column for unknown columns, unparseable times or reversed intervals."""


class VideoEditor(ABC):
    """Cuts clips out of a local video and joins clips into one. Every output is H.264 + yuv420p
    with the index at the front (plays in browsers) and appears whole or not at all."""

    @abstractmethod
    def duration(self, source: Path) -> float:
        """Seconds; InvalidVideo naming the file when it is not a readable video."""

    @abstractmethod
    def extract(
        self,
        source: Path,
        intervals: Sequence[Interval],
        out_dir: Path,
        mode: CutMode | str = CutMode.ACCURATE,
        prefix: str | None = None,
        on_clip: Callable[[int], None] | None = None,
    ) -> list[Path]:
        """One clip per interval, `{prefix}_{nnn}.mp4` in `out_dir` (prefix: the source's stem), in
        order, `on_clip(clips done)` after each; InvalidVideo for an unreadable source,
        VideoEditFailed otherwise. All or nothing."""

    @abstractmethod
    def concat(self, clips: Sequence[Path], output: Path) -> Concatenation:
        """The clips one after the other in `output`: stream copy when they share a format, else
        normalised to the first clip's size and frame rate."""
