"""What a queue-driven use case reports back to its handler (for logs, metrics and replay)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pitchlens.domain.messages import Delivery


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
