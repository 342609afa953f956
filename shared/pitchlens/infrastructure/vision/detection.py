"""`YoloDetectionModel`: people in video frames, with sliced (tiled) inference for small players.

Wide broadcast shots show players 10-30 px wide; a 640 px network input shrinks a 1280-1920 px
frame by 2-3x and misses most of them. So each frame is seen whole *and* as overlapping tiles
(`tiles` along its longer side, square-ish, ~20 % overlap), every view letterboxed to the network
input; tile boxes are mapped back to frame pixels, boxes that a tile border cut in two are dropped
when a box from another view covers them, and the rest are merged with NMS.

Runtimes:
- OpenVINO export folders, `.xml` and `.onnx` files run on the `openvino` runtime directly: our own
  letterbox into the smallest input that holds each view (640 x 416 for a 16:9 frame rather than
  the export's 640 x 640: `input_shapes`), uint8 BGR in with the model's preprocessing folded into
  the compiled graph, throughput mode with asynchronous infer requests so every core works, batches
  where the model's batch dimension is dynamic, and our own decoding of the YOLO output
  (1 x (4 + classes) x anchors, or end-to-end N x 6).
- Anything else (`yolo11n.pt`, a `.pt` path, ...) runs through ultralytics with the torchvision
  stand-in from `torchvision_compat`, in batches of `batch` views, on CUDA when there is a GPU.

Everything here works on numpy arrays; no Python object is made per box.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np

from pitchlens.domain.errors import ModelUnavailable
from pitchlens.domain.frame_sampling import fit_within
from pitchlens.domain.vision import DetectionModel, FrameDetections
from pitchlens.infrastructure.vision.boxes import Boxes, cut_by_view_border, merge_views, nms
from pitchlens.infrastructure.vision.input_shapes import UnsupportedReshape, input_shape, reshape_yolo

if TYPE_CHECKING:
    from pitchlens.infrastructure.settings import Settings

_log = logging.getLogger(__name__)

PERSON_CLASS_ID = 0
DEFAULT_CONFIDENCE = 0.3
DEFAULT_TILES = 2
"""With the shared YOLO11n INT8 model on the 49 football-players-detection valid frames, these two
give recall 0.856 / precision 0.780 at IoU 0.5 (whole frame alone at 0.25: 0.555 / 0.754); the
quality test in tests/integration/test_detection.py holds them to >= 0.80 / >= 0.75."""
DEFAULT_BATCH = 8
DEFAULT_OVERLAP = 0.2
DEFAULT_INPUT_SIZE = 640
VIEW_NMS_IOU = 0.7
"""NMS inside one view, as ultralytics' predict does."""
CUT_MARGIN_PX = 3.0
"""A tile box this close (network-input pixels) to an inner tile border was cut by it."""
PAD_VALUE = 114
"""Letterbox grey, as ultralytics pads."""
COMPILE_CONFIG = {"PERFORMANCE_HINT": "THROUGHPUT"}
"""Throughput mode: asynchronous requests keep every core (or the GPU) busy."""
CPU_COMPILE_CONFIG = {**COMPILE_CONFIG, "INFERENCE_PRECISION_HINT": "f32"}
"""On the CPU, the layers left in floating point (softmax, the attention's matmuls) run in f32 on
every CPU family. By default OpenVINO runs them in bf16 where the CPU has AMX or AVX-512 BF16 and
in f32 elsewhere, so detections would differ by CPU family for a reason we can remove (measured: no
speed difference on an AMX Xeon, where the INT8 convolutions dominate). It also lets
`ONEDNN_MAX_CPU_ISA=AVX2` emulate an AVX2-only CPU on such a machine: with bf16 the capped oneDNN
has no softmax kernel and compilation fails."""
SMALL_PERSON_PX = 48.0
"""With `tiles_where="small"`, a tile is inferred unless the whole frame's view found people in it
and all of them at least this tall in network-input pixels (on the DFL shot, at 20-26 px, the whole
frame alone finds a third of the people). Measured on detection_gt (196 tiles of 49 frames): at 40
px 20 tiles were skipped and recall fell to 0.852 from 0.856; at 48 px 4 were, recall unchanged."""
MAX_INPUT_SHAPES = 4
"""Compiled input shapes an OpenVINO model keeps (a clip needs one per distinct view size)."""


