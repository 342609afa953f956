"""Every consumer of the composition root's table, through the one message pipeline, in each outcome:
success, duplicate, bad input, a dependency down then back, and retries exhausted. The system is
the real composition root over fakes (`FakeSystem`); each scenario drives it, with the real
upstream use cases, to the point where the message under test is published."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from pitchlens.application.outcomes import Outcome, Result
from pitchlens.application.uploads import UploadKind
from pitchlens.domain.errors import InvalidMatchData, ObjectNotFound, ServiceUnavailable
from pitchlens.domain.jobs import JobStatus
from pitchlens.domain.messages import (
    CalibrationRequested,
    ConcatRequested,
    Delivery,
    FinalClipRequested,
    FinalizeRequested,
    HighlightsRequested,
    IngestionRequested,
    MatchIngested,
    Message,
    PlayersDetected,
    RawDataUploaded,
    RenderRequested,
    SegmentTrackingRequested,
    TracksStitchRequested,
    VideoProcessed,
    VideoUploaded,
)
from pitchlens.domain.model import Coordinates, Event, EventType, Match, Team
from pitchlens.domain.pitch import LANDMARKS, Homography
from pitchlens.domain.ports import RawMatchData
from pitchlens.domain.segments import SegmentStatus
from pitchlens.domain.sessions import SessionStatus
from pitchlens.domain.vision import ClipStatus
from tests.fakes.system import FakeSystem

pytestmark = pytest.mark.unit

PLAYER_ONE = (0.0, 0.0, 5.0, 10.0)
"""The fake detector's first person on frame 0 (it walks right a pixel a frame)."""


def parse_lines(raw: RawMatchData) -> Match:
    text = raw.files.get("events.txt", b"").decode()
    if not text.strip():
        raise InvalidMatchData("events.txt is empty")
    events = tuple(
        Event(str(i), EventType(line.strip()), 1, float(i), "home", None, Coordinates(0, 0), raw_type=line)
        for i, line in enumerate(text.splitlines())
    )
    return Match(raw.match_id, raw.source, Team("home", "Home"), Team("away", "Away"), events)


class System(FakeSystem):
    def __init__(self) -> None:
        super().__init__(parse_lines)

    def upload_raw(self, data: bytes = b"pass\nshot\n") -> RawDataUploaded:
        stored = self.storage.put(
            "raw-data", "statsbomb/7/events.txt", data, metadata={"correlation-id": "u"}
        )
        return RawDataUploaded("raw-data", stored.key, stored.size, stored.etag)

    def upload_video(self, key: str = "m1/a.mp4", data: bytes = b"12") -> VideoUploaded:
        stored = self.storage.put("videos", key, data, metadata={"correlation-id": "v"})
        return VideoUploaded("videos", key, stored.size, stored.etag)

    def until(self, kind: type[Message]) -> Message:
        """Delivers published messages until one of `kind` is published; takes it off the queue."""
        self.drain(until=kind)
        for position, (message, _, _) in enumerate(self.publisher.sent):
            if isinstance(message, kind):
                self.publisher.sent.pop(position)
                return message
        raise AssertionError(f"no {kind.__name__} was published")

    def processed_clip(self, key: str = "m1/a.mp4") -> str:
        self.deliver(self.upload_video(key), key=f"upload-{key}")
        self.drain()
        [clip] = [c for c in self.database.clips.values() if c.video_uri.endswith(key)]
        assert clip.status is ClipStatus.PERSISTED
        return clip.clip_id


@dataclass(frozen=True)
class Scenario:
    """How to reach one consumer's message, break its input, and take a dependency down."""

    name: str
    message: Callable[[System], Message]
    bad: Callable[[System], Message]
    """A message of the same type whose input is wrong for good."""
    down: Callable[[System, bool], None]
    """Takes a dependency of this consumer down (True) or brings it back (False)."""
    done: Callable[[System, Message], None]
    """Checks the effect of a successful delivery."""


