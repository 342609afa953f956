"""The video use cases (register -> detect -> track -> persist trajectories) in their message
pipelines, against fakes."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from pitchlens.application.clip_registerer import clip_id_for
from pitchlens.application.clip_tracker import track_frames
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.errors import ServiceUnavailable
from pitchlens.domain.jobs import Job, JobKind, JobStatus
from pitchlens.domain.messages import (
    DetectionRequested,
    SegmentTrackingRequested,
    VideoProcessed,
    VideoUploaded,
)
from pitchlens.domain.vision import ClipStatus, FrameDetections, FrameTracks
from tests.fakes.system import FakeSystem
from tests.fakes.vision import FakeDetectionModel, FakeTracker

pytestmark = pytest.mark.unit


class Pipeline(FakeSystem):
    def upload(self, key: str, data: bytes, **metadata: str) -> VideoUploaded:
        stored = self.storage.put("videos", key, data, metadata={"correlation-id": "corr-v", **metadata})
        return VideoUploaded("videos", key, stored.size, stored.etag)

    def run(self, created: VideoUploaded) -> None:
        """Delivers the upload, then every message the pipeline emits, as the queues would."""
        self.deliver(created)
        self.drain()


def outcomes(results: list[Result]) -> list[Outcome]:
    return [result.outcome for result in results]


@pytest.fixture
def pipeline() -> Pipeline:
    return Pipeline()


def test_an_uploaded_video_is_detected_tracked_and_persisted(pipeline: Pipeline) -> None:
    pipeline.run(pipeline.upload("m1/first half.mp4", b"10"))
    job = pipeline.job()
    assert job.status is JobStatus.SUCCEEDED and job.correlation_id == "corr-v"
    assert job.counts == {
        "detections": 2,
        "frames": 10,
        "frames_done": 10,
        "tracks": 2,
        "rows": 20,
        "segments": 1,
        "segments_done": 1,
    }
    assert job.progress == 1.0
    [clip] = pipeline.database.clips.values()
    assert clip.status is ClipStatus.PERSISTED and clip.match_id == "m1"
    assert clip.clip_id.startswith("first-half-")
    assert job.outputs == {
        "clip_id": clip.clip_id,
        "frame_uri": f"s3://artifacts/m1/{clip.clip_id}/frame_0.jpg",
        "detections_uri": f"s3://artifacts/m1/{clip.clip_id}/detections.json",
        "trajectories_uri": f"s3://tracking-data/tracking/m1/{clip.clip_id}/trajectories.parquet",
    }


@pytest.mark.parametrize("key", ["m1/notes.txt", "m1/data.json", "loose.mp4", "a/b/c.mp4"])
def test_non_video_keys_are_skipped_with_the_reason(pipeline: Pipeline, key: str) -> None:
    [result] = pipeline.deliver(pipeline.upload(key, b"5"))
    assert result.outcome is Outcome.SKIPPED and key in (result.detail or "")
    assert not pipeline.database.jobs and not pipeline.publisher.sent


def test_a_skipped_upload_fails_the_job_its_uploader_named(pipeline: Pipeline) -> None:
    now = pipeline.clock.now()
    pipeline.database.jobs["j-1"] = Job("j-1", JobKind.PROCESS, "video", "m1", "corr-v", now, now)
    [result] = pipeline.deliver(pipeline.upload("m1/notes.txt", b"5", **{"job-id": "j-1"}))
    assert result.outcome is Outcome.SKIPPED
    failed = pipeline.job("j-1")
    assert failed.status is JobStatus.FAILED and "not a video file name" in (failed.reason or "")


def test_an_unreadable_video_fails_the_job_and_the_clip_with_the_reason(pipeline: Pipeline) -> None:
    created = pipeline.upload("m1/broken.mp4", b"this is text")
    assert outcomes(pipeline.deliver(created)) == [Outcome.DONE, Outcome.FAILED]
    job = pipeline.job()
    assert job.status is JobStatus.FAILED and "not a video" in (job.reason or "")
    [clip] = pipeline.database.clips.values()
    assert clip.status is ClipStatus.FAILED and "not a video" in (clip.reason or "")
    assert outcomes(pipeline.deliver(created)) == [Outcome.DONE, Outcome.DUPLICATE]


def test_the_same_upload_notification_twice_is_one_job(pipeline: Pipeline) -> None:
    created = pipeline.upload("m1/a.mp4", b"3")
    handled = [outcomes(pipeline.deliver(created, f"n-{i}")) for i in range(2)]
    assert handled == [[Outcome.DONE, Outcome.DONE], [Outcome.DONE, Outcome.DUPLICATE]]
    assert len(pipeline.publisher.sent) == 1 and len(pipeline.database.jobs) == 1


def test_a_notification_redelivered_while_the_job_runs_leaves_it_as_it_is(pipeline: Pipeline) -> None:
    created = pipeline.upload("m1/a.mp4", b"3")
    pipeline.deliver(created, "n-1")
    before = pipeline.job()
    assert before.stage.value == "tracking" and "frame_uri" in before.outputs
    assert outcomes(pipeline.deliver(created, "n-2")) == [Outcome.DONE, Outcome.DUPLICATE]
    assert pipeline.job() == before  # neither its stage nor what it produced went back


@pytest.mark.parametrize(
    ("now", "reached", "expected"),
    [
        (ClipStatus.UPLOADED, ClipStatus.DETECTED, ClipStatus.DETECTED),
        (ClipStatus.PERSISTED, ClipStatus.DETECTED, ClipStatus.PERSISTED),
        (ClipStatus.PERSISTED, ClipStatus.TRACKED, ClipStatus.PERSISTED),
        (ClipStatus.TRACKED, ClipStatus.PERSISTED, ClipStatus.PERSISTED),
        (ClipStatus.FAILED, ClipStatus.DETECTED, ClipStatus.DETECTED),
    ],
)
def test_a_clip_only_moves_forward(now: ClipStatus, reached: ClipStatus, expected: ClipStatus) -> None:
    assert now.then(reached) is expected


def test_detection_run_again_on_a_processed_clip_leaves_it_processed(pipeline: Pipeline) -> None:
    pipeline.run(pipeline.upload("m1/a.mp4", b"3"))
    [clip] = pipeline.database.clips.values()
    again = DetectionRequested(pipeline.job().job_id, clip.clip_id, "m1", clip.video_uri)
    assert outcomes(pipeline.deliver(again, "replay-1")) == [Outcome.DONE]
    assert pipeline.database.clips[clip.clip_id].status is ClipStatus.PERSISTED
    assert pipeline.job().status is JobStatus.SUCCEEDED


def test_two_clips_of_one_match_get_different_ids() -> None:
    assert clip_id_for("m1/a.mp4", "e1") != clip_id_for("m1/a.mp4", "e2") != clip_id_for("m1/b.mp4", "e1")


def test_storage_down_keeps_the_message_for_retry_and_fails_the_job_on_the_last_one(
    pipeline: Pipeline,
) -> None:
    pipeline.deliver(pipeline.upload("m1/a.mp4", b"4"))
    pipeline.drain(until=VideoProcessed)
    [(processed, _, key)] = pipeline.publisher.sent
    pipeline.trajectories.down = True
    for attempt in (1, 2):
        with pytest.raises(ServiceUnavailable):
            pipeline.deliver(processed, key, attempt)
        assert pipeline.job().status is JobStatus.RUNNING
    with pytest.raises(ServiceUnavailable):
        pipeline.deliver(processed, key, 3)
    job = pipeline.job()
    assert job.status is JobStatus.FAILED and "gave up after 3 attempts" in (job.reason or "")
    assert pipeline.database.clips[job.outputs["clip_id"]].status is ClipStatus.FAILED
    pipeline.trajectories.down = False  # the dead letter is re-driven
    assert outcomes(pipeline.deliver(processed, key)) == [Outcome.DONE]
    assert pipeline.job().status is JobStatus.SUCCEEDED


def test_tracking_reports_progress_frame_by_frame(pipeline: Pipeline) -> None:
    pipeline.deliver(pipeline.upload("m1/long.mp4", b"120"))
    pipeline.drain(until=SegmentTrackingRequested)
    [(segment, _, key)] = pipeline.publisher.sent
    assert isinstance(segment, SegmentTrackingRequested)
    seen: list[float] = []
    tracker = pipeline.segment_tracker
    original = tracker._report

    def spy(message: SegmentTrackingRequested, done: int) -> None:
        original(message, done)
        seen.append(pipeline.job().progress)

    tracker._report = spy  # type: ignore[method-assign]
    pipeline.deliver(segment, key)
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


class _SkippingFrames:
    """Frames of 0..n-1 as a reader hands them out at `step` (the grid plus the last frame)."""

    def __init__(self, count: int, step: int) -> None:
        self.count, self.step = count, step

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for index in range(self.count):
            if index % self.step == 0 or index == self.count - 1:
                yield index, index


class _WalkingPeople(FakeDetectionModel):
    """Two people walking right two pixels a frame, placed by the frame's own index (the image)."""

    def detect(self, images: Sequence[Any], first_index: int = 0) -> list[FrameDetections]:
        return [
            FrameDetections(
                first_index + offset,
                [[2 * i, 0, 2 * i + 5, 10], [2 * i + 20, 0, 2 * i + 25, 10]],
                [0.9, 0.8],
                [0, 0],
            )
            for offset, i in enumerate(images)
        ]


