"""Rendering a followed player (RenderRequester -> ClipRenderer) and joining renders, against fakes."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from pitchlens.application.clip_renderer import ClipRenderer
from pitchlens.application.message_pipeline import Consumer, MessagePipeline
from pitchlens.application.outcomes import Outcome
from pitchlens.application.render_requester import RenderRequester
from pitchlens.application.tracked_clip_concatenator import (
    ConcatRequester,
    TrackedClipConcatenator,
    final_key,
)
from pitchlens.domain.errors import ClipNotFound, InvalidInput, InvalidVideo, JobNotFound, ServiceUnavailable
from pitchlens.domain.highlights import HighlightError
from pitchlens.domain.jobs import JobStage, JobStatus
from pitchlens.domain.messages import ConcatRequested, Delivery, RenderRequested
from pitchlens.domain.rendering import ClipNotReady, Indicator, InvalidSelection
from pitchlens.domain.vision import BoundingBox, Clip, ClipStatus, FrameTracks, VideoInfo
from tests.fakes.adapters import FakeClock, FakeDatabase, FakeObjectStorage, FakePublisher, FakeUnitOfWork
from tests.fakes.highlights import FakeVideoEditor
from tests.fakes.vision import (
    FakeIndicatorRenderer,
    FakeTrajectoryStore,
    FakeVideoReader,
    FakeVideoStore,
    SameLook,
)

pytestmark = pytest.mark.unit

FRAMES = 40
TRAJECTORIES = "s3://tracking-data/tracking/m1/c1/trajectories.parquet"
PLAYER_ONE = (0.0, 0.0, 5.0, 10.0)
"""Player 1's box on frame 0: it walks right one pixel a frame; player 2 is 20 pixels to its right."""


def _tracks(frames: int = FRAMES, gap: range = range(0)) -> list[FrameTracks]:
    return [
        FrameTracks(i, [1, 2], [[i, 0, i + 5, 10], [i + 20, 0, i + 25, 10]], [0.9, 0.8])
        for i in range(frames)
        if i not in gap
    ]


@dataclass
class Studio:
    database: FakeDatabase
    storage: FakeObjectStorage
    publisher: FakePublisher
    trajectories: FakeTrajectoryStore
    renderer: FakeIndicatorRenderer
    requester: RenderRequester
    clip_renderer: ClipRenderer

    def request(self, **options: object) -> RenderRequested:
        job = self.requester.execute("c1", options.pop("box", PLAYER_ONE), "corr-r", **options)  # type: ignore[arg-type]
        message, correlation_id, key = self.publisher.sent.pop()
        assert isinstance(message, RenderRequested) and message.job_id == job.job_id
        assert (correlation_id, key) == ("corr-r", job.job_id)
        return message

    def deliver(self, message: RenderRequested, attempt: int = 1) -> Outcome:
        """Through the render function's message pipeline, as the queue delivers it."""
        consumers = {RenderRequested: Consumer("render", "render", lambda: self.clip_renderer)}
        pipeline = MessagePipeline("render", consumers, lambda: FakeUnitOfWork(self.database), FakeClock())
        [result] = pipeline.handle(message, Delivery("corr-r", message.job_id, attempt, 3))
        return result.outcome


@pytest.fixture
def studio() -> Studio:
    database, storage, publisher, clock = FakeDatabase(), FakeObjectStorage(), FakePublisher(), FakeClock()
    uow = lambda: FakeUnitOfWork(database)  # noqa: E731
    storage.put("videos", "m1/clip.mp4", str(FRAMES).encode())
    now = clock.now()
    database.clips["c1"] = Clip(
        "c1",
        "m1",
        "s3://videos/m1/clip.mp4",
        ClipStatus.PERSISTED,
        now,
        now,
        info=VideoInfo(64, 36, 25.0, FRAMES, FRAMES / 25, "h264"),
        trajectories_uri=TRAJECTORIES,
    )
    trajectories = FakeTrajectoryStore()
    trajectories.published[TRAJECTORIES] = _tracks()
    renderer = FakeIndicatorRenderer()
    videos = FakeVideoStore(storage)
    return Studio(
        database,
        storage,
        publisher,
        trajectories,
        renderer,
        RenderRequester(uow, publisher, clock),
        ClipRenderer(uow, videos, FakeVideoReader(), trajectories, lambda path: SameLook(), renderer, clock),
    )


