from __future__ import annotations

import dataclasses
import tempfile
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from pitchlens.application.highlight_cutter import safe_name
from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.errors import InvalidInput, JobNotFound, StateConflict
from pitchlens.domain.highlights import HighlightError, VideoEditor
from pitchlens.domain.jobs import Job, JobKind, JobStage, JobStatus
from pitchlens.domain.messages import ConcatRequested, Delivery
from pitchlens.domain.ports import Clock, MessagePublisher, UnitOfWork
from pitchlens.domain.sessions import SessionStatus
from pitchlens.domain.vision import VideoStore

FINAL_FOLDER = "final"
MAX_CLIPS = 200


def final_key(game: str, player: str, folder: str | None = None) -> str:
    """`final/{game}_{player}_tracked.mp4` (names reduced to safe file-name characters), or
    `final/{folder}/...` to keep one session's reel apart from another's of the same names."""
    name = f"{safe_name(game, 'game')}_{safe_name(player, 'player')}_tracked.mp4"
    return f"{FINAL_FOLDER}/{folder}/{name}" if folder else f"{FINAL_FOLDER}/{name}"


class ConcatRequester:
    """The seed's `concat_tracked_clips`, asked for: rendered clips, each a render job id or an
    `s3://` URI in the outputs bucket, in order, to be joined into `final/{game}_{player}_tracked.mp4`
    by the render function (ConcatRequested). Checked at once: HighlightError (no clips, bad names),
    InvalidInput (a URI outside the outputs bucket), JobNotFound / StateConflict (a render job that
    does not exist or has no video)."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        publisher: MessagePublisher,
        clock: Clock,
        outputs_bucket: str = "outputs",
    ) -> None:
        self._uow = unit_of_work
        self._publisher = publisher
        self._clock = clock
        self._outputs = outputs_bucket
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, game: str, player: str, clips: Sequence[str], correlation_id: str) -> Job:
        key = final_key(game, player)
        if not clips or len(clips) > MAX_CLIPS:
            raise HighlightError(f"{key}: give 1 to {MAX_CLIPS} clips to join, not {len(clips)}")
        uris = [self._uri_of(clip) for clip in clips]
        now = self._clock.now()
        job = Job(
            str(uuid.uuid4()),
            JobKind.CONCAT,
            "final",
            safe_name(game, "game"),
            correlation_id,
            now,
            now,
            counts={"clips": len(uris)},
        )
        with self._uow() as uow:
            uow.jobs.add(job)
            uow.commit()
        message = ConcatRequested(job_id=job.job_id, clip_uris=tuple(uris), game=game, player=player)
        return self._jobs.queue(job, message, self._publisher, correlation_id)

    def _uri_of(self, clip: str) -> str:
        if clip.startswith("s3://"):
            if not clip.startswith(f"s3://{self._outputs}/") or clip.endswith("/"):
                raise InvalidInput(f"{clip}: only rendered videos in s3://{self._outputs}/ can be joined")
            return clip
        try:
            with self._uow() as uow:
                render = uow.jobs.get(clip)
        except JobNotFound as error:
            raise JobNotFound(f"{clip} is neither an s3:// URI nor a known render job") from error
        uri = render.outputs.get("output_uri")
        if render.kind is not JobKind.RENDER or render.status is not JobStatus.SUCCEEDED or not uri:
            raise StateConflict(f"job {clip} has no rendered video ({render.status.value}: {render.reason})")
        return uri


class TrackedClipConcatenator:
    """ConcatRequested: the clips joined, in order, into `final/{game}_{player}_tracked.mp4` in the
    outputs bucket (`final/{session}/...` for a session's finalize, whose session is then DONE with
    it). Clips of one size and frame rate are stream-copied; others are normalised to the first
    clip's (VideoEditor.concat). The final video is published only once it is complete."""

    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], videos: VideoStore, editor: VideoEditor, clock: Clock
    ) -> None:
        self._uow = unit_of_work
        self._videos = videos
        self._editor = editor
        self._clock = clock
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, message: ConcatRequested, delivery: Delivery) -> Result:
        stage = JobStage.PUBLISHING if message.session_id else JobStage.RENDERING
        job = self._jobs.save(self._jobs.get(message.job_id).running(stage, self._clock.now()))
        key = final_key(message.game, message.player, folder=message.session_id)
        with ExitStack() as stack:
            paths = [Path(stack.enter_context(self._videos.local_copy(uri))) for uri in message.clip_uris]
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pitchlens-final-")))
            joined = self._editor.concat(paths, scratch / Path(key).name)
            self._jobs.save(job.running(JobStage.PUBLISHING, self._clock.now()))
            uri = self._videos.publish_output(str(joined.path), key)
        counts = {"clips": len(message.clip_uris), "stream_copied": int(joined.stream_copied)}
        now = self._clock.now()
        with self._uow() as uow:
            current = uow.jobs.get(message.job_id)
            if message.session_id:
                counts = {**current.counts, **counts, "frames_done": current.counts.get("frames", 0)}
                session = uow.sessions.get(message.session_id)
                uow.sessions.update(
                    dataclasses.replace(session.with_status(SessionStatus.DONE, now), final_uri=uri)
                )
            uow.jobs.update(current.succeeded(counts, now, outputs={"final_uri": uri}))
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "final", counts=counts)
