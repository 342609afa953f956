"""A session's finalize, fanned out: one render per approved clip, any number of render workers at
once, joined when the last is done.

    FinalizeRequested --SessionFinalizer--> FinalClipRequested x N --FinalClipRenderer--> (each)
        the last one done --> ConcatRequested (TrackedClipConcatenator: joined, session DONE)

Each message does one bounded piece of work (one clip at source quality, or one stream-copied
join), so a 6-clip 4K session is six render invocations and a join, not one that outlasts a
Lambda's 15 minutes. Which clip is the last one done is decided under a lock on the job's row, so
two finishing at once cannot both, or neither, queue the join.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

from pitchlens.application.clip_renderer import FollowRender, Throttled
from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.errors import PermanentError
from pitchlens.domain.jobs import Job, JobStage
from pitchlens.domain.messages import ConcatRequested, Delivery, FinalClipRequested, FinalizeRequested
from pitchlens.domain.ports import Clock, MessagePublisher, UnitOfWork
from pitchlens.domain.rendering import PRESETS, indicator_named
from pitchlens.domain.sessions import HighlightSession, SessionClip
from pitchlens.domain.vision import Clip, VideoStore


def _output_name(position: int) -> str:
    """The job output naming approved clip `position`'s final render."""
    return f"clip_{position:03d}_uri"


def _frames_name(position: int) -> str:
    """The job count of approved clip `position`'s frames rendered so far."""
    return f"clip_{position:03d}_frames_done"


class SessionFinalizer:
    """FinalizeRequested: the session's approved clips, in the session's order, each queued as a
    `FinalClipRequested` (keyed by job and clip, so a redelivery queues nothing new). The job
    counts `clips` and their `frames`; bad input (nothing approved any more) FAILS the job and
    returns the session to READY with the reason."""

    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], publisher: MessagePublisher, clock: Clock
    ) -> None:
        self._uow = unit_of_work
        self._publisher = publisher
        self._clock = clock

    def execute(self, message: FinalizeRequested, delivery: Delivery) -> Result:
        with self._uow() as uow:
            session = uow.sessions.get(message.session_id)
            chosen = approved_clips(
                session, uow.sessions.clips(session.session_id), uow.clips.list(session.session_id)
            )
            if not chosen:
                raise PermanentError(f"session {session.session_id} has no approved clip left to finalize")
            job = uow.jobs.get(message.job_id, lock=True)
            if not job.status.terminal:
                total = sum(clip.info.frames if clip.info else 0 for clip, _ in chosen)
                counts = {
                    **job.counts,
                    "clips": len(chosen),
                    "clips_done": 0,
                    "frames": total,
                    "frames_done": 0,
                }
                uow.jobs.update(
                    dataclasses.replace(job.running(JobStage.RENDERING, self._clock.now()), counts=counts)
                )
            uow.commit()
        # Queued after the counts are stored and before the inbox record: a finalizer that dies
        # in between runs again and queues the same keys again (the renderers' inbox drops them).
        for position, (clip, _) in enumerate(chosen, 1):
            self._publisher.publish(
                FinalClipRequested(message.job_id, session.session_id, clip.clip_id, position, len(chosen)),
                correlation_id=delivery.correlation_id,
                idempotency_key=f"{message.job_id}:final:{clip.clip_id}",
            )
        with self._uow() as uow:
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "finalize", counts={"clips": len(chosen)})


