"""The pure geometry of sliced detection: letterbox mapping, tile grids, YOLO output decoding, box
merging across views, and the greedy matching the detection benchmark scores with."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest

pytest.importorskip("cv2", reason="needs the `vision` extra (opencv-python-headless)")

from pitchlens.infrastructure.vision.boxes import cut_by_view_border, merge_views, nms
from pitchlens.infrastructure.vision.detection import (
    PAD_VALUE,
    Letterbox,
    decode_person_boxes,
    frame_views,
    letterbox,
    tile_counts,
    tile_grid,
    tiles_needed,
    useful_side,
)
from pitchlens.infrastructure.vision.detection_evaluation import count_true_positives
from pitchlens.infrastructure.vision.input_shapes import (
    UnsupportedReshape,
    anchor_points,
    input_shape,
    reshape_yolo,
    rewrite_target,
)

pytestmark = pytest.mark.unit


def boxes(*rows: Sequence[float]) -> np.ndarray:
    return np.array(rows, np.float32).reshape(-1, 4)


# --------------------------------------------------------------------------------------------
# Letterbox
# --------------------------------------------------------------------------------------------

LETTERBOX_CASES = [
    # (image w, h, input w, h, scale, pad x, pad y, resized w, h, what)
    (1280, 720, 640, 640, 0.5, 0, 140, 640, 360, "720p frame: bands top and bottom"),
    (848, 478, 640, 640, 640 / 848, 0, 139, 640, 361, "odd size: pads rounded as ultralytics does"),
    (100, 200, 640, 640, 3.2, 160, 0, 320, 640, "portrait tile, upscaled: bands left and right"),
    (492, 492, 640, 640, 640 / 492, 0, 0, 640, 640, "small square tile fills the input"),
    (640, 640, 640, 640, 1.0, 0, 0, 640, 640, "already the input size"),
    (1920, 1080, 640, 384, 1 / 3, 0, 12, 640, 360, "non-square network input"),
]


@pytest.mark.parametrize(
    ("width", "height", "input_width", "input_height", "scale", "pad_x", "pad_y", "resized_w", "resized_h"),
    [case[:9] for case in LETTERBOX_CASES],
    ids=[case[9] for case in LETTERBOX_CASES],
)
def test_letterbox_fit(
    width: int,
    height: int,
    input_width: int,
    input_height: int,
    scale: float,
    pad_x: int,
    pad_y: int,
    resized_w: int,
    resized_h: int,
) -> None:
    fit = Letterbox.fit(width, height, input_width, input_height)

    assert fit.scale == pytest.approx(scale)
    assert (fit.pad_x, fit.pad_y, fit.width, fit.height) == (pad_x, pad_y, resized_w, resized_h)


MAPPING_CASES = [
    # (image w, h, box in image pixels, what)
    (1280, 720, (100, 200, 140, 290), "720p player"),
    (848, 478, (0, 0, 848, 478), "the whole image"),
    (100, 200, (10, 20, 30, 60), "upscaled portrait tile"),
    (3840, 2160, (3800, 2100, 3840, 2160), "4K bottom-right corner"),
]


@pytest.mark.parametrize(
    ("width", "height", "box"), [c[:3] for c in MAPPING_CASES], ids=[c[3] for c in MAPPING_CASES]
)
def test_letterbox_round_trip(width: int, height: int, box: tuple[float, float, float, float]) -> None:
    fit = Letterbox.fit(width, height, 640, 640)

    back = fit.to_source(fit.to_input(boxes(box)), width, height)

    np.testing.assert_allclose(back, boxes(box), atol=1e-3)


def test_letterbox_to_source_clips_to_the_image() -> None:
    fit = Letterbox.fit(1280, 720, 640, 640)  # the image occupies rows 140..500 of the input

    mapped = fit.to_source(boxes((-10, 100, 650, 520)), 1280, 720)

    np.testing.assert_allclose(mapped, boxes((0, 0, 1280, 720)))


def test_letterbox_image_is_centred_on_grey() -> None:
    image = np.full((360, 640, 3), 7, np.uint8)

    canvas, fit = letterbox(image, 640, 640)

    assert canvas.shape == (640, 640, 3) and canvas.dtype == np.uint8
    assert (fit.pad_x, fit.pad_y) == (0, 140)
    assert (canvas[:140] == PAD_VALUE).all() and (canvas[500:] == PAD_VALUE).all()
    assert (canvas[140:500] == 7).all()


# --------------------------------------------------------------------------------------------
# Tiles
# --------------------------------------------------------------------------------------------

TILE_COUNT_CASES = [
    # (frame w, h, tiles, columns, rows, what)
    (1280, 1280, 1, 1, 1, "one tile is the whole frame"),
    (1280, 1280, 2, 2, 2, "square frame: tiles per side"),
    (1280, 1280, 3, 3, 3, "square frame, 3 per side"),
    (1920, 1080, 2, 2, 1, "16:9, 2: one row of about square tiles"),
    (1920, 1080, 3, 3, 2, "16:9, 3: two rows"),
    (1920, 1080, 4, 4, 3, "16:9, 4: three rows"),
    (1080, 1920, 3, 2, 3, "portrait: the long side is vertical"),
    (848, 478, 2, 2, 1, "small 16:9 clip"),
]


@pytest.mark.parametrize(
    ("width", "height", "tiles", "columns", "rows"),
    [c[:5] for c in TILE_COUNT_CASES],
    ids=[c[5] for c in TILE_COUNT_CASES],
)
def test_tile_counts(width: int, height: int, tiles: int, columns: int, rows: int) -> None:
    assert tile_counts(width, height, tiles) == (columns, rows)


TILE_GRID_CASES = [
    # (frame w, h, tiles, overlap, what)
    (1280, 1280, 2, 0.2, "square 2x2"),
    (1280, 1280, 3, 0.2, "square 3x3"),
    (1920, 1080, 3, 0.2, "16:9 3x2"),
    (1280, 720, 2, 0.1, "720p, little overlap"),
    (1280, 720, 2, 0.3, "720p, more overlap"),
    (1001, 999, 4, 0.25, "odd sizes"),
]


@pytest.mark.parametrize(
    ("width", "height", "tiles", "overlap"),
    [c[:4] for c in TILE_GRID_CASES],
    ids=[c[4] for c in TILE_GRID_CASES],
)
def test_tile_grid_covers_the_frame_with_overlapping_equal_tiles(
    width: int, height: int, tiles: int, overlap: float
) -> None:
    grid = tile_grid(width, height, tiles, overlap)
    columns, rows = tile_counts(width, height, tiles, overlap)

    assert grid.shape == (columns * rows, 4)
    assert (grid[:, :2] >= 0).all() and (grid[:, 2] <= width).all() and (grid[:, 3] <= height).all()
    sizes = grid[:, 2:] - grid[:, :2]
    assert (sizes == sizes[0]).all(), "every tile has the same size"
    assert grid[:, 0].min() == 0 and grid[:, 1].min() == 0
    assert grid[:, 2].max() == width and grid[:, 3].max() == height
    covered = np.zeros((height, width), bool)
    for x1, y1, x2, y2 in grid:
        covered[y1:y2, x1:x2] = True
    assert covered.all()
    # Neighbours share about `overlap` of a tile (give or take the rounding of sizes and starts).
    tile_width, tile_height = sizes[0]
    xs = sorted(set(grid[:, 0].tolist()))
    for left, right in itertools.pairwise(xs):
        assert abs((left + tile_width - right) - overlap * tile_width) <= 2
    ys = sorted(set(grid[:, 1].tolist()))
    for top, bottom in itertools.pairwise(ys):
        assert abs((top + tile_height - bottom) - overlap * tile_height) <= 2


def test_frame_views_start_with_the_whole_frame() -> None:
    views = frame_views(1280, 720, 2)

    assert views[0].tolist() == [0, 0, 1280, 720]
    assert views[1:].tolist() == tile_grid(1280, 720, 2).tolist()
    assert frame_views(1280, 720, 1).tolist() == [[0, 0, 1280, 720]]


TWO_TILES = np.array([[0, 0, 700, 720], [580, 0, 1280, 720]])
"""The two tiles of a 1280 x 720 frame (columns 0-700 and 580-1280)."""


@pytest.mark.parametrize(
    ("boxes", "needed"),
    [
        ([], [True, True]),  # nobody seen whole: small people may be there
        ([(100, 100, 120, 200), (900, 100, 920, 200)], [False, False]),  # 100 px -> 50 network px
        ([(100, 100, 120, 160), (900, 100, 920, 200)], [True, False]),  # 60 px -> 30: too small
        ([(100, 100, 120, 200)], [False, True]),  # the right tile shows nobody
        ([(620, 100, 660, 160), (100, 0, 120, 100)], [True, True]),  # a small one in the overlap
        ([(660, 100, 700, 180)], [False, False]),  # centred in both tiles, 40 network px: large enough
    ],
)
def test_tiles_are_needed_where_people_are_small_or_unseen(
    boxes: list[tuple[float, ...]], needed: list[bool]
) -> None:
    found = np.array(boxes, np.float32).reshape(-1, 4)
    assert tiles_needed(TWO_TILES, found, shrink=0.5, min_height=40).tolist() == needed


@pytest.mark.parametrize(("input_size", "tiles", "side"), [(640, 1, 640), (640, 2, 1152), (640, 3, 1664)])
def test_useful_side_is_where_a_tile_fills_the_network_input(input_size: int, tiles: int, side: int) -> None:
    assert useful_side(input_size, tiles) == side


# --------------------------------------------------------------------------------------------
# NMS (IoU itself: test_geometry.py)
# --------------------------------------------------------------------------------------------

NMS_CASES = [
    # (boxes, scores, iou threshold, kept indexes, what)
    ([(0, 0, 10, 10), (0, 0, 10, 10)], [0.5, 0.9], 0.5, [1], "duplicate: the higher score stays"),
    ([(0, 0, 10, 10), (20, 0, 30, 10)], [0.5, 0.9], 0.5, [1, 0], "apart: both stay, by score"),
    ([(0, 0, 10, 10), (5, 0, 15, 10)], [0.9, 0.8], 0.3, [0], "IoU 0.33 above the threshold"),
    ([(0, 0, 10, 10), (5, 0, 15, 10)], [0.9, 0.8], 0.5, [0, 1], "IoU 0.33 below the threshold"),
    (
        [(0, 0, 10, 10), (4, 0, 14, 10), (8, 0, 18, 10)],
        [0.9, 0.8, 0.7],
        0.4,
        [0, 2],
        "a chain: the middle box goes, the far one stays",
    ),
    ([], [], 0.5, [], "nothing"),
]


@pytest.mark.parametrize(
    ("rows", "scores", "threshold", "kept"), [c[:4] for c in NMS_CASES], ids=[c[4] for c in NMS_CASES]
)
def test_nms(rows: list[tuple[float, ...]], scores: list[float], threshold: float, kept: list[int]) -> None:
    result = nms(boxes(*rows), np.array(scores, np.float32), threshold)

    assert result.tolist() == kept


# --------------------------------------------------------------------------------------------
# Merging the views of one frame
# --------------------------------------------------------------------------------------------

# A 200 x 100 frame, one whole-frame view and two tiles overlapping on x 80..120.
VIEWS = np.array([[0, 0, 200, 100], [0, 0, 120, 100], [80, 0, 200, 100]], np.int64)

CUT_CASES = [
    # (box, view id, cut?, what)
    ((110, 10, 120, 50), 1, True, "left tile box ends on the tile's inner right border"),
    ((80, 10, 95, 50), 2, True, "right tile box starts on the tile's inner left border"),
    ((0, 10, 10, 50), 1, False, "on the frame's left edge, not a tile border"),
    ((190, 0, 200, 100), 2, False, "on the frame's right, top and bottom edges"),
    ((50, 10, 60, 50), 1, False, "inside its tile"),
    ((110, 10, 120, 50), 0, False, "the whole-frame view has no inner border"),
    ((110, 10, 118, 50), 1, True, "within the margin of the border"),
]


@pytest.mark.parametrize(("box", "view", "cut"), [c[:3] for c in CUT_CASES], ids=[c[3] for c in CUT_CASES])
def test_cut_by_view_border(box: tuple[float, ...], view: int, cut: bool) -> None:
    result = cut_by_view_border(boxes(box), VIEWS[[view]], 200, 100, margin=3.0)

    assert result.tolist() == [cut]


MERGE_CASES = [
    # (boxes, scores, view ids, cut flags, kept indexes, what)
    (
        [(100, 10, 130, 60), (100, 10, 120, 60)],
        [0.6, 0.8],
        [0, 1],
        [False, True],
        [0],
        "a tile's cut half goes when the whole frame saw the whole person",
    ),
    (
        [(100, 10, 120, 60)],
        [0.8],
        [1],
        [True],
        [0],
        "a cut box nobody else saw stays",
    ),
    (
        [(100, 10, 140, 70), (100, 10, 120, 60)],
        [0.6, 0.8],
        [1, 1],
        [False, True],
        [1, 0],
        "a larger box of the same view does not cover a cut box",
    ),
    (
        [(50, 10, 60, 40), (50.5, 10, 60.5, 40), (150, 10, 160, 40)],
        [0.7, 0.9, 0.5],
        [0, 1, 2],
        [False, False, False],
        [1, 2],
        "the same person in two views: NMS keeps the higher score",
    ),
    (
        [(100, 10, 120, 60), (110, 10, 130, 60)],
        [0.8, 0.7],
        [1, 2],
        [True, True],
        [0, 1],
        "two cut halves from neighbouring tiles, neither larger: both stay",
    ),
    ([], [], [], [], [], "no boxes"),
]


@pytest.mark.parametrize(
    ("rows", "scores", "view_ids", "cut", "kept"),
    [c[:5] for c in MERGE_CASES],
    ids=[c[5] for c in MERGE_CASES],
)
def test_merge_views(
    rows: list[tuple[float, ...]], scores: list[float], view_ids: list[int], cut: list[bool], kept: list[int]
) -> None:
    result = merge_views(
        boxes(*rows),
        np.array(scores, np.float32),
        np.array(view_ids, np.int64),
        np.array(cut, bool),
    )

    assert result.tolist() == kept


# --------------------------------------------------------------------------------------------
# Decoding YOLO output
# --------------------------------------------------------------------------------------------


def test_decode_raw_output_keeps_confident_people_as_corners() -> None:
    # 3 anchors, 80 classes: rows cx, cy, w, h, then one score row per class.
    output = np.zeros((84, 3), np.float32)
    output[:4] = np.array([[100, 200, 300], [50, 60, 70], [10, 20, 30], [40, 40, 40]], np.float32)
    output[4] = [0.9, 0.1, 0.5]  # person
    output[4 + 32] = [0.0, 0.95, 0.9]  # sports ball: ignored

    found, scores = decode_person_boxes(output, confidence=0.3)

    np.testing.assert_allclose(found, boxes((95, 30, 105, 70), (285, 50, 315, 90)))
    np.testing.assert_allclose(scores, [0.9, 0.5])


def test_decode_end_to_end_output() -> None:
    # (n, 6) rows x1, y1, x2, y2, score, class, padded with zeros (n = 300 in real exports).
    output = np.array(
        [[1, 2, 11, 22, 0.8, 0], [5, 5, 9, 9, 0.9, 32], [3, 4, 13, 24, 0.2, 0]] + [[0, 0, 0, 0, 0, 0]] * 4,
        np.float32,
    )

    found, scores = decode_person_boxes(output, confidence=0.25)

    np.testing.assert_allclose(found, boxes((1, 2, 11, 22)))
    np.testing.assert_allclose(scores, [0.8])


@pytest.mark.parametrize("shape", [(84,), (4, 100), (1, 84, 8400)], ids=["1-D", "no scores", "batched"])
def test_decode_rejects_other_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        decode_person_boxes(np.zeros(shape, np.float32), 0.25)


# --------------------------------------------------------------------------------------------
# Greedy matching (the benchmark's scoring)
# --------------------------------------------------------------------------------------------

MATCH_CASES = [
    # (detections, confidences, truth, true positives, what)
    ([(0, 0, 10, 10)], [0.9], [(0, 0, 10, 10)], 1, "exact"),
    ([(0, 0, 10, 10), (0, 0, 10, 10)], [0.9, 0.8], [(0, 0, 10, 10)], 1, "a duplicate is a false positive"),
    ([(5, 0, 15, 10)], [0.9], [(0, 0, 10, 10)], 0, "IoU 0.33 is a miss"),
    ([(1, 0, 11, 10)], [0.9], [(0, 0, 10, 10)], 1, "IoU 0.82 is a hit"),
    (
        [(0, 0, 10, 10), (3, 0, 13, 10)],
        [0.5, 0.9],
        [(0, 0, 10, 10), (4, 0, 14, 10)],
        2,
        "the confident box takes its best truth, the other gets the rest",
    ),
    ([], [], [(0, 0, 10, 10)], 0, "no detections"),
    ([(0, 0, 10, 10)], [0.9], [], 0, "no truth"),
]


@pytest.mark.parametrize(
    ("found", "confidences", "truth", "hits"), [c[:4] for c in MATCH_CASES], ids=[c[4] for c in MATCH_CASES]
)
def test_count_true_positives(
    found: list[tuple[float, ...]], confidences: list[float], truth: list[tuple[float, ...]], hits: int
) -> None:
    result = count_true_positives(boxes(*found), np.array(confidences), boxes(*truth))

    assert result == hits


# --- rectangular network inputs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1280, 720, (416, 640)),  # 16:9 broadcast: 640 x 360 of picture, >= 32 px of padding
        (848, 478, (416, 640)),
        (3840, 2160, (416, 640)),
        (720, 1280, (640, 416)),  # portrait
        (640, 640, (640, 640)),
        (711, 720, (640, 640)),  # a near-square tile: never above the model's size
        (640, 352, (384, 640)),  # a picture exactly a stride multiple still gets its stride of padding
        (2000, 40, (64, 640)),
        (100, 50, (352, 640)),  # small views are scaled up, as the square letterbox does
    ],
)
def test_input_shape_holds_the_view_at_the_square_letterbox_scale(
    width: int, height: int, expected: tuple[int, int]
) -> None:
    shape = input_shape(width, height, 640)

    assert shape == expected
    box = Letterbox.fit(width, height, shape[1], shape[0])
    square = Letterbox.fit(width, height, 640, 640)
    assert box.scale == pytest.approx(square.scale, rel=0.02)
    assert (box.width, box.height) == (square.width, square.height)
    assert shape[0] % 32 == 0 and shape[1] % 32 == 0
    assert shape[0] == 640 or shape[0] - box.height >= 32  # a stride of padding, unless capped


def test_input_shape_refuses_an_empty_view() -> None:
    with pytest.raises(ValueError, match="size"):
        input_shape(0, 720, 640)


def test_anchor_points_are_the_cell_centres_level_by_level() -> None:
    points, strides = anchor_points(64, 96)

    # 8 x 12 cells at stride 8, 4 x 6 at 16, 2 x 3 at 32.
    assert points.shape == (2, 96 + 24 + 6) and strides.shape == (126,)
    assert points[:, 0].tolist() == [0.5, 0.5]
    assert points[:, 1].tolist() == [1.5, 0.5]  # row-major: x moves first
    assert points[:, 12].tolist() == [0.5, 1.5]
    assert points[:, 95].tolist() == [11.5, 7.5]
    assert points[:, 96].tolist() == [0.5, 0.5] and strides[96] == 16
    assert strides[:96].tolist() == [8] * 96 and strides[-6:].tolist() == [32] * 6


def test_reshape_targets_follow_the_new_grid_and_leave_batch_and_channels_alone() -> None:
    old, new = [(80, 80), (40, 40), (20, 20)], [(48, 80), (24, 40), (12, 20)]
    anchors = (8400, 5040)

    assert rewrite_target([1, 2, 128, 400], old, new, anchors) == [1, 2, 128, 240]
    assert rewrite_target([1, 128, 20, 20], old, new, anchors) == [1, 128, 12, 20]
    assert rewrite_target([1, 4, 16, 8400], old, new, anchors) == [1, 4, 16, 5040]
    assert rewrite_target([1, 144, -1], old, new, anchors) == [1, 144, -1]
    assert rewrite_target([400, 400, 7], old, new, anchors) == [400, 400, 7]


def test_an_input_off_the_stride_is_refused_before_the_model_is_touched() -> None:
    with pytest.raises(UnsupportedReshape, match="multiple of the stride 32"):
        reshape_yolo(object(), 400, 640)
