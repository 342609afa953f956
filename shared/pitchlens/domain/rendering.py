"""Rendering a followed player: indicator kinds, quality presets, smoothing, the minimap's
positions. Standard library only.

A render draws an indicator over the followed player on every frame of a clip where the player is
seen (none on lost frames) and encodes the result with one of the seed's quality presets; with the
minimap it also shows a small pitch with everybody on it in metres (`pitch_positions`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from pitchlens.domain.errors import PermanentError, StateConflict
from pitchlens.domain.vision import BoundingBox, FrameTracks, TrackingFrame


class Indicator(StrEnum):
    DOT = "dot"
    """A marker above the player's head."""
    CIRCLE = "circle"
    """An ellipse on the ground around the player's feet."""
    GLOW = "glow"
    """A soft spotlight: the rest of the picture dimmed."""


class Preset(StrEnum):
    """The quality presets (see `PRESETS`)."""

    PREVIEW = "preview"
    FINAL = "final"


class InvalidSelection(PermanentError, ValueError):
    """The box chosen to follow a player is unusable: outside the frame, empty, or on a frame the
    clip does not have. The message says which."""


class ClipNotReady(StateConflict):
    """The clip has no trajectories yet (still processing, or failed): it cannot be rendered."""


@dataclass(frozen=True, slots=True)
class RenderPreset:
    """How a render is encoded. `height`/`fps` None keep the source's."""

    name: str
    height: int | None
    fps: float | None
    x264_preset: str
    crf: int
    pix_fmt: str = "yuv420p"

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """Frame size for a `width`x`height` source: the preset's height, the source's aspect ratio,
        both even (H.264 yuv420p needs even sizes). 1920x1080 -> 1280x720 for preview."""
        if self.height is None:
            return width - width % 2, height - height % 2
        out_height = self.height - self.height % 2
        out_width = round(width * out_height / height / 2) * 2
        return max(2, out_width), out_height

    def output_fps(self, source_fps: float) -> float:
        return self.fps if self.fps is not None else source_fps


PRESETS: dict[str, RenderPreset] = {
    "preview": RenderPreset("preview", height=720, fps=30.0, x264_preset="ultrafast", crf=28),
    "final": RenderPreset("final", height=None, fps=None, x264_preset="medium", crf=18),
}
"""The seed's quality presets: preview 1280x720 (for 16:9 sources) at 30 fps, ultrafast, CRF 28;
final at the source's size and frame rate, medium, CRF 18. Both H.264 yuv420p with +faststart."""


def preset_named(name: str) -> RenderPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise InvalidSelection(f"unknown preset {name!r} (expected {', '.join(PRESETS)})") from None


def indicator_named(name: str) -> Indicator:
    try:
        return Indicator(name)
    except ValueError:
        raise InvalidSelection(
            f"unknown indicator {name!r} (expected {', '.join(i.value for i in Indicator)})"
        ) from None


def check_selection(
    box: Sequence[float], frame_index: int, width: int, height: int, frames: int
) -> BoundingBox:
    """The chosen box as a BoundingBox, or InvalidSelection saying what is wrong with it."""
    if len(box) != 4:
        raise InvalidSelection(f"a box is four numbers x1,y1,x2,y2, got {len(box)}")
    x1, y1, x2, y2 = (float(value) for value in box)
    if not all(value == value and abs(value) != float("inf") for value in (x1, y1, x2, y2)):
        raise InvalidSelection("the box's coordinates must be finite numbers")
    if not (x2 > x1 and y2 > y1):
        raise InvalidSelection(f"empty box {x1:g},{y1:g},{x2:g},{y2:g}: x2 must exceed x1 and y2 exceed y1")
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise InvalidSelection(f"the box {x1:g},{y1:g},{x2:g},{y2:g} is outside the {width}x{height} frame")
    if not 0 <= frame_index < frames:
        raise InvalidSelection(f"frame {frame_index} is outside the clip (frames 0..{frames - 1})")
    return BoundingBox(x1, y1, x2, y2)


_SIDES = ("x1", "y1", "x2", "y2")


