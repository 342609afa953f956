from __future__ import annotations

from collections.abc import Callable

from pitchlens.domain.jobs import Job
from pitchlens.domain.ports import UnitOfWork


class JobFinder:
    """One job by id (JobNotFound if absent), or the jobs of one correlation id / match."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work

    def execute(
        self, job_id: str | None = None, *, correlation_id: str | None = None, match_id: str | None = None
    ) -> list[Job]:
        with self._uow() as uow:
            if job_id is not None:
                return [uow.jobs.get(job_id)]
            return uow.jobs.find(correlation_id=correlation_id, match_id=match_id)
