from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from pathlib import PurePosixPath

from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import FollowUp, Outcome, Result
from pitchlens.domain.jobs import Job, JobKind, JobStage, JobStatus
from pitchlens.domain.messages import Delivery, DetectionRequested, VideoUploaded
from pitchlens.domain.ports import Clock, ObjectStorage, UnitOfWork
from pitchlens.domain.vision import VIDEO_SUFFIXES, Clip, ClipStatus, is_video_name

JOB_NAMESPACE = uuid.UUID("0b8f7e1c-6a2d-4c1e-9f3a-2d7c5e8b1a44")


def clip_id_for(key: str, etag: str) -> str:
    """Readable and unique: the file's stem plus a hash of the object version."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", PurePosixPath(key).stem).strip("-").lower() or "clip"
    return f"{stem[:40]}-{hashlib.sha256(f'{key}@{etag}'.encode()).hexdigest()[:8]}"


class ClipRegisterer:
    """A video uploaded to `videos/<match_id>/<file>` becomes a Clip with its processing job, and
    a `DetectionRequested` follow-up (ClipDetector consumes it at once). The job id derives from the
    object's version and the uploader's correlation id, so a redelivered notification registers
    nothing twice. An object that is not a `<match_id>/<file>` video is skipped with the reason;
    when its uploader named a job for it (`job-id` metadata, set by the upload API), that job
    FAILS with the reason instead of leaving a waiting client in the dark."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], storage: ObjectStorage, clock: Clock) -> None:
        self._uow = unit_of_work
        self._storage = storage
        self._clock = clock
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, created: VideoUploaded, delivery: Delivery) -> Result:
        uploaded = self._storage.head(created.bucket, created.key)
        correlation_id = uploaded.metadata.get("correlation-id") or delivery.correlation_id
        parts = created.key.split("/")
        refused = None
        if len(parts) != 2 or not all(parts):
            refused = f"{created.key}: not a <match_id>/<file> key"
        elif not is_video_name(created.key):
            refused = f"{created.key}: not a video file name (expected {', '.join(sorted(VIDEO_SUFFIXES))})"
        if refused is not None:
            named = uploaded.metadata.get("job-id")
            if named:
                self._jobs.fail(named, refused)
            return Result(Outcome.SKIPPED, named, "video", refused, correlation_id=correlation_id)
        match_id = parts[0]
        frame_index = int(uploaded.metadata.get("detection-frame", "0") or 0)
        uploader = uploaded.metadata.get("correlation-id", "")
        version = f"s3://{created.bucket}/{created.key}@{uploaded.etag}:{uploader}"
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
        job_id = uploaded.metadata.get("job-id") or str(uuid.uuid5(JOB_NAMESPACE, version))
        job = Job(job_id, JobKind.PROCESS, "video", match_id, correlation_id, now, now)
        with self._uow() as uow:
            uow.jobs.add(job)
            uow.clips.add(clip)
            job = uow.jobs.get(job.job_id)
            clip = uow.clips.get(clip.clip_id)
            uow.commit()
        # Keyed by the job: a notification delivered again is the same job (a duplicate), the same
        # video uploaded again under another job is processed again.
        traced = Delivery(correlation_id, f"video:{job.job_id}", delivery.attempt, delivery.max_attempts)
        if job.status is JobStatus.SUCCEEDED:
            return Result.of(traced, Outcome.DUPLICATE, job.job_id, "video", "job already SUCCEEDED")
        if job.status is not JobStatus.RUNNING:  # a redelivered notification leaves a running job alone
            self._jobs.save(job.running(JobStage.DETECTING, now).with_outputs({"clip_id": clip.clip_id}))
        request = DetectionRequested(
            job_id=job.job_id,
            clip_id=clip.clip_id,
            match_id=match_id,
            video_uri=clip.video_uri,
            frame_index=clip.detection_frame,
        )
        registered = f"clip {clip.clip_id} registered"
        return Result(
            Outcome.DONE,
            job.job_id,
            "video",
            registered,
            correlation_id=correlation_id,
            then=FollowUp(request, traced),
        )