# --- Scenarios, one per message type in the consumers table ---------------------------------------


def _ingestion_requested(system: System) -> Message:
    system.storage.put("raw-data", "statsbomb/7/events.txt", b"pass\n")
    system.ingestion_requester.execute("statsbomb", "7", "s3://raw-data/statsbomb/7/", "c")
    return system.until(IngestionRequested)


def _bad_ingestion_requested(system: System) -> Message:
    system.ingestion_requester.execute("statsbomb", "404", None, "c")  # no location, no open data
    return system.until(IngestionRequested)


def _match_ingested(system: System) -> Message:
    system.deliver(system.upload_raw(), key="upload")
    return system.until(MatchIngested)


def _bad_match_ingested(system: System) -> Message:
    message = _match_ingested(system)
    assert isinstance(message, MatchIngested)
    system.storage.put("artifacts", message.match_uri.split("/", 3)[3], b"\x00 corrupt")
    return message


def _detection_requested(system: System, data: bytes = b"12") -> Message:
    uploaded = system.upload_video(data=data)
    result = system.clip_registerer.execute(uploaded, Delivery("c", "upload", consumer="detect"))
    assert result.then is not None
    return result.then.message


def _players_detected(system: System, data: bytes = b"12") -> Message:
    system.deliver(system.upload_video(data=data), key="upload")
    return system.until(PlayersDetected)


def _bad_players_detected(system: System) -> Message:
    message = _players_detected(system)
    assert isinstance(message, PlayersDetected)
    system.storage.put("videos", "m1/a.mp4", b"overwritten with text")  # unreadable from now on
    return message


def _segment_tracking_requested(system: System, data: bytes = b"12") -> Message:
    system.deliver(system.upload_video(data=data), key="upload")
    return system.until(SegmentTrackingRequested)


def _bad_segment_tracking_requested(system: System) -> Message:
    message = _segment_tracking_requested(system)
    system.storage.put("videos", "m1/a.mp4", b"overwritten with text")  # unreadable from now on
    return message


def _tracks_stitch_requested(system: System) -> Message:
    system.deliver(system.upload_video(), key="upload")
    return system.until(TracksStitchRequested)


def _bad_tracks_stitch_requested(system: System) -> Message:
    message = _tracks_stitch_requested(system)
    assert isinstance(message, TracksStitchRequested)
    for key, segment in list(system.database.segments.items()):  # a segment's tracks are gone for good
        system.database.segments[key] = dataclasses.replace(segment, status=SegmentStatus.FAILED)
    return message


def _video_processed(system: System) -> Message:
    system.deliver(system.upload_video(), key="upload")
    return system.until(VideoProcessed)


def _bad_video_processed(system: System) -> Message:
    message = _video_processed(system)
    assert isinstance(message, VideoProcessed)
    del system.database.clips[message.clip_id]  # the clip is unknown: retrying cannot help
    return message


def _render_requested(system: System, box: tuple[float, ...] = PLAYER_ONE) -> Message:
    clip_id = system.processed_clip()
    system.render_requester.execute(clip_id, box, "c", frame_index=0)
    return system.until(RenderRequested)


def _session_with_clip(system: System) -> tuple[str, str]:
    session, [started] = system.session_creator.execute("Derby", "No 10", [("a.mp4", 2)], "c")
    uploaded = system.send(UploadKind.VIDEO, started.plan, b"12")
    system.deliver(VideoUploaded(uploaded.bucket, uploaded.key, uploaded.size, uploaded.etag), key="upload")
    system.drain()
    [clip] = system.database.clips.values()
    assert clip.status is ClipStatus.PERSISTED and started.job is not None
    assert system.job(started.job.job_id).outputs["clip_id"] == clip.clip_id  # the job the upload planned
    return session.session_id, clip.clip_id


