"""Jobs: the user-visible record of one piece of asynchronous work."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class JobStage(StrEnum):
    QUEUED = "queued"
    INGESTING = "ingesting"
    PERSISTING = "persisting"
    DONE = "done"


STAGE_PROGRESS = {
    JobStage.QUEUED: 0.0,
    JobStage.INGESTING: 0.25,
    JobStage.PERSISTING: 0.6,
    JobStage.DONE: 1.0,
}


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    kind: str
    source: str
    match_id: str
    correlation_id: str
    created_at: datetime
    updated_at: datetime
    status: JobStatus = JobStatus.PENDING
    stage: JobStage = JobStage.QUEUED
    reason: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def progress(self) -> float:
        return STAGE_PROGRESS[self.stage]

    def running(self, stage: JobStage, now: datetime) -> Job:
        return replace(self, status=JobStatus.RUNNING, stage=stage, reason=None, updated_at=now)

    def succeeded(self, counts: dict[str, int], now: datetime, note: str | None = None) -> Job:
        return replace(
            self, status=JobStatus.SUCCEEDED, stage=JobStage.DONE, counts=counts, reason=note, updated_at=now
        )

    def failed(self, reason: str, now: datetime) -> Job:
        return replace(self, status=JobStatus.FAILED, reason=reason, updated_at=now)
