from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import Any

from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.application.player_placer import PitchSummary, PlayerPlacer, continuous_shots
from pitchlens.domain.appearance import Appearance, BoxAppearance
from pitchlens.domain.errors import InvalidTrackingData, PermanentError, PitchLensError
from pitchlens.domain.frame_sampling import fill_between, to_every_frame, to_source, tracking_step
from pitchlens.domain.jobs import JobStage, JobStatus
from pitchlens.domain.messages import (
    Delivery,
    PlayersDetected,
    SegmentTrackingRequested,
    TracksStitchRequested,
    VideoProcessed,
)
from pitchlens.domain.ports import Clock, MessagePublisher, ObjectStorage, UnitOfWork
from pitchlens.domain.segments import (
    Segment,
    SegmentPlan,
    SegmentStatus,
    TrackedSegment,
    overlap_frames,
    plan_segments,
    stitched_frames,
)
from pitchlens.domain.vision import (
    BoundingBox,
    ClipStatus,
    DetectionModel,
    FrameDetections,
    FrameSpan,
    FrameTracks,
    MultiObjectTracker,
    TrajectoryStore,
    VideoReader,
    VideoStore,
)

PROGRESS_EVERY = 50  # frames between progress updates of the job
LOOK_STRIDE = 2
"""Every this-many-th frame of a segment's edges is described for the stitch (the rest adds little)."""


