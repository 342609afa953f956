"""Highlight sessions (their use cases and views, SessionFinalizer, HighlightCutWorker) against fakes."""

from __future__ import annotations

import pytest

from pitchlens.application import views
from pitchlens.application.uploads import UploadKind
from pitchlens.domain.errors import (
    ClipNotFound,
    InvalidInput,
    InvalidVideo,
    ServiceUnavailable,
    StateConflict,
)
from pitchlens.domain.highlights import HighlightError
from pitchlens.domain.jobs import JobStatus
from pitchlens.domain.messages import (
    ConcatRequested,
    FinalClipRequested,
    HighlightsRequested,
    RenderRequested,
)
from pitchlens.domain.sessions import (
    NothingApproved,
    SessionNotFound,
    SessionStatus,
    UnsupportedUpload,
    UploadTooLarge,
)
from pitchlens.domain.vision import Clip, ClipStatus, FrameTracks, VideoInfo
from tests.fakes.system import FakeSystem

pytestmark = pytest.mark.unit

FRAMES = 30


class Desk(FakeSystem):
    def processed(self, session_id: str, name: str) -> Clip:
        """What the vision pipeline leaves for an uploaded video: a PERSISTED clip with tracks."""
        now = self.clock.now()
        uri = f"s3://tracking-data/tracking/{session_id}/{name}/trajectories.parquet"
        clip = Clip(
            f"{name}-clip", session_id, f"s3://videos/{session_id}/{name}", ClipStatus.PERSISTED, now, now,
            info=VideoInfo(64, 36, 25.0, FRAMES, FRAMES / 25, "h264"), trajectories_uri=uri,
            frame_uri=f"s3://artifacts/{session_id}/{name}/frame_0.jpg",
        )  # fmt: skip
        self.database.clips[clip.clip_id] = clip
        self.storage.put("videos", f"{session_id}/{name}", str(FRAMES).encode())
        self.storage.put("artifacts", f"{session_id}/{name}/frame_0.jpg", b"\xff\xd8\xff jpeg")
        self.trajectories.published[uri] = [
            FrameTracks(i, [1, 2], [[i, 0, i + 5, 10], [i + 20, 0, i + 25, 10]], [0.9, 0.8])
            for i in range(FRAMES)
        ]
        return clip

    def run_renders(self) -> None:
        """Delivers the queued messages to the render function, as its queue would; previews are
        marked done without rendering (their rendering is test_render_use_cases.py's)."""
        while self.publisher.sent:
            message, correlation_id, key = self.publisher.sent.pop(0)
            if isinstance(message, RenderRequested):
                job = self.database.jobs[message.job_id]
                self.database.jobs[job.job_id] = job.succeeded(
                    {}, self.clock.now(), outputs={"output_uri": "s3://outputs/previews/x.mp4"}
                )
            else:
                self.deliver(message, key, correlation_id=correlation_id)


@pytest.fixture
def desk() -> Desk:
    return Desk()


def upload(desk: Desk, *names: str) -> str:
    """A session of videos, each uploaded as the page does (the pipeline does not run here)."""
    data = str(FRAMES).encode()
    session, started = desk.session_creator.execute(
        "Derby", "No 10", [(name, len(data)) for name in names], "corr"
    )
    for upload in started:
        desk.send(UploadKind.VIDEO, upload.plan, data)
    return session.session_id


def cut_session(desk: Desk, table: str, game_video: bytes = b"video") -> str:
    """A cut session whose game video is uploaded, and its cut requested."""
    session, plan = desk.cut_session_creator.execute(
        "Cup", "No 9", ("game.mp4", len(game_video)), table, 0.0, "c"
    )
    desk.send(UploadKind.GAME_VIDEO, plan, game_video)
    desk.highlight_cut_requester.execute(session.session_id, "c")
    return session.session_id


def test_uploads_become_the_session_clips_in_order(desk: Desk) -> None:
    sid = upload(desk, "b second.mp4", "a first.MOV", "b second.mp4")
    session, states = views.session_clips(desk.unit_of_work, sid)
    assert session.video_names == ("b-second.mp4", "a-first.mov", "b-second-2.mp4")
    assert [s.name for s in states] == list(session.video_names) and all(s.clip is None for s in states)
    metadata = desk.storage.head("videos", f"{sid}/a-first.mov").metadata
    assert metadata["correlation-id"] == "corr:a-first.mov" and metadata["detection-frame"] == "0"
    assert [s.process_job.status.value if s.process_job else None for s in states] == ["PENDING"] * 3
    desk.processed(sid, "a-first.mov")
    _, states = views.session_clips(desk.unit_of_work, sid)
    assert [s.clip.clip_id if s.clip else None for s in states] == [None, "a-first.mov-clip", None]