def _finalize_requested(system: System) -> Message:
    session_id, clip_id = _session_with_clip(system)
    system.preview_requester.execute(session_id, clip_id, PLAYER_ONE, 0, "circle", "c")
    system.drain()
    system.preview_approver.execute(session_id, clip_id)
    system.finalize_requester.execute(session_id, "c")
    return system.until(FinalizeRequested)


def _bad_finalize_requested(system: System) -> Message:
    message = _finalize_requested(system)
    assert isinstance(message, FinalizeRequested)
    for key, decision in list(system.database.session_clips.items()):  # the approval is withdrawn
        system.database.session_clips[key] = dataclasses.replace(decision, approved=False)
    return message


def _final_clip_requested(system: System) -> Message:
    system.deliver(_finalize_requested(system), key="finalize")
    return system.until(FinalClipRequested)


def _bad_final_clip_requested(system: System) -> Message:
    message = _final_clip_requested(system)
    for key, decision in list(system.database.session_clips.items()):  # the approval is withdrawn
        system.database.session_clips[key] = dataclasses.replace(decision, approved=False)
    return message


def _highlights_requested(system: System) -> Message:
    session, plan = system.cut_session_creator.execute(
        "Derby", "No 10", ("game.mp4", 3), "start,end\n1,3\n", 0.0, "c"
    )
    system.send(UploadKind.GAME_VIDEO, plan, b"250")
    system.highlight_cut_requester.execute(session.session_id, "c")
    return system.until(HighlightsRequested)


def _bad_highlights_requested(system: System) -> Message:
    message = _highlights_requested(system)
    system.video_editor.unreadable = True  # type: ignore[attr-defined]
    return message


def _concat_requested(system: System) -> Message:
    first = _render_requested(system)
    system.deliver(first, key="render-1")
    second = system.render_requester.execute(system.job(first.job_id).outputs["clip_id"], PLAYER_ONE, "c", 0)  # type: ignore[attr-defined]
    system.drain()
    system.concat_requester.execute("Derby", "No 10", [first.job_id, second.job_id], "c")  # type: ignore[attr-defined]
    return system.until(ConcatRequested)


def _bad_concat_requested(system: System) -> Message:
    message = _concat_requested(system)
    system.video_editor.unreadable = True  # type: ignore[attr-defined]
    return message


SMALL_VIEW = Homography.of((0.6, 0.1, 32.0, 0.0, -0.25, 21.0, 0.0, 0.004, 1.0))
"""A broadcast-like view of the fakes' 64 x 36 frames: camera-frame metres -> pixels."""
LANDMARKS_MARKED = tuple(
    (name, *SMALL_VIEW.apply(*LANDMARKS[name]))
    for name in ("centre_spot", "centre_circle_far", "box_left_near", "penalty_spot_right", "halfway_far")
)


def _calibration_requested(system: System) -> Message:
    clip_id = system.processed_clip()
    system.calibration_requester.execute(clip_id, 0, LANDMARKS_MARKED, "c")
    return system.until(CalibrationRequested)


def _bad_calibration_requested(system: System) -> Message:
    message = _calibration_requested(system)
    return dataclasses.replace(message, points=message.points[:3])  # type: ignore[type-var]


def _fail_publishing(system: System, down: bool) -> None:
    system.publisher.down = down


def _fail_storage(system: System, down: bool) -> None:
    system.storage.down = down


def _fail_trajectories(system: System, down: bool) -> None:
    system.trajectories.down = down


def _fail_rendering(system: System, down: bool) -> None:
    system.indicator_renderer.fail_with = (
        ServiceUnavailable("ffmpeg's output volume is gone") if down else None
    )


def _job_succeeded(system: System, message: Message) -> None:
    assert system.job(getattr(message, "job_id", None)).status is JobStatus.SUCCEEDED


def _job_moved_on(stage: str, published: type[Message]) -> Callable[[System, Message], None]:
    def check(system: System, message: Message) -> None:
        job = system.job(getattr(message, "job_id", None))
        assert (job.status, job.stage.value) == (JobStatus.RUNNING, stage)
        assert system.published(published)

    return check


