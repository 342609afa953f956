from __future__ import annotations

from collections.abc import Callable, Mapping

from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.errors import UnsupportedSource
from pitchlens.domain.jobs import Job, JobKind, JobStage, JobStatus
from pitchlens.domain.messages import Delivery, IngestionRequested, MatchIngested
from pitchlens.domain.ports import Clock, MatchParser, MatchSource, MatchStaging, MessagePublisher, UnitOfWork


class MatchIngester:
    """Fetches a match's provider files, normalises them into a `Match`, stages it and emits
    `MatchIngested` (the job moves to persisting). Runs in the message pipeline, which fails the
    job on bad input and on the last attempt."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        sources: MatchSource,
        parsers: Mapping[str, MatchParser],
        staging: MatchStaging,
        publisher: MessagePublisher,
        clock: Clock,
    ) -> None:
        self._uow = unit_of_work
        self._sources = sources
        self._parsers = parsers
        self._staging = staging
        self._publisher = publisher
        self._clock = clock
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, request: IngestionRequested, delivery: Delivery) -> Result:
        now = self._clock.now()
        job = self._jobs.get_or_create(
            Job(
                job_id=request.job_id,
                kind=JobKind.INGEST,
                source=request.source,
                match_id=request.match_id,
                correlation_id=delivery.correlation_id,
                created_at=now,
                updated_at=now,
            )
        )
        if job.status is JobStatus.SUCCEEDED:
            return Result.of(delivery, Outcome.DUPLICATE, job.job_id, request.source, "job already SUCCEEDED")
        # A FAILED job is run again: it failed for good on a dependency (its message was
        # dead-lettered and is now re-driven); bad input is never retried (recorded in the inbox).
        job = self._jobs.save(job.running(JobStage.INGESTING, now))
        return self._ingest(request, delivery, job)

    def _ingest(self, request: IngestionRequested, delivery: Delivery, job: Job) -> Result:
        parser = self._parsers.get(request.source)
        if parser is None:
            raise UnsupportedSource(f"unknown source {request.source!r}")
        raw = self._sources.fetch(request.source, request.match_id, request.location)
        match = parser.parse(raw)
        staged = self._staging.stage(match, job.job_id)
        counts = match.counts()
        self._publisher.publish(
            MatchIngested(
                job_id=job.job_id,
                source=request.source,
                match_id=match.match_id,
                match_uri=staged.match_uri,
                tracking_uri=staged.tracking_uri,
                ingested_at=self._clock.now(),
                counts=counts,
            ),
            correlation_id=delivery.correlation_id,
            # One key per job: a re-run of this step re-sends the same logical message.
            idempotency_key=f"{job.job_id}:ingested",
        )
        with self._uow() as uow:
            current = uow.jobs.get(job.job_id)
            if not current.status.terminal:  # persist may already have finished
                uow.jobs.update(current.running(JobStage.PERSISTING, self._clock.now()))
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, job.job_id, request.source, counts=counts)