def test_bad_sessions_are_refused(desk: Desk) -> None:
    with pytest.raises(HighlightError, match="at least one video"):
        desk.session_creator.execute("g", "p", [], "c")
    with pytest.raises(HighlightError, match="game name"):
        desk.session_creator.execute(" ", "p", [("a.mp4", 1)], "c")
    with pytest.raises(UnsupportedUpload, match="not a video file name"):
        desk.session_creator.execute("g", "p", [("notes.txt", 1)], "c")
    with pytest.raises(HighlightError, match="row 1"):
        desk.cut_session_creator.execute("g", "p", ("game.mp4", 1), "start,end\n5,2\n", 0, "c")
    with pytest.raises(InvalidInput, match="empty"):
        desk.cut_session_creator.execute("g", "p", ("game.mp4", 0), "start,end\n1,2\n", 0, "c")
    with pytest.raises(UploadTooLarge, match="upload limit"):
        desk.cut_session_creator.execute("g", "p", ("game.mp4", 1 << 50), "start,end\n1,2\n", 0, "c")
    assert not desk.database.sessions


def test_a_session_with_one_bad_file_plans_no_upload(desk: Desk) -> None:
    with pytest.raises(UploadTooLarge):
        desk.session_creator.execute("g", "p", [("a.mp4", 10), ("b.mp4", 1 << 50)], "c")
    assert not desk.storage.uploads and not desk.database.jobs


def test_a_cut_starts_only_once_its_game_video_is_uploaded(desk: Desk) -> None:
    session, plan = desk.cut_session_creator.execute(
        "Cup", "No 9", ("game.mp4", 5), "start,end\n1,2\n", 0.0, "c"
    )
    with pytest.raises(StateConflict, match="not uploaded yet"):
        desk.highlight_cut_requester.execute(session.session_id, "c")
    desk.send(UploadKind.GAME_VIDEO, plan, b"video")
    first = desk.highlight_cut_requester.execute(session.session_id, "c")
    assert desk.highlight_cut_requester.execute(session.session_id, "c").job_id == first.job_id  # idempotent
    desk.run_renders()  # the second copy of the message is a duplicate
    assert views.job(desk.unit_of_work, first.job_id).status is JobStatus.SUCCEEDED
    assert [r.outcome.value for _, r in desk.observed.results] == ["done", "duplicate"]
    with pytest.raises(StateConflict, match="is over"):
        desk.highlight_cut_requester.execute(session.session_id, "c")


def test_preview_approve_finalize(desk: Desk) -> None:
    sid = upload(desk, "one.mp4", "two.mp4")
    one, two = desk.processed(sid, "one.mp4"), desk.processed(sid, "two.mp4")
    found = views.detection(desk.unit_of_work, desk.storage, desk.trajectories, sid, one.clip_id)
    assert found.frame_jpeg.startswith(b"\xff\xd8\xff") and [p.number for p in found.players.players] == [
        1,
        2,
    ]
    with pytest.raises(NothingApproved):
        desk.finalize_requester.execute(sid, "c")
    with pytest.raises(StateConflict, match="no preview"):
        desk.preview_approver.execute(sid, one.clip_id)
    for clip, indicator in ((two, "dot"), (one, "glow")):
        box = found.players.players[0].box
        desk.preview_requester.execute(
            sid, clip.clip_id, (box.x1, box.y1, box.x2, box.y2), None, indicator, "c"
        )
    with pytest.raises(StateConflict, match="PENDING, not finished"):
        desk.preview_approver.execute(sid, one.clip_id)
    desk.run_renders()
    desk.preview_approver.execute(sid, one.clip_id)
    desk.preview_approver.execute(sid, two.clip_id)
    job = desk.finalize_requester.execute(sid, "c")
    with pytest.raises(StateConflict, match="already being finalized"):
        desk.finalize_requester.execute(sid, "c")
    desk.run_renders()
    job = views.finalize_job(desk.unit_of_work, sid)
    assert job.status is JobStatus.SUCCEEDED and job.progress == 1.0
    assert (job.counts["clips_done"], job.counts["clips"]) == (2, 2)
    final = f"s3://outputs/final/{sid}/Derby_No-10_tracked.mp4"
    assert (
        job.outputs["final_uri"] == final
        and views.session(desk.unit_of_work, sid).status is SessionStatus.DONE
    )
    joined = desk.storage.get("outputs", f"final/{sid}/Derby_No-10_tracked.mp4").decode().splitlines()
    assert joined == [f"glow on {list(range(FRAMES))}", f"dot on {list(range(FRAMES))}"]  # upload order
    assert [preset.name for _, _, preset in desk.indicator_renderer.calls] == ["final", "final"]