SCENARIOS = [
    Scenario(
        "IngestionRequested",
        _ingestion_requested,
        _bad_ingestion_requested,
        _fail_publishing,
        _job_moved_on("persisting", MatchIngested),
    ),
    Scenario(
        "RawDataUploaded",
        lambda system: system.upload_raw(),
        lambda system: system.upload_raw(b"   "),
        _fail_publishing,
        lambda system, _: _job_moved_on("persisting", MatchIngested)(
            system, system.published(MatchIngested)[0]
        ),
    ),
    Scenario("MatchIngested", _match_ingested, _bad_match_ingested, _fail_storage, _job_succeeded),
    Scenario(
        "VideoUploaded",
        lambda system: system.upload_video(),
        lambda system: system.upload_video(data=b"not a video"),
        _fail_publishing,
        lambda system, _: _job_moved_on("tracking", PlayersDetected)(
            system, system.published(PlayersDetected)[0]
        ),
    ),
    Scenario(
        "DetectionRequested",
        _detection_requested,
        lambda system: _detection_requested(system, b"not a video"),
        _fail_publishing,
        _job_moved_on("tracking", PlayersDetected),
    ),
    Scenario(
        "PlayersDetected",
        _players_detected,
        _bad_players_detected,
        _fail_publishing,
        _job_moved_on("tracking", SegmentTrackingRequested),
    ),
    Scenario(
        "SegmentTrackingRequested",
        _segment_tracking_requested,
        _bad_segment_tracking_requested,
        _fail_publishing,
        _job_moved_on("tracking", TracksStitchRequested),
    ),
    Scenario(
        "TracksStitchRequested",
        _tracks_stitch_requested,
        _bad_tracks_stitch_requested,
        _fail_publishing,
        _job_moved_on("persisting", VideoProcessed),
    ),
    Scenario("VideoProcessed", _video_processed, _bad_video_processed, _fail_trajectories, _job_succeeded),
    Scenario(
        "RenderRequested",
        _render_requested,
        lambda system: _render_requested(system, (40.0, 20.0, 50.0, 30.0)),  # a box on nobody
        _fail_rendering,
        _job_succeeded,
    ),
    Scenario(
        "FinalizeRequested",
        _finalize_requested,
        _bad_finalize_requested,
        _fail_publishing,
        _job_moved_on("rendering", FinalClipRequested),
    ),
    Scenario(
        "FinalClipRequested",
        _final_clip_requested,
        _bad_final_clip_requested,
        _fail_rendering,
        _job_moved_on("rendering", ConcatRequested),
    ),
    Scenario(
        "HighlightsRequested", _highlights_requested, _bad_highlights_requested, _fail_storage, _job_succeeded
    ),
    Scenario("ConcatRequested", _concat_requested, _bad_concat_requested, _fail_storage, _job_succeeded),
    Scenario(
        "CalibrationRequested",
        _calibration_requested,
        _bad_calibration_requested,
        _fail_trajectories,
        _job_succeeded,
    ),
]


def test_every_consumer_has_a_scenario() -> None:
    assert {scenario.name for scenario in SCENARIOS} == {kind.TYPE for kind in System().consumers}


def _last(results: list[Result]) -> Result:
    return results[-1]


def _job_of(system: System, results: list[Result]) -> str:
    job_id = _last(results).job_id
    assert job_id, results
    return job_id


@pytest.fixture(params=SCENARIOS, ids=lambda scenario: scenario.name)
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return request.param  # type: ignore[no-any-return]


def test_success(scenario: Scenario) -> None:
    system = System()
    message = scenario.message(system)
    results = system.deliver(message, key="k")
    assert _last(results).outcome is Outcome.DONE, results
    scenario.done(system, message)
    assert _last(results).job_status is system.job(_job_of(system, results)).status


