from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pitchlens.domain.highlights import (
    CutMode,
    HighlightError,
    Interval,
    IntervalReader,
    VideoEditor,
    merge_intervals,
)

DEFAULT_PADDING_S = 0.0
DEFAULT_MIN_GAP_S = 0.0


@dataclass(frozen=True, slots=True)
class HighlightCut:
    """The highlights video, the clips it was joined from (one per merged interval) and how."""

    output: Path
    clips: tuple[Path, ...]
    intervals: tuple[Interval, ...]
    source_duration_s: float
    stream_copied: bool


def safe_name(text: str, what: str) -> str:
    """A file-name part: letters, digits, `-`, `_` and `.` kept, every other run becomes `-`."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-.")
    if not name:
        raise HighlightError(f"the {what} name {text!r} has no letters or digits to name a file with")
    return name


class HighlightCutter:
    """A game video and a table of intervals become `{out_dir}/{game}_{player}.mp4`: the intervals
    are parsed, checked against the video's duration, padded and merged, each merged interval is
    cut into `{out_dir}/{game}_{player}/{game}_{player}_{nnn}.mp4`, and the clips are joined.
    Bad input raises HighlightError / InvalidVideo before anything is written."""

    def __init__(
        self,
        reader: IntervalReader,
        editor: VideoEditor,
        padding_s: float = DEFAULT_PADDING_S,
        min_gap_s: float = DEFAULT_MIN_GAP_S,
        mode: CutMode = CutMode.ACCURATE,
    ) -> None:
        self._reader = reader
        self._editor = editor
        self._padding_s = padding_s
        self._min_gap_s = min_gap_s
        self._mode = mode

    def execute(
        self,
        game_video: str,
        intervals_csv_text: str,
        game: str,
        player: str,
        out_dir: str | Path,
        on_progress: Callable[[int, int, str], None] | None = None,
    ) -> HighlightCut:
        """`on_progress(steps done, steps, what)`: one step per clip cut, one for the join."""
        name = f"{safe_name(game, 'game')}_{safe_name(player, 'player')}"
        source = Path(game_video)
        intervals = self._reader.read(intervals_csv_text)
        duration = self._editor.duration(source)
        merged = merge_intervals(intervals, self._padding_s, self._min_gap_s, duration)
        folder = Path(out_dir)
        steps = len(merged) + 1

        def cut(done: int) -> None:
            if on_progress is not None:
                on_progress(done, steps, f"{done}/{len(merged)} clips")

        clips = self._editor.extract(source, merged, folder / name, self._mode, prefix=name, on_clip=cut)
        joined = self._editor.concat(clips, folder / f"{name}.mp4")
        if on_progress is not None:
            on_progress(steps, steps, "joined")
        return HighlightCut(joined.path, tuple(clips), tuple(merged), duration, joined.stream_copied)
