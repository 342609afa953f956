"""A long video tracked as segments in parallel and stitched: the plan, the stitch, and the fan-out
through the real composition root over fakes (any order, duplicates, failures, redrive)."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from itertools import pairwise

import numpy as np
import pytest

from pitchlens.application.outcomes import Outcome
from pitchlens.domain.errors import ServiceUnavailable
from pitchlens.domain.jobs import JobStatus
from pitchlens.domain.messages import (
    SegmentTrackingRequested,
    TracksStitchRequested,
    VideoProcessed,
    VideoUploaded,
)
from pitchlens.domain.segments import (
    SegmentPlan,
    SegmentStatus,
    TrackedSegment,
    plan_segments,
    stitch_ids,
    stitch_segments,
    stitched_frames,
    team_renaming,
)
from pitchlens.domain.vision import ClipStatus, FrameTracks
from tests.fakes.system import FakeSystem

pytestmark = pytest.mark.unit


# --- The plan ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("frames", "keyframes", "expected", "what"),
    [
        (100, [0], [(0, 0, 100)], "no longer than a segment: one"),
        (300, [0], [(0, 0, 100), (100, 90, 200), (200, 190, 300)], "no keyframes: nominal boundaries"),
        (300, [0, 110, 205], [(0, 0, 110), (110, 100, 205), (205, 195, 300)], "keyframes near: on them"),
        (300, [0, 150], [(0, 0, 100), (100, 90, 200), (200, 190, 300)], "keyframes too far: nominal"),
        (135_000, list(range(0, 135_000, 169)), None, "a 90-minute match looped from a 169-frame clip"),
    ],
)
def test_plan_segments(
    frames: int, keyframes: list[int], expected: list[tuple[int, int, int]] | None, what: str
) -> None:
    plans = plan_segments(frames, 25.0, keyframes, 4.0, 10)
    if expected is not None:
        assert [(p.start, p.track_from, p.stop) for p in plans] == expected
    assert plans[0].start == 0 and plans[-1].stop == frames
    assert all(a.stop == b.start for a, b in pairwise(plans))  # every frame once
    assert all(p.index == i for i, p in enumerate(plans))
    keys = set(keyframes)
    for plan in plans[1:]:  # on a keyframe whenever one is within a quarter segment of it
        near = [k for k in keys if abs(k - plan.start) <= 25]
        assert plan.start in keys or not near, (plan, near)
    if frames == 135_000:
        assert len(plans) == 1350 and sum(p.start in keys for p in plans) > 1350 * 0.25


def test_a_plan_refuses_what_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="no segments"):
        plan_segments(0, 25.0, [0], 60, 10)


# --- The stitch --------------------------------------------------------------------------------------
def boxes(x: float, frames: range) -> dict[int, tuple[float, float, float, float]]:
    return {f: (x, 0.0, x + 10.0, 30.0) for f in frames}


def test_tracks_on_the_same_player_across_the_overlap_are_one() -> None:
    overlap = range(90, 100)
    earlier = {7: boxes(0, overlap), 8: boxes(50, overlap)}
    later = {1: boxes(50.5, overlap), 2: boxes(0.5, overlap), 3: boxes(200, range(95, 100))}
    assert stitch_ids(earlier, later) == {2: 7, 1: 8}


def test_a_pair_that_looks_unalike_is_not_joined() -> None:
    overlap = range(90, 100)
    earlier, later = {7: boxes(0, overlap)}, {1: boxes(0, overlap)}
    assert stitch_ids(earlier, later, alike={(7, 1): 0.1}) == {}
    assert stitch_ids(earlier, later, alike={(7, 1): 0.9}) == {1: 7}


def test_the_pieces_alive_at_the_boundary_are_paired_when_a_track_broke_in_the_overlap() -> None:
    # One player over the overlap 31..55 (the boxes a pixel or less apart): the earlier segment's
    # tracker lost him at 32 (track 24) and took him up again from 36 (69); the later one's lost
    # him at 40 (15) and took him up again from 46 (44). 69 agrees with 15 a little better on 5
    # frames than with 44 on 10; the pair alive at the boundary is 69 and 44.
    earlier = {24: boxes(-1, range(6, 33)), 69: boxes(0, range(36, 56))}
    later = {15: boxes(0.2, range(31, 41)), 44: boxes(0.5, range(46, 81))}
    assert stitch_ids(earlier, later) == {44: 69, 15: 24}


def test_one_common_frame_joins_only_on_a_strong_overlap() -> None:
    assert stitch_ids({7: boxes(0, range(99, 100))}, {1: boxes(4, range(99, 100))}) == {}  # IoU 0.43
    assert stitch_ids({7: boxes(0, range(99, 100))}, {1: boxes(1, range(99, 100))}) == {1: 7}  # IoU 0.82


def walking(x: float, frames: range) -> dict[int, tuple[float, float, float, float]]:
    """A player walking right 2 px a frame, at `x` on frame 0."""
    return {f: (x + 2 * f, 0.0, x + 2 * f + 10.0, 30.0) for f in frames}


def test_a_player_lost_just_before_a_boundary_continues_in_a_track_born_just_after() -> None:
    earlier = {7: walking(0, range(80, 95)), 8: walking(300, range(80, 99))}
    later = {1: walking(0, range(104, 120)), 2: walking(340, range(101, 120))}  # 2: somebody else
    assert stitch_ids(earlier, later, max_gap=10) == {1: 7}
    assert stitch_ids(earlier, later, max_gap=5) == {}  # lost for 9 frames: too long
    assert stitch_ids(earlier, later, alike={(7, 1): 0.1}, max_gap=10) == {}  # plainly different kits


def frames_of(plan: SegmentPlan, players: dict[int, float]) -> list[FrameTracks]:
    """Players walking right a pixel a frame, each under its own track id in this segment."""
    return [
        FrameTracks(
            f, list(players), [[x + f, 0, x + f + 10, 30] for x in players.values()], [0.9] * len(players)
        )
        for f in range(plan.track_from, plan.stop)
    ]


def test_the_stitch_takes_each_segment_when_its_frames_are_due() -> None:
    """A 90-minute match's stitch holds two segments, not 90: the segments come lazily."""
    plans = plan_segments(600, 25.0, [0], 4.0, 10)
    taken: list[int] = []

    def lazily() -> Iterator[TrackedSegment]:
        for plan in plans:
            taken.append(plan.index)
            yield TrackedSegment(plan, frames_of(plan, {1: 0, 2: 100}), {}, {})

    stitched = stitched_frames(lazily())
    for frame in stitched:
        segment = next(p.index for p in plans if p.start <= frame.frame_index < p.stop)
        assert taken[-1] <= segment + 1  # at most the next one, to stitch it on
    assert taken == [p.index for p in plans] and len(plans) == 6


