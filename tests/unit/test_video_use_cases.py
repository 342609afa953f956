"""The video use cases (detect -> track -> persist trajectories) against fakes."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from pitchlens.application.clip_detector import ClipDetector, clip_id_for
from pitchlens.application.clip_tracker import ClipTracker, track_frames
from pitchlens.application.outcomes import Outcome
from pitchlens.application.trajectory_persister import TrajectoryPersister
from pitchlens.domain.errors import ServiceUnavailable
from pitchlens.domain.jobs import JobStatus
from pitchlens.domain.messages import Delivery, ObjectCreated, PlayersDetected, VideoProcessed
from pitchlens.domain.vision import ClipStatus, FrameDetections, FrameTracks
from tests.fakes.adapters import FakeClock, FakeDatabase, FakeObjectStorage, FakePublisher, FakeUnitOfWork
from tests.fakes.vision import (
    FakeDetectionModel,
    FakeTracker,
    FakeTrajectoryStore,
    FakeVideoReader,
    FakeVideoStore,
)

pytestmark = pytest.mark.unit


@dataclass
class Pipeline:
    database: FakeDatabase
    storage: FakeObjectStorage
    publisher: FakePublisher
    trajectories: FakeTrajectoryStore
    detector: ClipDetector
    tracker: ClipTracker
    persister: TrajectoryPersister

    def upload(self, key: str, data: bytes) -> ObjectCreated:
        stored = self.storage.put("videos", key, data, metadata={"correlation-id": "corr-v"})
        return ObjectCreated("videos", key, stored.size, stored.etag)

    def run(self, created: ObjectCreated) -> None:
        """Delivers every message the pipeline emits, as the queues would."""
        self.detector.execute(created, Delivery("n", "n-1"))
        while self.publisher.sent:
            message, correlation_id, key = self.publisher.sent.pop(0)
            if isinstance(message, PlayersDetected):
                self.tracker.execute(message, Delivery(correlation_id, key))
            elif isinstance(message, VideoProcessed):
                self.persister.execute(message, Delivery(correlation_id, key))

    def only_job(self) -> object:
        [job] = self.database.jobs.values()
        return job


@pytest.fixture
def pipeline() -> Pipeline:
    database, storage, publisher, clock = FakeDatabase(), FakeObjectStorage(), FakePublisher(), FakeClock()
    uow = lambda: FakeUnitOfWork(database)  # noqa: E731
    videos, reader, model, trajectories = (
        FakeVideoStore(storage),
        FakeVideoReader(),
        FakeDetectionModel(),
        FakeTrajectoryStore(),
    )
    return Pipeline(
        database,
        storage,
        publisher,
        trajectories,
        ClipDetector(uow, storage, videos, reader, model, publisher, clock),
        ClipTracker(
            uow,
            videos,
            reader,
            model,
            lambda fps: FakeTracker(),
            trajectories,
            publisher,
            clock,
            batch_size=4,
        ),
        TrajectoryPersister(uow, trajectories, clock),
    )


def test_an_uploaded_video_is_detected_tracked_and_persisted(pipeline: Pipeline) -> None:
    pipeline.run(pipeline.upload("m1/first half.mp4", b"10"))
    job = pipeline.only_job()
    assert job.status is JobStatus.SUCCEEDED and job.correlation_id == "corr-v"  # type: ignore[attr-defined]
    assert job.counts == {"detections": 2, "frames": 10, "frames_done": 10, "tracks": 2, "rows": 20}  # type: ignore[attr-defined]
    assert job.progress == 1.0  # type: ignore[attr-defined]
    [clip] = pipeline.database.clips.values()
    assert clip.status is ClipStatus.PERSISTED and clip.match_id == "m1"
    assert clip.clip_id.startswith("first-half-")
    assert job.outputs == {  # type: ignore[attr-defined]
        "clip_id": clip.clip_id,
        "frame_uri": f"s3://artifacts/m1/{clip.clip_id}/frame_0.jpg",
        "detections_uri": f"s3://artifacts/m1/{clip.clip_id}/detections.json",
        "trajectories_uri": f"s3://tracking-data/tracking/m1/{clip.clip_id}/trajectories.parquet",
    }


@pytest.mark.parametrize("key", ["m1/notes.txt", "m1/data.json", "loose.mp4", "a/b/c.mp4"])
def test_non_video_keys_are_skipped(pipeline: Pipeline, key: str) -> None:
    assert (
        pipeline.detector.execute(pipeline.upload(key, b"5"), Delivery("c", "n")).outcome is Outcome.SKIPPED
    )
    assert not pipeline.database.jobs and not pipeline.publisher.sent


def test_an_unreadable_video_fails_the_job_and_the_clip_with_the_reason(pipeline: Pipeline) -> None:
    created = pipeline.upload("m1/broken.mp4", b"this is text")
    result = pipeline.detector.execute(created, Delivery("c", "n"))
    assert result.outcome is Outcome.FAILED
    job = pipeline.only_job()
    assert job.status is JobStatus.FAILED and "not a video" in job.reason  # type: ignore[attr-defined]
    [clip] = pipeline.database.clips.values()
    assert clip.status is ClipStatus.FAILED and "not a video" in (clip.reason or "")
    assert pipeline.detector.execute(created, Delivery("c", "n")).outcome is Outcome.DUPLICATE


def test_the_same_upload_notification_twice_is_one_job(pipeline: Pipeline) -> None:
    created = pipeline.upload("m1/a.mp4", b"3")
    outcomes = [pipeline.detector.execute(created, Delivery("c", f"n-{i}")).outcome for i in range(2)]
    assert outcomes == [Outcome.DONE, Outcome.DUPLICATE] and len(pipeline.publisher.sent) == 1


def test_two_clips_of_one_match_get_different_ids() -> None:
    assert clip_id_for("m1/a.mp4", "e1") != clip_id_for("m1/a.mp4", "e2") != clip_id_for("m1/b.mp4", "e1")


def test_storage_down_fails_the_job_and_keeps_the_message_for_retry(pipeline: Pipeline) -> None:
    pipeline.detector.execute(pipeline.upload("m1/a.mp4", b"4"), Delivery("c", "n"))
    detected, correlation_id, key = pipeline.publisher.sent.pop()
    pipeline.tracker.execute(detected, Delivery(correlation_id, key))  # type: ignore[arg-type]
    processed, correlation_id, key = pipeline.publisher.sent.pop()
    pipeline.trajectories.down = True
    with pytest.raises(ServiceUnavailable):
        pipeline.persister.execute(processed, Delivery(correlation_id, key))  # type: ignore[arg-type]
    job = pipeline.only_job()
    assert job.status is JobStatus.FAILED and "unavailable" in job.reason  # type: ignore[attr-defined]
    pipeline.trajectories.down = False  # the message comes back from the queue
    assert pipeline.persister.execute(processed, Delivery(correlation_id, key)).outcome is Outcome.DONE  # type: ignore[arg-type]
    assert pipeline.only_job().status is JobStatus.SUCCEEDED  # type: ignore[attr-defined]


def test_tracking_reports_progress_frame_by_frame(pipeline: Pipeline) -> None:
    pipeline.detector.execute(pipeline.upload("m1/long.mp4", b"120"), Delivery("c", "n"))
    detected, correlation_id, key = pipeline.publisher.sent.pop()
    seen: list[float] = []
    original = pipeline.tracker._report

    def spy(job_id: str, done: int, total: int) -> None:
        original(job_id, done, total)
        seen.append(pipeline.only_job().progress)  # type: ignore[attr-defined]

    pipeline.tracker._report = spy  # type: ignore[method-assign]
    pipeline.tracker.execute(detected, Delivery(correlation_id, key))  # type: ignore[arg-type]
    assert seen and seen == sorted(seen) and 0.1 < seen[0] < seen[-1] <= 0.9


class _Frames:
    """Frames 0..n-1 whose "image" is the index, counting how many were pulled."""

    def __init__(self, count: int) -> None:
        self.count, self.pulled = count, 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in range(self.count):
            self.pulled += 1
            yield index, index


def test_track_frames_tracks_every_frame_in_order_and_reports_progress() -> None:
    seen: list[int] = []

    class RecordingTracker(FakeTracker):
        def update(self, detections: FrameDetections, image: Any) -> FrameTracks:
            assert image == detections.frame_index  # each frame's own detections
            seen.append(image)
            return super().update(detections, image)

    progress: list[int] = []
    tracks = track_frames(_Frames(125), FakeDetectionModel(), RecordingTracker(), 8, progress.append)

    assert [t.frame_index for t in tracks] == seen == list(range(125))
    # Frames done, once per PROGRESS_EVERY (50) frames, at the end of the batch that crossed it.
    assert progress == [56, 104]


def test_track_frames_detects_the_next_batch_while_tracking_this_one() -> None:
    """Batch 2's detection waits until batch 1 is being tracked: run one after the other, this
    would time out instead."""
    tracking_started = threading.Event()

    class WaitingModel(FakeDetectionModel):
        def detect(self, images: Sequence[Any], first_index: int = 0) -> list[FrameDetections]:
            if first_index == 4:
                assert tracking_started.wait(timeout=10), "batch 2 was not detected during tracking"
            return super().detect(images, first_index)

    class SlowTracker(FakeTracker):
        def update(self, detections: FrameDetections, image: Any) -> FrameTracks:
            tracking_started.set()
            return super().update(detections, image)

    tracks = track_frames(_Frames(8), WaitingModel(), SlowTracker(), 4)

    assert [t.frame_index for t in tracks] == list(range(8))


def test_track_frames_stops_at_a_detection_error_with_the_error() -> None:
    class BrokenModel(FakeDetectionModel):
        def detect(self, images: Sequence[Any], first_index: int = 0) -> list[FrameDetections]:
            if first_index >= 8:
                raise RuntimeError("inference failed on frame 8")
            return super().detect(images, first_index)

    frames = _Frames(100)
    with pytest.raises(RuntimeError, match="frame 8"):
        track_frames(frames, BrokenModel(), FakeTracker(), 4)
    assert frames.pulled <= 16  # stopped reading the clip: at most one batch past the failure