def test_a_finalize_that_fails_returns_the_session_to_ready_with_the_reason(desk: Desk) -> None:
    sid = upload(desk, "one.mp4")
    clip = desk.processed(sid, "one.mp4")
    desk.preview_requester.execute(sid, clip.clip_id, (0, 0, 5, 10), 0, "dot", "c")
    desk.run_renders()
    desk.preview_approver.execute(sid, clip.clip_id)
    desk.indicator_renderer.fail_with = InvalidVideo("one.mp4: decoding failed (damaged video)")
    desk.finalize_requester.execute(sid, "c")
    desk.run_renders()
    job = views.finalize_job(desk.unit_of_work, sid)
    session = views.session(desk.unit_of_work, sid)
    assert job.status is JobStatus.FAILED and "damaged video" in (job.reason or "")
    assert session.status is SessionStatus.READY and "damaged video" in (session.reason or "")
    assert not desk.storage.list("outputs", "final/")


def test_the_minimap_chosen_for_the_preview_is_kept_for_the_final_render(desk: Desk) -> None:
    sid = upload(desk, "one.mp4", "two.mp4")
    for name, minimap in (("one.mp4", True), ("two.mp4", False)):
        clip = desk.processed(sid, name)
        desk.preview_requester.execute(sid, clip.clip_id, (0, 0, 5, 10), 0, "dot", "c", minimap=minimap)
        preview = desk.publisher.sent[-1][0]
        assert isinstance(preview, RenderRequested) and preview.minimap is minimap
        desk.run_renders()
        desk.preview_approver.execute(sid, clip.clip_id)
        decision = views.decision(desk.unit_of_work, sid, clip.clip_id)
        assert decision is not None and decision.selection is not None
        assert decision.selection.minimap is minimap
    desk.finalize_requester.execute(sid, "c")
    desk.run_renders()
    assert views.finalize_job(desk.unit_of_work, sid).status is JobStatus.SUCCEEDED
    presets = [preset.name for _, _, preset in desk.indicator_renderer.calls]
    shown = [minimap is not None for minimap in desk.indicator_renderer.minimaps]
    assert presets == ["final", "final"] and shown == [True, False]  # in the session's order


def approved_session(desk: Desk, *names: str) -> str:
    """A session whose clips are processed, previewed and approved, with its finalize requested
    (its FinalizeRequested delivered: one FinalClipRequested per clip queued)."""
    sid = upload(desk, *names)
    for name in names:
        clip = desk.processed(sid, name)
        desk.preview_requester.execute(sid, clip.clip_id, (0, 0, 5, 10), 0, "dot", "c")
        desk.run_renders()
        desk.preview_approver.execute(sid, clip.clip_id)
    desk.finalize_requester.execute(sid, "c")
    desk.drain(until=FinalClipRequested)
    return sid


def final_clips(desk: Desk) -> list[tuple[FinalClipRequested, str]]:
    desk.drain(until=FinalClipRequested)
    found = [(m, k) for m, _, k in desk.publisher.sent if isinstance(m, FinalClipRequested)]
    desk.publisher.sent = [e for e in desk.publisher.sent if not isinstance(e[0], FinalClipRequested)]
    return found  # type: ignore[return-value]


