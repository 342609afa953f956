"""Calibration of a processed clip: landmarks marked on one frame (or the pitch lines alone, on
request) -> its people in pitch metres."""

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
from pitchlens.domain.pitch import (
    Calibration,
    CalibrationPoint,
    Homography,
    InvalidCalibration,
    Orientation,
    calibrate,
)
from pitchlens.domain.ports import Clock, MessagePublisher, UnitOfWork
from pitchlens.domain.rendering import ClipNotReady
from pitchlens.domain.vision import (
    Clip,
    ClipStatus,
    FrameTracks,
    TrajectoryStore,
    VideoInfo,
    VideoReader,
    VideoStore,
)

MarkedPoint = tuple[str, float, float]
"""A landmark's name and where it was marked (x, y pixels of the frame)."""


def checked_calibration(
    clip: Clip, frame_index: int, points: Sequence[MarkedPoint], orientation: str
) -> tuple[Calibration, Orientation]:
    """The calibration the points give on the clip's frame, or InvalidCalibration naming what is
    wrong (too few points, unknown names, off the frame, collinear, folding, misplaced, a frame
    outside the clip); ClipNotReady before it is processed."""
    info, facing = _processed(clip), _facing(orientation)
    if not 0 <= frame_index < info.frames:
        raise InvalidCalibration(f"frame {frame_index} is outside the clip (0..{info.frames - 1})")
    marked = [CalibrationPoint(name, float(x), float(y)) for name, x, y in points]
    return calibrate(marked, frame_index, info.width, info.height), facing


def checked_automatic(clip: Clip, orientation: str, max_frames: int) -> Orientation:
    """The orientation of an automatic calibration of the whole clip, or InvalidCalibration when
    the clip is longer than one job places (a match is calibrated automatically while it is
    tracked, segment by segment: PITCHLENS_AUTOMATIC_CALIBRATION); ClipNotReady before it is
    processed."""
    info, facing = _processed(clip), _facing(orientation)
    if info.frames > max_frames:
        raise InvalidCalibration(
            f"clip {clip.clip_id} has {info.frames} frames: an automatic calibration places at most "
            f"{max_frames} in one job. Mark points on a frame of each shot instead, or process the "
            "video with PITCHLENS_AUTOMATIC_CALIBRATION=true (every segment is then calibrated as "
            "it is tracked)"
        )
    return facing


def _processed(clip: Clip) -> VideoInfo:
    if clip.status is not ClipStatus.PERSISTED or clip.trajectories_uri is None or clip.info is None:
        raise ClipNotReady(f"clip {clip.clip_id} is {clip.status.value}: calibrate it once it is processed")
    return clip.info


def _facing(orientation: str) -> Orientation:
    try:
        return Orientation(orientation)
    except ValueError as error:
        known = ", ".join(o.value for o in Orientation)
        raise InvalidCalibration(f"unknown orientation {orientation!r}; one of {known}") from error