def test_a_render_follows_the_chosen_player_and_publishes_the_video(studio: Studio) -> None:
    message = studio.request(indicator="dot")
    assert studio.deliver(message) is Outcome.DONE
    job = studio.database.jobs[message.job_id]
    assert job.status is JobStatus.SUCCEEDED and job.progress == 1.0
    uri = job.outputs["output_uri"]
    assert uri == f"s3://outputs/previews/m1/c1/dot-{message.job_id}.mp4"
    assert studio.storage.get("outputs", uri.removeprefix("s3://outputs/")) == (
        f"dot on {list(range(FRAMES))}".encode()
    )
    followed, indicator, preset = studio.renderer.calls[0]
    assert indicator is Indicator.DOT and preset.name == "preview"
    assert [f.box.x1 for f in followed if f.box] == pytest.approx(list(range(FRAMES)))  # player 1, not 2
    assert job.counts["marked_frames"] == FRAMES and job.counts["lost_frames"] == 0
    assert job.outputs["clip_id"] == "c1" and job.outputs["indicator"] == "dot"


def test_the_final_preset_goes_under_tracked(studio: Studio) -> None:
    message = studio.request(preset="final", indicator="glow")
    studio.deliver(message)
    assert (
        studio.database.jobs[message.job_id]
        .outputs["output_uri"]
        .startswith("s3://outputs/tracked/m1/c1/glow-")
    )


@pytest.mark.parametrize(("gap", "lost"), [(range(3, 5), set()), (range(10, 35), set(range(10, 35)))])
def test_frames_missing_from_the_tracking_data_are_bridged_or_get_no_indicator(
    studio: Studio, gap: range, lost: set[int]
) -> None:
    """A short gap is interpolated; a long one (more than the follower's interpolate_gap) is lost."""
    studio.trajectories.published[TRAJECTORIES] = _tracks(gap=gap)
    message = studio.request(box=PLAYER_ONE)
    studio.deliver(message)
    followed, _, _ = studio.renderer.calls[0]
    assert [f.frame_index for f in followed] == list(range(FRAMES))  # one per frame of the video
    assert {f.frame_index for f in followed if f.lost} == lost
    job = studio.database.jobs[message.job_id]
    assert job.counts["lost_frames"] == len(lost) and job.counts["marked_frames"] == FRAMES - len(lost)


def test_progress_is_the_fraction_of_frames_rendered(studio: Studio) -> None:
    message = studio.request()
    seen: list[float] = []
    original = studio.clip_renderer._report

    def spy(job_id: str, done: int, total: int) -> None:
        original(job_id, done, total)
        job = studio.database.jobs[job_id]
        assert job.stage is JobStage.RENDERING
        seen.append(job.progress)

    studio.clip_renderer._report = spy  # type: ignore[method-assign]
    studio.deliver(message)
    assert seen and seen[-1] == pytest.approx(0.95)
    assert all(0.15 <= p <= 0.95 + 1e-9 for p in seen) and seen == sorted(seen)


@pytest.mark.parametrize(
    ("box", "frame_index", "expected"),
    [
        ((60.0, 0.0, 70.0, 10.0), None, "outside the 64x36 frame"),
        ((-1.0, 0.0, 5.0, 10.0), None, "outside the 64x36 frame"),
        ((5.0, 0.0, 5.0, 10.0), None, "empty box"),
        ((0.0, 0.0, 5.0), None, "four numbers"),
        (PLAYER_ONE, FRAMES, f"frame {FRAMES} is outside the clip"),
    ],
)
def test_a_bad_box_is_refused_before_anything_is_queued(
    studio: Studio, box: tuple[float, ...], frame_index: int | None, expected: str
) -> None:
    with pytest.raises(InvalidSelection, match=expected):
        studio.requester.execute("c1", box, "corr", frame_index=frame_index)
    assert not studio.database.jobs and not studio.publisher.sent


@pytest.mark.parametrize(("option", "value"), [("preset", "4k"), ("indicator", "arrow")])
def test_unknown_presets_and_indicators_are_refused(studio: Studio, option: str, value: str) -> None:
    with pytest.raises(InvalidSelection, match=f"unknown {option} '{value}'"):
        studio.requester.execute("c1", PLAYER_ONE, "corr", **{option: value})  # type: ignore[arg-type]


def test_unknown_and_unprocessed_clips_are_refused(studio: Studio) -> None:
    with pytest.raises(ClipNotFound):
        studio.requester.execute("nope", PLAYER_ONE, "corr")
    clip = studio.database.clips["c1"]
    studio.database.clips["c1"] = replace(clip, status=ClipStatus.TRACKED, trajectories_uri=None)
    with pytest.raises(ClipNotReady, match="TRACKED, not processed yet"):
        studio.requester.execute("c1", PLAYER_ONE, "corr")
    assert not studio.database.jobs