def test_segments_are_stitched_into_clip_wide_ids_each_frame_once() -> None:
    plans = plan_segments(300, 25.0, [0], 4.0, 10)
    parts = [
        TrackedSegment(plans[0], frames_of(plans[0], {4: 0, 5: 100}), {}, {4: "red", 5: "white"}),
        TrackedSegment(
            plans[1],
            frames_of(plans[1], {1: 100, 2: 0, 9: 300}),
            {1: "white", 2: "red"},
            {1: "white", 2: "red"},
        ),
        TrackedSegment(plans[2], frames_of(plans[2], {6: 0, 3: 100}), {6: "red", 3: "white"}, {}),
    ]
    stitched = stitch_segments(parts, lambda a, b: 1.0 if a == b else 0.0)
    assert [f.frame_index for f in stitched] == list(range(300))  # every frame once
    by_x = {
        round(float(box[0]) - f.frame_index): track
        for f in stitched
        for track, box in zip(f.track_ids, f.boxes, strict=True)
    }
    assert by_x[0] == 1 and by_x[100] == 2  # one id each through all three segments
    assert by_x[300] == 3  # a player only the middle segment saw: a new id
    assert len({int(t) for f in stitched for t in f.track_ids}) == 3


# --- The fan-out through the pipeline ----------------------------------------------------------------
def system(**settings: object) -> FakeSystem:
    return FakeSystem(segment_seconds=0.4, segment_overlap_seconds=0.12, **settings)


def upload(fake: FakeSystem, frames: int = 40, job_id: str | None = None) -> VideoUploaded:
    metadata = {"correlation-id": "c", **({"job-id": job_id} if job_id else {})}
    stored = fake.storage.put("videos", "m1/match.mp4", str(frames).encode(), metadata=metadata)
    return VideoUploaded("videos", "m1/match.mp4", stored.size, stored.etag)


