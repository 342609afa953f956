"""Person-detection quality of any `DetectionModel` on a folder of frames labelled in YOLO txt format.

A dataset folder holds `images/` and `labels/` (one `class cx cy w h` line per object, normalised to
0..1, a label file per image with the same stem). Ground-truth classes in `person_classes` count as
people (Roboflow's football-players-detection: 1 goalkeeper, 2 player, 3 referee; 0 is the ball).
Per image, detections of class 0 are matched greedily by descending confidence, each to the
unmatched ground-truth box it overlaps most, when that IoU >= `iou_threshold`; recall and precision
are pooled over all images.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pitchlens.domain.vision import DetectionModel, FrameDetections
from pitchlens.infrastructure.vision.boxes import box_iou
from pitchlens.infrastructure.vision.detection import PERSON_CLASS_ID

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
FOOTBALL_PERSON_CLASSES = (1, 2, 3)


@dataclass(frozen=True, slots=True)
class LabelledImage:
    """One image file and its people as normalised (n, 4) x1, y1, x2, y2 boxes."""

    path: Path
    people: np.ndarray

    def people_in_pixels(self, width: int, height: int) -> np.ndarray:
        return self.people * np.array([width, height, width, height], np.float32)


@dataclass(frozen=True, slots=True)
class DetectionScore:
    """Pooled counts over a dataset, and the wall time `detect` took per frame (decoding excluded)."""

    images: int
    ground_truth: int
    detections: int
    true_positives: int
    seconds: float

    @property
    def recall(self) -> float:
        return self.true_positives / self.ground_truth if self.ground_truth else 1.0

    @property
    def precision(self) -> float:
        return self.true_positives / self.detections if self.detections else 1.0

    @property
    def ms_per_frame(self) -> float:
        return 1000 * self.seconds / self.images if self.images else 0.0

    def __str__(self) -> str:
        return (
            f"recall {self.recall:.3f} precision {self.precision:.3f} "
            f"({self.true_positives}/{self.ground_truth} people, {self.detections} detections, "
            f"{self.images} images, {self.ms_per_frame:.0f} ms/frame)"
        )


def load_yolo_dataset(
    folder: Path, person_classes: Collection[int] = FOOTBALL_PERSON_CLASSES
) -> list[LabelledImage]:
    """Every image under `folder/images` with its people from `folder/labels` (none if no label file)."""
    images = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise FileNotFoundError(f"no images in {folder / 'images'}")
    wanted = np.array(sorted(person_classes), np.int64)
    labelled = []
    for image in images:
        label_file = folder / "labels" / f"{image.stem}.txt"
        rows = np.zeros((0, 5), np.float32)
        if label_file.exists():
            rows = np.loadtxt(label_file, dtype=np.float32, ndmin=2).reshape(-1, 5)
        rows = rows[np.isin(rows[:, 0].astype(np.int64), wanted)]
        cx, cy, w, h = rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
        people = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        labelled.append(LabelledImage(image, people.astype(np.float32)))
    return labelled


def count_true_positives(
    boxes: np.ndarray, confidences: np.ndarray, truth: np.ndarray, iou_threshold: float = 0.5
) -> int:
    """Greedy matching of one image's detections (by descending confidence) to ground-truth boxes."""
    if not len(boxes) or not len(truth):
        return 0
    ious = box_iou(np.asarray(boxes, np.float32), np.asarray(truth, np.float32))
    matched = np.zeros(len(truth), bool)
    hits = 0
    for row in np.argsort(-np.asarray(confidences), kind="stable"):
        candidates = np.where(matched, -1.0, ious[row])
        best = int(np.argmax(candidates))
        if candidates[best] >= iou_threshold:
            matched[best] = True
            hits += 1
    return hits


def score_detections(
    detections: Sequence[FrameDetections], truths: Sequence[np.ndarray], iou_threshold: float = 0.5
) -> tuple[int, int, int]:
    """(ground truth, person detections, true positives) pooled over frames; truths in pixels."""
    ground_truth = found = hits = 0
    for frame, truth in zip(detections, truths, strict=True):
        people = np.asarray(frame.class_ids) == PERSON_CLASS_ID
        boxes = np.asarray(frame.boxes, np.float32).reshape(-1, 4)[people]
        confidences = np.asarray(frame.confidences, np.float32)[people]
        ground_truth += len(truth)
        found += len(boxes)
        hits += count_true_positives(boxes, confidences, truth, iou_threshold)
    return ground_truth, found, hits


def evaluate_detection(
    model: DetectionModel,
    folder: Path,
    *,
    iou_threshold: float = 0.5,
    person_classes: Collection[int] = FOOTBALL_PERSON_CLASSES,
    resize: tuple[int, int] | None = None,
    batch: int = 8,
    limit: int | None = None,
) -> DetectionScore:
    """Recall and precision of `model` on a YOLO-txt dataset folder.

    `resize` (width, height) resizes every image before detection, e.g. (1920, 1080) to undo the
    square stretch of Roboflow exports; the normalised labels follow. `limit` keeps the first images."""
    dataset = load_yolo_dataset(folder, person_classes)[:limit]
    ground_truth = found = hits = 0
    seconds = 0.0
    for start in range(0, len(dataset), batch):
        chunk = dataset[start : start + batch]
        images = [_read(item.path, resize) for item in chunk]
        began = time.perf_counter()
        detections = model.detect(images, first_index=start)
        seconds += time.perf_counter() - began
        truths = [
            item.people_in_pixels(image.shape[1], image.shape[0])
            for item, image in zip(chunk, images, strict=True)
        ]
        counts = score_detections(detections, truths, iou_threshold)
        ground_truth, found, hits = ground_truth + counts[0], found + counts[1], hits + counts[2]
    return DetectionScore(len(dataset), ground_truth, found, hits, seconds)


def _read(path: Path, resize: tuple[int, int] | None) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path} is not a readable image")
    if resize is not None and (image.shape[1], image.shape[0]) != resize:
        image = cv2.resize(image, resize, interpolation=cv2.INTER_LINEAR)
    return image
