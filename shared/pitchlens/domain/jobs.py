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


class JobKind(StrEnum):
    """What a job does; a failed job also fails what it works on (see `JobKeeper.fail`)."""

    INGEST = "ingest"
    """Provider data of one match -> PostgreSQL."""
    PROCESS = "process"
    """One uploaded video -> detections, tracks, trajectories (its clip fails with it)."""
    RENDER = "render"
    """One followed player rendered over a processed clip."""
    CUT = "cut"
    """A session's highlights cut from a game video (its session fails with it)."""
    FINALIZE = "finalize"
    """A session's approved clips rendered and joined (its session goes back to READY)."""
    CONCAT = "concat"
    """Rendered clips joined into one video."""
    CALIBRATE = "calibrate"
    """A processed clip's people placed in pitch metres from a calibrated frame."""


class JobStage(StrEnum):
    QUEUED = "queued"
    INGESTING = "ingesting"
    DETECTING = "detecting"
    TRACKING = "tracking"
    PERSISTING = "persisting"
    CUTTING = "cutting"
    FOLLOWING = "following"
    RENDERING = "rendering"
    PUBLISHING = "publishing"
    DONE = "done"


STAGE_PROGRESS = {
    JobStage.QUEUED: 0.0,
    JobStage.INGESTING: 0.25,
    JobStage.DETECTING: 0.05,
    JobStage.TRACKING: 0.1,
    JobStage.PERSISTING: 0.6,
    JobStage.CUTTING: 0.1,
    JobStage.FOLLOWING: 0.05,
    JobStage.RENDERING: 0.15,
    JobStage.PUBLISHING: 0.95,
    JobStage.DONE: 1.0,
}
FRAME_SPANS = {JobStage.TRACKING: 0.8, JobStage.RENDERING: 0.8}
"""Stages that advance frame by frame (counts `frames_done` of `frames`), and how much of the job's
progress they cover: tracking moves a video job from 0.1 to 0.9 (then persisting), rendering moves
a render job from 0.15 to 0.95 (then publishing)."""


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    kind: JobKind
    source: str
    match_id: str
    """The match the work is for; for session jobs (cut, finalize), the session id."""
    correlation_id: str
    created_at: datetime
    updated_at: datetime
    status: JobStatus = JobStatus.PENDING
    stage: JobStage = JobStage.QUEUED
    reason: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    """What the work produced, by name (URIs such as `trajectories_uri`, ids such as `clip_id`)."""

    @property
    def progress(self) -> float:
        """0..1, rounded to 6 places (so stage boundaries compare equal however they are reached)."""
        return round(self._progress(), 6)

    def _progress(self) -> float:
        base = STAGE_PROGRESS[self.stage]
        if self.stage is JobStage.PERSISTING and "frames_done" in self.counts:  # a video job
            return STAGE_PROGRESS[JobStage.TRACKING] + FRAME_SPANS[JobStage.TRACKING]
        span = FRAME_SPANS.get(self.stage)
        if span is not None and self.counts.get("frames"):
            return base + span * min(1.0, self.counts.get("frames_done", 0) / self.counts["frames"])
        return base

    def running(self, stage: JobStage, now: datetime) -> Job:
        return replace(self, status=JobStatus.RUNNING, stage=stage, reason=None, updated_at=now)

    def succeeded(
        self,
        counts: dict[str, int],
        now: datetime,
        note: str | None = None,
        outputs: dict[str, str] | None = None,
    ) -> Job:
        return replace(
            self,
            status=JobStatus.SUCCEEDED,
            stage=JobStage.DONE,
            counts=counts,
            reason=note,
            updated_at=now,
            outputs={**self.outputs, **(outputs or {})},
        )

    def with_outputs(self, outputs: dict[str, str]) -> Job:
        return replace(self, outputs={**self.outputs, **outputs})

    def failed(self, reason: str, now: datetime) -> Job:
        return replace(self, status=JobStatus.FAILED, reason=reason, updated_at=now)
