"""Fakes of the vision ports, with real state, for the use-case unit tests."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pitchlens.domain.appearance import Appearance, AppearanceEncoder, BoxAppearance, Sighting
from pitchlens.domain.camera import CameraView, PitchArea, PitchCamera
from pitchlens.domain.errors import ClipNotFound, InvalidVideo, ObjectNotFound, ServiceUnavailable
from pitchlens.domain.frame_sampling import is_tracked
from pitchlens.domain.pitch import Homography
from pitchlens.domain.rendering import (
    Indicator,
    IndicatorRenderer,
    PitchPositions,
    ProgressCallback,
    RenderedVideo,
    RenderPreset,
)
from pitchlens.domain.segments import Segment
from pitchlens.domain.teams import TeamClassifier, TeamRun, Teams
from pitchlens.domain.vision import (
    BoundingBox,
    Clip,
    ClipRepository,
    DetectionArtifacts,
    DetectionModel,
    FrameDetections,
    FrameSpan,
    FrameTracks,
    MultiObjectTracker,
    Note,
    TrackingFrame,
    TrajectoryRef,
    TrajectoryStore,
    VideoInfo,
    VideoReader,
    VideoStore,
    noted,
)


class FakeClipRepository(ClipRepository):
    def __init__(
        self, clips: dict[str, Clip], segments: dict[tuple[str, str, int], Segment] | None = None
    ) -> None:
        self.clips = clips
        self.stored_segments = segments if segments is not None else {}

    def add(self, clip: Clip) -> bool:
        if clip.clip_id in self.clips:
            return False
        self.clips[clip.clip_id] = clip
        return True

    def get(self, clip_id: str, *, lock: bool = False) -> Clip:
        if clip_id not in self.clips:
            raise ClipNotFound(f"no clip {clip_id!r}")
        return self.clips[clip_id]

    def update(self, clip: Clip) -> None:
        self.clips[clip.clip_id] = clip

    def list(self, match_id: str) -> list[Clip]:
        return [c for c in self.clips.values() if c.match_id == match_id]

    def add_segments(self, segments: Sequence[Segment]) -> None:
        for segment in segments:
            self.stored_segments.setdefault((segment.clip_id, segment.job_id, segment.index), segment)

    def segments(self, clip_id: str, job_id: str) -> list[Segment]:
        return sorted(
            (s for (c, j, _), s in self.stored_segments.items() if (c, j) == (clip_id, job_id)),
            key=lambda s: s.index,
        )

    def update_segment(self, segment: Segment) -> None:
        key = (segment.clip_id, segment.job_id, segment.index)
        if key not in self.stored_segments:
            raise ClipNotFound(f"no segment {segment.index} of clip {segment.clip_id!r}")
        self.stored_segments[key] = segment


class FakeVideoStore(VideoStore):
    """`local_copy` yields the object's bytes decoded as text: a fake "video" is the frame count
    (with `as_files`, the path of a temporary file holding the bytes, for file-based fakes)."""

    def __init__(self, storage: Any, as_files: bool = False) -> None:
        self.storage = storage
        self.as_files = as_files
        self.saved: list[tuple[str, str, int]] = []

    @contextmanager
    def local_copy(self, uri: str) -> Iterator[str]:
        bucket, _, key = uri[5:].partition("/")
        data = self.storage.get(bucket, key)
        if not self.as_files:
            yield data.decode()
            return
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(key).name
            path.write_bytes(data)
            yield str(path)

    def readable(self, uri: str) -> str:
        """A local file holding the object's bytes as they are now (kept until the store goes)."""
        bucket, _, key = uri[5:].partition("/")
        data = self.storage.get(bucket, key)
        if not self.as_files:
            return data.decode(errors="replace")
        self._scratch = getattr(self, "_scratch", None) or tempfile.TemporaryDirectory()
        path = Path(self._scratch.name) / f"{len(list(Path(self._scratch.name).iterdir()))}-{Path(key).name}"
        path.write_bytes(data)
        return str(path)

    def save_detection(
        self, match_id: str, clip_id: str, image: Any, detections: FrameDetections
    ) -> DetectionArtifacts:
        self.saved.append((match_id, clip_id, len(detections)))
        prefix = f"s3://artifacts/{match_id}/{clip_id}"
        return DetectionArtifacts(f"{prefix}/frame_{detections.frame_index}.jpg", f"{prefix}/detections.json")

    def publish_output(self, path: str, key: str) -> str:
        return self.storage.put("outputs", key, Path(path).read_bytes()).uri


KEYFRAME_EVERY = 10
"""The fake reader's keyframes: every 10th frame."""


