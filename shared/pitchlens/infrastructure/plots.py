"""Pictures of a match's events on a pitch, drawn with mplsoccer (the optional `plots` extra).

Input is columns in the PitchLens frame (metres on a 105 x 68 pitch, centre origin, +x the
direction the home team attacks, +y to its left): each team's shots land at its own end, as they
were taken. mplsoccer's `custom` pitch has its origin at the bottom-left corner, so points move by
(+52.5, +34) and nothing else changes.

Every picture counts what it draws (`Picture.markers`): one marker per shot, one arrow per pass,
and for a heatmap the events binned. That is the number of events selected: events without the
coordinates a picture needs (a pass without an end) are left out before, by `PitchEvents.drawable`.
PNGs carry the count and the kind in their metadata (`pitchlens.markers`, `pitchlens.kind`).

Figures are built with `matplotlib.figure.Figure`, never pyplot: no global state, safe in the API's
threads, no display needed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pitchlens.domain.errors import ServiceUnavailable
from pitchlens.domain.model import PITCH_LENGTH, PITCH_WIDTH

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PITCH_COLOUR = "#2e7d32"
LINE_COLOUR = "#ffffff"
HOME_COLOUR = "#ffd54f"
AWAY_COLOUR = "#4fc3f7"
MISSED_COLOUR = "#e57373"
FIGURE_SIZE = (10.5, 7.4)
DPI = 100
HEATMAP_BINS = (12, 8)


class PlotKind(StrEnum):
    """The pictures of a match: where shots were taken (sized by xG, goals filled), passes as
    arrows (complete and not), and a heatmap of where events happened."""

    SHOTS = "shots"
    PASSES = "passes"
    HEATMAP = "heatmap"

    @property
    def event_type(self) -> str | None:
        """The event type the picture draws (None: every type with a position)."""
        return {PlotKind.SHOTS: "shot", PlotKind.PASSES: "pass"}.get(self)


class PlotsNotInstalled(ServiceUnavailable):
    """mplsoccer is not installed: `pip install 'pitchlens[plots]'`."""


@dataclass(frozen=True, slots=True)
class PitchEvents:
    """Events to draw, as columns of equal length (PitchLens frame; None where unknown)."""

    x: Sequence[float | None]
    y: Sequence[float | None]
    end_x: Sequence[float | None]
    end_y: Sequence[float | None]
    home: Sequence[bool]
    """Whether each event is the home team's."""
    outcome: Sequence[str | None]
    xg: Sequence[float | None]
    home_team: str = "home"
    away_team: str = "away"
    title: str = ""

    def drawable(self, kind: PlotKind) -> PitchEvents:
        """Only the events `kind` can draw: with a start, and for passes an end too."""
        keep = [
            index
            for index in range(len(self.x))
            if _known(self.x[index], self.y[index])
            and (kind is not PlotKind.PASSES or _known(self.end_x[index], self.end_y[index]))
        ]

        def pick(column: Sequence[Any]) -> list[Any]:
            return [column[index] for index in keep]

        return PitchEvents(
            pick(self.x),
            pick(self.y),
            pick(self.end_x),
            pick(self.end_y),
            pick(self.home),
            pick(self.outcome),
            pick(self.xg),
            self.home_team,
            self.away_team,
            self.title,
        )


@dataclass(frozen=True, slots=True)
class Picture:
    figure: Figure
    kind: PlotKind
    markers: int
    """What was drawn: shots, pass arrows or events binned."""

    def png(self) -> bytes:
        sink = io.BytesIO()
        self.figure.savefig(
            sink,
            format="png",
            dpi=DPI,
            facecolor=self.figure.get_facecolor(),
            metadata={"pitchlens.markers": str(self.markers), "pitchlens.kind": self.kind.value},
        )
        return sink.getvalue()


def _known(x: float | None, y: float | None) -> bool:
    return x is not None and y is not None and not (math.isnan(x) or math.isnan(y))


