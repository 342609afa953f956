from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from pitchlens.application.followable_players import FollowablePlayerLister, FollowablePlayers
from pitchlens.application.render_requester import RenderRequester
from pitchlens.domain.errors import ClipNotFound, ServiceUnavailable, StateConflict
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
from pitchlens.domain.vision import Clip, ClipStatus

MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class SessionClipState:
    """One video of a session, as a person sees it: processing, choice, preview, approval."""

    name: str
    clip: Clip | None
    """None while the upload waits for the detect function."""
    process_job: Job | None
    decision: SessionClip | None
    preview_job: Job | None


@dataclass(frozen=True, slots=True)
class DetectionView:
    clip: Clip
    frame_jpeg: bytes
    players: FollowablePlayers


class HighlightSessions:
    """The interactive workflow over PostgreSQL: sessions and what was decided about each clip are
    rows (`sessions`, `session_clips`), so any API instance serves any request. Videos go to
    `videos/<session_id>/<name>`, where the vision pipeline picks them up; previews are render jobs;
    finalizing is one job of the render function (FinalizeRequested)."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        publisher: MessagePublisher,
        renders: RenderRequester,
        players: FollowablePlayerLister,
        intervals: IntervalReader,
        clock: Clock,
        videos_bucket: str = "videos",
        artifacts_bucket: str = "artifacts",
    ) -> None:
        self._uow = unit_of_work
        self._storage = storage
        self._publisher = publisher
        self._renders = renders
        self._players = players
        self._intervals = intervals
        self._clock = clock
        self._videos = videos_bucket
        self._artifacts = artifacts_bucket

    # --- Creating -----------------------------------------------------------------------------
    def create_from_videos(
        self, game: str, player: str, files: Sequence[tuple[str, BinaryIO]], correlation_id: str
    ) -> HighlightSession:
        """Uploads each video under videos/<session_id>/ (the pipeline processes them). HighlightError
        for an empty name or no files, ValueError for a file name that is not a video's."""
        if not files:
            raise HighlightError("upload at least one video")
        session = self._new_session(game, player, "upload", SessionStatus.READY)
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

    def create_from_cut(
        self,
        game: str,
        player: str,
        game_video: tuple[str, BinaryIO],
        intervals_csv: str,
        padding_s: float,
        correlation_id: str,
    ) -> HighlightSession:
        """Checks the intervals table at once (HighlightError naming the row), stores the game video and
        the table, and queues the cut (HighlightsRequested) for the render function."""
        self._intervals.read(intervals_csv)
        if not 0 <= padding_s <= 60:
            raise HighlightError(f"padding must be between 0 and 60 seconds, got {padding_s}")
        name = session_file_name(game_video[0])
        session = self._new_session(game, player, "cut", SessionStatus.CUTTING)
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
        self._queue(request, job, session, correlation_id, SessionStatus.FAILED)
        return session

    def _new_session(self, game: str, player: str, source: str, status: SessionStatus) -> HighlightSession:
        for what, value in (("game", game), ("player", player)):
            if not value.strip() or len(value) > MAX_NAME:
                raise HighlightError(f"the {what} name must be 1 to {MAX_NAME} characters")
        now = self._clock.now()
        return HighlightSession(
            f"s-{uuid.uuid4().hex[:12]}", game.strip(), player.strip(), status, source, now, now
        )

    # --- Reading ------------------------------------------------------------------------------
    def get(self, session_id: str) -> HighlightSession:
        with self._uow() as uow:
            return uow.sessions.get(session_id)

    def clips(self, session_id: str) -> tuple[HighlightSession, list[SessionClipState]]:
        """The session's videos in order, each with its clip (once detected), processing job,
        decisions and preview job."""
        with self._uow() as uow:
            session = uow.sessions.get(session_id)
            clips = {clip.video_uri.rsplit("/", 1)[-1]: clip for clip in uow.clips.list(session_id)}
            jobs = uow.jobs.find(match_id=session_id)
            decisions = {decision.clip_id: decision for decision in uow.sessions.clips(session_id)}
        by_id = {job.job_id: job for job in jobs}
        processing = {
            job.outputs["clip_id"]: job
            for job in jobs
            if job.kind is JobKind.PROCESS and "clip_id" in job.outputs
        }
        names = list(session.video_names) + sorted(set(clips) - set(session.video_names))
        states = []
        for name in names:
            clip = clips.get(name)
            decision = decisions.get(clip.clip_id) if clip else None
            preview = by_id.get(decision.preview_job_id or "") if decision else None
            states.append(
                SessionClipState(
                    name, clip, processing.get(clip.clip_id) if clip else None, decision, preview
                )
            )
        return session, states

    def detection(self, session_id: str, clip_id: str) -> DetectionView:
        """The clip's detection frame (JPEG) and the players that can be followed on it."""
        clip = self._session_clip(session_id, clip_id)
        players = self._players.execute(clip_id)
        if clip.frame_uri is None:
            raise StateConflict(f"clip {clip_id} has no detection frame yet")
        bucket, _, key = clip.frame_uri.removeprefix("s3://").partition("/")
        return DetectionView(clip, self._storage.get(bucket, key), players)

    # --- Deciding -----------------------------------------------------------------------------
    def preview(
        self,
        session_id: str,
        clip_id: str,
        box: Sequence[float],
        frame_index: int | None,
        indicator: str,
        correlation_id: str,
    ) -> Job:
        """Starts a preview render of the clip with this player; replaces an earlier preview and
        clears the clip's approval."""
        clip = self._session_clip(session_id, clip_id)
        chosen = indicator_named(indicator)
        if frame_index is None:
            frame_index = self._players.execute(clip_id).frame_index
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

    def preview_job(self, session_id: str, clip_id: str) -> Job:
        """The clip's latest preview job; ClipNotFound when it has none."""
        decision = self._decision(session_id, clip_id)
        if decision is None or decision.preview_job_id is None:
            raise ClipNotFound(f"clip {clip_id} of session {session_id} has no preview yet")
        with self._uow() as uow:
            return uow.jobs.get(decision.preview_job_id)

    def approve(self, session_id: str, clip_id: str) -> SessionClip:
        decision = self._decision(session_id, clip_id)
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

    # --- Finalizing ---------------------------------------------------------------------------
    def finalize(self, session_id: str, correlation_id: str) -> Job:
        """Queues the final render of every approved clip and their concatenation; NothingApproved
        (409) when no clip is approved, StateConflict while a finalize is already running."""
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
        message = FinalizeRequested(job_id=job.job_id, session_id=session_id)
        self._queue(message, job, session, correlation_id, SessionStatus.READY)
        return job

    def finalize_job(self, session_id: str) -> Job:
        with self._uow() as uow:
            session = uow.sessions.get(session_id)
            if session.final_job_id is None:
                raise ClipNotFound(f"session {session_id} has not been finalized yet")
            return uow.jobs.get(session.final_job_id)

    # --- Helpers ------------------------------------------------------------------------------
    def _session_clip(self, session_id: str, clip_id: str) -> Clip:
        with self._uow() as uow:
            uow.sessions.get(session_id)
            clip = uow.clips.get(clip_id)
        if clip.match_id != session_id:
            raise ClipNotFound(f"clip {clip_id} is not in session {session_id}")
        if clip.status is not ClipStatus.PERSISTED:
            raise StateConflict(f"clip {clip_id} is {clip.status.value}: wait until it is processed")
        return clip

    def _decision(self, session_id: str, clip_id: str) -> SessionClip | None:
        with self._uow() as uow:
            uow.sessions.get(session_id)
            for decision in uow.sessions.clips(session_id):
                if decision.clip_id == clip_id:
                    return decision
        return None

    def _queue(
        self,
        message: HighlightsRequested | FinalizeRequested,
        job: Job,
        session: HighlightSession,
        correlation_id: str,
        status_if_down: SessionStatus,
    ) -> None:
        """Publishes `message`; when the queue is down, the job FAILS and the session takes
        `status_if_down`, both with the reason, and ServiceUnavailable propagates (503)."""
        try:
            self._publisher.publish(message, correlation_id=correlation_id, idempotency_key=job.job_id)
        except ServiceUnavailable as error:
            reason = f"could not queue the work: {error}"
            now = self._clock.now()
            with self._uow() as uow:
                uow.jobs.update(uow.jobs.get(job.job_id).failed(reason, now))
                uow.sessions.update(
                    uow.sessions.get(session.session_id).with_status(status_if_down, now, reason)
                )
                uow.commit()
            raise


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
