from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

from pitchlens.application.clip_renderer import FollowRender, Throttled
from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.application.tracked_clip_concatenator import final_key
from pitchlens.domain.errors import PermanentError
from pitchlens.domain.highlights import VideoEditor
from pitchlens.domain.jobs import Job, JobStage
from pitchlens.domain.messages import Delivery, FinalizeRequested
from pitchlens.domain.ports import Clock, UnitOfWork
from pitchlens.domain.rendering import PRESETS, indicator_named
from pitchlens.domain.sessions import SessionClip, SessionStatus
from pitchlens.domain.vision import Clip, VideoStore


class SessionFinalizer:
    """FinalizeRequested: every approved clip of a session rendered at source quality (the `final`
    preset, with its approved player and indicator), each published under
    `tracked/<session>/<clip>/`, then joined in the session's clip order into
    `final/<session>/{game}_{player}_tracked.mp4`. Progress is the fraction of all their frames
    rendered (counts `clips_done` of `clips` too). Bad input FAILS the job and returns the session
    to READY with the reason, so the person can choose again; nothing is published for the reel
    until every clip rendered."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        follow_render: FollowRender,
        videos: VideoStore,
        editor: VideoEditor,
        clock: Clock,
    ) -> None:
        self._uow = unit_of_work
        self._follow_render = follow_render
        self._videos = videos
        self._editor = editor
        self._clock = clock
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, message: FinalizeRequested, delivery: Delivery) -> Result:
        with self._uow() as uow:
            session = uow.sessions.get(message.session_id)
            decisions = {d.clip_id: d for d in uow.sessions.clips(session.session_id) if d.approved}
            clips = {clip.clip_id: clip for clip in uow.clips.list(session.session_id)}
            job = uow.jobs.get(message.job_id)
        order = {name: position for position, name in enumerate(session.video_names)}
        chosen: list[tuple[Clip, SessionClip]] = sorted(
            ((clips[clip_id], decision) for clip_id, decision in decisions.items() if clip_id in clips),
            key=lambda pair: (order.get(pair[0].video_uri.rsplit("/", 1)[-1], len(order)), pair[0].clip_id),
        )
        if not chosen:
            raise PermanentError(f"session {session.session_id} has no approved clip left to finalize")
        total = sum(clip.info.frames if clip.info else 0 for clip, _ in chosen)
        counts = {"clips": len(chosen), "clips_done": 0, "frames": total, "frames_done": 0}
        job = self._save(
            dataclasses.replace(job.running(JobStage.RENDERING, self._clock.now()), counts=counts)
        )
        rendered_paths: list[Path] = []
        with tempfile.TemporaryDirectory(prefix="pitchlens-finalize-") as scratch:
            done_before = 0
            for number, (clip, decision) in enumerate(chosen, 1):
                assert decision.selection is not None
                selection = decision.selection
                progress = Throttled(self._progress_from(job.job_id, done_before))
                target = Path(scratch) / f"{number:03d}.mp4"
                rendered = self._follow_render.render(
                    clip,
                    selection.box,
                    selection.frame_index,
                    indicator_named(selection.indicator),
                    PRESETS["final"],
                    str(target),
                    on_progress=progress,
                )
                key = f"tracked/{session.session_id}/{clip.clip_id}/{selection.indicator}-{job.job_id}.mp4"
                self._videos.publish_output(rendered.path, key)
                rendered_paths.append(target)
                done_before += clip.info.frames if clip.info else rendered.source_frames
                self._report(job.job_id, done_before, clips_done=number)
            self._save(self._latest(job.job_id).running(JobStage.PUBLISHING, self._clock.now()))
            joined = self._editor.concat(rendered_paths, Path(scratch) / "final.mp4")
            uri = self._videos.publish_output(
                str(joined.path), final_key(session.game, session.player, folder=session.session_id)
            )
        now = self._clock.now()
        with self._uow() as uow:
            job = uow.jobs.get(message.job_id)
            uow.jobs.update(
                job.succeeded(
                    {**job.counts, "frames_done": total, "clips_done": len(chosen)},
                    now,
                    outputs={"final_uri": uri},
                )
            )
            current = uow.sessions.get(session.session_id)
            uow.sessions.update(
                dataclasses.replace(current.with_status(SessionStatus.DONE, now), final_uri=uri)
            )
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "finalize", counts={"clips": len(chosen)})

    def _save(self, job: Job) -> Job:
        self._jobs.save(job)
        return job

    def _latest(self, job_id: str) -> Job:
        with self._uow() as uow:
            return uow.jobs.get(job_id)

    def _progress_from(self, job_id: str, offset: int) -> Callable[[int, int], None]:
        """A clip's progress callback: its frames counted after the `offset` frames of earlier clips."""
        return lambda done, _total: self._report(job_id, offset + done)

    def _report(self, job_id: str, frames_done: int, clips_done: int | None = None) -> None:
        extra = {} if clips_done is None else {"clips_done": clips_done}
        self._jobs.count(job_id, frames_done=frames_done, **extra)