def segment_messages(fake: FakeSystem) -> list[tuple[SegmentTrackingRequested, str]]:
    fake.drain(until=SegmentTrackingRequested)
    found = [(m, k) for m, _, k in fake.publisher.sent if isinstance(m, SegmentTrackingRequested)]
    fake.publisher.sent = [
        entry for entry in fake.publisher.sent if not isinstance(entry[0], SegmentTrackingRequested)
    ]
    return found  # type: ignore[return-value]


def test_a_long_video_is_tracked_in_segments_in_any_order_and_stitched_once() -> None:
    fake = system()
    fake.deliver(upload(fake))
    segments = segment_messages(fake)
    assert len(segments) == 4 and fake.job().counts["segments"] == 4
    order = segments + segments[:2]  # delivered out of order, two of them twice
    random.Random(7).shuffle(order)
    outcomes = [fake.deliver(message, key)[-1].outcome for message, key in order]
    assert outcomes.count(Outcome.DONE) == 4 and outcomes.count(Outcome.DUPLICATE) == 2
    stitches = fake.published(TracksStitchRequested)
    assert len(stitches) == 1  # the last segment done fired the stitch, once
    fake.drain()
    job = fake.job()
    assert job.status is JobStatus.SUCCEEDED and job.counts["frames"] == 40 and job.counts["tracks"] == 2
    [clip] = fake.database.clips.values()
    assert clip.status is ClipStatus.PERSISTED
    [tracks] = fake.trajectories.published.values()
    assert [f.frame_index for f in tracks] == list(range(40))
    assert {int(t) for f in tracks for t in f.track_ids} == {1, 2}


def test_the_same_video_processed_again_is_split_again_under_its_new_job() -> None:
    fake = system()
    fake.deliver(upload(fake))
    first = segment_messages(fake)
    for message, key in first:
        fake.deliver(message, key)
    fake.drain()
    fake.deliver(upload(fake, job_id="job-2"), "second-upload")  # the same bytes: the same clip
    second = segment_messages(fake)
    assert len(second) == 4 and {m.job_id for m, _ in second} == {"job-2"}
    for message, key in second[:3]:
        fake.deliver(message, key)
    assert not [s for s in fake.published(TracksStitchRequested) if s.job_id == "job-2"]  # one to go
    fake.deliver(*second[3])
    assert len([s for s in fake.published(TracksStitchRequested) if s.job_id == "job-2"]) == 1
    fake.drain()
    job = fake.job("job-2")
    assert job.status is JobStatus.SUCCEEDED and job.counts["frames"] == 40 and job.counts["tracks"] == 2


def test_progress_adds_up_over_segments() -> None:
    fake = system()
    fake.deliver(upload(fake))
    segments = segment_messages(fake)
    seen = []
    for message, key in segments:
        fake.deliver(message, key)
        seen.append(fake.job().progress)
    assert seen == sorted(seen) and seen[0] < seen[-1]
    assert fake.job().counts["frames_done"] == 40


def test_a_segment_that_cannot_be_decoded_fails_the_job_naming_it() -> None:
    fake = system()
    fake.deliver(upload(fake))
    segments = segment_messages(fake)
    fake.storage.put("videos", "m1/match.mp4", b"12")  # the file lost its end: segment 2 on are gone
    results = [fake.deliver(message, key)[-1] for message, key in segments]
    assert [r.outcome for r in results] == [Outcome.DONE, Outcome.FAILED, Outcome.FAILED, Outcome.FAILED]
    job = fake.job()
    assert job.status is JobStatus.FAILED and (job.reason or "").startswith(
        "segment 2 of 4 (frames 10..19): "
    )
    assert not fake.published(TracksStitchRequested)
    failed = {s.index: s.reason for s in fake.database.segments.values() if s.status is SegmentStatus.FAILED}
    assert sorted(failed) == [1, 2, 3] and "not in the 12" in (failed[1] or "")
    fake.storage.put("videos", "m1/match.mp4", b"40")  # the whole file back: replay the three
    fake.deliver(*segments[1], force=True)
    assert fake.job().status is JobStatus.FAILED  # two segments still failed: the job stays so
    for message, key in segments[2:]:
        fake.deliver(message, key, force=True)
    fake.drain()
    assert fake.job().status is JobStatus.SUCCEEDED and fake.job().counts["tracks"] == 2