# --------------------------------------------------------------------------------------------
# Geometry: pure functions on numpy arrays, unit-tested on their own.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an image of `width` x `height` sits in a network input: scaled by `scale`, then shifted
    by (`pad_x`, `pad_y`) to centre it, as ultralytics' LetterBox does."""

    scale: float
    pad_x: int
    pad_y: int
    width: int
    height: int

    @classmethod
    def fit(cls, width: int, height: int, input_width: int, input_height: int) -> Letterbox:
        scale = min(input_width / width, input_height / height)
        resized_width, resized_height = round(width * scale), round(height * scale)
        pad_x = round((input_width - resized_width) / 2 - 0.1)
        pad_y = round((input_height - resized_height) / 2 - 0.1)
        return cls(scale, pad_x, pad_y, resized_width, resized_height)

    def to_source(self, boxes: Boxes, source_width: int, source_height: int) -> Boxes:
        """Boxes in network-input pixels -> boxes in source-image pixels, clipped to the image."""
        mapped = (
            boxes - np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], np.float32)
        ) / np.float32(self.scale)
        np.clip(mapped[:, 0::2], 0, source_width, out=mapped[:, 0::2])
        np.clip(mapped[:, 1::2], 0, source_height, out=mapped[:, 1::2])
        return mapped

    def to_input(self, boxes: Boxes) -> Boxes:
        """Boxes in source-image pixels -> network-input pixels."""
        pads = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], np.float32)
        return boxes.astype(np.float32) * np.float32(self.scale) + pads


def letterbox(image: np.ndarray, input_width: int, input_height: int) -> tuple[np.ndarray, Letterbox]:
    """The image resized (aspect kept) and centred on a grey `input_height` x `input_width` canvas."""
    height, width = image.shape[:2]
    box = Letterbox.fit(width, height, input_width, input_height)
    canvas = np.full((input_height, input_width, 3), PAD_VALUE, np.uint8)
    if (box.width, box.height) == (width, height):
        resized = image
    else:
        # INTER_LINEAR, as ultralytics: INTER_AREA is ~5x slower and gains nothing measurable here.
        resized = cv2.resize(image, (box.width, box.height), interpolation=cv2.INTER_LINEAR)
    canvas[box.pad_y : box.pad_y + box.height, box.pad_x : box.pad_x + box.width] = resized
    return canvas, box


def _tile_axis(length: int, count: int, overlap: float) -> list[tuple[int, int]]:
    if count <= 1:
        return [(0, length)]
    size = math.ceil(length / (count - (count - 1) * overlap))
    starts = np.linspace(0, length - size, count).round().astype(int)
    return [(int(start), int(start) + size) for start in starts]


def tile_counts(width: int, height: int, tiles: int, overlap: float = DEFAULT_OVERLAP) -> tuple[int, int]:
    """(columns, rows): `tiles` along the longer side, and along the shorter side as few as keep the
    tiles about square (a square network input wastes the rest of a long tile on padding)."""
    if tiles <= 1:
        return (1, 1)
    long_side, short_side = max(width, height), min(width, height)
    long_tile = long_side / (tiles - (tiles - 1) * overlap)
    # Smallest count whose tiles are no taller than the long tiles are wide (5 % tolerance).
    needed = (short_side / long_tile - overlap) / (1 - overlap)
    short_count = max(1, math.ceil(needed - 0.05))
    return (tiles, short_count) if width >= height else (short_count, tiles)


