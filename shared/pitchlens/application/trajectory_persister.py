from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.errors import ServiceUnavailable
from pitchlens.domain.messages import Delivery, VideoProcessed
from pitchlens.domain.ports import Clock, UnitOfWork
from pitchlens.domain.vision import ClipStatus, TrajectoryStore

CONSUMER = "persist"


class TrajectoryPersister:
    """Publishes a tracked clip's trajectories as Parquet in the tracking-data bucket and records
    the path, row count and schema version with the clip and the job, in one transaction. When
    object storage stays down through the upload's retries the job is FAILED with the reason and
    the message goes back to the queue (retried, then dead-lettered): nothing is lost."""

    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], trajectories: TrajectoryStore, clock: Clock
    ) -> None:
        self._uow = unit_of_work
        self._trajectories = trajectories
        self._clock = clock

    def execute(self, message: VideoProcessed, delivery: Delivery) -> Result:
        with self._uow() as uow:
            if uow.inbox.seen(CONSUMER, delivery.idempotency_key):
                return Result.of(delivery, Outcome.DUPLICATE, message.job_id, "video")
        try:
            stored = self._trajectories.publish(message.tracks_uri, message.match_id, message.clip_id)
        except ServiceUnavailable as error:
            with self._uow() as uow:
                uow.jobs.update(uow.jobs.get(message.job_id).failed(str(error), self._clock.now()))
                uow.commit()
            raise
        now = self._clock.now()
        counts = {"frames": message.frames, "tracks": message.tracks, "rows": stored.rows}
        with self._uow() as uow:
            clip = uow.clips.get(message.clip_id)
            uow.clips.update(
                dataclasses.replace(
                    clip,
                    status=ClipStatus.PERSISTED,
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
            uow.inbox.record(CONSUMER, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "video", counts=counts)
