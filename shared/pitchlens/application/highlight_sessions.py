"""The interactive workflow's use cases, one action each. Sessions and what was decided about each
clip are rows (`sessions`, `session_clips`), so any API instance serves any request. Videos go to
`videos/<session_id>/<name>`, where the vision pipeline picks them up; previews are render jobs;
cutting and finalizing are jobs of the render function. Reads are in `views`."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from typing import BinaryIO

from pitchlens.application import views
from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.render_requester import RenderRequester
from pitchlens.domain.errors import StateConflict
from pitchlens.domain.highlights import HighlightError, IntervalReader
from pitchlens.domain.jobs import Job, JobKind, JobStatus
from pitchlens.domain.messages import FinalizeRequested, HighlightsRequested
from pitchlens.domain.ports import Clock, MessagePublisher, ObjectStorage, UnitOfWork
from pitchlens.domain.rendering import indicator_named
from pitchlens.domain.sessions import (
    HighlightSession,
    NothingApproved,
    Selection,
    SessionClip,
    SessionStatus,
    session_file_name,
)
from pitchlens.domain.vision import TrajectoryStore

MAX_NAME = 100


def new_session(game: str, player: str, source: str, status: SessionStatus, clock: Clock) -> HighlightSession:
    """A session with a fresh id; HighlightError for a game or player name that is empty or too long."""
    for what, value in (("game", game), ("player", player)):
        if not value.strip() or len(value) > MAX_NAME:
            raise HighlightError(f"the {what} name must be 1 to {MAX_NAME} characters")
    now = clock.now()
    return HighlightSession(
        f"s-{uuid.uuid4().hex[:12]}", game.strip(), player.strip(), status, source, now, now
    )


class SessionCreator:
    """A session from uploaded clips: each video stored under videos/<session_id>/ (the vision
    pipeline processes it), named safely and uniquely, in the order given. HighlightError for an
    empty name or no files, ValueError for a file name that is not a video's."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        clock: Clock,
        videos_bucket: str = "videos",
    ) -> None:
        self._uow = unit_of_work
        self._storage = storage
        self._clock = clock
        self._videos = videos_bucket

    def execute(
        self, game: str, player: str, files: Sequence[tuple[str, BinaryIO]], correlation_id: str
    ) -> HighlightSession:
        if not files:
            raise HighlightError("upload at least one video")
        session = new_session(game, player, "upload", SessionStatus.READY, self._clock)
        names = _unique([session_file_name(name) for name, _ in files])
        session = dataclasses.replace(session, video_names=tuple(names))
        with self._uow() as uow:
            uow.sessions.add(session)
            uow.commit()
        for name, (_, file) in zip(names, files, strict=True):
            self._storage.put_file(
                self._videos,
                f"{session.session_id}/{name}",
                file,
                metadata={"correlation-id": f"{correlation_id}:{name}"},
            )
        return session