def tile_grid(width: int, height: int, tiles: int, overlap: float = DEFAULT_OVERLAP) -> np.ndarray:
    """The tiles of a `width` x `height` frame as an int (k, 4) array of x1, y1, x2, y2, row-major;
    adjacent tiles share `overlap` of a tile. Empty for `tiles` <= 1 (the whole frame only)."""
    if tiles <= 1:
        return np.zeros((0, 4), np.int64)
    columns, rows = tile_counts(width, height, tiles, overlap)
    xs, ys = _tile_axis(width, columns, overlap), _tile_axis(height, rows, overlap)
    return np.array([(x1, y1, x2, y2) for y1, y2 in ys for x1, x2 in xs], np.int64)


def frame_views(width: int, height: int, tiles: int, overlap: float = DEFAULT_OVERLAP) -> np.ndarray:
    """The regions inferred for one frame: the whole frame first, then its tiles."""
    whole = np.array([[0, 0, width, height]], np.int64)
    return np.concatenate([whole, tile_grid(width, height, tiles, overlap)])


def tiles_needed(
    tiles: np.ndarray, boxes: Boxes, shrink: float, min_height: float = SMALL_PERSON_PX
) -> np.ndarray:
    """Which of `tiles` (k, 4) to infer, given the person `boxes` (n, 4, frame pixels) the whole
    frame's view found and that view's `shrink` (network pixels per frame pixel): those with no box
    centred in them (an empty tile may hide people too small to be seen whole), or one shorter than
    `min_height` network pixels. A tile whose people are all large enough adds nothing."""
    if len(tiles) == 0:
        return np.zeros(0, bool)
    centres_x = (boxes[:, 0] + boxes[:, 2]) / 2
    centres_y = (boxes[:, 1] + boxes[:, 3]) / 2
    inside = (
        (centres_x[None, :] >= tiles[:, None, 0])
        & (centres_x[None, :] < tiles[:, None, 2])
        & (centres_y[None, :] >= tiles[:, None, 1])
        & (centres_y[None, :] < tiles[:, None, 3])
    )
    small = (boxes[:, 3] - boxes[:, 1]) * shrink < min_height
    return ~inside.any(axis=1) | (inside & small[None, :]).any(axis=1)


def useful_side(input_size: int, tiles: int, overlap: float = DEFAULT_OVERLAP) -> int:
    """The longest frame side sliced inference can use: there a tile's longer side is the network
    input's (`input_size`); on a larger frame every view is shrunk to fit anyway. Rounded up to
    a multiple of 32."""
    if tiles <= 1:
        return input_size
    return math.ceil(input_size * (tiles - (tiles - 1) * overlap) / 32) * 32


