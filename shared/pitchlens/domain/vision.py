"""Video: clips, detections, tracks and the followed player. Standard library only.

Image coordinates are pixels of the source video, origin top-left, x right, y down. Hot paths
move whole frames or chunks (`FrameDetections` holds columns; adapters may pass numpy arrays,
which satisfy the `Sequence` types), never a Python object per box.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pitchlens.domain.errors import InvalidTrackingData
from pitchlens.domain.geometry import Box, iou

if TYPE_CHECKING:
    from pitchlens.domain.segments import Segment

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts"})
"""The file names PitchLens takes as videos, everywhere (uploads, the detect function, the CLI)."""


_CONTAINER_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")
"""What an MP4 / QuickTime file starts with (the second 4 bytes: a top-level box type)."""
_SIGNATURES = (b"\x1a\x45\xdf\xa3", b"RIFF", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")
"""Matroska / WebM (EBML), AVI (RIFF), MPEG program stream, MPEG video."""
TS_SYNC = 0x47
"""An MPEG transport stream: a sync byte every 188 bytes."""


def looks_like_video(head: bytes) -> bool:
    """Whether the first bytes of a file (at least 12; 377 to recognise a transport stream) are
    those of a video container: a cheap check before anything is uploaded or decoded."""
    if len(head) < 12:
        return False
    if head[4:8] in _CONTAINER_BOXES or head.startswith(_SIGNATURES):
        return True
    return len(head) >= 377 and head[0] == head[188] == head[376] == TS_SYNC


def is_video_name(name: str) -> bool:
    """Whether a file or object name ends in a video suffix (any case)."""
    stem, dot, suffix = name.rpartition(".")
    return bool(dot and stem.rsplit("/", 1)[-1] and f".{suffix.lower()}" in VIDEO_SUFFIXES)


@dataclass(frozen=True, slots=True)
class BoundingBox:
    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if not (self.x2 > self.x1 and self.y2 > self.y1):
            raise ValueError(f"empty box {self.x1},{self.y1},{self.x2},{self.y2}")

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    @property
    def top_center(self) -> tuple[float, float]:
        """Above the head: where a "dot" indicator goes."""
        return ((self.x1 + self.x2) / 2, self.y1)

    @property
    def foot_point(self) -> tuple[float, float]:
        """Bottom centre: where the player touches the pitch."""
        return ((self.x1 + self.x2) / 2, self.y2)

    @property
    def corners(self) -> Box:
        return (self.x1, self.y1, self.x2, self.y2)

    def iou(self, other: BoundingBox) -> float:
        return iou(self.corners, other.corners)

    def inside(self, width: int, height: int) -> bool:
        return self.x1 >= 0 and self.y1 >= 0 and self.x2 <= width and self.y2 <= height


@dataclass(frozen=True, slots=True)
class FrameDetections:
    """Every detection in one frame, as columns: boxes (x1, y1, x2, y2), confidences, classes."""

    frame_index: int
    boxes: Sequence[Sequence[float]]
    confidences: Sequence[float]
    class_ids: Sequence[int]

    def __len__(self) -> int:
        return len(self.confidences)


@dataclass(frozen=True, slots=True)
class FrameTracks:
    """Tracked boxes in one frame: columns plus the track id of each box."""

    frame_index: int
    track_ids: Sequence[int]
    boxes: Sequence[Sequence[float]]
    confidences: Sequence[float]
    on_pitch: Sequence[bool] | None = None
    """Per box: its foot point on the playing area (None: not placed)."""
    teams: Sequence[str | None] | None = None
    """Per box: the team by kit (a kit colour's name, "other", or None: kit not seen)."""
    pitch_xy: Sequence[Sequence[float]] | None = None
    """Per box: the foot point in metres of the match frame (x, y; NaN where the frame has no
    homography; None: not placed)."""
    shot: int | None = None
    """The first frame of the camera shot this frame belongs to (a cut starts a new one; None: the
    cuts were not looked for)."""

    def __len__(self) -> int:
        return len(self.track_ids)

    def renumbered(self, track_ids: Sequence[int]) -> FrameTracks:
        """The same boxes and placement under other track ids."""
        return dataclasses.replace(self, track_ids=track_ids)


@dataclass(frozen=True, slots=True)
class TrackingFrame:
    """The followed player in one frame; `lost` frames carry the last known box or none."""

    frame_index: int
    box: BoundingBox | None
    confidence: float
    lost: bool = False
    track_id: int | None = None


@dataclass(frozen=True, slots=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    codec: str
    has_audio: bool = False
    variable_frame_rate: bool = False


class ClipStatus(StrEnum):
    UPLOADED = "UPLOADED"
    DETECTED = "DETECTED"
    TRACKED = "TRACKED"
    PERSISTED = "PERSISTED"
    FAILED = "FAILED"

    def then(self, reached: ClipStatus) -> ClipStatus:
        """The status after a step that reached `reached`: the pipeline only moves forward, so a
        step run again (a redelivered or replayed message) never takes a clip back."""
        order = (ClipStatus.UPLOADED, ClipStatus.DETECTED, ClipStatus.TRACKED, ClipStatus.PERSISTED)
        if self not in order or reached not in order:
            return reached
        return max(self, reached, key=order.index)


@dataclass(frozen=True, slots=True)
class Clip:
    """One uploaded video of a match and what the pipeline has made of it."""

    clip_id: str
    match_id: str
    video_uri: str
    status: ClipStatus
    created_at: datetime
    updated_at: datetime
    info: VideoInfo | None = None
    detection_frame: int = 0
    frame_uri: str | None = None
    detections_uri: str | None = None
    tracks_uri: str | None = None
    trajectories_uri: str | None = None
    trajectory_rows: int | None = None
    schema_version: int | None = None
    reason: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FrameSpan:
    """Frames [start, stop) of a video, and how a reader reaches them without decoding the frames
    before: seek to `seek_pts` (a keyframe's timestamp, at or before the span) and drop decoded frames
    until `start_pts` (frame `start`'s). Without timestamps the reader decodes from the beginning."""

    start: int
    stop: int
    seek_pts: int | None = None
    start_pts: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.stop:
            raise ValueError(f"frames [{self.start}, {self.stop}) are no span")


class VideoReader(ABC):
    """Decodes a video: a local file, or a URL the decoder reads with HTTP range requests (a
    presigned S3 URL), seeking instead of reading what it does not need."""

    @abstractmethod
    def probe(self, path: str) -> VideoInfo:
        """Raises InvalidVideo naming the problem (empty, not a video, truncated, no stream)."""

    @abstractmethod
    def frame(self, path: str, index: int) -> Any:
        """One decoded frame (BGR image) by index; raises InvalidVideo when out of range."""

    @abstractmethod
    def frames(
        self,
        path: str,
        span: FrameSpan | None = None,
        *,
        step: int = 1,
        size: tuple[int, int] | None = None,
    ) -> Iterator[tuple[int, Any]]:
        """(index, BGR image) for every frame (or those of `span`), decoded ahead of the consumer;
        InvalidVideo when the stream ends early or is damaged. With `step` > 1 only the frames
        `frame_sampling.is_tracked` keeps are handed out (the others are decoded, never converted);
        with `size` (width, height) the images are scaled to it by the decoder."""

    def frame_size(self, path: str) -> tuple[int, int]:
        """(width, height) of the video's frames; readers that can tell without a pass over the
        file (the stream's header) should."""
        info = self.probe(path)
        return info.width, info.height

    @abstractmethod
    def keyframes(self, path: str) -> list[int]:
        """Indexes of the frames decoding can start at, in order."""

    @abstractmethod
    def span(self, path: str, start: int, stop: int) -> FrameSpan:
        """Frames [start, stop) with what reaching them takes (see FrameSpan)."""


class DetectionModel(ABC):
    """Finds people in images."""

    @abstractmethod
    def detect(self, images: Sequence[Any], first_index: int = 0) -> list[FrameDetections]:
        """One FrameDetections per image (frame indexes from `first_index`), class 0 = person."""

    def frame_size(self, width: int, height: int) -> tuple[int, int]:
        """The smallest size frames of `width` x `height` can be scaled down to before `detect`
        without losing detail the model would see (its network input's resolution); the size
        itself by default."""
        return width, height


class MultiObjectTracker(ABC):
    """Links detections into tracks across consecutive frames of one clip (stateful)."""

    @abstractmethod
    def update(self, detections: FrameDetections, image: Any) -> FrameTracks: ...


@dataclass(frozen=True, slots=True)
class TrajectoryRef:
    """A clip's trajectories as stored: Parquet URI, row count and schema version."""

    uri: str
    rows: int
    schema_version: int


@dataclass(frozen=True, slots=True)
class DetectionArtifacts:
    frame_uri: str
    detections_uri: str


class VideoStore(ABC):
    """Videos in object storage, made available for decoding."""

    @abstractmethod
    def local_copy(self, uri: str) -> AbstractContextManager[str]:
        """A temporary local path holding the object; removed on exit. ObjectNotFound if absent."""

    @abstractmethod
    def readable(self, uri: str) -> str:
        """Where a VideoReader reads the object without copying it whole (a presigned URL the
        decoder reads with range requests, seeking to what it needs). ObjectNotFound if absent."""

    @abstractmethod
    def save_detection(
        self, match_id: str, clip_id: str, image: Any, detections: FrameDetections
    ) -> DetectionArtifacts:
        """Writes `frame_<n>.jpg` and `detections.json` under artifacts/<match_id>/<clip_id>/."""

    @abstractmethod
    def publish_output(self, path: str, key: str) -> str:
        """Uploads the local video at `path` to `key` in the outputs bucket, whole or not at all
        (an object appears only once its upload completed); returns its `s3://` URI.
        ServiceUnavailable when storage cannot be reached."""


Note = str | None | Callable[[], str | None]
"""A piece of text for a stored file, or how to get it once the file's contents have been read."""


def noted(note: Note) -> str | None:
    return note() if callable(note) else note


class TrajectoryStore(ABC):
    """Tracks of whole clips: staged between functions, then published as trajectories."""

    @abstractmethod
    def stage(
        self,
        job_id: str,
        match_id: str,
        clip_id: str,
        fps: float,
        tracks: Iterable[FrameTracks],
        name: str = "tracks",
        pitch_reason: Note = None,
        pitch_source: Note = None,
    ) -> str:
        """Writes the claim check `<job_id>/<name>` (a clip's tracks, or one segment's), with why
        its tracks have no pitch coordinates when they have none and where those it has come from
        (`manual` / `automatic` calibration); returns its URI. `tracks` is read once, in frame
        order (a whole match's may come lazily, segment by segment); a note given as a callable is
        asked once they are read (`noted`)."""

    @abstractmethod
    def publish(self, staged_uri: str, match_id: str, clip_id: str) -> TrajectoryRef:
        """Writes the clip's trajectories Parquet to its permanent place (retrying the upload);
        raises ServiceUnavailable when storage stays down, ObjectNotFound if the stage is gone."""

    @abstractmethod
    def tracks(self, uri: str, track_ids: Collection[int] | None = None) -> list[FrameTracks]:
        """A clip's published trajectories, one FrameTracks per frame that has any, in frame order;
        with `track_ids`, only those tracks' rows (read without the rest of the file where the store
        can). ObjectNotFound when absent; InvalidTrackingData for a file that is not trajectories."""

    @abstractmethod
    def pitch_reason(self, uri: str) -> str | None:
        """Why the trajectories at `uri` have no pitch coordinates, as stored with them (None: they
        have some, or the file says nothing). ObjectNotFound when absent."""


class _Indexed(Protocol):
    @property
    def frame_index(self) -> int: ...


IndexedT = TypeVar("IndexedT", bound=_Indexed)


def by_frame_index(items: Iterable[IndexedT], frames: int, where: str = "the clip") -> dict[int, IndexedT]:
    """Per-frame items (tracks, followed boxes) by frame index. Raises InvalidTrackingData when one names
    a frame outside 0..`frames`-1 of `where`, or a frame twice."""
    found: dict[int, IndexedT] = {}
    for item in items:
        if not 0 <= item.frame_index < frames:
            raise InvalidTrackingData(
                f"the tracking data names frame {item.frame_index}, but {where} has frames 0..{frames - 1}"
            )
        if item.frame_index in found:
            raise InvalidTrackingData(f"the tracking data has frame {item.frame_index} twice")
        found[item.frame_index] = item
    return found


def every_frame(tracks: Sequence[FrameTracks], frames: int) -> list[FrameTracks]:
    """`tracks` with an empty FrameTracks for each frame of 0..`frames`-1 that has none (stored
    trajectories keep only frames with people in them). Raises InvalidTrackingData when a frame is
    outside the clip or appears twice."""
    by_index = by_frame_index(tracks, frames)
    return [by_index.get(index) or FrameTracks(index, [], [], []) for index in range(frames)]


class ClipRepository(ABC):
    @abstractmethod
    def add(self, clip: Clip) -> bool:
        """Inserts the clip; False when one with this id exists."""

    @abstractmethod
    def get(self, clip_id: str, *, lock: bool = False) -> Clip:
        """Raises ClipNotFound. `lock`: the clip is held until the transaction ends, so that
        transactions deciding something about it (the last segment done?) take turns."""

    @abstractmethod
    def add_segments(self, segments: Sequence[Segment]) -> None:
        """Stores a job's segments of a clip; those already stored are left as they are."""

    @abstractmethod
    def segments(self, clip_id: str, job_id: str) -> list[Segment]:
        """The clip's segments as job `job_id` planned them, in order (none when it did not split
        the clip): a clip processed again is split again, under the new job."""

    @abstractmethod
    def update_segment(self, segment: Segment) -> None:
        """Overwrites a stored segment."""

    @abstractmethod
    def update(self, clip: Clip) -> None: ...

    @abstractmethod
    def list(self, match_id: str) -> list[Clip]: ...