class HighlightCutRequester:
    """A session from a whole game video and a CSV of intervals: the table is checked at once
    (HighlightError naming the row), the video and the table are stored, and the cut is queued for
    the render function (HighlightsRequested). When the queue is down the session FAILS with the
    reason (ServiceUnavailable propagates)."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        publisher: MessagePublisher,
        intervals: IntervalReader,
        clock: Clock,
        artifacts_bucket: str = "artifacts",
    ) -> None:
        self._uow = unit_of_work
        self._storage = storage
        self._publisher = publisher
        self._intervals = intervals
        self._clock = clock
        self._artifacts = artifacts_bucket
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(
        self,
        game: str,
        player: str,
        game_video: tuple[str, BinaryIO],
        intervals_csv: str,
        padding_s: float,
        correlation_id: str,
    ) -> HighlightSession:
        self._intervals.read(intervals_csv)
        if not 0 <= padding_s <= 60:
            raise HighlightError(f"padding must be between 0 and 60 seconds, got {padding_s}")
        name = session_file_name(game_video[0])
        session = new_session(game, player, "cut", SessionStatus.CUTTING, self._clock)
        now = self._clock.now()
        job = Job(str(uuid.uuid4()), JobKind.CUT, "intervals", session.session_id, correlation_id, now, now)
        session = dataclasses.replace(session, cut_job_id=job.job_id)
        prefix = f"sessions/{session.session_id}"
        video = self._storage.put_file(self._artifacts, f"{prefix}/{name}", game_video[1])
        table = self._storage.put(self._artifacts, f"{prefix}/intervals.csv", intervals_csv.encode())
        with self._uow() as uow:
            uow.sessions.add(session)
            uow.jobs.add(job)
            uow.commit()
        request = HighlightsRequested(
            job_id=job.job_id,
            session_id=session.session_id,
            game_video_uri=f"s3://{video.bucket}/{video.key}",
            intervals_uri=f"s3://{table.bucket}/{table.key}",
            padding_s=padding_s,
        )
        self._jobs.queue(job, request, self._publisher, correlation_id)
        return session


class PreviewRequester:
    """A preview render of one of the session's processed clips with the chosen player (on the
    players' frame when no frame is given); it replaces an earlier preview and clears the clip's
    approval. ClipNotFound, StateConflict (still processing), InvalidSelection."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        trajectories: TrajectoryStore,
        renders: RenderRequester,
        clock: Clock,
    ) -> None:
        self._uow = unit_of_work
        self._trajectories = trajectories
        self._renders = renders
        self._clock = clock

    def execute(
        self,
        session_id: str,
        clip_id: str,
        box: Sequence[float],
        frame_index: int | None,
        indicator: str,
        correlation_id: str,
    ) -> Job:
        clip = views.session_clip(self._uow, session_id, clip_id)
        chosen = indicator_named(indicator)
        if frame_index is None:
            frame_index = views.players(self._uow, self._trajectories, clip_id).frame_index
        job = self._renders.execute(
            clip.clip_id,
            box,
            correlation_id,
            frame_index=frame_index,
            preset="preview",
            indicator=chosen.value,
        )
        x1, y1, x2, y2 = (float(value) for value in box)
        decision = SessionClip(
            session_id,
            clip_id,
            self._clock.now(),
            selection=Selection((x1, y1, x2, y2), frame_index, chosen.value),
            preview_job_id=job.job_id,
            approved=False,
        )
        with self._uow() as uow:
            uow.sessions.save_clip(decision)
            uow.commit()
        return job


class PreviewApprover:
    """Approves a clip's finished preview for the final video. StateConflict when there is no
    preview yet or it has not succeeded."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = unit_of_work
        self._clock = clock

    def execute(self, session_id: str, clip_id: str) -> SessionClip:
        decision = views.decision(self._uow, session_id, clip_id)
        if decision is None or decision.preview_job_id is None:
            raise StateConflict(f"clip {clip_id} has no preview to approve: start one first")
        with self._uow() as uow:
            preview = uow.jobs.get(decision.preview_job_id)
            if preview.status is not JobStatus.SUCCEEDED:
                raise StateConflict(f"the preview of clip {clip_id} is {preview.status.value}, not finished")
            approved = dataclasses.replace(decision, approved=True, updated_at=self._clock.now())
            uow.sessions.save_clip(approved)
            uow.commit()
        return approved


class FinalizeRequester:
    """Queues the final render of every approved clip and their concatenation (FinalizeRequested).
    NothingApproved (409) when no clip is approved, StateConflict while a finalize is already
    running; when the queue is down the session goes back to READY with the reason."""

    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], publisher: MessagePublisher, clock: Clock
    ) -> None:
        self._uow = unit_of_work
        self._publisher = publisher
        self._clock = clock
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, session_id: str, correlation_id: str) -> Job:
        now = self._clock.now()
        with self._uow() as uow:
            session = uow.sessions.get(session_id)
            approved = [c for c in uow.sessions.clips(session_id) if c.approved and c.selection is not None]
            if not approved:
                raise NothingApproved(f"session {session_id} has no approved clip: approve a preview first")
            if session.final_job_id is not None and not uow.jobs.get(session.final_job_id).status.terminal:
                raise StateConflict(f"session {session_id} is already being finalized")
            job = Job(
                str(uuid.uuid4()),
                JobKind.FINALIZE,
                "final",
                session_id,
                correlation_id,
                now,
                now,
                counts={"clips": len(approved), "clips_done": 0},
            )
            session = dataclasses.replace(
                session.with_status(SessionStatus.FINALIZING, now), final_job_id=job.job_id, final_uri=None
            )
            uow.jobs.add(job)
            uow.sessions.update(session)
            uow.commit()
        return self._jobs.queue(
            job, FinalizeRequested(job_id=job.job_id, session_id=session_id), self._publisher, correlation_id
        )


def _unique(names: list[str]) -> list[str]:
    """Names made distinct: a repeated `a.mp4` becomes `a-2.mp4`, `a-3.mp4` ..."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        stem, _, suffix = name.rpartition(".")
        count = seen.get(name, 0) + 1
        seen[name] = count
        unique.append(name if count == 1 else f"{stem}-{count}.{suffix}")
    return unique
