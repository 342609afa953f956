"""`UltralyticsTracker`: multi-object tracking with ultralytics' BoT-SORT or ByteTrack, fed with our
own detections (no YOLO model involved), returning `FrameTracks` columns.

The trackers read a "results" object exposing numpy columns `conf`, `cls`, `xywh` (centre, size)
and `xyxy` (BoT-SORT's camera-motion compensation masks the boxes out of its feature search), with
`len()` and boolean-mask indexing; `_TrackerInput` is exactly that. Their output rows are
`[x1, y1, x2, y2, track_id, score, cls, detection_index]`; the boxes are the Kalman-filtered
track boxes, as `model.track(...)` reports them.

BoT-SORT runs with its shipped defaults (`ultralytics/cfg/trackers/botsort.yaml`): global motion
compensation by sparse optical flow on (camera pans are the norm in broadcast football), no ReID
(`with_reid: False`; its "auto" ReID needs the YOLO network's own features, which our detector
does not expose). `track_buffer` (frames a lost track is kept for re-identification) is defined
for 30 fps and scaled to the clip's frame rate.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from pitchlens.domain.vision import FrameDetections, FrameTracks, MultiObjectTracker

TRACKERS = ("botsort", "bytetrack")
DEFAULT_TRACKER = "botsort"
PERSON_CLASS_ID = 0
CONFIG_FPS = 30.0
"""The frame rate ultralytics' `track_buffer` values are meant for."""


class _TrackerInput:
    """The slice of ultralytics' `Boxes` the trackers read, over numpy columns."""

    __slots__ = ("cls", "conf", "xywh", "xyxy")

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> None:
        self.xyxy = xyxy
        self.conf = conf
        self.cls = cls
        self.xywh = np.empty_like(xyxy)
        self.xywh[:, 0] = (xyxy[:, 0] + xyxy[:, 2]) / 2
        self.xywh[:, 1] = (xyxy[:, 1] + xyxy[:, 3]) / 2
        self.xywh[:, 2] = xyxy[:, 2] - xyxy[:, 0]
        self.xywh[:, 3] = xyxy[:, 3] - xyxy[:, 1]

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask: Any) -> _TrackerInput:
        return _TrackerInput(self.xyxy[mask], self.conf[mask], self.cls[mask])


def tracker_config(name: str, fps: float | None = None) -> Any:
    """The shipped yaml of tracker `name` as the namespace ultralytics' trackers take, with
    `track_buffer` scaled from 30 fps to `fps`."""
    from ultralytics.utils import ROOT, YAML, IterableSimpleNamespace

    if name not in TRACKERS:
        raise ValueError(f"unknown tracker {name!r}; choose one of {', '.join(TRACKERS)}")
    config = IterableSimpleNamespace(**YAML.load(Path(ROOT) / "cfg" / "trackers" / f"{name}.yaml"))
    if fps and fps > 0:
        config.track_buffer = max(1, round(config.track_buffer * fps / CONFIG_FPS))
    return config


class UltralyticsTracker(MultiObjectTracker):
    """Links one clip's detections into tracks with BoT-SORT ("botsort", camera-motion compensated)
    or ByteTrack ("bytetrack"); stateful, one instance per clip. Only detections of `classes`
    (default: people) are tracked, since `FrameTracks` carries no class column."""

    def __init__(
        self,
        name: str = DEFAULT_TRACKER,
        fps: float | None = None,
        classes: Collection[int] | None = (PERSON_CLASS_ID,),
        **overrides: Any,
    ) -> None:
        from ultralytics.trackers import BOTSORT, BYTETracker

        config = tracker_config(name, fps)
        for key, value in overrides.items():
            if not hasattr(config, key):
                raise ValueError(f"{name} has no setting {key!r}")
            setattr(config, key, value)
        self.name = name
        self.config = config
        self._classes = None if classes is None else np.array(sorted(classes), np.int64)
        self._tracker = BOTSORT(config) if name == "botsort" else BYTETracker(config)

    def update(self, detections: FrameDetections, image: Any) -> FrameTracks:
        xyxy = np.asarray(detections.boxes, np.float32).reshape(-1, 4)
        conf = np.asarray(detections.confidences, np.float32).reshape(-1)
        cls = np.asarray(detections.class_ids, np.int64).reshape(-1)
        if self._classes is not None:
            wanted = np.isin(cls, self._classes)
            xyxy, conf, cls = xyxy[wanted], conf[wanted], cls[wanted]
        rows = self._tracker.update(_TrackerInput(xyxy, conf, cls.astype(np.float32)), image)
        if len(rows) == 0:
            return _frame_tracks(
                detections.frame_index,
                np.zeros(0, np.int64),
                np.zeros((0, 4), np.float32),
                np.zeros(0, np.float32),
            )
        return _frame_tracks(
            detections.frame_index,
            rows[:, 4].astype(np.int64),
            np.ascontiguousarray(rows[:, :4], np.float32),
            rows[:, 5].astype(np.float32),
        )


def _frame_tracks(frame_index: int, track_ids: Any, boxes: Any, confidences: Any) -> FrameTracks:
    """FrameTracks over numpy columns (which serve as the domain's `Sequence`s)."""
    return FrameTracks(frame_index, track_ids=track_ids, boxes=boxes, confidences=confidences)


def create_tracker(name: str = DEFAULT_TRACKER, fps: float | None = None) -> UltralyticsTracker:
    """A fresh tracker for one clip: `name` is "botsort" or "bytetrack"."""
    return UltralyticsTracker(name, fps)
