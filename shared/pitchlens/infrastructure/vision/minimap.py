"""The minimap: a small pitch in the frame's bottom-right corner with everybody on the pitch as a
dot in their team's colour and the followed player highlighted, drawn straight into I420 frames.

The pitch (grass, the white lines of the 105 x 68 model `pitch_lines.LINE_MODEL`, the spots) is
drawn once per render into a small BGR picture with its coverage (the grass semi-transparent, the
lines nearly opaque), and converted to I420 once. Per frame only the dots are drawn, anti-aliased,
onto a copy of that picture (a few hundred pixels wide), the copy converted to I420 and laid over
the corner of the frame (`I420Frame.overlay`): the frame itself never passes through BGR. A frame
without metres (clip or shot not calibrated) shows the pitch with a "not calibrated" note, drawn
once too.

Metres are the match frame (README "Coordinates"): +x to the right (the goal the home team
attacks), +y up (to the left of that direction).
"""

from __future__ import annotations

import cv2
import numpy as np

from pitchlens.domain import pitch as model
from pitchlens.domain.rendering import PitchPositions
from pitchlens.domain.teams import kit_rgb
from pitchlens.infrastructure.vision.indicators import (
    ACCENT_RGB,
    OUTLINE_RGB,
    Coverage,
    I420Frame,
    Region,
    from_bgr,
)
from pitchlens.infrastructure.vision.pitch_lines import LINE_MODEL

WIDTH_SHARE = 0.25
"""The minimap's width, as a share of the frame's."""
EDGE_SHARE = 0.02
"""Its distance from the frame's right and bottom edges, as a share of the frame's width."""
BORDER_M = 3.0
"""Grass shown around the pitch's lines (people just off the pitch stay on the minimap)."""
GRASS_RGB = (34, 102, 50)
LINE_RGB = (236, 242, 236)
GRASS_OPACITY = 0.72
LINE_OPACITY = 0.9
DOT_RADIUS_M = 1.25
FOLLOWED_SCALE = 1.7
"""The followed player's dot, as a multiple of the others'."""
NOT_CALIBRATED = "not calibrated"
NOTE_OPACITY = 0.8
"""The dark label under the note."""
OTHER_RGB = (140, 140, 140)
"""Goalkeepers, referees (`other`) and people whose kit was not seen: grey."""
_SHIFT = 4
_ONE = 1 << _SHIFT


def team_rgb(team: str | None) -> tuple[int, int, int]:
    """The dot colour of a team name (`domain/teams.py` kit_rgb), grey for `other` and the unknown."""
    return kit_rgb(team) or OTHER_RGB


def _bgr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return rgb[2], rgb[1], rgb[0]


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


