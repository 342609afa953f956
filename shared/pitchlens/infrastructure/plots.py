"""Pictures of a match's events on a pitch, drawn with mplsoccer (the optional `plots` extra).

Input is columns in the PitchLens frame (metres on a 105 x 68 pitch, centre origin, +x the
direction the home team attacks, +y to its left): each team's shots land at its own end, as they
were taken. mplsoccer's `custom` pitch has its origin at the bottom-left corner, so points move by
(+52.5, +34) and nothing else changes.

Every picture counts what it draws (`Picture.markers`): one marker per shot, one arrow per pass,
and for a heatmap the events binned. That is the number of events selected: events without the
coordinates a picture needs (a pass without an end) are left out before, by `PitchEvents.drawable`.
PNGs carry the count and the kind in their metadata (`pitchlens.markers`, `pitchlens.kind`).

Tracked players of a calibrated clip (`TrackPlotKind`) are drawn the same way from the
trajectories' `pitch_x`, `pitch_y` (the same frame): one player's `path` counts the positions it
joins (frames in a row with metres on the pitch; a lost frame, one without metres or off the pitch
ends a stretch), his `heatmap` the positions it bins (colour: seconds per 5 m square), and a clip's
`positions` the players it draws (mean position, at least a second on the pitch). Teams are drawn
in their kit's colour (`team_colour`), "other" (goalkeepers, referees) hollow or dashed.

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
from pitchlens.domain.teams import kit_hex

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


class TrackPlotKind(StrEnum):
    """Pictures of tracked people in metres (a calibrated clip's trajectories): one player's `path`
    (lost and off-pitch stretches not joined) and `heatmap` (time spent), and a clip's `positions`
    (every on-pitch player's mean position)."""

    PATH = "path"
    HEATMAP = "heatmap"
    POSITIONS = "positions"


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
    kind: PlotKind | TrackPlotKind
    markers: int
    """What was drawn: shots, pass arrows or events binned; a path's positions, positions binned, players."""

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


def _pitch_figure() -> tuple[Any, Figure, Any]:
    """(mplsoccer Pitch, Figure, Axes) with the pitch drawn; PlotsNotInstalled without mplsoccer."""
    try:
        from matplotlib.figure import Figure
        from mplsoccer import Pitch
    except ImportError as error:
        raise PlotsNotInstalled(
            "pictures need mplsoccer: install the plots extra (pip install 'pitchlens[plots]')"
        ) from error
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
    return pitch, figure, axes


def _titled(figure: Figure, axes: Any, title: str) -> None:
    axes.set_title(title, color=LINE_COLOUR, fontsize=11)
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9)


def draw(kind: PlotKind, events: PitchEvents) -> Picture:
    """The picture of `kind` of the drawable `events` (see `PitchEvents.drawable`)."""
    pitch, figure, axes = _pitch_figure()
    shown = events.drawable(kind)
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
    _titled(figure, axes, f"{title}: {markers}\n{legend}")
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


# --- Tracked players (trajectories in metres) ------------------------------------------------------
OTHER_COLOUR = "#b0bec5"
"""Goalkeepers, referees ("other") and people whose kit was never seen: drawn hollow or dashed."""
OUTLINE_COLOUR = "#10161f"
TRACK_HEATMAP_BINS = (21, 14)
"""5 m squares."""
MIN_POSITION_SECONDS = 1.0
"""A track shown in `positions` has at least this long on the pitch with metres."""
MAX_LABELLED_TRACKS = 40


def team_colour(team: str | None) -> str:
    """The colour a team (a kit colour's name) is drawn in; OTHER_COLOUR for "other" and unknown."""
    return kit_hex(team) or OTHER_COLOUR


def _seen_as(team: str | None) -> bool:
    return kit_hex(team) is not None


@dataclass(frozen=True, slots=True)
class PlayerTrack:
    """One tracked person's positions frame by frame (PitchLens frame, metres; NaN where the frame
    has none) and what the title says about them (`domain/motion.py`'s distance and top speed)."""

    frame: Sequence[int]
    x: Sequence[float]
    y: Sequence[float]
    on_pitch: Sequence[bool | None]
    fps: float
    label: str
    team: str | None
    distance_m: float
    top_speed_kmh: float
    seconds: float
    """Time with metres."""

    def stretches(self) -> list[tuple[list[float], list[float]]]:
        """Runs of consecutive frames with metres on the pitch: what a path joins. A frame without
        the player (lost), without metres, or with him off the pitch ends a run."""
        runs: list[tuple[list[float], list[float]]] = []
        last: int | None = None
        for frame, x, y, on in zip(self.frame, self.x, self.y, self.on_pitch, strict=True):
            if not _known(x, y) or on is False:
                last = None
                continue
            if last is None or int(frame) != last + 1:
                runs.append(([], []))
            runs[-1][0].append(float(x))
            runs[-1][1].append(float(y))
            last = int(frame)
        return runs


@dataclass(frozen=True, slots=True)
class ClipTracks:
    """Every tracked person's rows of a clip as columns of equal length (numpy arrays or lists;
    PitchLens frame, metres, NaN where a frame has none)."""

    track_id: Sequence[int]
    x: Sequence[float]
    y: Sequence[float]
    team: Sequence[str | None]
    on_pitch: Sequence[bool | None]
    fps: float
    title: str


def draw_player(kind: TrackPlotKind, track: PlayerTrack) -> Picture:
    """One player's `path` (markers: the positions joined, stretch by stretch; start and end marked)
    or `heatmap` (markers: the positions binned; colour: seconds spent in each 5 m square)."""
    if kind is TrackPlotKind.POSITIONS:
        raise ValueError("positions is a picture of a whole clip: draw_positions")
    import numpy as np

    pitch, figure, axes = _pitch_figure()
    runs = track.stretches()
    xs = [x + PITCH_LENGTH / 2 for run in runs for x in run[0]]
    ys = [y + PITCH_WIDTH / 2 for run in runs for y in run[1]]
    colour = team_colour(track.team)
    if kind is TrackPlotKind.PATH:
        markers = _path(pitch, axes, runs, colour, hollow=not _seen_as(track.team))
        what = f"path, {markers} positions in {len(runs)} stretches"
    else:
        markers = 0
        if xs:
            stats = pitch.bin_statistic(xs, ys, statistic="count", bins=TRACK_HEATMAP_BINS)
            markers = int(stats["statistic"].sum())
            seconds = stats["statistic"] / track.fps
            stats["statistic"] = np.where(seconds > 0, seconds, np.nan)  # squares never visited: the grass
            pitch.heatmap(stats, ax=axes, cmap="hot", edgecolors=PITCH_COLOUR, alpha=0.8, zorder=1)
        what = f"time spent, {markers} positions in 5 m squares"
    motion = (
        f"{track.distance_m:,.0f} m covered in {_duration(track.seconds)}, "
        f"top speed {track.top_speed_kmh:.1f} km/h; home attacks right"
    )
    _titled(figure, axes, f"{track.label} ({track.team or 'team unknown'}): {what}\n{motion}")
    return Picture(figure, kind, markers)


def _path(
    pitch: Any, axes: Any, runs: list[tuple[list[float], list[float]]], colour: str, hollow: bool
) -> int:
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection

    half = (PITCH_LENGTH / 2, PITCH_WIDTH / 2)
    lines = [
        list(zip([x + half[0] for x in xs], [y + half[1] for y in ys], strict=True))
        for xs, ys in runs
        if len(xs) > 1
    ]
    outline: list[Any] = [patheffects.withStroke(linewidth=4, foreground=OUTLINE_COLOUR)]
    drawn = LineCollection(lines, colors=colour, linewidths=2, linestyles="--" if hollow else "-", zorder=3)
    drawn.set_path_effects(outline)
    axes.add_collection(drawn)
    single = [(xs[0] + half[0], ys[0] + half[1]) for xs, ys in runs if len(xs) == 1]
    if single:
        pitch.scatter(*zip(*single, strict=True), s=12, color=colour, ax=axes, zorder=3)
    if runs:
        first, last = runs[0], runs[-1]
        for (x, y), marker in (((first[0][0], first[1][0]), "o"), ((last[0][-1], last[1][-1]), "s")):
            pitch.scatter(
                x + half[0], y + half[1], s=140, marker=marker, color=colour, edgecolors=OUTLINE_COLOUR,
                linewidths=2, ax=axes, zorder=4,
            )  # fmt: skip
    return sum(len(xs) for xs, _ in runs)


def draw_positions(tracks: ClipTracks) -> Picture:
    """Every on-pitch player's mean position (markers: the players drawn, each with at least
    MIN_POSITION_SECONDS on the pitch with metres), coloured by team, sized by time; "other" hollow."""
    import numpy as np

    pitch, figure, axes = _pitch_figure()
    ids = np.asarray(tracks.track_id, np.int64)
    x = np.asarray(tracks.x, np.float64)
    y = np.asarray(tracks.y, np.float64)
    on = np.asarray([value is not False for value in tracks.on_pitch], bool)
    keep = ~(np.isnan(x) | np.isnan(y)) & on
    ids, x, y = ids[keep], x[keep], y[keep]
    codes: dict[str, int] = {"": 0}  # "": a kit never seen, which votes for nobody
    team_code = np.fromiter(
        (codes.setdefault(str(t), len(codes)) if t is not None else 0 for t in tracks.team),
        np.int64,
        len(tracks.team),
    )[keep]
    players, index, counts = np.unique(ids, return_inverse=True, return_counts=True)
    mean_x = np.bincount(index, x, len(players)) / np.maximum(counts, 1)
    mean_y = np.bincount(index, y, len(players)) / np.maximum(counts, 1)
    names = list(codes)
    votes = np.bincount(index * len(names) + team_code, minlength=len(players) * len(names))
    votes = votes.reshape(len(players), len(names))
    votes[:, 0] = 0
    shown = np.flatnonzero(counts >= MIN_POSITION_SECONDS * tracks.fps)
    team_of = [names[int(np.argmax(votes[i]))] if votes[i].any() else None for i in shown]
    colours = [team_colour(team) for team in team_of]
    faces = [colour if _seen_as(team) else "none" for colour, team in zip(colours, team_of, strict=True)]
    sizes = [60 + 240 * min(1.0, counts[i] / tracks.fps / 60) for i in shown]
    if len(shown):
        pitch.scatter(
            mean_x[shown] + PITCH_LENGTH / 2, mean_y[shown] + PITCH_WIDTH / 2, s=sizes, facecolors=faces,
            edgecolors=[c if f == "none" else OUTLINE_COLOUR for c, f in zip(colours, faces, strict=True)],
            linewidths=1.8, ax=axes, zorder=3,
        )  # fmt: skip
        if len(shown) <= MAX_LABELLED_TRACKS:
            for i in shown:
                pitch.annotate(
                    str(players[i]), (mean_x[i] + PITCH_LENGTH / 2, mean_y[i] + PITCH_WIDTH / 2 + 1.6),
                    ax=axes, color=LINE_COLOUR, fontsize=7, ha="center", va="bottom", zorder=4,
                )  # fmt: skip
    per_team: dict[str, int] = {}
    for team in team_of:
        per_team[team or "other"] = per_team.get(team or "other", 0) + 1
    legend = ", ".join(
        f"{team} {n}" for team, n in sorted(per_team.items(), key=lambda item: item[0] == "other")
    )
    _titled(
        figure,
        axes,
        f"{tracks.title}: {len(shown)} players' mean positions (>= {MIN_POSITION_SECONDS:g} s on the pitch)"
        f"\n{legend or 'nobody'}; home attacks right",
    )
    return Picture(figure, TrackPlotKind.POSITIONS, len(shown))


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
