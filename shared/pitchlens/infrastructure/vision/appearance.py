"""`ColorHistogramAppearance`: a player's look as the colour histogram of shirt and shorts.

In broadcast football the kit is what tells players apart at a distance: teams, goalkeepers and
referees wear distinct colours, while faces and numbers are a few pixels. The description of a
box is a colour histogram (HSV: hue x brightness; brightness alone for grey pixels) of its
torso and shorts (the middle of the box, away from the head, the legs and most of the pitch
around the body); two descriptions are compared by the Bhattacharyya distance, and similarity is
1 - distance. It cannot tell teammates apart: the follower's motion gate does that.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from pitchlens.domain.appearance import Appearance, AppearanceEncoder, BoxAppearance, Sighting
from pitchlens.domain.vision import BoundingBox, VideoReader

HUE_BINS = 16
VALUE_BINS = 4
"""Brightness bins, per hue for coloured pixels and on their own for grey ones."""
GREY_MAX_SATURATION = 50
"""Pixels less saturated than this are grey (white, black kits): binned by brightness only, as
their hue is noise."""
DESCRIPTION_BINS = (HUE_BINS + 1) * VALUE_BINS
TORSO_X = (0.2, 0.8)
"""Horizontal part of the box used, as fractions of its width (the arms and background trimmed)."""
TORSO_Y = (0.15, 0.6)
"""Vertical part: below the head, down to the shorts."""
MIN_PIXELS = 12
"""Fewer pixels than this give no description."""


class ColorHistogramAppearance(AppearanceEncoder):
    """Kit colours of sightings in the video at `path`, read through `reader` (one sequential pass
    over the frames asked for, stopping after the last one). Descriptions are kept, so asking
    again about the same sightings (another player followed in the same clip) reads nothing."""

    def __init__(self, reader: VideoReader, path: str) -> None:
        self._reader = reader
        self._path = path
        self._known: dict[tuple[int, float, float, float, float], np.ndarray | None] = {}

    def describe(self, sightings: Sequence[Sighting]) -> list[Appearance | None]:
        keys = [(s.frame_index, s.box.x1, s.box.y1, s.box.x2, s.box.y2) for s in sightings]
        wanted: dict[int, list[int]] = defaultdict(list)
        for position, key in enumerate(keys):
            if key not in self._known:
                wanted[key[0]].append(position)
        if wanted:
            last = max(wanted)
            for index, image in self._reader.frames(self._path):
                for position in wanted.get(index, ()):
                    self._known[keys[position]] = describe_box(image, sightings[position].box)
                if index >= last:
                    break
        return [self._known.get(key) for key in keys]

    def similarity(self, first: Appearance, second: Appearance) -> float:
        return kit_similarity(first, second)


class KitColours(BoxAppearance):
    """The same kit-colour descriptions, of boxes in a frame already decoded (while tracking)."""

    def describe_boxes(self, image: Any, boxes: Sequence[BoundingBox]) -> list[Appearance | None]:
        return [describe_box(image, box) for box in boxes]

    def similarity(self, first: Appearance, second: Appearance) -> float:
        return kit_similarity(first, second)

    def mean(self, looks: Sequence[Appearance]) -> Appearance:
        histogram = np.mean(np.stack(looks), axis=0).astype(np.float32)
        return histogram / max(float(histogram.sum()), 1e-9)

    def encode(self, look: Appearance) -> list[float]:
        return [round(float(value), 5) for value in look]

    def decode(self, numbers: Sequence[float]) -> Appearance:
        return np.asarray(numbers, np.float32)


def kit_similarity(first: np.ndarray, second: np.ndarray) -> float:
    """1 - Bhattacharyya distance of two kit histograms, in [0, 1]."""
    distance = cv2.compareHist(first, second, cv2.HISTCMP_BHATTACHARYYA)
    return float(min(1.0, max(0.0, 1.0 - distance)))


def describe_box(image: np.ndarray, box: object) -> np.ndarray | None:
    """The normalised colour histogram (float32, `DESCRIPTION_BINS`) of the kit part of `box`
    (x1, y1, x2, y2 attributes) in a BGR image; None when too little of it shows. Coloured pixels
    fall in hue x brightness bins, so a bright lime shirt and the darker green pitch behind it
    stay apart (a hue-only grass mask would erase green kits); grey ones in brightness bins."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (float(getattr(box, name)) for name in ("x1", "y1", "x2", "y2"))
    box_width, box_height = x2 - x1, y2 - y1
    left = int(max(0, round(x1 + TORSO_X[0] * box_width)))
    right = int(min(width, round(x1 + TORSO_X[1] * box_width)))
    top = int(max(0, round(y1 + TORSO_Y[0] * box_height)))
    bottom = int(min(height, round(y1 + TORSO_Y[1] * box_height)))
    if (right - left) * (bottom - top) < MIN_PIXELS:
        return None
    hsv = cv2.cvtColor(image[top:bottom, left:right], cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int32)
    hue, saturation, value = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    brightness = value * VALUE_BINS // 256
    hue_bin = np.where(saturation >= GREY_MAX_SATURATION, hue * HUE_BINS // 180, HUE_BINS)
    histogram = np.bincount(hue_bin * VALUE_BINS + brightness, minlength=DESCRIPTION_BINS).astype(np.float32)
    return histogram / histogram.sum()