def test_track_frames_fills_the_frames_a_step_skipped_by_interpolation() -> None:
    updates: list[int] = []
    seen: list[int] = []

    class CountingTracker(FakeTracker):
        def update(self, detections: FrameDetections, image: Any) -> FrameTracks:
            assert detections.frame_index == image  # numbered by the frame, not by batch position
            updates.append(image)
            return super().update(detections, image)

    progress: list[int] = []
    tracks = track_frames(
        _SkippingFrames(125, 3),
        _WalkingPeople(),
        CountingTracker(),
        8,
        progress.append,
        on_frame=lambda index, image, found: seen.append(index),
    )

    assert updates == seen == [*range(0, 125, 3), 124]
    assert [t.frame_index for t in tracks] == list(range(125))
    for frame in tracks:  # every frame, tracked or not, has both people where they walked
        assert list(frame.track_ids) == [1, 2]
        assert [float(v) for v in frame.boxes[0]] == pytest.approx(
            [2 * frame.frame_index, 0, 2 * frame.frame_index + 5, 10]
        )
    assert progress == [70, 118]  # frames done (interpolated ones too), at the end of a batch


def test_track_frames_returns_boxes_in_source_pixels_when_images_are_smaller() -> None:
    found: list[FrameTracks] = []
    tracks = track_frames(
        _Frames(4),
        _WalkingPeople(),
        FakeTracker(),
        8,
        on_frame=lambda index, image, t: found.append(t),
        scale=(3.0, 2.0),
    )

    assert [float(v) for v in found[1].boxes[0]] == [2, 0, 7, 10]  # the image's pixels
    assert [float(v) for v in tracks[1].boxes[0]] == [6, 0, 21, 20]  # the source's
    assert [float(v) for v in tracks[3].boxes[1]] == [78, 0, 93, 20]