class FinalClipRenderer:
    """FinalClipRequested: one approved clip rendered at source quality (the `final` preset, with
    its approved player, indicator and minimap) and published under `tracked/<session>/<clip>/`;
    the job's progress sums every clip's frames rendered (counts `clip_NNN_frames_done`, outputs
    `clip_NNN_uri`). The last clip done queues the join (ConcatRequested with the session, the
    clips in the session's order)."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        follow_render: FollowRender,
        videos: VideoStore,
        publisher: MessagePublisher,
        clock: Clock,
    ) -> None:
        self._uow = unit_of_work
        self._follow_render = follow_render
        self._videos = videos
        self._publisher = publisher
        self._clock = clock
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, message: FinalClipRequested, delivery: Delivery) -> Result:
        """A clip of a finalize that has FAILED (another clip could not be rendered: the session is
        back to READY, to be finalized again) is skipped, not rendered for nothing."""
        with self._uow() as uow:
            job = uow.jobs.get(message.job_id)
            if job.status.terminal:
                note = f"finalize job {job.status.value}: {job.reason or 'nothing left to do'}"
                return Result.of(delivery, Outcome.SKIPPED, message.job_id, "finalize", note)
            session = uow.sessions.get(message.session_id)
            decision = next(
                (d for d in uow.sessions.clips(session.session_id) if d.clip_id == message.clip_id), None
            )
            clip = uow.clips.get(message.clip_id)
        if decision is None or not decision.approved or decision.selection is None:
            raise PermanentError(
                f"clip {message.clip_id} of session {session.session_id} is no longer approved"
            )
        selection = decision.selection
        with tempfile.TemporaryDirectory(prefix="pitchlens-final-clip-") as scratch:
            rendered = self._follow_render.render(
                clip,
                selection.box,
                selection.frame_index,
                indicator_named(selection.indicator),
                PRESETS["final"],
                str(Path(scratch) / f"{message.position:03d}.mp4"),
                on_progress=Throttled(lambda done, _total: self._progress(message, done)),
                minimap=selection.minimap,
            )
            key = f"tracked/{session.session_id}/{clip.clip_id}/{selection.indicator}-{message.job_id}.mp4"
            uri = self._videos.publish_output(rendered.path, key)
        frames = clip.info.frames if clip.info else rendered.source_frames
        job = self._report(
            message, {_frames_name(message.position): frames}, {_output_name(message.position): uri}
        )
        uris = [job.outputs.get(_output_name(position)) for position in range(1, message.clips + 1)]
        if all(uris) and not job.status.terminal:
            self._publisher.publish(
                ConcatRequested(
                    message.job_id,
                    tuple(u for u in uris if u),
                    session.game,
                    session.player,
                    session.session_id,
                ),
                correlation_id=delivery.correlation_id,
                idempotency_key=f"{message.job_id}:join",
            )
        with self._uow() as uow:
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        counts = {"frames": rendered.source_frames, "clips_done": sum(map(bool, uris))}
        return Result.of(delivery, Outcome.DONE, message.job_id, "finalize", message.describe(), counts)

    def _progress(self, message: FinalClipRequested, done: int) -> None:
        self._report(message, {_frames_name(message.position): done})

    def _report(
        self, message: FinalClipRequested, counts: dict[str, int], outputs: dict[str, str] | None = None
    ) -> Job:
        """Merges this clip's counts (and output) into the job under its row's lock, with the sums
        over all clips; returns the job as stored. A job no longer running is left alone."""
        with self._uow() as uow:
            job = uow.jobs.get(message.job_id, lock=True)
            if job.status.terminal:
                return job
            merged = {**job.counts, **counts}
            done = {**job.outputs, **(outputs or {})}
            positions = range(1, message.clips + 1)
            merged["frames_done"] = sum(merged.get(_frames_name(p), 0) for p in positions)
            merged["clips_done"] = sum(_output_name(p) in done for p in positions)
            job = dataclasses.replace(job, counts=merged, outputs=done, updated_at=self._clock.now())
            uow.jobs.update(job)
            uow.commit()
        return job


def approved_clips(
    session: HighlightSession, decisions: list[SessionClip], clips: list[Clip]
) -> list[tuple[Clip, SessionClip]]:
    """The session's approved clips with their decisions, in the order the session lists its videos."""
    approved = {d.clip_id: d for d in decisions if d.approved and d.selection is not None}
    order = {name: position for position, name in enumerate(session.video_names)}
    return sorted(
        ((clip, approved[clip.clip_id]) for clip in clips if clip.clip_id in approved),
        key=lambda pair: (order.get(pair[0].video_uri.rsplit("/", 1)[-1], len(order)), pair[0].clip_id),
    )