def test_a_queue_that_is_down_fails_the_job_and_tells_the_caller(studio: Studio) -> None:
    studio.publisher.down = True
    with pytest.raises(ServiceUnavailable):
        studio.requester.execute("c1", PLAYER_ONE, "corr")
    [job] = studio.database.jobs.values()
    assert job.status is JobStatus.FAILED and "could not queue the work" in (job.reason or "")


def test_a_box_on_nobody_fails_the_job_with_the_reason(studio: Studio) -> None:
    message = studio.request(box=(40.0, 20.0, 50.0, 30.0))  # inside the frame, on empty pitch
    assert studio.deliver(message) is Outcome.FAILED
    job = studio.database.jobs[message.job_id]
    assert job.status is JobStatus.FAILED and "track" in (job.reason or "")
    assert not studio.storage.list("outputs", "")


def test_tracking_data_that_does_not_fit_the_video_fails_the_job(studio: Studio) -> None:
    studio.trajectories.published[TRAJECTORIES] = _tracks(frames=FRAMES + 3)
    message = studio.request()
    assert studio.deliver(message) is Outcome.FAILED
    reason = studio.database.jobs[message.job_id].reason or ""
    assert f"frame {FRAMES}" in reason and f"frames 0..{FRAMES - 1}" in reason
    assert not studio.storage.list("outputs", "")


def test_an_unreadable_video_fails_the_job_and_publishes_nothing(studio: Studio) -> None:
    studio.renderer.fail_with = InvalidVideo("clip.mp4: decoding failed (damaged video)")
    message = studio.request()
    assert studio.deliver(message) is Outcome.FAILED
    assert "damaged video" in (studio.database.jobs[message.job_id].reason or "")
    assert not studio.storage.list("outputs", "")


def test_a_store_that_is_down_is_retried_then_fails_the_job_on_the_last_attempt(studio: Studio) -> None:
    studio.renderer.fail_with = ServiceUnavailable("object storage unreachable")
    message = studio.request()
    with pytest.raises(ServiceUnavailable):  # back to the queue: retried
        studio.deliver(message, attempt=1)
    assert studio.database.jobs[message.job_id].status is JobStatus.RUNNING
    with pytest.raises(ServiceUnavailable):  # the last attempt: dead-lettered, the job says why
        studio.deliver(message, attempt=3)
    job = studio.database.jobs[message.job_id]
    assert job.status is JobStatus.FAILED and "gave up after 3 attempts" in (job.reason or "")


def test_a_redelivered_message_renders_once(studio: Studio) -> None:
    message = studio.request()
    assert studio.deliver(message) is Outcome.DONE
    assert studio.deliver(message) is Outcome.DUPLICATE
    assert len(studio.renderer.calls) == 1


def test_rendered_clips_are_joined_into_the_final_video(studio: Studio) -> None:
    uris = []
    for indicator in ("dot", "circle"):
        message = studio.request(indicator=indicator)
        studio.deliver(message)
        uris.append(studio.database.jobs[message.job_id].outputs["output_uri"])
    uow = lambda: FakeUnitOfWork(studio.database)  # noqa: E731
    requester = ConcatRequester(uow, studio.publisher, FakeClock())
    concatenator = TrackedClipConcatenator(
        uow, FakeVideoStore(studio.storage, as_files=True), FakeVideoEditor({}), FakeClock()
    )
    job = requester.execute(
        "El Clásico", "Vini Jr", [uris[0], studio.database.jobs[message.job_id].job_id], "c"
    )
    [(queued, _, key)] = studio.publisher.sent
    consumers = {ConcatRequested: Consumer("render", "concat", lambda: concatenator)}
    [result] = MessagePipeline("render", consumers, uow, FakeClock()).handle(queued, Delivery("c", key))
    assert result.outcome is Outcome.DONE
    final = studio.database.jobs[job.job_id]
    assert final.outputs["final_uri"] == "s3://outputs/final/El-Cl-sico_Vini-Jr_tracked.mp4"
    assert final_key("El Clásico", "Vini Jr") == "final/El-Cl-sico_Vini-Jr_tracked.mp4"
    joined = studio.storage.get("outputs", "final/El-Cl-sico_Vini-Jr_tracked.mp4").decode()
    assert joined.splitlines() == [f"dot on {list(range(FRAMES))}", f"circle on {list(range(FRAMES))}"]
    with pytest.raises(HighlightError, match="give 1 to 200 clips"):
        requester.execute("g", "p", [], "c")
    with pytest.raises(InvalidInput, match="only rendered videos"):
        requester.execute("g", "p", ["s3://raw-data/statsbomb/1/events.json"], "c")
    with pytest.raises(JobNotFound, match="neither an s3:// URI nor a known render job"):
        requester.execute("g", "p", ["no-such-job"], "c")


