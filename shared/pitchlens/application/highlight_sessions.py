"""The interactive workflow's use cases, one action each. Sessions and what was decided about each
clip are rows (`sessions`, `session_clips`), so any API instance serves any request. Videos go to
`videos/<session_id>/<name>`, where the vision pipeline picks them up; previews are render jobs;
cutting and finalizing are jobs of the render function. Reads are in `views`."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence

from pitchlens.application import views
from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.render_requester import RenderRequester
from pitchlens.application.uploads import (
    StartedUpload,
    UploadKind,
    UploadRequest,
    UploadStarter,
    checked_size,
)
from pitchlens.domain.errors import ObjectNotFound, StateConflict
from pitchlens.domain.highlights import HighlightError, IntervalReader
from pitchlens.domain.jobs import Job, JobKind, JobStatus
from pitchlens.domain.messages import FinalizeRequested, HighlightsRequested
from pitchlens.domain.ports import Clock, MessagePublisher, ObjectStorage, PlannedUpload, UnitOfWork
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
    """A session from clips the person is about to upload: each video named safely and uniquely,
    in the order given, and planned as an upload straight to `videos/<session_id>/` (UploadStarter:
    every name and size checked before anything is stored; each video's processing job PENDING until
    its upload completes and the pipeline takes it). HighlightError for an empty name or no files."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], uploads: UploadStarter, clock: Clock) -> None:
        self._uow = unit_of_work
        self._uploads = uploads
        self._clock = clock

    def execute(
        self, game: str, player: str, videos: Sequence[tuple[str, int]], correlation_id: str
    ) -> tuple[HighlightSession, list[StartedUpload]]:
        """`videos`: (file name, size in bytes) of each."""
        if not videos:
            raise HighlightError("upload at least one video")
        session = new_session(game, player, "upload", SessionStatus.READY, self._clock)
        names = _unique([session_file_name(name) for name, _ in videos])
        requests = [
            UploadRequest(UploadKind.VIDEO, name, size, session.session_id, f"{correlation_id}:{name}")
            for name, (_, size) in zip(names, videos, strict=True)
        ]
        session = dataclasses.replace(session, video_names=tuple(names))
        with self._uow() as uow:
            uow.sessions.add(session)
            uow.commit()
        return session, self._uploads.execute(requests)


class CutSessionCreator:
    """A session from a whole game video and a CSV of intervals: the table is checked at once
    (HighlightError naming the row) and stored, the cut job created (PENDING), and the game video
    planned as an upload straight to `artifacts/sessions/<session_id>/`; the cut starts with
    `HighlightCutRequester` once the upload is complete."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        intervals: IntervalReader,
        clock: Clock,
        *,
        artifacts_bucket: str,
        max_bytes: int,
        part_size: int,
        expires_in_s: int,
    ) -> None:
        self._uow = unit_of_work
        self._storage = storage
        self._intervals = intervals
        self._clock = clock
        self._artifacts = artifacts_bucket
        self._max_bytes = max_bytes
        self._part_size = part_size
        self._expires_in_s = expires_in_s

    def execute(
        self,
        game: str,
        player: str,
        game_video: tuple[str, int],
        intervals_csv: str,
        padding_s: float,
        correlation_id: str,
    ) -> tuple[HighlightSession, PlannedUpload]:
        """`game_video`: (file name, size in bytes)."""
        self._intervals.read(intervals_csv)
        if not 0 <= padding_s <= 60:
            raise HighlightError(f"padding must be between 0 and 60 seconds, got {padding_s}")
        name = session_file_name(game_video[0])
        size = checked_size(name, game_video[1], self._max_bytes)
        session = new_session(game, player, "cut", SessionStatus.CUTTING, self._clock)
        prefix = f"sessions/{session.session_id}"
        table = self._storage.put(self._artifacts, f"{prefix}/intervals.csv", intervals_csv.encode())
        plan = self._storage.plan_upload(
            self._artifacts,
            f"{prefix}/{name}",
            size,
            metadata={"correlation-id": correlation_id},
            part_size=self._part_size,
            expires_in_s=self._expires_in_s,
        )
        now = self._clock.now()
        job = Job(
            str(uuid.uuid4()),
            JobKind.CUT,
            "intervals",
            session.session_id,
            correlation_id,
            now,
            now,
            outputs={
                "game_video_uri": f"s3://{plan.bucket}/{plan.key}",
                "intervals_uri": f"s3://{table.bucket}/{table.key}",
                "padding_s": str(padding_s),
            },
        )
        session = dataclasses.replace(session, cut_job_id=job.job_id)
        with self._uow() as uow:
            uow.sessions.add(session)
            uow.jobs.add(job)
            uow.commit()
        return session, plan


class HighlightCutRequester:
    """Queues a cut session's cut (HighlightsRequested) once its game video is uploaded:
    StateConflict when the video is not there yet or the cut is over. Asking again while it waits
    or runs queues the same message again, which the render function's inbox takes once. When the
    queue is down the session FAILS with the reason (ServiceUnavailable propagates)."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        publisher: MessagePublisher,
        clock: Clock,
    ) -> None:
        self._uow = unit_of_work
        self._storage = storage
        self._publisher = publisher
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, session_id: str, correlation_id: str) -> Job:
        session = views.session(self._uow, session_id)
        if session.cut_job_id is None:
            raise StateConflict(f"session {session_id} is not cut from a game video")
        job = views.job(self._uow, session.cut_job_id)
        if job.status.terminal:
            raise StateConflict(f"the cut of session {session_id} is over ({job.status.value})")
        video = job.outputs["game_video_uri"]
        bucket, _, key = video.removeprefix("s3://").partition("/")
        try:
            self._storage.head(bucket, key)
        except ObjectNotFound as error:
            raise StateConflict(f"the game video of session {session_id} is not uploaded yet") from error
        request = HighlightsRequested(
            job_id=job.job_id,
            session_id=session_id,
            game_video_uri=video,
            intervals_uri=job.outputs["intervals_uri"],
            padding_s=float(job.outputs.get("padding_s", "0")),
        )
        return self._jobs.queue(job, request, self._publisher, correlation_id)


class PreviewRequester:
    """A preview render of one of the session's processed clips with the chosen player (on the
    players' frame when no frame is given) and render options (indicator, minimap: the final render
    uses the same); it replaces an earlier preview and clears the clip's approval. ClipNotFound,
    StateConflict (still processing), InvalidSelection."""

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
        minimap: bool = False,
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
            minimap=minimap,
        )
        x1, y1, x2, y2 = (float(value) for value in box)
        decision = SessionClip(
            session_id,
            clip_id,
            self._clock.now(),
            selection=Selection((x1, y1, x2, y2), frame_index, chosen.value, minimap),
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
