"""Rectangular network inputs for YOLO detection models on OpenVINO.

A 16:9 frame letterboxed into a square 640 x 640 input is 44 % grey padding, and the network pays
for every padded pixel. `input_shape` picks a smaller input that holds the view at the same scale
(long side `input_size`, short side with one stride of padding, stride-aligned: 640 x 416 for
720p, 35 % fewer pixels); the players are as large as in the square input.

Models exported with dynamic spatial axes are reshaped directly. A static export (ultralytics'
OpenVINO INT8 export is one) bakes its input size into a few constants: the attention block's
Reshape targets (the stride-32 grid, e.g. 20 x 20 = 400), the DFL head's Reshape targets (the
anchor count, 8400) and the head's anchor points and strides. `reshape_yolo` rewrites exactly
those, for a YOLOv8 / YOLO11 detect head whose anchor constants it recognises, and refuses
(`UnsupportedReshape`) anything else, so the caller falls back to the model's own square input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

STRIDES = (8, 16, 32)
"""The output levels of YOLOv8 / YOLO11 detect heads."""


class UnsupportedReshape(ValueError):
    """The model cannot be given another input size safely."""


def input_shape(
    view_width: int, view_height: int, input_size: int, stride: int = STRIDES[-1]
) -> tuple[int, int]:
    """(height, width) of the input for a `view_width` x `view_height` view scaled so its longer
    side is `input_size` (as a square letterbox scales it): the shorter side gets at least one
    `stride` of padding, rounded up to a multiple of `stride`, and at most `input_size`.

    The padding is measured, not cosmetic: on 49 labelled 16:9 frames (whole frame only, shared
    YOLO11n INT8, 1280 x 720) 640 x 384 for 640 x 360 of picture lost 3.2 points of recall against
    the square input, 640 x 416 0.8; with tiles all three score the same."""
    if view_width <= 0 or view_height <= 0:
        raise ValueError(f"a view must have a size, got {view_width}x{view_height}")
    scale = input_size / max(view_width, view_height)

    def side(length: int) -> int:
        return min(input_size, math.ceil((round(length * scale) + stride) / stride) * stride)

    return side(view_height), side(view_width)


def anchor_points(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The head's anchor centres (2, n: x then y, in grid cells) and strides (n,) for an input of
    `height` x `width`, level by level, row-major (ultralytics' `make_anchors`)."""
    points, strides = [], []
    for stride in STRIDES:
        rows, columns = height // stride, width // stride
        y, x = np.meshgrid(np.arange(rows) + 0.5, np.arange(columns) + 0.5, indexing="ij")
        points.append(np.stack([x.ravel(), y.ravel()]))
        strides.append(np.full(rows * columns, stride))
    return np.concatenate(points, axis=1).astype(np.float32), np.concatenate(strides).astype(np.float32)


def _grids(height: int, width: int) -> list[tuple[int, int]]:
    return [(height // stride, width // stride) for stride in STRIDES]


def rewrite_target(
    target: list[int], old: list[tuple[int, int]], new: list[tuple[int, int]], anchors: tuple[int, int]
) -> list[int]:
    """A Reshape target with the old size's grid dimensions, grid cell counts and anchor count
    replaced by the new size's. The first two entries (batch, channels) are never touched."""
    cells = {
        rows * columns: rows_ * columns_ for (rows, columns), (rows_, columns_) in zip(old, new, strict=True)
    }
    grids = dict(zip(old, new, strict=True))
    rewritten = target[:2]
    index = 2
    while index < len(target):
        pair = tuple(target[index : index + 2])
        if len(pair) == 2 and pair in grids:
            rewritten += list(grids[pair])
            index += 2
            continue
        value = target[index]
        rewritten.append(anchors[1] if value == anchors[0] else cells.get(value, value))
        index += 1
    return rewritten


def reshape_yolo(model: Any, height: int, width: int, batch: int = 1) -> Any:
    """`model` (an `openvino.Model` with one 1 x 3 x H x W input, changed in place and returned)
    taking `batch` x 3 x `height` x `width` inputs. Dynamic spatial axes: a plain reshape. Static ones: the
    baked constants rewritten as the module docstring says; `UnsupportedReshape` when the graph is
    not a recognised YOLOv8 / YOLO11 detect graph or does not validate afterwards."""
    if height % STRIDES[-1] or width % STRIDES[-1]:
        raise UnsupportedReshape(f"{width}x{height} is not a multiple of the stride {STRIDES[-1]}")
    import openvino as ov

    shape = model.input(0).get_partial_shape()
    name = model.input(0).get_any_name()
    if shape[2].is_dynamic and shape[3].is_dynamic:
        model.reshape({name: [batch, 3, height, width]})
        return model
    if shape[2].is_dynamic or shape[3].is_dynamic:
        raise UnsupportedReshape("only fully static or spatially dynamic inputs are supported")
    old_height, old_width = shape[2].get_length(), shape[3].get_length()
    if (old_height, old_width) == (height, width):
        model.reshape({name: [batch, 3, height, width]})
        return model
    if shape[0].is_dynamic or batch != 1:
        raise UnsupportedReshape("a static export is reshaped with its batch of 1 only")
    old, new = _grids(old_height, old_width), _grids(height, width)
    old_count, new_count = sum(r * c for r, c in old), sum(r * c for r, c in new)
    output = model.output(0).get_partial_shape()
    if output.is_dynamic or output.rank.get_length() != 3 or output[2].get_length() != old_count:
        raise UnsupportedReshape(f"output {output} is not a YOLO detect head over {old_count} anchors")

    old_points, old_strides = anchor_points(old_height, old_width)
    new_points, new_strides = anchor_points(height, width)
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Constant":
            continue
        dims = list(op.get_output_partial_shape(0).to_shape())
        if old_count not in dims:
            continue
        values = op.get_data().reshape(-1, old_count)
        if values.shape[0] == 2 and np.allclose(values, old_points):
            replacement = new_points
        elif values.shape[0] == 1 and np.allclose(values, old_strides):
            replacement = new_strides[None]
        else:
            raise UnsupportedReshape(f"unrecognised constant of shape {dims} in {op.get_friendly_name()}")
        _replace(op, ov.op.Constant(replacement.reshape([*dims[:-1], new_count]).astype(values.dtype)))

    for op in model.get_ordered_ops():
        if op.get_type_name() != "Reshape":
            continue
        source = op.input_value(1).get_node()
        if source.get_type_name() != "Constant":
            continue
        target = [int(value) for value in source.get_vector()]
        rewritten = rewrite_target(target, old, new, (old_count, new_count))
        if rewritten != target:
            op.input(1).replace_source_output(ov.op.Constant(np.array(rewritten, np.int64)).output(0))

    model.get_parameters()[0].set_partial_shape(ov.PartialShape([batch, 3, height, width]))
    try:
        model.validate_nodes_and_infer_types()
    except RuntimeError as error:
        raise UnsupportedReshape(f"the graph does not validate at {width}x{height}: {error}") from error
    result = model.output(0).get_partial_shape()
    if result.is_dynamic or result[2].get_length() != new_count:
        raise UnsupportedReshape(f"output {result} after reshaping, expected {new_count} anchors")
    return model


def _replace(constant: Any, replacement: Any) -> None:
    for target in list(constant.output(0).get_target_inputs()):
        target.replace_source_output(replacement.output(0))
