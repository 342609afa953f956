"""Fakes of the vision ports, with real state, for the use-case unit tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pitchlens.domain.errors import ClipNotFound, InvalidVideo, ServiceUnavailable
from pitchlens.domain.vision import (
    Clip,
    ClipRepository,
    DetectionArtifacts,
    DetectionModel,
    FrameDetections,
    FrameTracks,
    MultiObjectTracker,
    TrajectoryRef,
    TrajectoryStore,
    VideoInfo,
    VideoReader,
    VideoStore,
)


class FakeClipRepository(ClipRepository):
    def __init__(self, clips: dict[str, Clip]) -> None:
        self.clips = clips

    def add(self, clip: Clip) -> bool:
        if clip.clip_id in self.clips:
            return False
        self.clips[clip.clip_id] = clip
        return True

    def get(self, clip_id: str) -> Clip:
        if clip_id not in self.clips:
            raise ClipNotFound(clip_id)
        return self.clips[clip_id]

    def update(self, clip: Clip) -> None:
        self.clips[clip.clip_id] = clip

    def list(self, match_id: str) -> list[Clip]:
        return [c for c in self.clips.values() if c.match_id == match_id]


class FakeVideoStore(VideoStore):
    """`local_copy` yields the object's bytes decoded as text: a fake "video" is the frame count."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.saved: list[tuple[str, str, int]] = []

    @contextmanager
    def local_copy(self, uri: str) -> Iterator[str]:
        bucket, _, key = uri[5:].partition("/")
        yield self.storage.get(bucket, key).decode()

    def save_detection(
        self, match_id: str, clip_id: str, image: Any, detections: FrameDetections
    ) -> DetectionArtifacts:
        self.saved.append((match_id, clip_id, len(detections)))
        prefix = f"s3://artifacts/{match_id}/{clip_id}"
        return DetectionArtifacts(f"{prefix}/frame_{detections.frame_index}.jpg", f"{prefix}/detections.json")


class FakeVideoReader(VideoReader):
    """A "path" is the frame count as text; anything else is not a video."""

    def probe(self, path: str) -> VideoInfo:
        if not path.strip().isdigit():
            raise InvalidVideo(f"{path!r} is not a video")
        frames = int(path)
        return VideoInfo(64, 36, 25.0, frames, frames / 25.0, "h264")

    def frame(self, path: str, index: int) -> Any:
        if index >= self.probe(path).frames:
            raise InvalidVideo(f"frame {index} is out of range")
        return index

    def frames(self, path: str) -> Iterator[tuple[int, Any]]:
        for index in range(self.probe(path).frames):
            yield index, index


class FakeDetectionModel(DetectionModel):
    """Two people per frame, walking right one pixel a frame."""

    def detect(self, images: Sequence[Any], first_index: int = 0) -> list[FrameDetections]:
        return [
            FrameDetections(first_index + i, [[i, 0, i + 5, 10], [i + 20, 0, i + 25, 10]], [0.9, 0.8], [0, 0])
            for i, _ in enumerate(images)
        ]


class FakeTracker(MultiObjectTracker):
    def update(self, detections: FrameDetections, image: Any) -> FrameTracks:
        return FrameTracks(detections.frame_index, [1, 2], detections.boxes, detections.confidences)


class FakeTrajectoryStore(TrajectoryStore):
    def __init__(self) -> None:
        self.staged: dict[str, int] = {}
        self.published: list[str] = []
        self.down = False

    def stage(
        self, job_id: str, match_id: str, clip_id: str, fps: float, tracks: Sequence[FrameTracks]
    ) -> str:
        uri = f"s3://artifacts/staging/tracks/{job_id}/tracks.parquet"
        self.staged[uri] = sum(len(t) for t in tracks)
        return uri

    def publish(self, staged_uri: str, match_id: str, clip_id: str) -> TrajectoryRef:
        if self.down:
            raise ServiceUnavailable("object storage unavailable after 3 attempts")
        uri = f"s3://tracking-data/tracking/{match_id}/{clip_id}/trajectories.parquet"
        self.published.append(uri)
        return TrajectoryRef(uri, self.staged[staged_uri], 1)
