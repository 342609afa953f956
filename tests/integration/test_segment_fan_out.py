"""The segment fan-out against its real parts: PostgreSQL decides which segment is the last one
done (row lock), and PyAV decodes each segment by seeking, failing only a damaged one.

Detection and tracking are fakes here (what is under test is who fires the stitch and what a
damaged stretch of video does); the YOLO path over segments is test_player_following's."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from pitchlens.application.outcomes import Outcome
from pitchlens.domain.jobs import JobStatus
from pitchlens.domain.messages import SegmentTrackingRequested, TracksStitchRequested, VideoUploaded
from pitchlens.domain.ports import UnitOfWork
from pitchlens.domain.segments import SegmentStatus
from pitchlens.infrastructure.postgres.unit_of_work import PostgresUnitOfWork
from tests.fakes.system import FakeSystem
from tests.fakes.vision import FakeTrajectoryStore

pytestmark = pytest.mark.integration

DFL = "dfl_08fd33_4_848x478.mp4"


class OnPostgres(FakeSystem):
    """The fakes' system with its database a real PostgreSQL."""

    def __init__(self, database_url: str, **settings: object) -> None:
        super().__init__(database_url=database_url, **settings)

    def unit_of_work(self) -> UnitOfWork:
        return PostgresUnitOfWork(self.engine)


class MeetingStore(FakeTrajectoryStore):
    """Stages a segment's tracks only once `parties` segments are staging at once: they then
    race to record themselves done."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=30)

    def stage(self, *args: object, **kwargs: object) -> str:
        self.barrier.wait()
        return super().stage(*args, **kwargs)  # type: ignore[arg-type]


def segments_of(system: FakeSystem, frames: int) -> list[tuple[SegmentTrackingRequested, str]]:
    stored = system.storage.put("videos", "m1/match.mp4", str(frames).encode())
    system.deliver(VideoUploaded("videos", "m1/match.mp4", stored.size, stored.etag))
    system.drain(until=SegmentTrackingRequested)
    found = [(m, k) for m, _, k in system.publisher.sent if isinstance(m, SegmentTrackingRequested)]
    system.publisher.sent.clear()
    return found  # type: ignore[return-value]


@pytest.mark.parametrize("attempt", range(5))
def test_two_segments_finishing_at_once_fire_the_stitch_once(database_url: str, attempt: int) -> None:
    system = OnPostgres(database_url, segment_seconds=0.4, segment_overlap_seconds=0.12)
    segments = segments_of(system, 40)
    assert len(segments) == 4
    for message, key in segments[:2]:
        system.deliver(message, key)
    system.trajectories = MeetingStore(parties=2)
    results: list[Outcome] = []
    racers = [
        threading.Thread(target=lambda m=m, k=k: results.append(system.deliver(m, k)[-1].outcome))
        for m, k in segments[2:]
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    assert results == [Outcome.DONE, Outcome.DONE]
    assert len(system.published(TracksStitchRequested)) == 1  # neither none nor two
    with system.unit_of_work() as uow:
        job = uow.jobs.get(segments[0][0].job_id)
        assert job.counts["segments_done"] == 4 and job.counts["frames_done"] == 40


@pytest.fixture(scope="module")
def damaged_video(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The DFL clip looped to 507 frames (20 s), and a copy with 300 kB zeroed at its middle."""
    import imageio_ffmpeg

    folder = tmp_path_factory.mktemp("damaged")
    whole, damaged = folder / "whole.mp4", folder / "damaged.mp4"
    loop = ["-stream_loop", "2", "-i", str(shared_data / "video" / DFL), "-c", "copy", str(whole)]
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *loop], check=True, timeout=60
    )
    data = bytearray(whole.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 300_000] = bytes(300_000)
    damaged.write_bytes(data)
    return whole, damaged


def run_segments(video: Path) -> tuple[FakeSystem, list[Outcome]]:
    """The video tracked as 5-s segments by the real decoder (fake detection and tracking)."""
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    system = FakeSystem(segment_seconds=5.0, segment_overlap_seconds=1.0)
    system.video_reader = PyAVVideoReader()
    stored = system.storage.put("videos", "m1/match.mp4", video.read_bytes())
    system.deliver(VideoUploaded("videos", "m1/match.mp4", stored.size, stored.etag))
    system.drain(until=SegmentTrackingRequested)
    segments = [(m, k) for m, _, k in system.publisher.sent if isinstance(m, SegmentTrackingRequested)]
    system.publisher.sent.clear()
    return system, [system.deliver(m, k)[-1].outcome for m, k in segments]


def test_every_segment_decodes_by_seeking_and_the_stitch_has_every_frame_once(
    damaged_video: tuple[Path, Path],
) -> None:
    system, outcomes = run_segments(damaged_video[0])
    assert outcomes == [Outcome.DONE] * 4
    system.drain()
    assert system.job().status is JobStatus.SUCCEEDED
    [tracks] = system.trajectories.published.values()
    assert [f.frame_index for f in tracks] == list(range(507))


def test_a_damaged_middle_segment_fails_alone_and_the_job_names_it(
    damaged_video: tuple[Path, Path],
) -> None:
    system, outcomes = run_segments(damaged_video[1])
    assert outcomes == [Outcome.DONE, Outcome.DONE, Outcome.FAILED, Outcome.DONE]
    job = system.job()
    assert job.status is JobStatus.FAILED
    assert (job.reason or "").startswith("segment 3 of 4 (frames 254..379): ")
    assert "(truncated or damaged file)" in (job.reason or "")
    statuses = [s.status for s in sorted(system.database.segments.values(), key=lambda s: s.index)]
    assert statuses == [SegmentStatus.DONE, SegmentStatus.DONE, SegmentStatus.FAILED, SegmentStatus.DONE]
    assert not system.published(TracksStitchRequested)
