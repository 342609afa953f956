from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.messages import Delivery, VideoProcessed
from pitchlens.domain.ports import Clock, UnitOfWork
from pitchlens.domain.vision import ClipStatus, TrajectoryStore


class TrajectoryPersister:
    """Publishes a tracked clip's trajectories as Parquet in the tracking-data bucket and records
    the path, row count and schema version with the clip and the job, in one transaction. Object
    storage down (after the upload's own retries) sends the message back to the queue; an unknown
    clip or a staged file that never appears FAILS the job and the clip (the message pipeline)."""

    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], trajectories: TrajectoryStore, clock: Clock
    ) -> None:
        self._uow = unit_of_work
        self._trajectories = trajectories
        self._clock = clock

    def execute(self, message: VideoProcessed, delivery: Delivery) -> Result:
        with self._uow() as uow:
            uow.clips.get(message.clip_id)  # an unknown clip is bad input, before any upload
        stored = self._trajectories.publish(message.tracks_uri, message.match_id, message.clip_id)
        now = self._clock.now()
        counts = {"frames": message.frames, "tracks": message.tracks, "rows": stored.rows}
        with self._uow() as uow:
            clip = uow.clips.get(message.clip_id)
            uow.clips.update(
                dataclasses.replace(
                    clip,
                    status=clip.status.then(ClipStatus.PERSISTED),
                    trajectories_uri=stored.uri,
                    trajectory_rows=stored.rows,
                    schema_version=stored.schema_version,
                    counts={**clip.counts, **counts},
                    updated_at=now,
                )
            )
            job = uow.jobs.get(message.job_id)
            uow.jobs.update(
                job.succeeded({**job.counts, **counts}, now, outputs={"trajectories_uri": stored.uri})
            )
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "video", counts=counts)
