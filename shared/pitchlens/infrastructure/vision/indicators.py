"""Drawing the follow-this-player indicators straight onto YUV 4:2:0 frames.

Frames stay in the encoder's format (I420: the Y plane, then the quarter-size U and V planes, as
one `(height * 3 / 2, width)` uint8 array) from the decoder to ffmpeg: converting every frame to
BGR and back would cost more than the drawing. Shapes are drawn anti-aliased with OpenCV into an
alpha mask the size of the indicator's neighbourhood only, then blended into the three planes
(the mask averaged 2x2 for the chroma planes). `glow` dims the whole picture with a lookup table
(two table lookups per pixel) and restores a soft ellipse around the player.

Colours are converted with BT.601 limited-range coefficients ("TV" range, what H.264 sources carry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pitchlens.domain.rendering import Indicator
from pitchlens.domain.vision import BoundingBox

ACCENT_RGB = (255, 214, 0)
"""Indicator colour: a warm yellow no kit or pitch in the shared clips wears."""
OUTLINE_RGB = (16, 16, 16)
"""A dark edge so the indicator reads on white kits, lines and bright stands too."""
GLOW_DIM = 0.45
"""Brightness and colour kept outside the spotlight."""
GLOW_FEATHER = 0.6
"""The spotlight fades out over this much of its radius beyond its lit ellipse."""
_SUBPIXEL_BITS = 4
_SCALE = 1 << _SUBPIXEL_BITS


def rgb_to_yuv(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """BT.601 limited range (Y 16..235, U/V 16..240)."""
    r, g, b = (channel / 255 for channel in rgb)
    return (
        16 + 65.481 * r + 128.553 * g + 24.966 * b,
        128 - 37.797 * r - 74.203 * g + 112.0 * b,
        128 + 112.0 * r - 93.786 * g - 18.214 * b,
    )


_ACCENT = rgb_to_yuv(ACCENT_RGB)
_OUTLINE = rgb_to_yuv(OUTLINE_RGB)


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle of the frame with even corners (so it maps onto whole chroma samples)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @classmethod
    def around(
        cls, left: float, top: float, right: float, bottom: float, width: int, height: int
    ) -> Region | None:
        """The even-cornered rectangle covering the given edges, cut to a `width`x`height` frame."""
        x0 = max(0, int(np.floor(left)) & ~1)
        y0 = max(0, int(np.floor(top)) & ~1)
        x1 = min(width, (int(np.ceil(right)) + 1) & ~1)
        y1 = min(height, (int(np.ceil(bottom)) + 1) & ~1)
        return cls(x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0


class I420Frame:
    """Views of the Y, U and V planes of one I420 frame array (no copies)."""

    def __init__(self, image: np.ndarray, width: int, height: int) -> None:
        if image.shape != (height * 3 // 2, width) or width % 2 or height % 2:
            raise ValueError(f"not an I420 frame of {width}x{height}: shape {image.shape}")
        if not image.flags.c_contiguous:  # the chroma views below must not be copies
            raise ValueError("an I420 frame array must be C-contiguous")
        self.width, self.height = width, height
        self.y = image[:height]
        chroma = image[height:].reshape(2, height // 2, width // 2)
        self.u, self.v = chroma[0], chroma[1]

    def blend(self, region: Region, alpha: np.ndarray, colour: tuple[float, float, float]) -> None:
        """Paints `colour` over `region` with coverage `alpha` (float32 0..1, the region's shape)."""
        _mix(self.y[region.y0 : region.y1, region.x0 : region.x1], alpha, colour[0])
        half = cv2.resize(alpha, (alpha.shape[1] // 2, alpha.shape[0] // 2), interpolation=cv2.INTER_AREA)
        chroma = np.s_[region.y0 // 2 : region.y1 // 2, region.x0 // 2 : region.x1 // 2]
        _mix(self.u[chroma], half, colour[1])
        _mix(self.v[chroma], half, colour[2])

    def overlay(self, region: Region, picture: I420Frame, coverage: Coverage) -> None:
        """Lays `picture` (an I420 frame of the region's size) over `region` with `coverage`, in
        place (OpenCV's blendLinear: one pass per plane, in the frame's own memory)."""
        window = self.y[region.y0 : region.y1, region.x0 : region.x1]
        cv2.blendLinear(picture.y, window, coverage.luma, coverage.luma_rest, dst=window)
        chroma = np.s_[region.y0 // 2 : region.y1 // 2, region.x0 // 2 : region.x1 // 2]
        for plane, laid in ((self.u[chroma], picture.u), (self.v[chroma], picture.v)):
            cv2.blendLinear(laid, plane, coverage.chroma, coverage.chroma_rest, dst=plane)


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of a picture laid over a frame shows, per pixel, as blending takes it: the weights
    of the picture and of the frame beneath (they add up to 1), full size for the Y plane and
    averaged 2x2 for the U and V planes."""

    luma: np.ndarray
    luma_rest: np.ndarray
    chroma: np.ndarray
    chroma_rest: np.ndarray

    @classmethod
    def of(cls, alpha: np.ndarray) -> Coverage:
        """From `alpha` (float32 0..1, even height and width)."""
        half = cv2.resize(alpha, (alpha.shape[1] // 2, alpha.shape[0] // 2), interpolation=cv2.INTER_AREA)
        return cls(alpha, 1 - alpha, half, 1 - half)


def _mix(plane: np.ndarray, alpha: np.ndarray, value: float | np.ndarray) -> None:
    """plane <- plane + alpha * (value - plane), in place; `value` a colour or another plane."""
    target = np.float32(value) if isinstance(value, float) else value.astype(np.float32)
    mixed = plane + alpha * (target - plane)
    np.copyto(plane, np.clip(mixed + 0.5, 0, 255).astype(np.uint8))


def _canvas(region: Region) -> np.ndarray:
    return np.zeros(region.shape, np.uint8)


def _shape(draw: Callable[..., Any], canvas: np.ndarray, *arguments: Any) -> None:
    """An OpenCV drawing call, anti-aliased, with sub-pixel coordinates (see `_point`)."""
    draw(canvas, *arguments, cv2.LINE_AA, _SUBPIXEL_BITS)


def _point(x: float, y: float, region: Region) -> tuple[int, int]:
    """Fixed-point (sub-pixel) coordinates in the region, for OpenCV's `shift` argument."""
    return round((x - region.x0) * _SCALE), round((y - region.y0) * _SCALE)


def _alpha(canvas: np.ndarray) -> np.ndarray:
    return canvas.astype(np.float32) * np.float32(1 / 255)


def draw_indicator(frame: I420Frame, box: BoundingBox, indicator: Indicator) -> None:
    """Draws `indicator` for a player in `box` (pixels of this frame) onto the frame, in place."""
    if indicator is Indicator.DOT:
        _draw_dot(frame, box)
    elif indicator is Indicator.CIRCLE:
        _draw_circle(frame, box)
    else:
        _draw_glow(frame, box)


def dot_geometry(box: BoundingBox) -> tuple[float, float, float]:
    """(centre x, centre y, radius) of the dot: above the head, sized with the player."""
    radius = float(np.clip(box.height * 0.11, 4.0, 36.0))
    return box.center[0], box.y1 - radius * 2.1, radius


def _draw_dot(frame: I420Frame, box: BoundingBox) -> None:
    cx, cy, radius = dot_geometry(box)
    edge = max(1.5, radius * 0.22)
    tip_y = box.y1 - radius * 0.35  # the pointer's tip, just above the head
    reach = radius + edge + 2
    region = Region.around(cx - reach, cy - reach, cx + reach, tip_y + edge + 2, frame.width, frame.height)
    if region is None:
        return
    shoulder = cy + radius * 0.55
    corners = ((cx - radius * 0.62, shoulder), (cx + radius * 0.62, shoulder), (cx, tip_y))
    pointer = np.array([_point(x, y, region) for x, y in corners], np.int32)
    outline = _canvas(region)
    centre = _point(cx, cy, region)
    _shape(cv2.circle, outline, centre, round((radius + edge) * _SCALE), 255, -1)
    _shape(cv2.fillConvexPoly, outline, pointer, 255)
    _shape(cv2.polylines, outline, [pointer], True, 255, max(1, round(edge * 2)))
    fill = _canvas(region)
    _shape(cv2.circle, fill, centre, round(radius * _SCALE), 255, -1)
    _shape(cv2.fillConvexPoly, fill, pointer, 255)
    frame.blend(region, _alpha(outline), _OUTLINE)
    frame.blend(region, _alpha(fill), _ACCENT)


def circle_geometry(box: BoundingBox) -> tuple[float, float, float, float, float]:
    """(centre x, centre y, half width, half height, line thickness) of the ring at the feet."""
    half_width = max(6.0, box.width * 0.75)
    half_height = max(3.0, half_width * 0.32)
    thickness = float(np.clip(box.height * 0.035, 2.0, 10.0))
    return box.foot_point[0], box.y2 - half_height * 0.15, half_width, half_height, thickness


def _draw_circle(frame: I420Frame, box: BoundingBox) -> None:
    cx, cy, half_width, half_height, thickness = circle_geometry(box)
    edge = max(1.0, thickness * 0.5)
    reach_x, reach_y = half_width + thickness + edge + 2, half_height + thickness + edge + 2
    region = Region.around(cx - reach_x, cy - reach_y, cx + reach_x, cy + reach_y, frame.width, frame.height)
    if region is None:
        return
    centre = _point(cx, cy, region)
    axes = (round(half_width * _SCALE), round(half_height * _SCALE))
    outline = _canvas(region)
    _shape(cv2.ellipse, outline, centre, axes, 0, 0, 360, 255, max(1, round(thickness + 2 * edge)))
    ring = _canvas(region)
    _shape(cv2.ellipse, ring, centre, axes, 0, 0, 360, 255, max(1, round(thickness)))
    frame.blend(region, _alpha(outline), _OUTLINE)
    frame.blend(region, _alpha(ring), _ACCENT)


_DIM_LUMA = np.clip(16 + (np.arange(256) - 16) * GLOW_DIM + 0.5, 0, 255).astype(np.uint8)
_DIM_CHROMA = np.clip(128 + (np.arange(256) - 128) * GLOW_DIM + 0.5, 0, 255).astype(np.uint8)


def glow_geometry(box: BoundingBox) -> tuple[float, float, float, float]:
    """(centre x, centre y, half width, half height) of the spotlight's fully lit ellipse."""
    return box.center[0], box.center[1], max(8.0, box.width * 0.9), max(12.0, box.height * 0.75)


def _draw_glow(frame: I420Frame, box: BoundingBox) -> None:
    cx, cy, half_width, half_height = glow_geometry(box)
    reach = 1 + GLOW_FEATHER
    left, right = cx - half_width * reach, cx + half_width * reach
    top, bottom = cy - half_height * reach, cy + half_height * reach
    region = Region.around(left, top, right, bottom, frame.width, frame.height)
    if region is None:
        return
    planes = ((frame.y, 1), (frame.u, 2), (frame.v, 2))
    windows = [np.s_[region.y0 // k : region.y1 // k, region.x0 // k : region.x1 // k] for _, k in planes]
    lit = [plane[window].copy() for (plane, _), window in zip(planes, windows, strict=True)]
    cv2.LUT(frame.y, _DIM_LUMA, dst=frame.y)
    cv2.LUT(frame.u, _DIM_CHROMA, dst=frame.u)
    cv2.LUT(frame.v, _DIM_CHROMA, dst=frame.v)
    # Light: 1 inside the ellipse, easing (smoothstep) to 0 over GLOW_FEATHER of its radius.
    rows = (np.arange(region.y0, region.y1, dtype=np.float32) + 0.5 - cy) / half_height
    columns = (np.arange(region.x0, region.x1, dtype=np.float32) + 0.5 - cx) / half_width
    distance = np.sqrt(rows[:, None] ** 2 + columns[None, :] ** 2)
    ease = np.clip((distance - 1) / GLOW_FEATHER, 0, 1)
    alpha = 1 - ease * ease * (3 - 2 * ease)
    half = cv2.resize(alpha, (alpha.shape[1] // 2, alpha.shape[0] // 2), interpolation=cv2.INTER_AREA)
    for (plane, _), window, original, mask in zip(planes, windows, lit, (alpha, half, half), strict=True):
        dimmed = plane[window]
        _mix(dimmed, mask, original)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """An I420 frame array as a BGR image (for PNGs and checks)."""
    return cv2.cvtColor(image, cv2.COLOR_YUV2BGR_I420)


def from_bgr(image: np.ndarray) -> np.ndarray:
    """A BGR image (even size) as an I420 frame array."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
