from __future__ import annotations

from collections.abc import Callable

from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.errors import JobNotFound
from pitchlens.domain.jobs import Job, JobKind
from pitchlens.domain.messages import Delivery, MatchIngested
from pitchlens.domain.ports import Clock, MatchStaging, TrackingRef, UnitOfWork


class MatchPersister:
    """Writes a staged match and all its events to the database in ONE transaction, together
    with the job's success and the message's idempotency record: all of it, or nothing."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], staging: MatchStaging, clock: Clock) -> None:
        self._uow = unit_of_work
        self._staging = staging
        self._clock = clock

    def execute(self, message: MatchIngested, delivery: Delivery) -> Result:
        match = self._staging.load(message.match_uri)
        tracking = (
            TrackingRef(
                self._staging.publish_tracking(message.tracking_uri, message.source, match.match_id),
                message.counts.get("tracking_rows", 0),
            )
            if message.tracking_uri
            else None
        )
        now = self._clock.now()
        with self._uow() as uow:
            if uow.inbox.seen(delivery.consumer, delivery.idempotency_key):  # a concurrent copy won
                return Result.of(delivery, Outcome.DUPLICATE, message.job_id, message.source)
            stored = uow.matches.save(match, ingested_at=message.ingested_at, tracking=tracking)
            note = None if stored else "skipped: a newer ingestion of this match is already stored"
            try:
                job = uow.jobs.get(message.job_id)
            except JobNotFound:  # e.g. a replayed message from another environment
                job = Job(
                    message.job_id,
                    JobKind.INGEST,
                    message.source,
                    match.match_id,
                    delivery.correlation_id,
                    now,
                    now,
                )
                uow.jobs.add(job)
            counts = message.counts or match.counts()
            uow.jobs.update(job.succeeded(counts, now, note))
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(
            delivery,
            Outcome.DONE if stored else Outcome.SKIPPED,
            message.job_id,
            message.source,
            note,
            counts,
        )
