"""What a queue-driven use case reports back to its handler (for logs, metrics and replay)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from pitchlens.domain.errors import PermanentError
from pitchlens.domain.messages import Delivery
from pitchlens.domain.ports import UnitOfWork


class Outcome(StrEnum):
    DONE = "done"  # the work was carried out
    FAILED = "failed"  # bad input: the job is FAILED with a reason; retrying cannot help
    DUPLICATE = "duplicate"  # the idempotency key was already processed
    SKIPPED = "skipped"  # nothing to do (e.g. a companion file uploaded before the main one)


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    job_id: str | None = None
    source: str | None = None
    detail: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    correlation_id: str | None = None

    @classmethod
    def of(
        cls,
        delivery: Delivery,
        outcome: Outcome,
        job_id: str,
        source: str,
        detail: str | None = None,
        counts: dict[str, int] | None = None,
    ) -> Result:
        """A result traced with the delivery's correlation id."""
        return cls(outcome, job_id, source, detail, counts or {}, delivery.correlation_id)


def consume_once(
    unit_of_work: Callable[[], UnitOfWork],
    consumer: str,
    delivery: Delivery,
    job_id: str,
    source: str,
    work: Callable[[], Result],
    fail: Callable[[str, str | None], None],
) -> Result:
    """The skeleton of a queue consumer with a job: a delivery whose idempotency key `consumer` has
    already committed is a DUPLICATE; bad input (PermanentError) calls `fail(reason, key)`, which
    records the key with the failure, and answers FAILED; anything else (a dependency down, a bug)
    propagates so the queue retries it, after `fail(reason, None)` on the last attempt (then the
    message is dead-lettered)."""
    with unit_of_work() as uow:
        if uow.inbox.seen(consumer, delivery.idempotency_key):
            return Result.of(delivery, Outcome.DUPLICATE, job_id, source)
    try:
        return work()
    except PermanentError as error:
        fail(str(error), delivery.idempotency_key)
        return Result.of(delivery, Outcome.FAILED, job_id, source, str(error))
    except Exception as error:
        if delivery.last_attempt:
            fail(f"gave up after {delivery.attempt} attempts: {error}", None)
        raise
