"""Boxes as numpy arrays (float32 (n, 4): x1, y1, x2, y2): the IoU matrix, greedy NMS and the
merge of boxes found in overlapping views of one frame (sliced inference). The IoU is the one of
`pitchlens.domain.geometry`, over whole arrays (a test holds the two to the same table)."""

from __future__ import annotations

import numpy as np

Boxes = np.ndarray
"""float32 (n, 4) array of x1, y1, x2, y2."""

MERGE_NMS_IOU = 0.5
"""NMS across the whole frame and its tiles."""
CUT_COVER = 0.6
"""A cut box is dropped when this fraction of it lies inside a larger box from another view."""


def box_iou(boxes: Boxes, others: Boxes) -> np.ndarray:
    """The (n, m) IoU matrix of two box sets."""
    x1 = np.maximum(boxes[:, None, 0], others[None, :, 0])
    y1 = np.maximum(boxes[:, None, 1], others[None, :, 1])
    x2 = np.minimum(boxes[:, None, 2], others[None, :, 2])
    y2 = np.minimum(boxes[:, None, 3], others[None, :, 3])
    overlap = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = _area(boxes)[:, None] + _area(others)[None, :] - overlap
    return np.where(union > 0, overlap / np.where(union > 0, union, 1), 0.0)


def _area(boxes: Boxes) -> np.ndarray:
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def nms(boxes: Boxes, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the boxes kept, by descending score (ties: input order)."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        if not rest.size:
            break
        order = rest[box_iou(boxes[best : best + 1], boxes[rest])[0] <= iou_threshold]
    return np.array(keep, np.int64)


def cut_by_view_border(
    boxes: Boxes, views: np.ndarray, width: int, height: int, margin: np.ndarray | float
) -> np.ndarray:
    """Which boxes touch a border of their view (x1, y1, x2, y2 per box) that is not a frame border:
    the object probably continues beyond the view. `margin` (per box or one value) in frame pixels."""
    margin = np.asarray(margin, np.float32)
    inner_left = views[:, 0] > 0
    inner_top = views[:, 1] > 0
    inner_right = views[:, 2] < width
    inner_bottom = views[:, 3] < height
    return (
        (inner_left & (boxes[:, 0] <= views[:, 0] + margin))
        | (inner_top & (boxes[:, 1] <= views[:, 1] + margin))
        | (inner_right & (boxes[:, 2] >= views[:, 2] - margin))
        | (inner_bottom & (boxes[:, 3] >= views[:, 3] - margin))
    )


def merge_views(
    boxes: Boxes,
    scores: np.ndarray,
    view_ids: np.ndarray,
    cut: np.ndarray,
    iou_threshold: float = MERGE_NMS_IOU,
    cover: float = CUT_COVER,
) -> np.ndarray:
    """Indices of the boxes to keep from all views of one frame, by descending score.

    A box `cut` by a tile border is dropped when at least `cover` of it lies inside a larger box
    from another view (the whole person, seen where the border did not cut it); then NMS at
    `iou_threshold` removes the duplicates the overlapping views found twice."""
    candidates = np.arange(len(boxes))
    if cut.any():
        cut_index = np.flatnonzero(cut)
        cut_boxes = boxes[cut_index]
        x1 = np.maximum(cut_boxes[:, None, 0], boxes[None, :, 0])
        y1 = np.maximum(cut_boxes[:, None, 1], boxes[None, :, 1])
        x2 = np.minimum(cut_boxes[:, None, 2], boxes[None, :, 2])
        y2 = np.minimum(cut_boxes[:, None, 3], boxes[None, :, 3])
        inside = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        cut_area = _area(cut_boxes)
        covered = (
            (inside >= cover * cut_area[:, None])
            & (_area(boxes)[None, :] > cut_area[:, None])
            & (view_ids[None, :] != view_ids[cut_index, None])
        ).any(axis=1)
        candidates = np.setdiff1d(candidates, cut_index[covered])
    kept = nms(boxes[candidates], scores[candidates], iou_threshold)
    return candidates[kept]