def test_followable_players_are_the_tracked_boxes_numbered_left_to_right(studio: Studio) -> None:
    from pitchlens.application import views

    studio.trajectories.published[TRAJECTORIES] = [
        FrameTracks(1, [7, 3, 9], [[40, 0, 50, 10], [-4, 2, 6, 12], [70, 0, 80, 10]], [0.8, 0.9, 0.7]),
        FrameTracks(2, [7, 3], [[41, 0, 51, 10], [-3, 2, 7, 12]], [0.8, 0.9]),
    ]
    found = views.players(lambda: FakeUnitOfWork(studio.database), studio.trajectories, "c1")
    assert found.frame_index == 1 and (found.width, found.height) == (64, 36)  # the frame with most tracks
    assert [(p.number, p.track_id) for p in found.players] == [(1, 3), (2, 7)]  # the third is off the frame
    assert found.players[0].box == BoundingBox(0, 2, 6, 12)  # cut to the frame, as a person draws it
    assert found.numbered(2).track_id == 7
    with pytest.raises(LookupError, match="no player 3"):
        found.numbered(3)
    studio.database.clips["c1"] = replace(
        studio.database.clips["c1"], status=ClipStatus.DETECTED, trajectories_uri=None
    )
    with pytest.raises(ClipNotReady):
        views.players(lambda: FakeUnitOfWork(studio.database), studio.trajectories, "c1")


def _placed_tracks(calibrated_until: int) -> list[FrameTracks]:
    """The two players in metres (player 1 at x = frame / 10, player 2 off the pitch) up to
    `calibrated_until`; a shot without metres (NaN) after it."""
    nan = float("nan")
    return [
        replace(
            frame,
            on_pitch=[True, False],
            teams=["white", "green"],
            pitch_xy=[[i / 10, 5.0], [60.0, 0.0]] if i < calibrated_until else [[nan, nan], [nan, nan]],
            shot=0 if i < calibrated_until else calibrated_until,
        )
        for i, frame in enumerate(_tracks())
    ]


def test_a_render_with_the_minimap_shows_everybody_on_the_pitch_in_metres(studio: Studio) -> None:
    studio.trajectories.published[TRAJECTORIES] = _placed_tracks(calibrated_until=25)
    message = studio.request(minimap=True)
    assert message.minimap
    assert studio.deliver(message) is Outcome.DONE
    [positions] = studio.renderer.minimaps
    assert positions is not None and [p.frame_index for p in positions] == list(range(FRAMES))
    assert [p.xy for p in positions[:3]] == [((0.0, 5.0),), ((0.1, 5.0),), ((0.2, 5.0),)]
    assert all(p.followed == 0 and p.teams == ("white",) for p in positions[:25])  # player 2 is off
    assert all(not p.calibrated and p.xy == () for p in positions[25:])
    job = studio.database.jobs[message.job_id]
    assert job.counts["minimap_frames"] == 25 and job.outputs["minimap"] == "on"


def test_a_render_without_the_minimap_draws_none(studio: Studio) -> None:
    studio.trajectories.published[TRAJECTORIES] = _placed_tracks(calibrated_until=FRAMES)
    message = studio.request()
    assert not message.minimap
    studio.deliver(message)
    assert studio.renderer.minimaps == [None]
    job = studio.database.jobs[message.job_id]
    assert "minimap_frames" not in job.counts and "minimap" not in job.outputs


def test_the_api_passes_the_minimap_option_on_and_refuses_what_is_no_boolean() -> None:
    from fastapi.testclient import TestClient

    from pitchlens.infrastructure.http.app import create_app
    from tests.fakes.system import FakeSystem

    system = FakeSystem()
    now = system.clock.now()
    info = VideoInfo(64, 36, 25.0, FRAMES, FRAMES / 25, "h264")
    system.database.clips["c1"] = Clip(
        "c1", "m1", "s3://v/c.mp4", ClipStatus.PERSISTED, now, now, info, trajectories_uri=TRAJECTORIES
    )
    api = TestClient(create_app(lambda: system), raise_server_exceptions=False)
    sent = []
    for body in ({"box": list(PLAYER_ONE), "minimap": True}, {"box": list(PLAYER_ONE)}):
        response = api.post("/api/v1/clips/c1/renders", json=body)
        assert response.status_code == 202, response.text
        [(message, _, _)] = system.publisher.sent
        system.publisher.sent.clear()
        assert isinstance(message, RenderRequested)
        sent.append(message.minimap)
    assert sent == [True, False]
    refused = api.post("/api/v1/clips/c1/renders", json={"box": list(PLAYER_ONE), "minimap": "maybe"})
    assert refused.status_code == 422 and "minimap" in str(refused.json()["errors"])