def decode_person_boxes(output: np.ndarray, confidence: float) -> tuple[Boxes, np.ndarray]:
    """Person boxes (network-input pixels, xyxy) and scores >= `confidence` from one image's raw YOLO
    output: (4 + classes, anchors) rows cx, cy, w, h, class scores; or end-to-end (n, 6) rows
    x1, y1, x2, y2, score, class."""
    if output.ndim != 2:
        raise ValueError(f"expected one image's 2-D YOLO output, got shape {output.shape}")
    if output.shape[1] == 6 and output.shape[0] != 6:
        keep = (output[:, 5] == PERSON_CLASS_ID) & (output[:, 4] >= confidence)
        return output[keep, :4].astype(np.float32), output[keep, 4].astype(np.float32)
    if output.shape[0] < 5:
        raise ValueError(f"YOLO output with {output.shape[0]} rows has no class scores")
    scores = output[4 + PERSON_CLASS_ID]
    keep = scores >= confidence
    cx, cy, w, h = output[:4, keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return boxes, scores[keep].astype(np.float32)


# --------------------------------------------------------------------------------------------
# Runtimes: each turns a list of image views into person boxes (view pixels) and scores.
# --------------------------------------------------------------------------------------------


class _Runtime(Protocol):
    input_size: int
    """The longer side of the network input, in pixels."""

    @property
    def input_shapes(self) -> list[tuple[int, int]]:
        """The (height, width) network inputs compiled so far, where the runtime chooses them."""
        ...

    def predict(self, views: Sequence[np.ndarray]) -> list[tuple[Boxes, np.ndarray]]: ...


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _OpenVinoRuntime:
    """An OpenVINO IR or ONNX model compiled in throughput mode, fed through async infer requests.

    With `rectangular` (the default) each view is letterboxed into the smallest input that holds it
    at the model's scale (640 x 416 for a 16:9 frame instead of 640 x 640; `input_shapes`), one
    compiled model per input shape, compiled on first use, the last MAX_INPUT_SHAPES kept; a model
    that cannot be reshaped keeps its own input size."""

    def __init__(
        self,
        path: Path,
        device: str,
        confidence: float,
        batch: int,
        rectangular: bool = True,
        input_size: int | None = None,
    ) -> None:
        import openvino as ov

        self._core = ov.Core()
        model = self._core.read_model(str(path))
        if len(model.inputs) != 1:
            raise ValueError(f"{path}: expected one image input, found {len(model.inputs)}")
        shape = model.input(0).get_partial_shape()
        if shape.rank.is_dynamic or shape.rank.get_length() != 4:
            shape = ov.PartialShape([-1, 3, -1, -1])
            model.reshape({model.input(0).get_any_name(): shape})
        self._native = (_static_or(shape[2], DEFAULT_INPUT_SIZE), _static_or(shape[3], DEFAULT_INPUT_SIZE))
        self.input_size = input_size or max(self._native)
        # Exports with a fixed batch (like ultralytics' OpenVINO INT8 export) cannot be reshaped:
        # their attention layers bake the batch into Reshape constants. Those are fed one view per
        # request, several requests in flight; a dynamic batch dimension gets `batch` views at once.
        self._batch = batch if shape[0].is_dynamic else shape[0].get_length()
        if self._batch != 1 and not shape[0].is_dynamic:
            raise ValueError(f"{path}: a static batch of {self._batch} is not supported; export with batch 1")
        self._path = path
        self._model = model
        self._device = device
        self._confidence = confidence
        self._rectangular = rectangular
        self._queues: OrderedDict[tuple[int, int], Any] = OrderedDict()
        self._lock = threading.Lock()

    def _queue_for(self, shape: tuple[int, int]) -> tuple[tuple[int, int], Any]:
        """The infer-request queue of the model compiled for `shape` (height, width), with the
        shape it takes: the model's own when it cannot be reshaped."""
        import openvino as ov
        from openvino.preprocess import ColorFormat, PrePostProcessor

        if shape in self._queues:
            self._queues.move_to_end(shape)
            return shape, self._queues[shape]
        model = self._model.clone()
        try:
            reshape_yolo(model, *shape, batch=self._batch)
        except UnsupportedReshape as error:
            _log.warning("%s keeps its %dx%d input: %s", self._path, self._native[1], self._native[0], error)
            self._rectangular = False
            self.input_size = max(self._native)
            return self._queue_for(self._native)
        steps = PrePostProcessor(model)
        steps.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(
            ColorFormat.BGR
        )
        steps.input().model().set_layout(ov.Layout("NCHW"))
        steps.input().preprocess().convert_element_type(ov.Type.f32).convert_color(ColorFormat.RGB).scale(
            255.0
        )
        config = CPU_COMPILE_CONFIG if self._device == "CPU" else COMPILE_CONFIG
        compiled = self._core.compile_model(steps.build(), self._device, config)
        requests = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        queue = ov.AsyncInferQueue(compiled, max(2, requests))
        if len(self._queues) >= MAX_INPUT_SHAPES:
            self._queues.popitem(last=False)
        self._queues[shape] = queue
        _log.info(
            "openvino model %s on %s: input %dx%d, batch %d, %d infer requests",
            self._path,
            self._device,
            shape[1],
            shape[0],
            self._batch,
            len(queue),
        )
        return shape, queue

    @property
    def input_shapes(self) -> list[tuple[int, int]]:
        return list(self._queues)

    def _shape_for(self, view: np.ndarray) -> tuple[int, int]:
        if not self._rectangular:
            return self._native
        return input_shape(view.shape[1], view.shape[0], self.input_size)

    def predict(self, views: Sequence[np.ndarray]) -> list[tuple[Boxes, np.ndarray]]:
        results: list[tuple[Boxes, np.ndarray]] = [_EMPTY] * len(views)
        errors: list[Exception] = []

        def done(request: Any, job: tuple[list[int], list[Letterbox], list[tuple[int, int]]]) -> None:
            # Runs on an OpenVINO thread, where an exception would be lost: keep it for the caller.
            try:
                indexes, placements, sizes = job
                output = request.get_output_tensor(0).data
                for offset, (index, placement, (width, height)) in enumerate(
                    zip(indexes, placements, sizes, strict=True)
                ):
                    boxes, scores = decode_person_boxes(output[offset], self._confidence)
                    kept = nms(boxes, scores, VIEW_NMS_IOU)
                    results[index] = (placement.to_source(boxes[kept], width, height), scores[kept])
            except Exception as error:
                errors.append(error)

        with self._lock:
            by_shape: dict[tuple[int, int], list[int]] = {}
            for index, view in enumerate(views):
                by_shape.setdefault(self._shape_for(view), []).append(index)
            used = []
            for shape, indexes in by_shape.items():
                (height, width), queue = self._queue_for(shape)
                queue.set_callback(done)
                used.append(queue)
                for chunk in _batches(indexes, self._batch):
                    inputs, placements = zip(
                        *(letterbox(views[index], width, height) for index in chunk), strict=True
                    )
                    sizes = [(views[index].shape[1], views[index].shape[0]) for index in chunk]
                    batch = np.full((self._batch, height, width, 3), PAD_VALUE, np.uint8)
                    batch[: len(inputs)] = inputs  # the compiled batch is fixed; a short last chunk is padded
                    queue.start_async({0: batch}, (list(chunk), list(placements), sizes))
            for queue in used:
                queue.wait_all()
        if errors:
            raise errors[0]
        return results


def _static_or(dimension: Any, default: int) -> int:
    return default if dimension.is_dynamic else int(dimension.get_length())


_EMPTY: tuple[Boxes, np.ndarray] = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


class _UltralyticsRuntime:
    """Any model ultralytics loads (`.pt` weights, names it downloads), predicting `batch` views a call."""

    def __init__(
        self, model: str, device: str, confidence: float, batch: int, input_size: int | None = None
    ) -> None:
        from pitchlens.infrastructure.vision.torchvision_compat import ensure_torchvision

        ensure_torchvision()
        from ultralytics import YOLO

        self._model = YOLO(model, task="detect")
        self.input_size = input_size or DEFAULT_INPUT_SIZE
        self._device = device
        self._confidence = confidence
        self._batch = batch
        # FP16 on CUDA (ultralytics' `quantize=16`, formerly `half=True`); CPU computes in FP32.
        self._precision: dict[str, Any] = {"quantize": 16} if device.startswith("cuda") else {}
        _log.info("ultralytics model %s on %s, batch %d", model, device, batch)

    @property
    def input_shapes(self) -> list[tuple[int, int]]:
        return []  # ultralytics letterboxes each batch minimally itself

    def predict(self, views: Sequence[np.ndarray]) -> list[tuple[Boxes, np.ndarray]]:
        results: list[tuple[Boxes, np.ndarray]] = []
        for chunk in _batches(views, self._batch):
            found: Iterable[Any] = self._model.predict(
                list(chunk),
                classes=[PERSON_CLASS_ID],
                conf=self._confidence,
                iou=VIEW_NMS_IOU,
                imgsz=self.input_size,
                device=self._device,
                verbose=False,
                **self._precision,
            )
            for result in found:
                boxes = result.boxes
                results.append(
                    (
                        boxes.xyxy.cpu().numpy().astype(np.float32),
                        boxes.conf.cpu().numpy().astype(np.float32),
                    )
                )
        return results


# --------------------------------------------------------------------------------------------
# The adapter.
# --------------------------------------------------------------------------------------------


def is_openvino_model(model: str) -> bool:
    """OpenVINO export folders, `.xml` IR files and `.onnx` files run on the OpenVINO runtime."""
    path = Path(model)
    return path.is_dir() or path.suffix.lower() in {".xml", ".onnx"}


def _openvino_model_file(model: str) -> Path:
    path = Path(model)
    if not path.exists():
        raise FileNotFoundError(f"model {model} does not exist")
    if path.is_dir():
        found = sorted(path.glob("*.xml"))
        if not found:
            raise FileNotFoundError(f"{model} is a folder without an OpenVINO .xml model")
        return found[0]
    return path


def _openvino_device(device: str) -> str:
    from openvino import Core

    available = Core().available_devices
    wanted = device.strip().lower()
    if wanted == "auto":
        if any(name.startswith("GPU") for name in available):
            return "GPU"
        _log.warning("no GPU found for OpenVINO (devices: %s); falling back to CPU", ", ".join(available))
        return "CPU"
    if wanted.startswith("cuda") or wanted.isdigit():
        raise ValueError(
            f"device {device!r}: OpenVINO models run on CPU or an Intel GPU; use a .pt model for CUDA"
        )
    name = wanted.upper()
    if name != "CPU" and name not in available and name.split(".")[0] not in available:
        raise ValueError(f"OpenVINO device {device!r} not available (devices: {', '.join(available)})")
    return name


def _torch_device(device: str) -> str:
    wanted = device.strip().lower()
    if wanted != "auto":
        return wanted
    import torch

    if torch.cuda.is_available():
        return "cuda:0"
    _log.warning("no GPU found (torch sees no CUDA device); falling back to CPU, detection will be slow")
    return "cpu"


class YoloDetectionModel(DetectionModel):
    """People (COCO class 0) in BGR frames of any size, boxes in the frame's own pixels, with
    sliced inference over the whole frame plus `tiles` overlapping tiles along its longer side
    (`tiles_where="small"`: only the tiles where the whole frame shows small people, or none).
    `rectangular=False` letterboxes every view into the model's own (square) input, as ultralytics
    does for static exports; OpenVINO models only (ultralytics' own runtime pads minimally).
    `input_size` is the network input's longer side (None: the model's own, 640 for the YOLO11n
    exports): 1152 sees a whole frame at the scale two 640 tiles see it, in one pass."""

    def __init__(
        self,
        model: str,
        device: str = "auto",
        confidence: float = DEFAULT_CONFIDENCE,
        tiles: int = DEFAULT_TILES,
        batch: int = DEFAULT_BATCH,
        *,
        overlap: float = DEFAULT_OVERLAP,
        rectangular: bool = True,
        tiles_where: str = "always",
        input_size: int | None = None,
    ) -> None:
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        if tiles < 1 or batch < 1:
            raise ValueError(f"tiles and batch must be >= 1, got tiles={tiles}, batch={batch}")
        if not 0 <= overlap < 0.5:
            raise ValueError(f"overlap must be in [0, 0.5), got {overlap}")
        if tiles_where not in ("always", "small"):
            raise ValueError(f"tiles_where must be 'always' or 'small', got {tiles_where!r}")
        if input_size is not None and (input_size < 32 or input_size % 32):
            raise ValueError(f"input_size must be a multiple of 32, got {input_size}")
        self.tiles_where = tiles_where
        self.model = model
        self.confidence = confidence
        self.tiles = tiles
        self.batch = batch
        self.overlap = overlap
        self.runtime_name: str
        self.device: str
        self._runtime: _Runtime
        if is_openvino_model(model):
            path = _openvino_model_file(model)
            self.device = _openvino_device(device)
            self.runtime_name = "openvino"
            self._runtime = _OpenVinoRuntime(path, self.device, confidence, batch, rectangular, input_size)
        else:
            self.device = _torch_device(device)
            self.runtime_name = "ultralytics"
            self._runtime = _UltralyticsRuntime(model, self.device, confidence, batch, input_size)

    @property
    def input_shapes(self) -> list[tuple[int, int]]:
        """(height, width) of the network inputs compiled so far (OpenVINO models; else empty)."""
        return self._runtime.input_shapes

    @classmethod
    def from_settings(cls, settings: Settings, **views: Any) -> YoloDetectionModel:
        """The detection frame's detector (the `detection_*` settings); `views` (tiles, tiles_where,
        input_size) replace its views."""
        return cls(
            settings.model,
            device=settings.device,
            confidence=settings.detection_confidence,
            batch=settings.detection_batch,
            **{"tiles": settings.detection_tiles, **views},
        )

    @classmethod
    def for_tracking(cls, settings: Settings) -> YoloDetectionModel:
        """The detector of every tracked frame (the `tracking_*` settings)."""
        return cls.from_settings(
            settings,
            tiles=settings.tracking_tiles,
            tiles_where=settings.tracking_tiles_where,
            input_size=settings.tracking_input_size,
        )

    def frame_size(self, width: int, height: int) -> tuple[int, int]:
        """A frame whose views (the whole frame, the tiles) all still fill the network input: its
        longer side `useful_side`. Larger frames are shrunk by the letterbox anyway."""
        return fit_within(width, height, useful_side(self._runtime.input_size, self.tiles, self.overlap))

    def detect(self, images: Sequence[Any], first_index: int = 0) -> list[FrameDetections]:
        detections: list[FrameDetections] = []
        # Frames go `batch` at a time, all their views together, so the runtime stays busy while
        # memory stays bounded (a view is one network input).
        for start in range(0, len(images), self.batch):
            frames = [np.ascontiguousarray(image) for image in images[start : start + self.batch]]
            views_per_frame = [self._views(frame) for frame in frames]
            if self.tiles_where == "small" and self.tiles > 1:
                detections += self._detect_where_small(frames, first_index + start)
                continue
            crops = [
                frame[y1:y2, x1:x2]
                for frame, views in zip(frames, views_per_frame, strict=True)
                for x1, y1, x2, y2 in views
            ]
            predictions = iter(self._runtime.predict(crops))
            for offset, (frame, views) in enumerate(zip(frames, views_per_frame, strict=True)):
                per_view = [next(predictions) for _ in range(len(views))]
                detections.append(self._merge(first_index + start + offset, frame, views, per_view))
        return detections

    def _detect_where_small(self, frames: list[np.ndarray], first_index: int) -> list[FrameDetections]:
        """The whole frames first; then only the tiles `tiles_needed` keeps, all frames' together."""
        wholes = self._runtime.predict(frames)
        views_per_frame = []
        for frame, (boxes, _) in zip(frames, wholes, strict=True):
            height, width = frame.shape[:2]
            grid = tile_grid(width, height, self.tiles, self.overlap)
            needed = grid[tiles_needed(grid, boxes, self._runtime.input_size / max(width, height))]
            views_per_frame.append(np.concatenate([np.array([[0, 0, width, height]]), needed]))
        crops = [
            frame[y1:y2, x1:x2]
            for frame, views in zip(frames, views_per_frame, strict=True)
            for x1, y1, x2, y2 in views[1:]
        ]
        tiled = iter(self._runtime.predict(crops) if crops else [])
        return [
            self._merge(
                first_index + offset,
                frame,
                views,
                [whole, *(next(tiled) for _ in range(len(views) - 1))],
            )
            for offset, (frame, views, whole) in enumerate(zip(frames, views_per_frame, wholes, strict=True))
        ]

    def _views(self, frame: np.ndarray) -> np.ndarray:
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected a BGR image (height, width, 3), got shape {frame.shape}")
        return frame_views(frame.shape[1], frame.shape[0], self.tiles, self.overlap)

    def _merge(
        self, index: int, frame: np.ndarray, views: np.ndarray, per_view: list[tuple[Boxes, np.ndarray]]
    ) -> FrameDetections:
        height, width = frame.shape[:2]
        counts = [len(scores) for _, scores in per_view]
        boxes = np.concatenate(
            [found + view[[0, 1, 0, 1]] for (found, _), view in zip(per_view, views, strict=True)]
        )
        boxes = boxes.astype(np.float32, copy=False)
        scores = np.concatenate([scores for _, scores in per_view]).astype(np.float32, copy=False)
        view_ids = np.repeat(np.arange(len(views)), counts)
        if len(views) == 1:
            kept = np.arange(len(boxes))  # one view: its own NMS already ran
        else:
            # CUT_MARGIN_PX is in network pixels; in the frame it grows with how much a view was shrunk.
            view_sides = (views[:, 2:] - views[:, :2]).max(axis=1)
            margin = (CUT_MARGIN_PX * view_sides / self._runtime.input_size)[view_ids]
            cut = cut_by_view_border(boxes, views[view_ids], width, height, margin)
            kept = merge_views(boxes, scores, view_ids, cut)
        return _frame_detections(
            index, boxes[kept], scores[kept], np.full(len(kept), PERSON_CLASS_ID, np.int64)
        )


def _frame_detections(index: int, boxes: Any, confidences: Any, class_ids: Any) -> FrameDetections:
    """FrameDetections over numpy columns (which serve as the domain's `Sequence`s)."""
    return FrameDetections(index, boxes=boxes, confidences=confidences, class_ids=class_ids)


class DeferredDetectionModel(DetectionModel):
    """Builds the real model on first use, so a wrong model setting fails the job that needed it,
    with the reason, instead of the function's start-up (where no job would say why)."""

    def __init__(self, build: Callable[[], DetectionModel], name: str) -> None:
        self._build = build
        self._name = name
        self._model: DetectionModel | None = None
        self._lock = threading.Lock()

    def detect(self, images: Sequence[Any], first_index: int = 0) -> list[FrameDetections]:
        return self._built().detect(images, first_index)

    def frame_size(self, width: int, height: int) -> tuple[int, int]:
        return self._built().frame_size(width, height)

    def _built(self) -> DetectionModel:
        with self._lock:
            if self._model is None:
                try:
                    self._model = self._build()
                except (OSError, ValueError, RuntimeError, ImportError) as error:
                    raise ModelUnavailable(
                        f"the detection model {self._name!r} could not be loaded (PITCHLENS_MODEL): {error}"
                    ) from error
            return self._model


class CountedDetectionModel(DetectionModel):
    """Counts the frames a function runs through detection (`pitchlens_frames_processed_total`), for
    frames-per-second dashboards."""

    def __init__(self, model: DetectionModel, function: str) -> None:
        from pitchlens.infrastructure.metrics import FRAMES_PROCESSED

        self._model = model
        self._frames = FRAMES_PROCESSED.labels(function)

    def detect(self, images: Sequence[Any], first_index: int = 0) -> list[FrameDetections]:
        found = self._model.detect(images, first_index)
        self._frames.inc(len(found))
        return found

    def frame_size(self, width: int, height: int) -> tuple[int, int]:
        return self._model.frame_size(width, height)
