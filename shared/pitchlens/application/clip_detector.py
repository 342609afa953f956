from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.jobs import JobStage
from pitchlens.domain.messages import Delivery, DetectionRequested, PlayersDetected
from pitchlens.domain.ports import Clock, MessagePublisher, UnitOfWork
from pitchlens.domain.vision import ClipStatus, DetectionModel, VideoReader, VideoStore


class ClipDetector:
    """A registered clip's detection frame is decoded, people are detected on it, the frame and the
    detections are written as artifacts, the clip becomes DETECTED and `PlayersDetected` is emitted
    (the job moves to tracking). An unreadable video is bad input: the message pipeline fails the
    job and the clip with the reason."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        videos: VideoStore,
        reader: VideoReader,
        model: DetectionModel,
        publisher: MessagePublisher,
        clock: Clock,
    ) -> None:
        self._uow = unit_of_work
        self._videos = videos
        self._reader = reader
        self._model = model
        self._publisher = publisher
        self._clock = clock

    def execute(self, request: DetectionRequested, delivery: Delivery) -> Result:
        source = self._videos.readable(request.video_uri)  # read where it lies: a match is GBs
        info = self._reader.probe(source)
        image = self._reader.frame(source, request.frame_index)
        [detections] = self._model.detect([image], first_index=request.frame_index)
        artifacts = self._videos.save_detection(request.match_id, request.clip_id, image, detections)
        self._publisher.publish(
            PlayersDetected(
                job_id=request.job_id,
                clip_id=request.clip_id,
                match_id=request.match_id,
                video_uri=request.video_uri,
                frame_index=request.frame_index,
                frame_uri=artifacts.frame_uri,
                detections_uri=artifacts.detections_uri,
                detections=len(detections),
            ),
            correlation_id=delivery.correlation_id,
            idempotency_key=f"{request.job_id}:detected",
        )
        now = self._clock.now()
        counts = {"detections": len(detections), "frames": info.frames}
        with self._uow() as uow:
            clip = uow.clips.get(request.clip_id)
            uow.clips.update(
                dataclasses.replace(
                    clip,
                    status=clip.status.then(ClipStatus.DETECTED),
                    info=info,
                    frame_uri=artifacts.frame_uri,
                    detections_uri=artifacts.detections_uri,
                    counts=counts,
                    updated_at=now,
                )
            )
            current = uow.jobs.get(request.job_id)
            if not current.status.terminal:
                uow.jobs.update(
                    dataclasses.replace(
                        current.running(JobStage.TRACKING, now),
                        counts=counts,
                        outputs={
                            **current.outputs,
                            "frame_uri": artifacts.frame_uri,
                            "detections_uri": artifacts.detections_uri,
                        },
                    )
                )
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, request.job_id, "video", counts=counts)