class FakeVideoReader(VideoReader):
    """A "path" is the frame count as text ("120", or "120@50" for 50 fps; 25 by default), or a
    file holding it; anything else is not a video. `read` keeps the (step, size) of each `frames`."""

    def __init__(self) -> None:
        self.read: list[tuple[int, tuple[int, int] | None]] = []

    def probe(self, path: str) -> VideoInfo:
        text = Path(path).read_text(errors="replace") if Path(path).is_file() else path
        count, _, rate = text.strip().partition("@")
        if not count.isdigit() or not (rate or "25").isdigit():
            raise InvalidVideo(f"{Path(path).name if Path(path).is_file() else path!r} is not a video")
        frames, fps = int(count), float(rate or 25)
        return VideoInfo(64, 36, fps, frames, frames / fps, "h264")

    def frame(self, path: str, index: int) -> Any:
        if index >= self.probe(path).frames:
            raise InvalidVideo(f"frame {index} is out of range")
        return index

    def frames(
        self,
        path: str,
        span: FrameSpan | None = None,
        *,
        step: int = 1,
        size: tuple[int, int] | None = None,
    ) -> Iterator[tuple[int, Any]]:
        self.read.append((step, size))
        frames = self.probe(path).frames
        span = span or FrameSpan(0, frames)
        if span.stop > frames:
            raise InvalidVideo(f"frames {span.start}..{span.stop - 1} are not in the {frames}")
        for index in range(span.start, span.stop):
            if is_tracked(index, span.start, span.stop, step):
                yield index, index

    def keyframes(self, path: str) -> list[int]:
        return list(range(0, self.probe(path).frames, KEYFRAME_EVERY))

    def span(self, path: str, start: int, stop: int) -> FrameSpan:
        return FrameSpan(start, stop)


class FakeDetectionModel(DetectionModel):
    """Two people per frame, walking right one pixel a frame (at x = frame index and 20 px on).
    An image that is a frame index (FakeVideoReader's) places them by it, so frames read with a
    step are placed where they are; frames are numbered from `first_index` on, as a real model
    numbers a batch."""

    def detect(self, images: Sequence[Any], first_index: int = 0) -> list[FrameDetections]:
        found = []
        for number, image in enumerate(images, start=first_index):
            x = image if isinstance(image, int) else number
            found.append(
                FrameDetections(number, [[x, 0, x + 5, 10], [x + 20, 0, x + 25, 10]], [0.9, 0.8], [0, 0])
            )
        return found


class FakeTracker(MultiObjectTracker):
    def update(self, detections: FrameDetections, image: Any) -> FrameTracks:
        return FrameTracks(detections.frame_index, [1, 2], detections.boxes, detections.confidences)


class FakeTrajectoryStore(TrajectoryStore):
    def __init__(self) -> None:
        self.staged: dict[str, list[FrameTracks]] = {}
        self.pitch_reasons: dict[str, str | None] = {}
        self.pitch_sources: dict[str, str | None] = {}
        self.published: dict[str, list[FrameTracks]] = {}
        self.down = False

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
        uri = f"s3://artifacts/staging/tracks/{job_id}/{name}.parquet"
        self.staged[uri] = [frame for frame in tracks if len(frame)]
        self.pitch_reasons[uri] = noted(pitch_reason)
        self.pitch_sources[uri] = noted(pitch_source)
        return uri

    def publish(self, staged_uri: str, match_id: str, clip_id: str) -> TrajectoryRef:
        if self.down:
            raise ServiceUnavailable("object storage unavailable after 3 attempts")
        if staged_uri not in self.staged:
            raise ObjectNotFound(f"{staged_uri} does not exist")
        uri = f"s3://tracking-data/tracking/{match_id}/{clip_id}/trajectories.parquet"
        self.published[uri] = self.staged[staged_uri]
        self.pitch_reasons[uri] = self.pitch_reasons.get(staged_uri)
        return TrajectoryRef(uri, sum(len(t) for t in self.staged[staged_uri]), 1)

    def tracks(self, uri: str, track_ids: Collection[int] | None = None) -> list[FrameTracks]:
        found = self.published.get(uri, self.staged.get(uri))
        if found is None:
            raise ObjectNotFound(f"{uri} does not exist")
        if track_ids is None:
            return found
        wanted = {int(track_id) for track_id in track_ids}
        kept = []
        for frame in found:
            rows = [row for row, track_id in enumerate(frame.track_ids) if int(track_id) in wanted]
            if rows:
                kept.append(_rows_of(frame, rows))
        return kept

    def pitch_reason(self, uri: str) -> str | None:
        if uri not in self.published and uri not in self.staged:
            raise ObjectNotFound(f"{uri} does not exist")
        return self.pitch_reasons.get(uri)