def test_duplicate(scenario: Scenario) -> None:
    system = System()
    message = scenario.message(system)
    system.deliver(message, key="k")
    published = len(system.publisher.sent)
    results = system.deliver(message, key="k")
    assert _last(results).outcome is Outcome.DUPLICATE, results
    assert len(system.publisher.sent) == published  # nothing done twice


def test_bad_input_fails_the_job_with_the_reason_and_is_not_retried(scenario: Scenario) -> None:
    system = System()
    message = scenario.bad(system)
    results = system.deliver(message, key="k")
    assert _last(results).outcome is Outcome.FAILED, results
    job = system.job(_job_of(system, results))
    assert job.status is JobStatus.FAILED and job.reason == _last(results).detail and job.reason
    assert _last(system.deliver(message, key="k")).outcome is Outcome.DUPLICATE  # consumed, not retried


def test_a_dependency_down_is_retried_then_succeeds(scenario: Scenario) -> None:
    system = System()
    message = scenario.message(system)
    scenario.down(system, True)
    with pytest.raises(ServiceUnavailable):
        system.deliver(message, key="k", attempt=1)
    assert all(job.status is not JobStatus.FAILED for job in system.database.jobs.values())
    scenario.down(system, False)
    results = system.deliver(message, key="k", attempt=2)
    assert _last(results).outcome is Outcome.DONE, results
    scenario.done(system, message)


def test_retries_exhausted_fail_the_job_with_the_reason(scenario: Scenario) -> None:
    system = System()
    message = scenario.message(system)
    scenario.down(system, True)
    for attempt in (1, 2, 3):
        with pytest.raises(ServiceUnavailable):
            system.deliver(message, key="k", attempt=attempt)
    [(_, last)] = [(f, r) for f, r in system.observed.results if r.outcome is Outcome.ERROR][-1:]
    job = system.job(last.job_id)
    part = message.describe()  # a segment names itself: "segment 2 of 5 (frames ...): gave up ..."
    expected = f"{part}: gave up after 3 attempts: " if part else "gave up after 3 attempts: "
    assert job.status is JobStatus.FAILED and (job.reason or "").startswith(expected)
    assert last.job_status is JobStatus.FAILED


# --- What a failed job fails with it --------------------------------------------------------------


def test_an_unknown_clip_at_persist_fails_the_job_instead_of_leaving_it_running() -> None:
    system = System()
    message = _bad_video_processed(system)
    assert isinstance(message, VideoProcessed)
    [result] = system.deliver(message, key="k")
    job = system.job(result.job_id)
    assert (result.outcome, job.status) == (Outcome.FAILED, JobStatus.FAILED)
    assert job.reason == f"no clip {message.clip_id!r}" and job.stage.value == "persisting"


def test_a_staged_file_that_never_appears_fails_the_job_after_the_last_attempt() -> None:
    system = System()
    message = _video_processed(system)
    assert isinstance(message, VideoProcessed)
    system.trajectories.staged.clear()  # the claim check points at nothing
    for attempt in (1, 2, 3):
        with pytest.raises(ObjectNotFound):  # it may yet appear: retried
            system.deliver(message, key="k", attempt=attempt)
    job = system.job(message.job_id)
    assert job.status is JobStatus.FAILED and "gave up after 3 attempts" in (job.reason or "")
    assert system.database.clips[message.clip_id].status is ClipStatus.FAILED


def test_a_failed_cut_fails_its_session_and_a_failed_finalize_returns_it_to_ready() -> None:
    system = System()
    [result] = system.deliver(_bad_highlights_requested(system), key="k")
    [session] = system.database.sessions.values()
    assert session.status is SessionStatus.FAILED and session.reason == result.detail

    system = System()
    [result] = system.deliver(_bad_finalize_requested(system), key="k")
    [session] = system.database.sessions.values()
    assert session.status is SessionStatus.READY and result.detail in (session.reason or "")
