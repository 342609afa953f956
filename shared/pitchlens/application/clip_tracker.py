from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import Any

from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.jobs import JobStage
from pitchlens.domain.messages import Delivery, PlayersDetected, VideoProcessed
from pitchlens.domain.ports import Clock, MessagePublisher, UnitOfWork
from pitchlens.domain.vision import (
    ClipStatus,
    DetectionModel,
    FrameDetections,
    FrameTracks,
    MultiObjectTracker,
    TrajectoryStore,
    VideoReader,
    VideoStore,
)

PROGRESS_EVERY = 50  # frames between progress updates of the job


class ClipTracker:
    """Detects and tracks every person through a whole clip (multi-object tracking), stages
    the tracks (claim check) and emits `VideoProcessed`. Decoding runs ahead of inference;
    frames are processed in batches and never all held in memory."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        videos: VideoStore,
        reader: VideoReader,
        model: DetectionModel,
        tracker_factory: Callable[[float], MultiObjectTracker],
        trajectories: TrajectoryStore,
        publisher: MessagePublisher,
        clock: Clock,
        batch_size: int = 8,
    ) -> None:
        self._uow = unit_of_work
        self._videos = videos
        self._reader = reader
        self._model = model
        self._tracker_factory = tracker_factory
        self._trajectories = trajectories
        self._publisher = publisher
        self._clock = clock
        self._batch_size = batch_size
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, message: PlayersDetected, delivery: Delivery) -> Result:
        with self._videos.local_copy(message.video_uri) as path:
            info = self._reader.probe(path)
            tracks = track_frames(
                self._reader.frames(path),
                self._model,
                self._tracker_factory(info.fps),
                self._batch_size,
                on_progress=lambda done: self._report(message.job_id, done, info.frames),
            )
        track_ids = {int(i) for frame in tracks for i in frame.track_ids}
        staged = self._trajectories.stage(message.job_id, message.match_id, message.clip_id, info.fps, tracks)
        self._publisher.publish(
            VideoProcessed(
                job_id=message.job_id,
                clip_id=message.clip_id,
                match_id=message.match_id,
                tracks_uri=staged,
                frames=len(tracks),
                tracks=len(track_ids),
                fps=info.fps,
            ),
            correlation_id=delivery.correlation_id,
            idempotency_key=f"{message.job_id}:processed",
        )
        now = self._clock.now()
        counts = {"frames": len(tracks), "frames_done": len(tracks), "tracks": len(track_ids)}
        with self._uow() as uow:
            clip = uow.clips.get(message.clip_id)
            uow.clips.update(
                dataclasses.replace(
                    clip,
                    status=clip.status.then(ClipStatus.TRACKED),
                    tracks_uri=staged,
                    counts={**clip.counts, **counts},
                    updated_at=now,
                )
            )
            job = uow.jobs.get(message.job_id)
            if not job.status.terminal:
                uow.jobs.update(
                    dataclasses.replace(
                        job.running(JobStage.PERSISTING, now), counts={**job.counts, **counts}
                    )
                )
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "video", counts=counts)

    def _report(self, job_id: str, done: int, total: int) -> None:
        self._jobs.count(job_id, frames=total, frames_done=done)


def track_frames(
    frames: Iterable[tuple[int, Any]],
    model: DetectionModel,
    tracker: MultiObjectTracker,
    batch_size: int,
    on_progress: Callable[[int], None] | None = None,
) -> list[FrameTracks]:
    """Detection in batches, then tracking frame by frame, over a clip's (index, image) frames;
    `on_progress(frames_done)` about every PROGRESS_EVERY frames. The tracking loop of the track
    function, also what the benchmark measures.

    Detection of the next batch runs on a worker thread while this one tracks the last batch, so
    the tracker's own work (camera-motion compensation, matching) overlaps inference instead of
    leaving cores idle; at most two batches of frames are held."""
    tracks: list[FrameTracks] = []

    def track(batch: list[tuple[int, Any]], detections: list[FrameDetections]) -> None:
        tracks.extend(
            tracker.update(found, image) for found, (_, image) in zip(detections, batch, strict=True)
        )
        if on_progress is not None and len(tracks) % PROGRESS_EVERY < len(batch):
            on_progress(len(tracks))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="detect") as detector:
        pending: tuple[list[tuple[int, Any]], Future[list[FrameDetections]]] | None = None
        for batch in _batches(frames, batch_size):
            detecting = detector.submit(model.detect, [image for _, image in batch], batch[0][0])
            if pending is not None:
                track(pending[0], pending[1].result())
            pending = (batch, detecting)
        if pending is not None:
            track(pending[0], pending[1].result())
    return tracks


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of `size` items (the last one shorter), pulled lazily."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