def _rows_of(frame: FrameTracks, rows: list[int]) -> FrameTracks:
    def pick(column: Sequence[Any] | None) -> list[Any] | None:
        return None if column is None else [column[row] for row in rows]

    return dataclasses.replace(
        frame,
        track_ids=[frame.track_ids[row] for row in rows],
        boxes=[frame.boxes[row] for row in rows],
        confidences=[frame.confidences[row] for row in rows],
        on_pitch=pick(frame.on_pitch),
        teams=pick(frame.teams),
        pitch_xy=pick(frame.pitch_xy),
    )


class SameBoxLook(BoxAppearance):
    """Every box looks alike (the fake frames are numbers, not images): stitching relies on IoU."""

    def describe_boxes(self, image: Any, boxes: Sequence[BoundingBox]) -> list[Appearance | None]:
        return [1.0 for _ in boxes]

    def similarity(self, first: Appearance, second: Appearance) -> float:
        return 1.0

    def mean(self, looks: Sequence[Appearance]) -> Appearance:
        return 1.0

    def encode(self, look: Appearance) -> list[float]:
        return [float(look)]

    def decode(self, numbers: Sequence[float]) -> Appearance:
        return numbers[0]


class SameLook(AppearanceEncoder):
    """Everyone looks alike: following relies on motion alone."""

    def describe(self, sightings: Sequence[Sighting]) -> list[Appearance | None]:
        return [1.0 for _ in sightings]

    def similarity(self, first: Appearance, second: Appearance) -> float:
        return 1.0


class FakeIndicatorRenderer(IndicatorRenderer):
    """Writes a small text file naming the marked frames; remembers what it was asked (`calls`,
    and the minimap's positions of each call in `minimaps`)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[TrackingFrame], Indicator, RenderPreset]] = []
        self.minimaps: list[list[PitchPositions] | None] = []
        self.fail_with: Exception | None = None

    def render(
        self,
        source: str,
        target: str,
        followed: Sequence[TrackingFrame],
        indicator: Indicator,
        preset: RenderPreset,
        on_progress: ProgressCallback | None = None,
        minimap: Sequence[PitchPositions] | None = None,
    ) -> RenderedVideo:
        if self.fail_with is not None:
            raise self.fail_with
        frames = list(followed)
        self.calls.append((frames, indicator, preset))
        self.minimaps.append(None if minimap is None else list(minimap))
        marked = [f.frame_index for f in frames if not f.lost and f.box is not None]
        for done in range(1, len(frames) + 1):
            if on_progress is not None:
                on_progress(done, len(frames))
        Path(target).write_text(f"{indicator.value} on {marked}")
        width, height = preset.output_size(64, 36)
        mapped = sum(1 for p in minimap or () if p.calibrated)
        return RenderedVideo(
            target,
            width,
            height,
            preset.output_fps(25.0),
            len(frames),
            len(frames),
            len(marked),
            False,
            mapped,
        )


class FakePitchArea(PitchArea):
    """Everybody whose box starts at x >= 0 stands on the pitch (a box reaching past the frame's
    left edge is somebody on the touchline)."""

    def on_pitch(self, image: Any, boxes: Sequence[Sequence[float]]) -> list[bool]:
        return [float(box[0]) >= 0 for box in boxes]


class FakeTeams(TeamClassifier):
    """Odd track ids play in white, even ones in green."""

    def __init__(self) -> None:
        self.seen: dict[int, list[int]] = {}

    def observe(
        self,
        frame_index: int,
        image: Any,
        track_ids: Sequence[int],
        boxes: Sequence[Sequence[float]],
        on_pitch: Sequence[bool],
    ) -> None:
        for track_id, inside in zip(track_ids, on_pitch, strict=True):
            if inside:
                self.seen.setdefault(int(track_id), []).append(frame_index)

    def teams(self) -> Teams:
        runs = {
            track: (TeamRun(min(frames), max(frames), "white" if track % 2 else "green"),)
            for track, frames in self.seen.items()
        }
        return Teams(("white", "green"), runs)


class StillCamera(PitchCamera):
    """A camera that never moves, with no cuts and no pitch lines to re-anchor on; its frames are
    `SIZE` (width, height)."""

    SIZE = (64, 36)

    def observe(self, frame_index: int, image: Any, boxes: Sequence[Sequence[float]]) -> CameraView:
        return CameraView(frame_index, *self.SIZE, Homography.identity(), None)

    def cuts(self) -> list[int]:
        return []

    def reanchor(self, view: CameraView, guess: Homography) -> Homography | None:
        return None

    def calibrate(self, view: CameraView) -> Homography | None:
        return None