class SegmentPlanner:
    """PlayersDetected: the clip is split into segments of about `segment_seconds` (one for a clip
    no longer than that; boundaries on keyframes where one is near), stored, and one
    `SegmentTrackingRequested` is queued per segment, for any number of workers to take. The
    video is read where it lies (`VideoStore.readable`): the probe reads its index, not its frames."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        videos: VideoStore,
        reader: VideoReader,
        publisher: MessagePublisher,
        clock: Clock,
        segment_seconds: float = 60.0,
        overlap_seconds: float = 1.0,
    ) -> None:
        self._uow = unit_of_work
        self._videos = videos
        self._reader = reader
        self._publisher = publisher
        self._clock = clock
        self._segment_seconds = segment_seconds
        self._overlap_seconds = overlap_seconds
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, message: PlayersDetected, delivery: Delivery) -> Result:
        source = self._videos.readable(message.video_uri)
        info = self._reader.probe(source)
        overlap = overlap_frames(self._overlap_seconds, info.fps)
        plans = plan_segments(
            info.frames, info.fps, self._reader.keyframes(source), self._segment_seconds, overlap
        )
        now = self._clock.now()
        with self._uow() as uow:
            uow.clips.get(message.clip_id, lock=True)
            uow.clips.add_segments(
                [Segment(message.clip_id, message.job_id, plan, SegmentStatus.PENDING, now) for plan in plans]
            )
            job = uow.jobs.get(message.job_id)
            if not job.status.terminal:
                counts = {**job.counts, "frames": info.frames, "frames_done": 0, "segments": len(plans)}
                uow.jobs.update(dataclasses.replace(job.running(JobStage.TRACKING, now), counts=counts))
            uow.commit()
        # Queued after the segments are stored (their workers update them) and before the inbox
        # record: a planner that dies in between is run again and queues the same keys again.
        for plan in plans:
            span = self._reader.span(source, plan.track_from, plan.stop)
            self._publisher.publish(
                SegmentTrackingRequested(
                    job_id=message.job_id,
                    clip_id=message.clip_id,
                    match_id=message.match_id,
                    video_uri=message.video_uri,
                    segment=plan.index,
                    segments=len(plans),
                    start=plan.start,
                    stop=plan.stop,
                    track_from=plan.track_from,
                    fps=info.fps,
                    seek_pts=span.seek_pts,
                    start_pts=span.start_pts,
                    overlap=overlap,
                ),
                correlation_id=delivery.correlation_id,
                idempotency_key=f"{message.job_id}:segment:{plan.index}",
            )
        with self._uow() as uow:
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "video", counts={"segments": len(plans)})


class SegmentTracker:
    """SegmentTrackingRequested: detection and multi-object tracking over one segment's frames
    (decoded by seeking, ahead of inference, never all in memory; at most `max_fps` of them a
    second, the frames between interpolated; decoded at the size the model can use), staged as the
    segment's tracks with how its tracks look at its edges; the segment DONE, the job's progress the
    sum of all its segments'. The last segment of a clip to be done (decided under a lock on the clip, so two
    finishing at once cannot both or neither fire) queues the stitch."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        videos: VideoStore,
        reader: VideoReader,
        model: DetectionModel,
        tracker_factory: Callable[[float], MultiObjectTracker],
        trajectories: TrajectoryStore,
        storage: ObjectStorage,
        looks: BoxAppearance,
        publisher: MessagePublisher,
        clock: Clock,
        batch_size: int = 8,
        placer: PlayerPlacer | None = None,
        max_fps: float | None = None,
    ) -> None:
        self._uow = unit_of_work
        self._placer = placer
        self._videos = videos
        self._reader = reader
        self._model = model
        self._max_fps = max_fps
        self._tracker_factory = tracker_factory
        self._trajectories = trajectories
        self._storage = storage
        self._looks = looks
        self._publisher = publisher
        self._clock = clock
        self._batch_size = batch_size
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, message: SegmentTrackingRequested, delivery: Delivery) -> Result:
        """Raises what the pipeline must fail or retry; the segment is marked FAILED with the
        reason first when it is bad input or the last attempt (so a sibling does not reopen the
        job, and `pitchlens jobs` can say which segments to re-drive)."""
        try:
            return self._track(message, delivery)
        except PermanentError as error:
            self._mark_failed(message, str(error))
            raise
        except Exception as error:
            if delivery.last_attempt:
                self._mark_failed(message, str(error))
            raise

    def _track(self, message: SegmentTrackingRequested, delivery: Delivery) -> Result:
        self._reopen(message)
        plan = SegmentPlan(message.segment, message.start, message.stop, message.track_from)
        span = FrameSpan(message.track_from, message.stop, message.seek_pts, message.start_pts)
        edges = EdgeLooks(plan, self._looks, message.overlap)
        placing = self._placer.start() if self._placer is not None else None
        seen: list[FrameTracks] = []  # the tracked frames as the placer saw them (decoded pixels)

        def see(index: int, image: Any, tracked: FrameTracks) -> None:
            edges.see(index, image, tracked)
            if placing is not None:
                placing.see(index, image, tracked)
                seen.append(tracked)

        path = self._videos.readable(message.video_uri)
        # At most max_fps frames a second are detected and tracked (the rest interpolated), each
        # decoded no larger than the model can use.
        step = tracking_step(message.fps, self._max_fps)
        width, height = self._reader.frame_size(path)
        size = self._model.frame_size(width, height)
        scale = (width / size[0], height / size[1])
        tracks = track_frames(
            self._reader.frames(path, span, step=step, size=None if size == (width, height) else size),
            self._model,
            self._tracker_factory(message.fps / step),
            self._batch_size,
            on_progress=lambda done: self._report(message, done),
            on_frame=see,
            scale=scale,
        )
        reason = source = None
        if placing is not None:
            # Placed in the pixels and on the frames it saw, then in source pixels on every frame.
            placed = placing.place(seen)
            tracks, reason, source = to_every_frame(placed.tracks, scale), placed.reason, placed.path.source
        name = f"segment-{message.segment:05d}"
        staged = self._trajectories.stage(
            message.job_id, message.match_id, message.clip_id, message.fps, tracks, name, reason, source
        )
        bucket, _, key = staged.removeprefix("s3://").partition("/")
        self._storage.put(bucket, key.replace(".parquet", ".looks.json"), edges.document())
        now = self._clock.now()
        with self._uow() as uow:
            uow.clips.get(message.clip_id, lock=True)  # segments of one clip finish one at a time
            segments = {
                segment.index: segment for segment in uow.clips.segments(message.clip_id, message.job_id)
            }
            mine = segments.get(message.segment)
            if mine is None:
                raise InvalidTrackingData(f"clip {message.clip_id} has no segment {message.segment}")
            segments[message.segment] = dataclasses.replace(
                mine,
                status=SegmentStatus.DONE,
                reason=None,
                tracks_uri=staged,
                frames_done=plan.stop - plan.start,
                updated_at=now,
            )
            uow.clips.update_segment(segments[message.segment])
            done = [s for s in segments.values() if s.status is SegmentStatus.DONE]
            job = uow.jobs.get(message.job_id)
            if not job.status.terminal:
                counts = {
                    **job.counts,
                    "frames_done": sum(s.frames_done for s in segments.values()),
                    "segments_done": len(done),
                }
                uow.jobs.update(dataclasses.replace(job, counts=counts, updated_at=now))
            uow.commit()
        if len(done) == len(segments):
            self._publisher.publish(
                TracksStitchRequested(message.job_id, message.clip_id, message.match_id, message.fps),
                correlation_id=delivery.correlation_id,
                idempotency_key=f"{message.job_id}:stitch",
            )
        with self._uow() as uow:
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        counts = {"frames": len(tracks), "segments_done": len(done), "segments": len(segments)}
        return Result.of(delivery, Outcome.DONE, message.job_id, "video", message.describe(), counts)

    def _reopen(self, message: SegmentTrackingRequested) -> None:
        """A segment re-driven after its job FAILED runs again, and the job with it when no other
        segment is still FAILED (the segments already done are not run again)."""
        job = self._jobs.get(message.job_id)
        if job.status is not JobStatus.FAILED:
            return
        with self._uow() as uow:
            segments = uow.clips.segments(message.clip_id, message.job_id)
        if not any(s.status is SegmentStatus.FAILED and s.index != message.segment for s in segments):
            self._jobs.save(job.running(JobStage.TRACKING, self._clock.now()))

    def _mark_failed(self, message: SegmentTrackingRequested, reason: str) -> None:
        try:
            with self._uow() as uow:
                mine = next(
                    (
                        s
                        for s in uow.clips.segments(message.clip_id, message.job_id)
                        if s.index == message.segment
                    ),
                    None,
                )
                if mine is None or mine.status is SegmentStatus.DONE:
                    return
                uow.clips.update_segment(
                    dataclasses.replace(
                        mine, status=SegmentStatus.FAILED, reason=reason, updated_at=self._clock.now()
                    )
                )
                uow.commit()
        except PitchLensError:
            pass  # the database is down too: the job's reason (set by the pipeline, or not) must do

    def _report(self, message: SegmentTrackingRequested, tracked: int) -> None:
        done = max(0, min(message.stop, message.track_from + tracked) - message.start)
        with self._uow() as uow:
            uow.clips.get(message.clip_id, lock=True)
            segments = uow.clips.segments(message.clip_id, message.job_id)
            mine = next((s for s in segments if s.index == message.segment), None)
            job = uow.jobs.get(message.job_id)
            if mine is None or mine.status is SegmentStatus.DONE or job.status.terminal:
                return
            uow.clips.update_segment(
                dataclasses.replace(mine, frames_done=done, updated_at=self._clock.now())
            )
            total = sum(done if s.index == message.segment else s.frames_done for s in segments)
            uow.jobs.update(dataclasses.replace(job, counts={**job.counts, "frames_done": total}))
            uow.commit()


