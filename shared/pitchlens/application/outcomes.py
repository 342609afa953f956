"""What a queue-driven use case reports back to the message pipeline (for logs, metrics and replay)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pitchlens.domain.jobs import Job, JobKind, JobStatus
from pitchlens.domain.messages import Delivery, Message


class Outcome(StrEnum):
    DONE = "done"  # the work was carried out
    FAILED = "failed"  # bad input: the job is FAILED with a reason; retrying cannot help
    DUPLICATE = "duplicate"  # the idempotency key was already processed
    SKIPPED = "skipped"  # nothing to do (e.g. a companion file uploaded before the main one)
    ERROR = "error"  # a dependency failed (or a bug): the message goes back to the queue


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A message a use case hands on to be consumed at once, in the same invocation (an upload
    becomes the command it asks for)."""

    message: Message
    delivery: Delivery


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    job_id: str | None = None
    source: str | None = None
    detail: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    correlation_id: str | None = None
    then: FollowUp | None = None
    """A message to consume next (SKIPPED/DONE results of upload use cases)."""
    job_kind: JobKind | None = None
    job_status: JobStatus | None = None
    """The job's kind and status after the message was handled (filled in by the pipeline)."""

    @classmethod
    def of(
        cls,
        delivery: Delivery,
        outcome: Outcome,
        job_id: str | None,
        source: str | None,
        detail: str | None = None,
        counts: dict[str, int] | None = None,
    ) -> Result:
        """A result traced with the delivery's correlation id."""
        return cls(outcome, job_id, source, detail, counts or {}, delivery.correlation_id)

    def with_job(self, job: Job | None) -> Result:
        """This result with the job's kind and current status."""
        if job is None:
            return self
        return Result(
            self.outcome,
            self.job_id or job.job_id,
            self.source or job.source,
            self.detail,
            self.counts,
            self.correlation_id,
            self.then,
            job.kind,
            job.status,
        )

    @property
    def job_finished(self) -> bool:
        return self.job_status is not None and self.job_status.terminal
