from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

from pitchlens.application.highlight_cutter import HighlightCutter
from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.highlights import IntervalReader, VideoEditor
from pitchlens.domain.jobs import JobStage
from pitchlens.domain.messages import Delivery, HighlightsRequested
from pitchlens.domain.ports import Clock, ObjectStorage, UnitOfWork
from pitchlens.domain.sessions import SessionStatus
from pitchlens.domain.vision import VideoStore


class HighlightCutWorker:
    """HighlightsRequested: the session's game video cut with its intervals table (HighlightCutter:
    merged intervals, accurate cuts), each clip uploaded to `videos/<session_id>/` (where the vision
    pipeline picks it up) and the joined cut published as `clips/<session_id>/{game}_{player}.mp4`
    in the outputs bucket. The session becomes READY with its clips named, or FAILED with the reason
    (unreadable video, bad intervals)."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        videos: VideoStore,
        intervals: IntervalReader,
        editor: VideoEditor,
        clock: Clock,
        videos_bucket: str = "videos",
    ) -> None:
        self._uow = unit_of_work
        self._storage = storage
        self._videos = videos
        self._intervals = intervals
        self._editor = editor
        self._clock = clock
        self._videos_bucket = videos_bucket
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, message: HighlightsRequested, delivery: Delivery) -> Result:
        with self._uow() as uow:
            session = uow.sessions.get(message.session_id)
            job = uow.jobs.get(message.job_id)
        self._jobs.save(job.running(JobStage.CUTTING, self._clock.now()))
        bucket, _, key = message.intervals_uri.removeprefix("s3://").partition("/")
        table = self._storage.get(bucket, key).decode("utf-8-sig", errors="replace")
        cutter = HighlightCutter(self._intervals, self._editor, padding_s=message.padding_s)
        with (
            self._videos.local_copy(message.game_video_uri) as game_video,
            tempfile.TemporaryDirectory(prefix="pitchlens-cut-") as scratch,
        ):
            cut = cutter.execute(game_video, table, session.game, session.player, scratch)
            names = [clip.name for clip in cut.clips]
            for clip in cut.clips:
                with clip.open("rb") as file:
                    self._storage.put_file(
                        self._videos_bucket,
                        f"{session.session_id}/{clip.name}",
                        file,
                        metadata={"correlation-id": f"{delivery.correlation_id}:{clip.name}"},
                    )
            joined_key = f"clips/{session.session_id}/{Path(cut.output).name}"
            joined = self._videos.publish_output(str(cut.output), joined_key)
        now = self._clock.now()
        with self._uow() as uow:
            current = uow.sessions.get(session.session_id)
            uow.sessions.update(
                dataclasses.replace(current.with_status(SessionStatus.READY, now), video_names=tuple(names))
            )
            job = uow.jobs.get(message.job_id)
            counts = {"clips": len(names), "intervals": len(cut.intervals)}
            uow.jobs.update(job.succeeded(counts, now, outputs={"clips_uri": joined}))
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "cut", counts={"clips": len(names)})