def smooth_followed(frames: Sequence[TrackingFrame], radius: int = 3) -> list[TrackingFrame]:
    """Boxes averaged over a centred window of up to 2 * `radius` + 1 frames, within each run of
    consecutive seen frames (never across a lost frame, never mixing in a lost frame's box), so the
    indicator glides instead of jittering with the detector's boxes. Lost frames keep no box. The
    window shrinks symmetrically at a run's ends, so a run's first and last boxes stay where they
    were seen."""
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    smoothed: list[TrackingFrame] = []
    run: list[TrackingFrame] = []

    def flush() -> None:
        boxes = [frame.box for frame in run if frame.box is not None]
        for position, frame in enumerate(run):
            reach = min(radius, position, len(run) - 1 - position)
            window = boxes[position - reach : position + reach + 1]
            x1, y1, x2, y2 = (sum(getattr(box, side) for box in window) / len(window) for side in _SIDES)
            smoothed.append(replace(frame, box=BoundingBox(x1, y1, x2, y2)))
        run.clear()

    previous: int | None = None
    for frame in frames:
        contiguous = previous is not None and frame.frame_index == previous + 1
        if not contiguous or frame.lost or frame.box is None:
            flush()
        if frame.lost or frame.box is None:
            smoothed.append(replace(frame, box=None, lost=True))
        else:
            run.append(frame)
        previous = frame.frame_index
    flush()
    return smoothed


@dataclass(frozen=True, slots=True)
class RenderedVideo:
    """A local rendered file and what went into it."""

    path: str
    width: int
    height: int
    fps: float
    frames: int
    """Frames encoded (after frame-rate conversion)."""
    source_frames: int
    marked_frames: int
    """Source frames with the indicator drawn (the rest were lost or untracked)."""
    has_audio: bool
    minimap_frames: int = 0
    """Source frames drawn with a minimap in metres (not "not calibrated"; 0 without the minimap)."""


@dataclass(frozen=True, slots=True)
class PitchPositions:
    """Who stands where in one frame, for the minimap: the metres (match frame, see README
    "Coordinates") and team of every person on the pitch that has them, and which of them is the
    followed player. `calibrated` False: the frame has no metres at all (clip or shot not
    calibrated), the minimap says so instead of showing nobody."""

    frame_index: int
    xy: tuple[tuple[float, float], ...] = ()
    teams: tuple[str | None, ...] = ()
    followed: int | None = None
    """Index into `xy` of the followed player (None: lost, or no metres)."""
    calibrated: bool = False


def pitch_positions(tracks: Sequence[FrameTracks], followed: Sequence[TrackingFrame]) -> list[PitchPositions]:
    """The minimap's content per frame of `tracks` (one FrameTracks per frame, `every_frame`):
    people flagged on the pitch (or not placed) with finite metres, and the followed player (the
    track `followed` names on that frame, when not lost) wherever he stands. A frame with people
    but no metres is not calibrated; an empty frame keeps the state of the frame before it (the
    first ones: whether the clip has metres at all), so the minimap's note does not flicker."""
    chosen = {f.frame_index: f.track_id for f in followed if not f.lost and f.track_id is not None}
    found: list[PitchPositions] = []
    calibrated = any(_placed(frame) for frame in tracks)
    for frame in tracks:
        if len(frame) and frame.pitch_xy is None:
            calibrated = False
        if not len(frame) or frame.pitch_xy is None:
            found.append(PitchPositions(frame.frame_index, calibrated=calibrated))
            continue
        flags = frame.on_pitch if frame.on_pitch is not None else [True] * len(frame)
        teams = frame.teams if frame.teams is not None else [None] * len(frame)
        target = chosen.get(frame.frame_index)
        xy: list[tuple[float, float]] = []
        kept: list[str | None] = []
        followed_at = None
        finite = False
        for track_id, (x, y), on, team in zip(frame.track_ids, frame.pitch_xy, flags, teams, strict=True):
            x, y = float(x), float(y)
            if not (math.isfinite(x) and math.isfinite(y)):
                continue
            finite = True
            is_followed = target is not None and int(track_id) == target
            if is_followed:
                followed_at = len(xy)
            if is_followed or on:
                xy.append((x, y))
                kept.append(team)
        calibrated = finite
        found.append(PitchPositions(frame.frame_index, tuple(xy), tuple(kept), followed_at, finite))
    return found


def _placed(frame: FrameTracks) -> bool:
    return frame.pitch_xy is not None and any(math.isfinite(float(x)) for x, _ in frame.pitch_xy)


ProgressCallback = Callable[[int, int], None]
"""(source frames done, source frames in all)."""


class IndicatorRenderer(ABC):
    """Draws an indicator over a followed player on every frame of a local video and encodes it."""

    @abstractmethod
    def render(
        self,
        source: str,
        target: str,
        followed: Sequence[TrackingFrame],
        indicator: Indicator,
        preset: RenderPreset,
        on_progress: ProgressCallback | None = None,
        minimap: Sequence[PitchPositions] | None = None,
    ) -> RenderedVideo:
        """Writes `target` whole or not at all. Frames absent from `followed`, or lost there, get no
        indicator. With `minimap` (one PitchPositions per frame) every frame also shows the small
        pitch with those people (a frame absent from it: the empty pitch). InvalidVideo for an
        unreadable source; InvalidSelection when `followed` or `minimap` names frames the video
        does not have."""