class TrackStitcher:
    """TracksStitchRequested: the segments' tracks joined into clip-wide ones (`stitched_frames`:
    IoU on the frames two segments both tracked, appearance at their edges), staged as the clip's
    tracks (claim check) -> VideoProcessed (the persist function publishes them)."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        trajectories: TrajectoryStore,
        storage: ObjectStorage,
        looks: BoxAppearance,
        publisher: MessagePublisher,
        clock: Clock,
    ) -> None:
        self._uow = unit_of_work
        self._trajectories = trajectories
        self._storage = storage
        self._looks = looks
        self._publisher = publisher
        self._clock = clock

    def execute(self, message: TracksStitchRequested, delivery: Delivery) -> Result:
        with self._uow() as uow:
            segments = uow.clips.segments(message.clip_id, message.job_id)
        missing = [
            s.index + 1 for s in segments if s.status is not SegmentStatus.DONE or s.tracks_uri is None
        ]
        if not segments or missing:
            raise InvalidTrackingData(
                f"clip {message.clip_id} cannot be stitched: segments {missing} are not tracked"
            )
        # One segment's tracks at a time, read when the stitch reaches it and let go after: the
        # stitch of a 90-minute match holds two segments' frames, not 90.
        parts = (self._tracked(segment) for segment in segments)
        starts = {segment.plan.track_from for segment in segments}
        track_ids: set[int] = set()
        pitch = PitchSummary()

        def seen(frame: FrameTracks) -> FrameTracks:
            track_ids.update(int(i) for i in frame.track_ids)
            return pitch.see(frame)

        staged = self._trajectories.stage(
            message.job_id,
            message.match_id,
            message.clip_id,
            message.fps,
            map(seen, continuous_shots(stitched_frames(parts, self._looks.similarity), starts)),
            pitch_reason=lambda: pitch.reason,
            pitch_source=lambda: pitch.source,
        )
        frames = segments[-1].plan.stop
        self._publisher.publish(
            VideoProcessed(
                job_id=message.job_id,
                clip_id=message.clip_id,
                match_id=message.match_id,
                tracks_uri=staged,
                frames=frames,
                tracks=len(track_ids),
                fps=message.fps,
            ),
            correlation_id=delivery.correlation_id,
            idempotency_key=f"{message.job_id}:processed",
        )
        now = self._clock.now()
        counts = {
            "frames": frames,
            "frames_done": frames,
            "tracks": len(track_ids),
            "segments": len(segments),
        }
        with self._uow() as uow:
            clip = uow.clips.get(message.clip_id)
            uow.clips.update(
                dataclasses.replace(
                    clip,
                    status=clip.status.then(ClipStatus.TRACKED),
                    tracks_uri=staged,
                    counts={**clip.counts, **counts},
                    updated_at=now,
                )
            )
            job = uow.jobs.get(message.job_id)
            if not job.status.terminal:
                uow.jobs.update(
                    dataclasses.replace(
                        job.running(JobStage.PERSISTING, now), counts={**job.counts, **counts}
                    )
                )
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "video", counts=counts)

    def _tracked(self, segment: Segment) -> TrackedSegment:
        assert segment.tracks_uri is not None
        bucket, _, key = segment.tracks_uri.removeprefix("s3://").partition("/")
        document = json.loads(self._storage.get(bucket, key.replace(".parquet", ".looks.json")))
        decode = self._looks.decode
        return TrackedSegment(
            segment.plan,
            self._trajectories.tracks(segment.tracks_uri),
            {int(k): decode(v) for k, v in document.get("head", {}).items()},
            {int(k): decode(v) for k, v in document.get("tail", {}).items()},
        )


class EdgeLooks:
    """How each track of a segment looks just after the segment's start (`head`) and just before
    the next segment's overlap (`tail`): the mean description of its boxes there, gathered while
    the frames are in hand (no second read of the video)."""

    def __init__(self, plan: SegmentPlan, looks: BoxAppearance, overlap: int) -> None:
        self._plan = plan
        self._looks = looks
        self._head = range(plan.start, min(plan.stop, plan.start + overlap))
        self._tail = range(max(plan.start, plan.stop - 2 * overlap), max(plan.start, plan.stop - overlap))
        self._seen: dict[str, dict[int, list[Appearance]]] = {"head": {}, "tail": {}}

    def see(self, index: int, image: Any, tracks: FrameTracks) -> None:
        edges = [name for name, frames in (("head", self._head), ("tail", self._tail)) if index in frames]
        if not edges or index % LOOK_STRIDE or not len(tracks):
            return
        boxes = [BoundingBox(*map(float, box)) for box in tracks.boxes]
        for track_id, look in zip(tracks.track_ids, self._looks.describe_boxes(image, boxes), strict=True):
            if look is not None:
                for edge in edges:
                    self._seen[edge].setdefault(int(track_id), []).append(look)

    def means(self, edge: str) -> dict[int, Appearance]:
        """Each track's mean look on `edge` ("head" or "tail")."""
        return {track: self._looks.mean(looks) for track, looks in self._seen[edge].items()}

    def document(self) -> bytes:
        """The means as JSON, kept beside the segment's tracks for the stitch."""
        encode = self._looks.encode
        return json.dumps(
            {edge: {str(t): encode(look) for t, look in self.means(edge).items()} for edge in self._seen}
        ).encode()

    def tracked(self, tracks: Sequence[FrameTracks]) -> TrackedSegment:
        """The segment as the stitch takes it, in this process."""
        return TrackedSegment(self._plan, tracks, self.means("head"), self.means("tail"))


