"""A fake VideoEditor with real state (files named, durations remembered) for the highlight
use-case tests: it writes small text files instead of videos."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pitchlens.domain.errors import InvalidVideo
from pitchlens.domain.highlights import Concatenation, CutMode, Interval, VideoEditor


class FakeVideoEditor(VideoEditor):
    def __init__(self, durations: dict[str, float]) -> None:
        self.durations = durations
        """Source path -> duration; any other path is an unreadable video."""
        self.cuts: list[tuple[Path, Interval, CutMode]] = []
        self.joins: list[tuple[tuple[Path, ...], Path]] = []

    def duration(self, source: Path) -> float:
        if str(source) not in self.durations:
            raise InvalidVideo(f"{source}: not a readable video")
        return self.durations[str(source)]

    def extract(
        self,
        source: Path,
        intervals: Sequence[Interval],
        out_dir: Path,
        mode: CutMode | str = CutMode.ACCURATE,
        prefix: str | None = None,
        on_clip: Callable[[int], None] | None = None,
    ) -> list[Path]:
        self.duration(source)
        out_dir.mkdir(parents=True, exist_ok=True)
        clips = []
        for number, interval in enumerate(intervals, 1):
            clip = out_dir / f"{prefix or source.stem}_{number:03d}.mp4"
            clip.write_text(f"{interval.start_s}-{interval.end_s}")
            self.cuts.append((clip, interval, CutMode(mode)))
            clips.append(clip)
            if on_clip is not None:
                on_clip(len(clips))
        return clips

    def concat(self, clips: Sequence[Path], output: Path) -> Concatenation:
        output.write_text("\n".join(clip.read_text() for clip in clips))
        self.joins.append((tuple(clips), output))
        return Concatenation(output, stream_copied=True)


class GameVideoEditor(FakeVideoEditor):
    """Every source is a readable 10 s game video, unless `unreadable` says otherwise."""

    def __init__(self) -> None:
        super().__init__({})
        self.unreadable = False

    def duration(self, source: Path) -> float:
        if self.unreadable:
            raise InvalidVideo(f"{source.name}: not a readable video")
        return 10.0

    def concat(self, clips: Sequence[Path], output: Path) -> Concatenation:
        if self.unreadable:
            raise InvalidVideo(f"{clips[0].name}: not a readable video")
        return super().concat(clips, output)
