from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.appearance import AppearanceEncoder
from pitchlens.domain.following import PlayerFollower
from pitchlens.domain.jobs import Job, JobStage
from pitchlens.domain.messages import Delivery, RenderRequested
from pitchlens.domain.ports import Clock, UnitOfWork
from pitchlens.domain.rendering import (
    ClipNotReady,
    Indicator,
    IndicatorRenderer,
    ProgressCallback,
    RenderedVideo,
    RenderPreset,
    check_selection,
    indicator_named,
    pitch_positions,
    preset_named,
    smooth_followed,
)
from pitchlens.domain.vision import Clip, TrajectoryStore, VideoReader, VideoStore, every_frame

PROGRESS_INTERVAL_S = 1.0
"""Least time between two progress updates of the job (one small transaction each)."""
OUTPUT_FOLDERS = {"preview": "previews", "final": "tracked"}
"""Key prefix in the outputs bucket, by preset."""


def output_key(message: RenderRequested) -> str:
    """`previews/<match>/<clip>/<indicator>-<job>.mp4` (preview) or `tracked/...` (final)."""
    folder = OUTPUT_FOLDERS.get(message.preset, message.preset)
    return f"{folder}/{message.match_id}/{message.clip_id}/{message.indicator}-{message.job_id}.mp4"


class ClipRenderer:
    """Renders a processed clip with an indicator over one player: reads the clip's trajectories,
    follows the player chosen by the message's box (PlayerFollower: tracklets stitched by motion and
    kit colours, lost frames marked), smooths the boxes, draws the indicator on every frame where the
    player is seen (and the minimap on every frame when the message asks for it) and encodes the
    preset (IndicatorRenderer), then publishes the video under `previews/` or `tracked/` in the
    outputs bucket. Progress is the fraction of frames rendered.
    Bad input (unknown clip, a box outside the frame, tracking data that does not fit the video, an
    unreadable video) FAILS the job with the reason; a dependency down is retried, then dead-lettered."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        videos: VideoStore,
        reader: VideoReader,
        trajectories: TrajectoryStore,
        appearance: Callable[[str], AppearanceEncoder],
        renderer: IndicatorRenderer,
        clock: Clock,
        follower: PlayerFollower | None = None,
    ) -> None:
        self._uow = unit_of_work
        self._videos = videos
        self._clock = clock
        self._follow_render = FollowRender(videos, reader, trajectories, appearance, renderer, follower)
        self._jobs = JobKeeper(unit_of_work, clock)

    def execute(self, message: RenderRequested, delivery: Delivery) -> Result:
        preset, indicator = preset_named(message.preset), indicator_named(message.indicator)
        with self._uow() as uow:
            clip = uow.clips.get(message.clip_id)
            job = uow.jobs.get(message.job_id)
        job = self._advance(job.running(JobStage.FOLLOWING, self._clock.now()))

        def followed(frames: int, lost: int) -> None:
            self._advance(
                dataclasses.replace(
                    job.running(JobStage.RENDERING, self._clock.now()),
                    counts={"frames": frames, "frames_done": 0, "lost_frames": lost},
                )
            )

        progress = Throttled(lambda done, total: self._report(message.job_id, done, total))
        with tempfile.TemporaryDirectory(prefix="pitchlens-render-") as scratch:
            rendered = self._follow_render.render(
                clip,
                message.box,
                message.frame_index,
                indicator,
                preset,
                str(Path(scratch) / "render.mp4"),
                on_followed=followed,
                on_progress=progress,
                minimap=message.minimap,
            )
            self._advance(job.running(JobStage.PUBLISHING, self._clock.now()), keep_counts=True)
            uri = self._videos.publish_output(rendered.path, output_key(message))
        counts = {
            "frames": rendered.source_frames,
            "frames_done": rendered.source_frames,
            "marked_frames": rendered.marked_frames,
            "lost_frames": rendered.source_frames - rendered.marked_frames,
            "output_frames": rendered.frames,
            "width": rendered.width,
            "height": rendered.height,
        }
        if message.minimap:
            counts["minimap_frames"] = rendered.minimap_frames
        with self._uow() as uow:
            job = uow.jobs.get(message.job_id)
            uow.jobs.update(job.succeeded(counts, self._clock.now(), outputs={"output_uri": uri}))
            uow.inbox.record(delivery.consumer, delivery.idempotency_key)
            uow.commit()
        return Result.of(delivery, Outcome.DONE, message.job_id, "render", counts=counts)

    def _advance(self, job: Job, keep_counts: bool = False) -> Job:
        """Saves the job's new stage (with the latest counts when `keep_counts`)."""
        with self._uow() as uow:
            if keep_counts:
                job = dataclasses.replace(job, counts=uow.jobs.get(job.job_id).counts)
            uow.jobs.update(job)
            uow.commit()
        return job

    def _report(self, job_id: str, done: int, total: int) -> None:
        self._jobs.count(job_id, frames=total, frames_done=done)


class FollowRender:
    """The render pipeline without bookkeeping: a processed clip's trajectories and video -> the player
    under `box` followed (PlayerFollower), smoothed, drawn and encoded into a local file."""

    def __init__(
        self,
        videos: VideoStore,
        reader: VideoReader,
        trajectories: TrajectoryStore,
        appearance: Callable[[str], AppearanceEncoder],
        renderer: IndicatorRenderer,
        follower: PlayerFollower | None = None,
    ) -> None:
        self._videos = videos
        self._reader = reader
        self._trajectories = trajectories
        self._appearance = appearance
        self._renderer = renderer
        self._follower = follower or PlayerFollower()

    def render(
        self,
        clip: Clip,
        box: Sequence[float],
        frame_index: int,
        indicator: Indicator,
        preset: RenderPreset,
        target: str,
        on_followed: Callable[[int, int], None] | None = None,
        on_progress: ProgressCallback | None = None,
        minimap: bool = False,
    ) -> RenderedVideo:
        """`on_followed(frames, lost frames)` once the player is followed, before rendering. With
        `minimap`, every frame also shows who stands where on the pitch (a frame without metres: a
        "not calibrated" note on it).
        ClipNotReady without trajectories; InvalidSelection, PlayerNotTracked, InvalidTrackingData,
        InvalidVideo for bad input."""
        if clip.trajectories_uri is None:
            raise ClipNotReady(f"clip {clip.clip_id} has no trajectories ({clip.status.value})")
        tracks = self._trajectories.tracks(clip.trajectories_uri)
        with self._videos.local_copy(clip.video_uri) as path:
            info = self._reader.probe(path)
            selection = check_selection(box, frame_index, info.width, info.height, info.frames)
            frames = every_frame(tracks, info.frames)
            follower = self._follower.at_rate(info.fps)
            followed = follower.execute(frames, self._appearance(path), selection, frame_index)
            if on_followed is not None:
                on_followed(info.frames, sum(1 for frame in followed if frame.lost or frame.box is None))
            positions = pitch_positions(frames, followed) if minimap else None
            return self._renderer.render(
                path, target, smooth_followed(followed), indicator, preset, on_progress, positions
            )


class Throttled:
    """Passes progress on at most every PROGRESS_INTERVAL_S, and always the last frame."""

    def __init__(self, report: Callable[[int, int], None]) -> None:
        self._report = report
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self._report(done, total)