def track_frames(
    frames: Iterable[tuple[int, Any]],
    model: DetectionModel,
    tracker: MultiObjectTracker,
    batch_size: int,
    on_progress: Callable[[int], None] | None = None,
    on_frame: Callable[[int, Any, FrameTracks], None] | None = None,
    *,
    scale: tuple[float, float] = (1.0, 1.0),
) -> list[FrameTracks]:
    """Detection in batches, then tracking frame by frame, over a clip's (index, image) frames;
    `on_progress(frames_done)` about every PROGRESS_EVERY frames, `on_frame(index, image, tracks)`
    for each frame handed in while its image is in hand. The tracking loop of the track function,
    also what the benchmark measures.

    Frames may skip indexes (a reader's `step`): the frames skipped get the tracks of the frames
    around them, interpolated (`fill_between`), so one FrameTracks comes back per frame from the
    first to the last. Images may be smaller than the source: `scale` is source pixels per image
    pixel (x, y); the tracks returned are in source pixels, those `on_frame` gets in the image's.

    Detection of the next batch runs on a worker thread while this one tracks the last batch, so
    the tracker's own work (camera-motion compensation, matching) overlaps inference instead of
    leaving cores idle; at most two batches of frames are held."""
    tracks: list[FrameTracks] = []
    reported = 0

    def track(batch: list[tuple[int, Any]], detections: list[FrameDetections]) -> None:
        nonlocal reported
        for found, (index, image) in zip(detections, batch, strict=True):
            if found.frame_index != index:  # the model numbers a batch consecutively
                found = dataclasses.replace(found, frame_index=index)
            tracked = tracker.update(found, image)
            if on_frame is not None:
                on_frame(index, image, tracked)
            here = to_source(tracked, *scale)
            if tracks:
                tracks.extend(fill_between(tracks[-1], here))
            tracks.append(here)
        if on_progress is not None and len(tracks) // PROGRESS_EVERY > reported // PROGRESS_EVERY:
            reported = len(tracks)
            on_progress(reported)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="detect") as detector:
        pending: tuple[list[tuple[int, Any]], Future[list[FrameDetections]]] | None = None
        for batch in _batches(frames, batch_size):
            detecting = detector.submit(model.detect, [image for _, image in batch], batch[0][0])
            if pending is not None:
                track(pending[0], pending[1].result())
            pending = (batch, detecting)
        if pending is not None:
            track(pending[0], pending[1].result())
    return tracks


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of `size` items (the last one shorter), pulled lazily."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
