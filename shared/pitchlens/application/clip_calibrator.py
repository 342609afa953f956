"""Calibration of a processed clip: landmarks marked on one frame -> its people in pitch metres."""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Callable, Sequence

from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.application.player_placer import PlayerPlacer
from pitchlens.domain.jobs import Job, JobKind, JobStage
from pitchlens.domain.messages import CalibrationRequested, Delivery
from pitchlens.domain.pitch import Calibration, CalibrationPoint, InvalidCalibration, Orientation, calibrate
from pitchlens.domain.ports import Clock, MessagePublisher, UnitOfWork
from pitchlens.domain.rendering import ClipNotReady
from pitchlens.domain.vision import Clip, ClipStatus, TrajectoryStore, VideoReader, VideoStore

MarkedPoint = tuple[str, float, float]
"""A landmark's name and where it was marked (x, y pixels of the frame)."""


def checked_calibration(
    clip: Clip, frame_index: int, points: Sequence[MarkedPoint], orientation: str, max_frames: int
) -> tuple[Calibration, Orientation]:
    """The calibration the points give on the clip's frame, or InvalidCalibration naming what is
    wrong (too few points, unknown names, off the frame, collinear, folding, misplaced, a frame
    outside the clip, a clip too long to place in one pass); ClipNotReady before it is processed."""
    if clip.status is not ClipStatus.PERSISTED or clip.trajectories_uri is None or clip.info is None:
        raise ClipNotReady(f"clip {clip.clip_id} is {clip.status.value}: calibrate it once it is processed")
    try:
        facing = Orientation(orientation)
    except ValueError as error:
        known = ", ".join(o.value for o in Orientation)
        raise InvalidCalibration(f"unknown orientation {orientation!r}; one of {known}") from error
    if not 0 <= frame_index < clip.info.frames:
        raise InvalidCalibration(f"frame {frame_index} is outside the clip (0..{clip.info.frames - 1})")
    if clip.info.frames > max_frames:
        raise InvalidCalibration(
            f"clip {clip.clip_id} has {clip.info.frames} frames: calibrating more than {max_frames} "
            "in one pass is not supported yet (cut it into shorter clips)"
        )
    marked = [CalibrationPoint(name, float(x), float(y)) for name, x, y in points]
    return calibrate(marked, frame_index, clip.info.width, clip.info.height), facing


class CalibrationRequester:
    """Checks landmarks marked on a frame of a processed clip (`checked_calibration`: bad input
    raises before anything is stored), stores a PENDING calibrate job and queues
    `CalibrationRequested`; returns the job and the frame's calibration at once."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        publisher: MessagePublisher,
        clock: Clock,
        max_frames: int,
    ) -> None:
        self._uow = unit_of_work
        self._publisher = publisher
        self._clock = clock
        self._jobs = JobKeeper(unit_of_work, clock)
        self._max_frames = max_frames

    def execute(
        self,
        clip_id: str,
        frame_index: int,
        points: Sequence[MarkedPoint],
        correlation_id: str,
        orientation: str = Orientation.HOME_ATTACKS_RIGHT.value,
    ) -> tuple[Job, Calibration]:
        with self._uow() as uow:
            clip = uow.clips.get(clip_id)
        calibration, facing = checked_calibration(clip, frame_index, points, orientation, self._max_frames)
        now = self._clock.now()
        job = Job(
            job_id=str(uuid.uuid4()),
            kind=JobKind.CALIBRATE,
            source="manual",
            match_id=clip.match_id,
            correlation_id=correlation_id,
            created_at=now,
            updated_at=now,
            outputs={"clip_id": clip.clip_id, "orientation": facing.value},
        )
        with self._uow() as uow:
            uow.jobs.add(job)
            uow.commit()
        request = CalibrationRequested(
            job_id=job.job_id,
            clip_id=clip.clip_id,
            match_id=clip.match_id,
            frame_index=frame_index,
            points=tuple((name, float(x), float(y)) for name, x, y in points),
            orientation=facing.value,
        )
        return self._jobs.queue(job, request, self._publisher, correlation_id), calibration


class ClipCalibrator:
    """CalibrationRequested: the clip's tracked people placed again in one pass over its video
    (`PlayerPlacer` with the calibrated frame as the anchor of its shot: carried through the shot
    by the camera motion, re-anchored on the pitch lines), and its trajectories rewritten with
    metres (version 2; frames of other shots keep null metres, the reason in the file). The job
    counts the rows and frames that got metres."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        videos: VideoStore,
        reader: VideoReader,
        trajectories: TrajectoryStore,
        placer: PlayerPlacer,
        clock: Clock,
        max_frames: int,
    ) -> None:
        self._uow = unit_of_work
        self._videos = videos
        self._reader = reader
        self._trajectories = trajectories
        self._placer = placer
        self._clock = clock
        self._jobs = JobKeeper(unit_of_work, clock)
        self._max_frames = max_frames

    def execute(self, message: CalibrationRequested, delivery: Delivery) -> Result:
        with self._uow() as uow:
            clip = uow.clips.get(message.clip_id)
        calibration, facing = checked_calibration(
            clip, message.frame_index, message.points, message.orientation, self._max_frames
        )
        assert clip.trajectories_uri is not None and clip.info is not None
        self._jobs.save(self._jobs.get(message.job_id).running(JobStage.TRACKING, self._clock.now()))
        tracks = self._trajectories.tracks(clip.trajectories_uri)
        frames = self._reader.frames(self._videos.readable(clip.video_uri))
        placed = self._placer.execute(tracks, frames, {message.frame_index: calibration.homography}, facing)
        staged = self._trajectories.stage(
            message.job_id,
            message.match_id,
            message.clip_id,
            clip.info.fps,
            placed.tracks,
            "calibrated",
            placed.reason,
            placed.path.source,
        )
        stored = self._trajectories.publish(staged, message.match_id, message.clip_id)
        rows = sum(len(frame) for frame in placed.tracks)
        with_metres = sum(
            1 for frame in placed.tracks for x, _ in (frame.pitch_xy or []) if not math.isnan(float(x))
        )
        counts = {
            "rows": rows,
            "rows_with_metres": with_metres,
            "frames_with_metres": sum(1 for h in placed.path.homographies if h is not None),
        }
        now = self._clock.now()
        with self._uow() as uow:
            current = uow.clips.get(message.clip_id)
            uow.clips.update(
                dataclasses.replace(
                    current,
                    trajectories_uri=stored.uri,
                    trajectory_rows=stored.rows,
                    schema_version=stored.schema_version,
                    updated_at=now,
                )
            )
            job = uow.jobs.get(message.job_id)
            outputs = {**job.outputs, "trajectories_uri": stored.uri}
            uow.jobs.update(job.succeeded({**job.counts, **counts}, now, placed.reason, outputs))
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "video", counts=counts)