def calibration_window(
    tracks: Sequence[FrameTracks], frame_index: int, frames: int, max_frames: int
) -> range:
    """The frames one calibration places: the marked frame's camera shot (the tracks' `shot`
    column; the whole clip when its cuts were not looked for), at most `max_frames` of it around
    the marked frame. A shot longer than that (a tactical camera's whole half) is placed a window
    at a time: another frame calibrated further on places the next one."""
    starts = sorted({int(frame.shot) for frame in tracks if frame.shot is not None})
    first = max((start for start in starts if start <= frame_index), default=0)
    last = min((start for start in starts if start > frame_index), default=frames) - 1
    begin = max(first, min(frame_index - max_frames // 2, last + 1 - max_frames))
    return range(begin, min(last + 1, begin + max_frames))


class CalibrationRequester:
    """Checks landmarks marked on a frame of a processed clip (`checked_calibration`: bad input
    raises before anything is stored), stores a PENDING calibrate job and queues
    `CalibrationRequested`; returns the job and the frame's calibration at once. `automatic` asks
    for the clip calibrated from its pitch lines alone instead (`checked_automatic`)."""

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
        calibration, facing = checked_calibration(clip, frame_index, points, orientation)
        return self._queued(clip, frame_index, points, facing, correlation_id, automatic=False), calibration

    def automatic(
        self, clip_id: str, correlation_id: str, orientation: str = Orientation.HOME_ATTACKS_RIGHT.value
    ) -> Job:
        with self._uow() as uow:
            clip = uow.clips.get(clip_id)
        facing = checked_automatic(clip, orientation, self._max_frames)
        return self._queued(clip, 0, (), facing, correlation_id, automatic=True)

    def _queued(
        self,
        clip: Clip,
        frame_index: int,
        points: Sequence[MarkedPoint],
        facing: Orientation,
        correlation_id: str,
        automatic: bool,
    ) -> Job:
        now = self._clock.now()
        job = Job(
            job_id=str(uuid.uuid4()),
            kind=JobKind.CALIBRATE,
            source="automatic" if automatic else "manual",
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
            automatic=automatic,
        )
        return self._jobs.queue(job, request, self._publisher, correlation_id)


class ClipCalibrator:
    """CalibrationRequested: the frames of the calibrated frame's shot (`calibration_window`: at
    most `max_frames` of it) read again and their people put in metres (`PlayerPlacer.metres`: the
    marked frame's homography carried through the shot by the camera motion, re-anchored on the
    pitch lines); the clip's trajectories rewritten with them (version 2), every other frame as it
    was (another shot keeps its automatic calibration or null metres, the reason in the file).
    Tracks never placed (placement off when processed) are placed in full over the window. An
    automatic calibration places the whole clip, each shot from its own pitch lines. The job counts
    the rows and frames that got metres and names the frames placed."""

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
        anchors: dict[int, Homography] = {}
        if message.automatic:
            facing = checked_automatic(clip, message.orientation, self._max_frames)
        else:
            calibration, facing = checked_calibration(
                clip, message.frame_index, message.points, message.orientation
            )
            anchors[message.frame_index] = calibration.homography
        assert clip.trajectories_uri is not None and clip.info is not None
        self._jobs.save(self._jobs.get(message.job_id).running(JobStage.TRACKING, self._clock.now()))
        tracks = self._trajectories.tracks(clip.trajectories_uri)
        window = (
            range(clip.info.frames)
            if message.automatic
            else calibration_window(tracks, message.frame_index, clip.info.frames, self._max_frames)
        )
        video = self._videos.readable(clip.video_uri)
        frames = self._reader.frames(video, self._reader.span(video, window.start, window.stop))
        inside = [frame for frame in tracks if frame.frame_index in window]
        if any(frame.on_pitch is not None for frame in inside):
            cuts = sorted({int(f.shot) for f in inside if f.shot is not None and f.shot > window.start})
            placed, path = self._placer.metres(inside, frames, anchors, facing, cuts)
        else:
            full = self._placer.execute(inside, frames, anchors, facing)
            placed, path = list(full.tracks), full.path
        source = path.source
        if source and (window.start > 0 or window.stop < clip.info.frames):
            source = f"frames {window.start}-{window.stop - 1}: {source}; the others as tracked"
        by_index = {frame.frame_index: frame for frame in placed}
        merged = [by_index.get(frame.frame_index, frame) for frame in tracks]
        staged = self._trajectories.stage(
            message.job_id,
            message.match_id,
            message.clip_id,
            clip.info.fps,
            merged,
            "calibrated",
            path.reason,
            source,
        )
        stored = self._trajectories.publish(staged, message.match_id, message.clip_id)
        rows = sum(len(frame) for frame in placed)
        with_metres = sum(
            1 for frame in placed for x, _ in (frame.pitch_xy or []) if not math.isnan(float(x))
        )
        counts = {
            "rows": rows,
            "rows_with_metres": with_metres,
            "frames_with_metres": sum(1 for h in path.homographies if h is not None),
            "frames_placed": len(window),
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
            outputs = {
                **job.outputs,
                "trajectories_uri": stored.uri,
                "placed_frames": f"{window.start}-{window.stop - 1}",
            }
            uow.jobs.update(job.succeeded({**job.counts, **counts}, now, path.reason, outputs))
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "video", counts=counts)
