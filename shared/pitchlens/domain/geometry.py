"""Boxes in image pixels: the one definition of IoU (and of how much one box covers another).

A box is (x1, y1, x2, y2), origin top-left, x right, y down. Pure Python for one pair at a time;
`infrastructure/vision/boxes.py` computes the same IoU over whole numpy arrays (tested against
this one).
"""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[float, float, float, float]


def as_box(values: Sequence[float]) -> Box:
    """Any four numbers (a list, a numpy row) as a Box of floats."""
    return (float(values[0]), float(values[1]), float(values[2]), float(values[3]))


def area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def intersection(first: Box, second: Box) -> float:
    width = min(first[2], second[2]) - max(first[0], second[0])
    height = min(first[3], second[3]) - max(first[1], second[1])
    return width * height if width > 0 and height > 0 else 0.0


def iou(first: Box, second: Box) -> float:
    """Intersection over union, 0..1 (0 for boxes that only touch, or empty ones)."""
    overlap = intersection(first, second)
    union = area(first) + area(second) - overlap
    return overlap / union if overlap > 0 and union > 0 else 0.0


def cover(first: Box, second: Box) -> float:
    """How much of the smaller box lies inside the other, 0..1 (intersection over its area)."""
    smaller = min(area(first), area(second))
    return intersection(first, second) / smaller if smaller > 0 else 0.0


def foot(box: Box) -> tuple[float, float]:
    """Bottom centre: where a player touches the pitch."""
    return ((box[0] + box[2]) / 2, box[3])
