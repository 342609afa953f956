"""Job bookkeeping shared by the use cases (not a use case itself)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pitchlens.domain.errors import (
    ClipNotFound,
    JobNotFound,
    PermanentError,
    PitchLensError,
    ServiceUnavailable,
)
from pitchlens.domain.jobs import Job, JobKind, JobStatus
from pitchlens.domain.messages import Delivery, Message
from pitchlens.domain.ports import Clock, MessagePublisher, UnitOfWork
from pitchlens.domain.sessions import SessionStatus
from pitchlens.domain.vision import ClipStatus


class JobKeeper:
    """Reads and moves jobs through their states, each change in its own transaction."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = unit_of_work
        self._clock = clock

    def get(self, job_id: str) -> Job:
        with self._uow() as uow:
            return uow.jobs.get(job_id)

    def get_or_create(self, job: Job) -> Job:
        with self._uow() as uow:
            uow.jobs.add(job)
            stored = uow.jobs.get(job.job_id)
            uow.commit()
        return stored

    def save(self, job: Job) -> Job:
        with self._uow() as uow:
            uow.jobs.update(job)
            uow.commit()
        return job

    def count(self, job_id: str, **counts: int) -> None:
        """Merges `counts` (progress such as `frames_done`) into a job that is still running."""
        with self._uow() as uow:
            job = uow.jobs.get(job_id)
            if not job.status.terminal:
                uow.jobs.update(
                    dataclasses.replace(job, counts={**job.counts, **counts}, updated_at=self._clock.now())
                )
                uow.commit()

    def queue(self, job: Job, message: Message, publisher: MessagePublisher, correlation_id: str) -> Job:
        """Queues `message` for a job already stored (PENDING), keyed by the job id. When the queue
        is down the job FAILS with the reason, and what it works on with it (`fail_in`), and
        ServiceUnavailable propagates (the caller answers 503)."""
        try:
            publisher.publish(message, correlation_id=correlation_id, idempotency_key=job.job_id)
        except ServiceUnavailable as error:
            self.fail(job.job_id, f"could not queue the work: {error}")
            raise
        return job

    def fail(
        self, job_id: str | None, reason: str, delivery: Delivery | None = None, *, part: bool = False
    ) -> Job | None:
        """Marks the job FAILED with the reason, and what it works on with it (`fail_in`), in one
        transaction that also records `delivery`'s key in its inbox when given (bad input: the
        message is consumed). `part`: the failure is one part's of a fanned-out job (a segment);
        a job that one part already FAILED keeps that first reason. Returns the job, or None when
        there is none or even this is impossible (the database is down: the message goes back to
        the queue and a later attempt, or the dead-letter queue's redrive, tries again)."""
        try:
            with self._uow() as uow:
                job = self.fail_in(uow, job_id, reason, keep_first=part) if job_id else None
                if delivery is not None:
                    uow.inbox.record(delivery.consumer, delivery.idempotency_key)
                uow.commit()
            return job
        except PitchLensError:
            return None

    def fail_in(self, uow: UnitOfWork, job_id: str, reason: str, *, keep_first: bool = False) -> Job | None:
        """In `uow`: the job FAILED with `reason`, and what it works on with it: a
        video's clip FAILED, a cut's session FAILED, a finalize's session back to READY (its
        approvals kept, so the person can try again). A job that already SUCCEEDED is left alone,
        and with `keep_first` one already FAILED; None when no job has that id."""
        now = self._clock.now()
        try:
            job = uow.jobs.get(job_id)
        except JobNotFound:
            return None
        if job.status is JobStatus.SUCCEEDED or (keep_first and job.status is JobStatus.FAILED):
            return job
        job = job.failed(reason, now)
        uow.jobs.update(job)
        try:
            if job.kind is JobKind.PROCESS and "clip_id" in job.outputs:
                clip = uow.clips.get(job.outputs["clip_id"])
                uow.clips.update(
                    dataclasses.replace(clip, status=ClipStatus.FAILED, reason=reason, updated_at=now)
                )
            elif job.kind is JobKind.CUT:
                session = uow.sessions.get(job.match_id)
                uow.sessions.update(session.with_status(SessionStatus.FAILED, now, reason))
            elif job.kind is JobKind.FINALIZE:
                session = uow.sessions.get(job.match_id)
                uow.sessions.update(
                    session.with_status(SessionStatus.READY, now, f"finalize failed: {reason}")
                )
        except (ClipNotFound, PermanentError):
            pass  # what the job worked on is gone: the job alone says why
        return job
