"""`CsvIntervalReader`: a CSV of highlight intervals into domain Intervals.

Columns (header names case-insensitive, surrounding spaces ignored): `start` and `end`, or
`start_time` and `end_time`; optional `label` and `note` are accepted and ignored. Any other
column is an error naming it, so a misspelt header never silently drops data. Blank lines are
skipped; rows are numbered from 1 (the first row after the header), as a spreadsheet user counts
them after the header line.
"""

from __future__ import annotations

import csv
import io

from pitchlens.domain.highlights import HighlightError, Interval, IntervalReader, parse_interval

_START = ("start", "start_time")
_END = ("end", "end_time")
_IGNORED = frozenset({"label", "note"})


class CsvIntervalReader(IntervalReader):
    """Reads `start,end` (or `start_time,end_time`) CSV text; see the module docstring."""

    def read(self, text: str) -> list[Interval]:
        rows = csv.reader(io.StringIO(text.lstrip("\ufeff")))
        header = next((row for row in rows if any(cell.strip() for cell in row)), None)
        if header is None:
            raise HighlightError("the intervals CSV is empty (expected a header with start,end)")
        names = [cell.strip().lower() for cell in header]
        start, end = _column(names, _START), _column(names, _END)
        unknown = [
            header[index].strip() or f"<empty, column {index + 1}>"
            for index, name in enumerate(names)
            if name not in _IGNORED and index not in (start, end)
        ]
        if unknown:
            raise HighlightError(
                f"unknown column(s) {', '.join(repr(name) for name in unknown)} in the intervals CSV "
                f"(expected start,end or start_time,end_time, optionally label and note)"
            )
        intervals: list[Interval] = []
        number = 0
        for row in rows:
            if not any(cell.strip() for cell in row):
                continue
            number += 1
            if len(row) > len(header):
                raise HighlightError(
                    f"row {number}: {len(row)} values but the header has {len(header)} columns"
                )
            cells = row + [""] * (len(header) - len(row))
            intervals.append(parse_interval(cells[start], cells[end], number))
        if not intervals:
            raise HighlightError("the intervals CSV has a header but no rows")
        return intervals


def _column(names: list[str], accepted: tuple[str, ...]) -> int:
    found = [index for index, name in enumerate(names) if name in accepted]
    if len(found) != 1:
        problem = "no" if not found else "more than one"
        raise HighlightError(
            f"the intervals CSV has {problem} {' / '.join(repr(name) for name in accepted)} column "
            f"(header: {','.join(names)})"
        )
    return found[0]