def _on_pitch(values: Sequence[float | None], half: float) -> list[float]:
    return [float(value) + half for value in values if value is not None]


def draw(kind: PlotKind, events: PitchEvents) -> Picture:
    """The picture of `kind` of the drawable `events` (see `PitchEvents.drawable`)."""
    try:
        from matplotlib.figure import Figure
        from mplsoccer import Pitch
    except ImportError as error:
        raise PlotsNotInstalled(
            "pictures need mplsoccer: install the plots extra (pip install 'pitchlens[plots]')"
        ) from error
    shown = events.drawable(kind)
    pitch = Pitch(
        pitch_type="custom",
        pitch_length=PITCH_LENGTH,
        pitch_width=PITCH_WIDTH,
        pitch_color=PITCH_COLOUR,
        line_color=LINE_COLOUR,
        linewidth=1.5,
        goal_type="box",
        line_zorder=2.5,  # above a heatmap, below markers
    )
    figure = Figure(figsize=FIGURE_SIZE, facecolor=PITCH_COLOUR)
    axes = figure.add_subplot()
    pitch.draw(ax=axes)
    x = _on_pitch(shown.x, PITCH_LENGTH / 2)
    y = _on_pitch(shown.y, PITCH_WIDTH / 2)
    if kind is PlotKind.SHOTS:
        markers = _shots(pitch, axes, shown, x, y)
    elif kind is PlotKind.PASSES:
        markers = _passes(pitch, axes, shown, x, y)
    else:
        markers = _heatmap(pitch, axes, x, y)
    legend = f"{shown.home_team} (yellow, attacking right) v {shown.away_team} (blue, attacking left)"
    if kind is PlotKind.HEATMAP:
        legend = f"{shown.home_team} attack right, {shown.away_team} attack left"
    title = shown.title or kind.value
    axes.set_title(f"{title}: {markers}\n{legend}", color=LINE_COLOUR, fontsize=11)
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9)
    return Picture(figure, kind, markers)


def _shots(pitch: Any, axes: Any, shown: PitchEvents, x: list[float], y: list[float]) -> int:
    sizes = [80 + 900 * float(xg) if xg is not None else 120 for xg in shown.xg]
    goal = [(outcome or "").lower() in ("goal", "own goal") for outcome in shown.outcome]
    colours = [HOME_COLOUR if home else AWAY_COLOUR for home in shown.home]
    faces = [colour if scored else "none" for colour, scored in zip(colours, goal, strict=True)]
    drawn = pitch.scatter(
        x, y, s=sizes, facecolors=faces, edgecolors=colours, linewidths=1.8, ax=axes, zorder=3
    )
    return len(drawn.get_offsets())


def _passes(pitch: Any, axes: Any, shown: PitchEvents, x: list[float], y: list[float]) -> int:
    end_x = _on_pitch(shown.end_x, PITCH_LENGTH / 2)
    end_y = _on_pitch(shown.end_y, PITCH_WIDTH / 2)
    complete = [(outcome or "complete").lower() in ("complete", "completed") for outcome in shown.outcome]
    colours = [
        (HOME_COLOUR if home else AWAY_COLOUR) if done else MISSED_COLOUR
        for home, done in zip(shown.home, complete, strict=True)
    ]
    if not x:
        return 0
    drawn = pitch.arrows(x, y, end_x, end_y, color=colours, width=1.5, headwidth=4, ax=axes, zorder=3)
    return int(drawn.N)


def _heatmap(pitch: Any, axes: Any, x: list[float], y: list[float]) -> int:
    if not x:
        return 0
    stats = pitch.bin_statistic(x, y, statistic="count", bins=HEATMAP_BINS)
    pitch.heatmap(stats, ax=axes, cmap="hot", edgecolors=PITCH_COLOUR, alpha=0.75, zorder=1)
    return int(stats["statistic"].sum())