def test_a_redriven_segment_resumes_the_job_and_runs_only_what_is_missing() -> None:
    fake = system()
    fake.deliver(upload(fake))
    segments = segment_messages(fake)
    for message, key in segments[:3]:
        fake.deliver(message, key)
    last, key = segments[3]
    fake.publisher.down = True
    for attempt in (1, 2, 3):  # its dependency stays down: dead-lettered, the job FAILED naming it
        with pytest.raises(ServiceUnavailable):
            fake.deliver(last, key, attempt)
    assert fake.job().status is JobStatus.FAILED and "segment 4 of 4" in (fake.job().reason or "")
    fake.publisher.down = False
    ran_before = {s.index: s.updated_at for s in fake.database.segments.values() if s.index < 3}
    [result] = fake.deliver(last, key)  # the dead letter re-driven
    assert result.outcome is Outcome.DONE
    assert {s.index: s.updated_at for s in fake.database.segments.values() if s.index < 3} == ran_before
    fake.drain()
    assert fake.job().status is JobStatus.SUCCEEDED
    assert all(s.status is SegmentStatus.DONE for s in fake.database.segments.values())


def test_the_stitch_publishes_one_processed_clip() -> None:
    fake = system()
    fake.deliver(upload(fake))
    for message, key in segment_messages(fake):
        fake.deliver(message, key)
    fake.drain(until=VideoProcessed)
    [processed] = fake.published(VideoProcessed)
    assert isinstance(processed, VideoProcessed) and processed.frames == 40 and processed.tracks == 2


def test_a_team_named_otherwise_in_the_next_segment_keeps_its_clip_wide_name() -> None:
    plans = plan_segments(200, 25.0, [0], 4.0, 10)

    def with_teams(frames: list[FrameTracks], teams: dict[int, str]) -> list[FrameTracks]:
        # As the trajectory store reads them back: columns are numpy arrays.
        return [
            dataclasses.replace(f, teams=np.array([teams[int(t)] for t in f.track_ids], dtype=object))
            for f in frames
        ]

    # Segment 2 clustered the same kits but named them otherwise: "white" became "light grey", and
    # the greens "dark green"; its referee stays "other", and a newcomer of the grey team follows.
    first = {1: 0, 2: 100, 3: 200}
    second = {7: 0, 8: 100, 9: 200, 6: 400}
    parts = [
        TrackedSegment(
            plans[0], with_teams(frames_of(plans[0], first), {1: "white", 2: "green", 3: "other"}), {}, {}
        ),
        TrackedSegment(
            plans[1],
            with_teams(
                frames_of(plans[1], second), {7: "light grey", 8: "dark green", 9: "other", 6: "light grey"}
            ),
            {},
            {},
        ),
    ]
    stitched = stitch_segments(parts)
    later = [f for f in stitched if f.frame_index >= plans[1].start]
    names = {(int(t), team) for f in later for t, team in zip(f.track_ids, f.teams or (), strict=True)}
    assert names == {(1, "white"), (2, "green"), (3, "other"), (4, "white")}


@pytest.mark.parametrize(
    ("continued", "names", "earlier", "expected"),
    [
        (
            [("grey", "white"), ("grey", "white"), ("green", "green")],
            {"grey", "green"},
            {"white", "green"},
            {"grey": "white"},
        ),
        (
            [("grey", "white")],
            {"grey", "dark green"},
            {"white", "green"},
            {"grey": "white", "dark green": "green"},
        ),
        (
            [("a", "white"), ("a", "green"), ("a", "white")],
            {"a", "b"},
            {"white", "green"},
            {"a": "white", "b": "green"},
        ),
        ([], {"grey", "green"}, {"white", "green"}, {}),  # no continuing track: nothing to go by
        ([("other", "white"), (None, "green")], {"grey"}, {"white", "green"}, {}),
    ],
)
def test_team_renaming(
    continued: list[tuple[str | None, str | None]],
    names: set[str],
    earlier: set[str],
    expected: dict[str, str],
) -> None:
    assert team_renaming(continued, names, earlier) == expected