class Minimap:
    """The minimap of one render's frames (`width` x `height`, even): the pitch drawn once, then
    `draw` per frame."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        panel_width = min(_even(width * WIDTH_SHARE), width - width % 2)
        self.scale = panel_width / (model.PITCH_LENGTH + 2 * BORDER_M)
        """Pixels per metre."""
        panel_height = min(_even((model.PITCH_WIDTH + 2 * BORDER_M) * self.scale), height - height % 2)
        edge = _even(width * EDGE_SHARE) if width >= 200 else 0
        x0, y0 = max(0, width - edge - panel_width), max(0, height - edge - panel_height)
        self.region = Region(x0, y0, x0 + panel_width, y0 + panel_height)
        self.dot_radius = max(3.0, DOT_RADIUS_M * self.scale)
        self._pitch, self._coverage = self._background()
        self._empty = (self._converted(self._pitch), _blending(self._coverage))
        self._note = self._with_note()

    def pixel(self, x: float, y: float) -> tuple[float, float]:
        """Where metres (x, y) of the match frame are drawn, in pixels of the frame."""
        px = (x + model.HALF_LENGTH + BORDER_M) * self.scale
        py = (model.HALF_WIDTH + BORDER_M - y) * self.scale
        return self.region.x0 + px, self.region.y0 + py

    def draw(self, frame: I420Frame, positions: PitchPositions | None) -> None:
        """Lays the minimap of `positions` (None: nobody to show) over the frame, in place."""
        if positions is not None and not positions.calibrated:
            picture, weights = self._note
        elif positions is None or not positions.xy:
            picture, weights = self._empty
        else:
            drawn, coverage = self._pitch.copy(), self._coverage.copy()
            self._dots(drawn, coverage, positions)
            picture, weights = self._converted(drawn), _blending(coverage)
        frame.overlay(self.region, picture, weights)

    def _dots(self, picture: np.ndarray, coverage: np.ndarray, positions: PitchPositions) -> None:
        """Each dot: a dark disc (which also makes the spot opaque) and the colour inside it."""
        radius = self.dot_radius
        edge = max(1.0, radius * 0.3)
        outline = _bgr(OUTLINE_RGB)
        followed = positions.followed
        for index, ((x, y), team) in enumerate(zip(positions.xy, positions.teams, strict=True)):
            if index != followed:
                centre = self._point(x, y)
                _circle(picture, coverage, centre, radius + edge, outline)
                _circle(picture, None, centre, radius, _bgr(team_rgb(team)))
        if followed is not None:  # drawn last: on top of anybody near him
            centre = self._point(*positions.xy[followed])
            big = radius * FOLLOWED_SCALE
            accent = _bgr(ACCENT_RGB)
            ring = big + 3.5 * edge
            _circle(picture, coverage, centre, ring, outline, edge * 3)
            _circle(picture, None, centre, ring, accent, edge * 1.4)
            _circle(picture, coverage, centre, big + edge, outline)
            _circle(picture, None, centre, big, accent)

    def _point(self, x: float, y: float) -> tuple[int, int]:
        """Fixed-point (sub-pixel) coordinates in the minimap, for OpenCV's `shift` argument."""
        px, py = self.pixel(x, y)
        return round((px - self.region.x0) * _ONE), round((py - self.region.y0) * _ONE)

    def _background(self) -> tuple[np.ndarray, np.ndarray]:
        """The pitch (BGR) and its coverage (uint8, 255 = opaque), drawn once."""
        height, width = self.region.shape
        picture = np.empty((height, width, 3), np.uint8)
        picture[:] = _bgr(GRASS_RGB)
        coverage = np.full((height, width), round(255 * GRASS_OPACITY), np.uint8)
        line = _bgr(LINE_RGB)
        thickness = max(1, round(self.scale * 0.4))
        points = np.array([self._point(x, y) for x, y in LINE_MODEL], np.int32)
        steps = np.hypot(*np.diff(LINE_MODEL, axis=0).T)
        runs = np.split(points, np.flatnonzero(steps > 1.0) + 1)  # a jump: the next line of the model
        opaque = round(255 * LINE_OPACITY)
        cv2.polylines(picture, runs, False, line, thickness, cv2.LINE_AA, _SHIFT)
        cv2.polylines(coverage, runs, False, opaque, thickness, cv2.LINE_AA, _SHIFT)
        for name in ("centre_spot", "penalty_spot_left", "penalty_spot_right"):
            centre = self._point(*model.LANDMARKS[name])
            spot = round(max(1.0, self.scale * 0.35) * _ONE)
            cv2.circle(picture, centre, spot, line, -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(coverage, centre, spot, opaque, -1, cv2.LINE_AA, _SHIFT)
        return picture, coverage

    def _with_note(self) -> tuple[I420Frame, Coverage]:
        """The pitch with NOT_CALIBRATED written across its middle."""
        picture, coverage = self._pitch.copy(), self._coverage.copy()
        height, width = coverage.shape
        font, size = cv2.FONT_HERSHEY_SIMPLEX, max(0.3, width / 420)
        thickness = max(1, round(size * 1.6))
        (text_width, text_height), baseline = cv2.getTextSize(NOT_CALIBRATED, font, size, thickness)
        origin = ((width - text_width) // 2, (height + text_height) // 2)
        pad = max(2, text_height // 2)
        corners = (
            (origin[0] - pad, origin[1] - text_height - pad),
            (origin[0] + text_width + pad, origin[1] + baseline + pad),
        )
        cv2.rectangle(picture, *corners, _bgr(OUTLINE_RGB), -1)  # a dark label: the note reads on any line
        cv2.rectangle(coverage, *corners, round(255 * NOTE_OPACITY), -1)
        cv2.putText(picture, NOT_CALIBRATED, origin, font, size, _bgr(LINE_RGB), thickness, cv2.LINE_AA)
        cv2.putText(coverage, NOT_CALIBRATED, origin, font, size, 255, thickness, cv2.LINE_AA)
        return self._converted(picture), _blending(coverage)

    def _converted(self, picture: np.ndarray) -> I420Frame:
        height, width = self.region.shape
        return I420Frame(from_bgr(picture), width, height)


def _blending(coverage: np.ndarray) -> Coverage:
    """Blending weights of a uint8 coverage (255: opaque)."""
    return Coverage.of(coverage.astype(np.float32) * np.float32(1 / 255))


def _circle(
    picture: np.ndarray,
    coverage: np.ndarray | None,
    centre: tuple[int, int],
    radius: float,
    colour: tuple[int, int, int],
    thickness: float = -1,
) -> None:
    """An anti-aliased circle (`thickness` -1: a disc) on the picture, and as opaque on `coverage`."""
    scaled, width = round(radius * _ONE), -1 if thickness < 0 else max(1, round(thickness))
    cv2.circle(picture, centre, scaled, colour, width, cv2.LINE_AA, _SHIFT)
    if coverage is not None:
        cv2.circle(coverage, centre, scaled, 255, width, cv2.LINE_AA, _SHIFT)