class _HalfSizeModel(FakeDetectionModel):
    """A model that uses frames at half their size: two people standing still in each image."""

    def frame_size(self, width: int, height: int) -> tuple[int, int]:
        return width // 2, height // 2

    def detect(self, images: Sequence[Any], first_index: int = 0) -> list[FrameDetections]:
        return [
            FrameDetections(first_index + i, [[10, 4, 14, 12], [20, 4, 24, 12]], [0.9, 0.8], [0, 0])
            for i in range(len(images))
        ]


@pytest.mark.parametrize(
    ("video", "read", "tracker_fps"), [(b"11@50", (2, (32, 18)), 25.0), (b"11", (1, (32, 18)), 25.0)]
)
def test_tracking_reads_at_most_30_frames_a_second_at_the_models_size_and_keeps_every_frame(
    video: bytes, read: tuple[int, tuple[int, int]], tracker_fps: float
) -> None:
    pipeline = Pipeline(tracking_max_fps=30)
    pipeline.tracking_model = _HalfSizeModel()
    rates: list[float] = []
    pipeline.tracker = lambda fps: rates.append(fps) or FakeTracker()  # type: ignore[method-assign]

    pipeline.run(pipeline.upload("m1/fast.mp4", video))

    assert pipeline.job().status is JobStatus.SUCCEEDED
    assert pipeline.video_reader.read == [read]  # a 50 fps video: every second frame
    assert rates == [tracker_fps]  # the tracker is told the rate it sees
    [tracks] = pipeline.trajectories.published.values()
    assert [t.frame_index for t in tracks] == list(range(11))  # every frame, skipped ones interpolated
    assert all([float(v) for v in t.boxes[1]] == [40, 8, 48, 24] for t in tracks)  # source pixels