def test_a_finalize_fans_out_one_render_per_clip_and_joins_once(desk: Desk) -> None:
    sid = approved_session(desk, "one.mp4", "two.mp4", "three.mp4")
    clips = final_clips(desk)
    assert [m.position for m, _ in clips] == [1, 2, 3] and {m.clips for m, _ in clips} == {3}
    progress = []
    for message, key in [*reversed(clips), clips[0]]:  # any order, one of them twice
        desk.deliver(message, key)
        progress.append(views.finalize_job(desk.unit_of_work, sid).progress)
    assert progress == sorted(progress) and progress[0] < progress[-1]
    assert [r.outcome.value for _, r in desk.observed.results[-4:]] == ["done", "done", "done", "duplicate"]
    joins = desk.published(ConcatRequested)
    assert len(joins) == 1  # the last clip done queued the join, once
    desk.drain()
    job = views.finalize_job(desk.unit_of_work, sid)
    assert (
        job.status is JobStatus.SUCCEEDED and job.counts["frames_done"] == job.counts["frames"] == 3 * FRAMES
    )
    assert [job.outputs[f"clip_{n:03d}_uri"].split("/")[5] for n in (1, 2, 3)] == [
        "one.mp4-clip", "two.mp4-clip", "three.mp4-clip"
    ]  # fmt: skip
    joined = desk.storage.get("outputs", f"final/{sid}/Derby_No-10_tracked.mp4").decode().splitlines()
    assert len(joined) == 3 and views.session(desk.unit_of_work, sid).status is SessionStatus.DONE


def test_a_clip_that_cannot_be_rendered_fails_the_finalize_naming_it(desk: Desk) -> None:
    sid = approved_session(desk, "one.mp4", "two.mp4", "three.mp4")
    first, second, third = final_clips(desk)
    desk.deliver(*first)
    desk.indicator_renderer.fail_with = InvalidVideo("two.mp4: decoding failed (damaged video)")
    desk.deliver(*second)
    desk.indicator_renderer.fail_with = None
    [skipped] = desk.deliver(*third)
    job = views.finalize_job(desk.unit_of_work, sid)
    assert job.status is JobStatus.FAILED and (job.reason or "").startswith("clip 2 of 3 (two.mp4-clip): ")
    assert skipped.outcome.value == "skipped"  # not rendered for nothing
    assert views.session(desk.unit_of_work, sid).status is SessionStatus.READY
    assert not desk.published(ConcatRequested) and not desk.storage.list("outputs", "final/")


def test_a_clip_of_another_session_is_not_found(desk: Desk) -> None:
    first, second = upload(desk, "a.mp4"), upload(desk, "a.mp4")
    clip = desk.processed(first, "a.mp4")
    with pytest.raises(ClipNotFound, match="not in session"):
        views.detection(desk.unit_of_work, desk.storage, desk.trajectories, second, clip.clip_id)
    with pytest.raises(SessionNotFound):
        views.session_clips(desk.unit_of_work, "s-missing")


def test_a_cut_session_gets_its_clips_or_fails_with_the_reason(desk: Desk) -> None:
    table = "start,end\n1,2\n1.5,3\n5,6\n"  # the first two overlap: two clips
    sid = cut_session(desk, table)
    assert views.session(desk.unit_of_work, sid).status is SessionStatus.CUTTING
    [(message, _, _)] = desk.publisher.sent
    assert isinstance(message, HighlightsRequested) and message.intervals_uri.endswith("/intervals.csv")
    desk.run_renders()
    cut = views.session(desk.unit_of_work, sid)
    assert cut.status is SessionStatus.READY and cut.video_names == ("Cup_No-9_001.mp4", "Cup_No-9_002.mp4")
    assert desk.storage.get("videos", f"{sid}/Cup_No-9_001.mp4") == b"1.0-3.0"
    assert desk.storage.list("outputs", f"clips/{sid}/")

    desk.video_editor.unreadable = True
    broken = cut_session(desk, "start,end\n1,2\n", b"x")
    desk.run_renders()
    failed = views.session(desk.unit_of_work, broken)
    assert failed.status is SessionStatus.FAILED and "not a readable video" in (failed.reason or "")


def test_a_queue_that_is_down_fails_the_work_and_says_so(desk: Desk) -> None:
    desk.publisher.down = True
    with pytest.raises(ServiceUnavailable):
        cut_session(desk, "start,end\n1,2\n", b"x")
    [session] = desk.database.sessions.values()
    assert session.status is SessionStatus.FAILED and "could not queue" in (session.reason or "")
    [job] = desk.database.jobs.values()
    assert job.status is JobStatus.FAILED
