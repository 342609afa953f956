"""The one IoU (pitchlens.domain.geometry) and its numpy form over arrays, held to one table."""

from __future__ import annotations

import numpy as np
import pytest

from pitchlens.domain.geometry import cover, foot, iou
from pitchlens.domain.vision import BoundingBox
from pitchlens.infrastructure.vision.boxes import box_iou

pytestmark = pytest.mark.unit

Box = tuple[float, float, float, float]

IOU_CASES = [
    ((0, 0, 10, 10), (0, 0, 10, 10), 1.0, "identical"),
    ((0, 0, 10, 10), (10, 0, 20, 10), 0.0, "touching edges"),
    ((0, 0, 10, 10), (5, 0, 15, 10), 50 / 150, "half overlap"),
    ((0, 0, 10, 10), (2, 2, 8, 8), 36 / 100, "one inside the other"),
    ((0, 0, 10, 10), (2, 2, 4, 4), 4 / 100, "a small one inside"),
    ((0, 0, 10, 10), (20, 20, 30, 30), 0.0, "apart"),
    ((0, 0, 0, 10), (0, 0, 0, 10), 0.0, "degenerate boxes"),
]


@pytest.mark.parametrize(("a", "b", "expected"), [c[:3] for c in IOU_CASES], ids=[c[3] for c in IOU_CASES])
def test_iou(a: Box, b: Box, expected: float) -> None:
    assert iou(a, b) == pytest.approx(expected)
    assert iou(b, a) == pytest.approx(expected)


@pytest.mark.parametrize(("a", "b", "expected"), [c[:3] for c in IOU_CASES], ids=[c[3] for c in IOU_CASES])
def test_the_array_iou_is_the_same_iou(a: Box, b: Box, expected: float) -> None:
    matrix = box_iou(np.array([a, b], np.float32), np.array([b, a], np.float32))
    assert matrix[0, 0] == pytest.approx(expected)
    assert matrix[1, 1] == pytest.approx(expected)
    assert matrix[0, 1] == pytest.approx(iou(a, a))


def test_bounding_boxes_use_the_same_iou() -> None:
    assert BoundingBox(0, 0, 10, 10).iou(BoundingBox(5, 0, 15, 10)) == pytest.approx(50 / 150)


@pytest.mark.parametrize(
    ("a", "b", "expected", "what"),
    [
        ((0, 0, 10, 10), (2, 2, 4, 4), 1.0, "the small box lies inside"),
        ((0, 0, 10, 10), (5, 0, 15, 10), 0.5, "half of either"),
        ((0, 0, 10, 10), (5, 0, 25, 10), 0.5, "half of the smaller one"),
        ((0, 0, 10, 10), (10, 0, 20, 10), 0.0, "touching edges"),
        ((0, 0, 0, 10), (0, 0, 10, 10), 0.0, "an empty box covers nothing"),
    ],
)
def test_cover(a: Box, b: Box, expected: float, what: str) -> None:
    assert cover(a, b) == pytest.approx(expected)
    assert cover(b, a) == pytest.approx(expected)


def test_the_foot_point_is_the_bottom_centre() -> None:
    assert foot((10, 20, 30, 60)) == (20, 60)
