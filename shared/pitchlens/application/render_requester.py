from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from pitchlens.application.job_keeper import JobKeeper
from pitchlens.domain.jobs import Job, JobKind
from pitchlens.domain.messages import RenderRequested
from pitchlens.domain.ports import Clock, MessagePublisher, UnitOfWork
from pitchlens.domain.rendering import ClipNotReady, check_selection, indicator_named, preset_named
from pitchlens.domain.vision import BoundingBox, Clip, ClipStatus


class RenderRequester:
    """Checks a request to render a processed clip (the clip exists and has trajectories, the box
    lies inside its frame, preset and indicator exist), creates a PENDING render job and queues
    `RenderRequested` (with `minimap`: the small pitch too, job output `minimap` = `on`); the job
    is returned at once. Bad requests raise before anything is stored:
    ClipNotFound, ClipNotReady, InvalidSelection."""

    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], publisher: MessagePublisher, clock: Clock
    ) -> None:
        self._uow = unit_of_work
        self._publisher = publisher
        self._jobs = JobKeeper(unit_of_work, clock)
        self._clock = clock

    def execute(
        self,
        clip_id: str,
        box: Sequence[float],
        correlation_id: str,
        frame_index: int | None = None,
        preset: str = "preview",
        indicator: str = "circle",
        minimap: bool = False,
    ) -> Job:
        chosen_preset, chosen_indicator = preset_named(preset), indicator_named(indicator)
        with self._uow() as uow:
            clip = uow.clips.get(clip_id)
        frame = clip.detection_frame if frame_index is None else frame_index
        selection = _checked(clip, box, frame)
        now = self._clock.now()
        job = Job(
            job_id=str(uuid.uuid4()),
            kind=JobKind.RENDER,
            source=chosen_preset.name,
            match_id=clip.match_id,
            correlation_id=correlation_id,
            created_at=now,
            updated_at=now,
            outputs={
                "clip_id": clip.clip_id,
                "preset": chosen_preset.name,
                "indicator": chosen_indicator.value,
                **({"minimap": "on"} if minimap else {}),
            },
        )
        with self._uow() as uow:
            uow.jobs.add(job)
            uow.commit()
        request = RenderRequested(
            job_id=job.job_id,
            clip_id=clip.clip_id,
            match_id=clip.match_id,
            frame_index=frame,
            box=(selection.x1, selection.y1, selection.x2, selection.y2),
            preset=chosen_preset.name,
            indicator=chosen_indicator.value,
            minimap=minimap,
        )
        return self._jobs.queue(job, request, self._publisher, correlation_id)


def _checked(clip: Clip, box: Sequence[float], frame: int) -> BoundingBox:
    if clip.status is not ClipStatus.PERSISTED or clip.trajectories_uri is None or clip.info is None:
        detail = f": {clip.reason}" if clip.reason else ""
        raise ClipNotReady(
            f"clip {clip.clip_id} is {clip.status.value}, not processed yet: it has no trajectories to "
            f"follow a player in{detail}"
        )
    return check_selection(box, frame, clip.info.width, clip.info.height, clip.info.frames)
