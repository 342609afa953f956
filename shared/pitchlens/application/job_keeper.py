"""Job bookkeeping shared by the ingestion use cases (not a use case itself)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pitchlens.domain.errors import JobNotFound, PitchLensError
from pitchlens.domain.jobs import Job
from pitchlens.domain.ports import Clock, UnitOfWork


class JobKeeper:
    """Reads and moves jobs through their states, each change in its own transaction."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = unit_of_work
        self._clock = clock

    def get_or_create(self, job: Job) -> Job:
        with self._uow() as uow:
            uow.jobs.add(job)
            stored = uow.jobs.get(job.job_id)
            uow.commit()
        return stored

    def save(self, job: Job) -> None:
        with self._uow() as uow:
            uow.jobs.update(job)
            uow.commit()

    def count(self, job_id: str, **counts: int) -> None:
        """Merges `counts` (progress such as `frames_done`) into a job that is still running."""
        with self._uow() as uow:
            job = uow.jobs.get(job_id)
            if not job.status.terminal:
                uow.jobs.update(
                    dataclasses.replace(job, counts={**job.counts, **counts}, updated_at=self._clock.now())
                )
                uow.commit()

    def fail(self, job_id: str, reason: str) -> Job | None:
        """Marks the job FAILED; returns None if even that is impossible (database down)."""
        try:
            with self._uow() as uow:
                job = uow.jobs.get(job_id).failed(reason, self._clock.now())
                uow.jobs.update(job)
                uow.commit()
            return job
        except (JobNotFound, PitchLensError):
            return None
