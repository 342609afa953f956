from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid
from collections.abc import Callable
from pathlib import PurePosixPath

from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.errors import PermanentError
from pitchlens.domain.jobs import Job, JobStage, JobStatus
from pitchlens.domain.messages import Delivery, ObjectCreated, PlayersDetected
from pitchlens.domain.ports import Clock, MessagePublisher, ObjectStorage, UnitOfWork
from pitchlens.domain.vision import Clip, ClipStatus, DetectionModel, VideoReader, VideoStore

CONSUMER = "detect"
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts"})
JOB_NAMESPACE = uuid.UUID("0b8f7e1c-6a2d-4c1e-9f3a-2d7c5e8b1a44")


def clip_id_for(key: str, etag: str) -> str:
    """Readable and unique: the file's stem plus a hash of the object version."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", PurePosixPath(key).stem).strip("-").lower() or "clip"
    return f"{stem[:40]}-{hashlib.sha256(f'{key}@{etag}'.encode()).hexdigest()[:8]}"


class ClipDetector:
    """A video uploaded to `videos/<match_id>/<file>` becomes a Clip: its detection frame is
    decoded, people are detected, the frame and detections are written as artifacts, and
    `PlayersDetected` is emitted. Unreadable videos fail the job with the reason."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        videos: VideoStore,
        reader: VideoReader,
        model: DetectionModel,
        publisher: MessagePublisher,
        clock: Clock,
    ) -> None:
        self._uow = unit_of_work
        self._storage = storage
        self._videos = videos
        self._reader = reader
        self._model = model
        self._publisher = publisher
        self._clock = clock
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, created: ObjectCreated, delivery: Delivery) -> Result:
        parts = created.key.split("/")
        if len(parts) != 2 or not all(parts):
            return Result(Outcome.SKIPPED, detail=f"{created.key}: not a <match_id>/<file> key")
        if PurePosixPath(created.key).suffix.lower() not in VIDEO_SUFFIXES:
            return Result(Outcome.SKIPPED, detail=f"{created.key}: not a video file name; ignored")
        match_id = parts[0]
        uploaded = self._storage.head(created.bucket, created.key)
        correlation_id = uploaded.metadata.get("correlation-id") or delivery.correlation_id
        frame_index = int(uploaded.metadata.get("detection-frame", "0") or 0)
        uploader = uploaded.metadata.get("correlation-id", "")
        version = f"s3://{created.bucket}/{created.key}@{uploaded.etag}:{uploader}"
        key = f"video:{version}"
        traced = Delivery(correlation_id, key, delivery.attempt, delivery.max_attempts)
        with self._uow() as uow:
            if uow.inbox.seen(CONSUMER, key):
                return Result(Outcome.DUPLICATE, detail=created.key, correlation_id=correlation_id)
        now = self._clock.now()
        clip = Clip(
            clip_id=clip_id_for(created.key, uploaded.etag),
            match_id=match_id,
            video_uri=f"s3://{created.bucket}/{created.key}",
            status=ClipStatus.UPLOADED,
            created_at=now,
            updated_at=now,
            detection_frame=frame_index,
        )
        job = Job(
            str(uuid.uuid5(JOB_NAMESPACE, version)), "process", "video", match_id, correlation_id, now, now
        )
        with self._uow() as uow:
            uow.jobs.add(job)
            uow.clips.add(clip)
            job = uow.jobs.get(job.job_id)
            clip = uow.clips.get(clip.clip_id)
            uow.commit()
        if job.status is JobStatus.SUCCEEDED:
            return Result.of(traced, Outcome.DUPLICATE, job.job_id, "video", "job already SUCCEEDED")
        job = dataclasses.replace(job.running(JobStage.DETECTING, now), outputs={"clip_id": clip.clip_id})
        self._jobs.save(job)
        try:
            return self._detect(clip, job, traced)
        except PermanentError as error:
            self._fail(clip, job, str(error), key)
            return Result.of(traced, Outcome.FAILED, job.job_id, "video", str(error))
        except Exception as error:  # a dependency down, or a bug: retried, then dead-lettered
            if delivery.last_attempt:
                self._jobs.fail(job.job_id, f"gave up after {delivery.attempt} attempts: {error}")
            raise

    def _detect(self, clip: Clip, job: Job, delivery: Delivery) -> Result:
        with self._videos.local_copy(clip.video_uri) as path:
            info = self._reader.probe(path)
            image = self._reader.frame(path, clip.detection_frame)
            [detections] = self._model.detect([image], first_index=clip.detection_frame)
            artifacts = self._videos.save_detection(clip.match_id, clip.clip_id, image, detections)
        self._publisher.publish(
            PlayersDetected(
                job_id=job.job_id,
                clip_id=clip.clip_id,
                match_id=clip.match_id,
                video_uri=clip.video_uri,
                frame_index=clip.detection_frame,
                frame_uri=artifacts.frame_uri,
                detections_uri=artifacts.detections_uri,
                detections=len(detections),
            ),
            correlation_id=delivery.correlation_id,
            idempotency_key=f"{job.job_id}:detected",
        )
        now = self._clock.now()
        counts = {"detections": len(detections), "frames": info.frames}
        with self._uow() as uow:
            uow.clips.update(
                dataclasses.replace(
                    clip,
                    status=ClipStatus.DETECTED,
                    info=info,
                    frame_uri=artifacts.frame_uri,
                    detections_uri=artifacts.detections_uri,
                    counts=counts,
                    updated_at=now,
                )
            )
            current = uow.jobs.get(job.job_id)
            if not current.status.terminal:
                uow.jobs.update(
                    dataclasses.replace(
                        current.running(JobStage.TRACKING, now),
                        counts=counts,
                        outputs={
                            **current.outputs,
                            "frame_uri": artifacts.frame_uri,
                            "detections_uri": artifacts.detections_uri,
                        },
                    )
                )
            uow.inbox.record(CONSUMER, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, job.job_id, "video", counts=counts)

    def _fail(self, clip: Clip, job: Job, reason: str, key: str) -> None:
        now = self._clock.now()
        with self._uow() as uow:
            uow.clips.update(
                dataclasses.replace(clip, status=ClipStatus.FAILED, reason=reason, updated_at=now)
            )
            uow.jobs.update(job.failed(reason, now))
            uow.inbox.record(CONSUMER, key)
            uow.commit()
