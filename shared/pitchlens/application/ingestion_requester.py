from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from pitchlens.application.job_keeper import JobKeeper
from pitchlens.domain.errors import UnsupportedSource
from pitchlens.domain.jobs import Job, JobKind
from pitchlens.domain.messages import IngestionRequested
from pitchlens.domain.ports import Clock, MatchParser, MessagePublisher, UnitOfWork


class IngestionRequester:
    """Creates a PENDING ingestion job and queues it; the job id is returned at once."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        publisher: MessagePublisher,
        parsers: Mapping[str, MatchParser],
        clock: Clock,
    ) -> None:
        self._uow = unit_of_work
        self._publisher = publisher
        self._parsers = parsers
        self._jobs = JobKeeper(unit_of_work, clock)
        self._clock = clock

    def execute(self, source: str, match_id: str, location: str | None, correlation_id: str) -> Job:
        if source not in self._parsers:
            raise UnsupportedSource(
                f"unknown source {source!r}; supported: {', '.join(sorted(self._parsers))}"
            )
        now = self._clock.now()
        job = Job(
            job_id=str(uuid.uuid4()),
            kind=JobKind.INGEST,
            source=source,
            match_id=match_id,
            correlation_id=correlation_id,
            created_at=now,
            updated_at=now,
        )
        with self._uow() as uow:
            uow.jobs.add(job)
            uow.commit()
        request = IngestionRequested(job_id=job.job_id, source=source, match_id=match_id, location=location)
        return self._jobs.queue(job, request, self._publisher, correlation_id)
