"""FfmpegVideoEditor against real ffmpeg (imageio-ffmpeg's static build) and the shared clips:
accurate and keyframe cuts, stream-copy and normalising joins, the HighlightCutter end to end, and
unreadable input. Outputs are checked with PyAV and by reading the MP4's top-level boxes."""

from __future__ import annotations

import random
import time
from fractions import Fraction
from pathlib import Path

import pytest

av = pytest.importorskip("av", reason="needs the `vision` extra (PyAV)")
pytest.importorskip("imageio_ffmpeg", reason="needs imageio-ffmpeg (the bundled ffmpeg executable)")

import numpy as np  # noqa: E402

from pitchlens.application.highlight_cutter import HighlightCutter  # noqa: E402
from pitchlens.domain.errors import InvalidVideo  # noqa: E402
from pitchlens.domain.highlights import CutMode, Interval, VideoEditFailed  # noqa: E402
from pitchlens.infrastructure.intervals_csv import CsvIntervalReader  # noqa: E402
from pitchlens.infrastructure.video_editing import FfmpegVideoEditor, ffmpeg_detail  # noqa: E402
from tests.media import Probe, assert_browser_ready, probe  # noqa: E402

pytestmark = pytest.mark.integration

DFL = "dfl_08fd33_4_848x478.mp4"  # 848x478, 25 fps, 6.76 s, no audio, one keyframe
LALIGA = "laliga_rma_sev_broadcast_720p.mp4"  # 1280x720, 29.97 fps, 21.04 s, AAC audio
# 1.5 s and 10 s are not keyframes (those are at 1.00, 5.34, 10.34 s); at 1.5 s ffmpeg's plain input
# seek starts this clip's edit-listed audio ~0.4 s late, which SEEK_MARGIN_S exists to avoid.
LALIGA_INTERVALS = [Interval(1.5, 4.0), Interval(10.0, 13.5)]
DFL_INTERVALS = [Interval(0.5, 2.5), Interval(4.0, 6.0)]
AAC_FRAME_S = 1024 / 44_100
TIMINGS: dict[str, float] = {}


def presentation_times(path: Path) -> list[float]:
    """Seconds of every frame the source presents (edit lists applied)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return sorted(
            float(packet.pts * video.time_base)
            for packet in container.demux(video)
            if packet.pts is not None and not packet.is_discard
        )


def assert_holds_the_interval(found: Probe, source_times: list[float], interval: Interval) -> None:
    """Exactly as many frames as the source shows in [start, end), the first timed 0, lasting the
    interval's duration within one frame."""
    expected = [t for t in source_times if interval.start_s - 1e-6 <= t < interval.end_s - 1e-6]
    assert found.frames == len(expected), (found.frames, len(expected))
    assert found.first_pts_s == pytest.approx(0, abs=1e-3)
    assert abs(found.frames * found.frame_s - interval.duration_s) <= found.frame_s


def gray(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="gray").astype(np.int16)


def source_frames_around(path: Path, seconds: float, count: int = 3) -> list[tuple[float, np.ndarray]]:
    """The `count` decoded frames either side of the first frame at or after `seconds`."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        container.seek(int(max(0.0, seconds - 6) / video.time_base), stream=video)
        frames = [
            (float(frame.pts * video.time_base), gray(frame))
            for frame in container.decode(video)
            if seconds - 1 <= float(frame.pts * video.time_base) <= seconds + 1
        ]
    first = next(index for index, (pts, _) in enumerate(frames) if pts >= seconds - 1e-6)
    return frames[first - count : first + count + 1]


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return gray(next(container.decode(video=0)))


# --------------------------------------------------------------------------------------------
# Fixtures: each shared clip is cut once per module
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def videos(shared_data: Path) -> Path:
    folder = shared_data / "video"
    if not (folder / LALIGA).is_file() or not (folder / DFL).is_file():
        pytest.skip(f"shared clips not found in {folder}")
    return folder


@pytest.fixture(scope="module")
def editor() -> FfmpegVideoEditor:
    return FfmpegVideoEditor()


@pytest.fixture(scope="module")
def laliga_clips(
    videos: Path, editor: FfmpegVideoEditor, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    started = time.perf_counter()
    clips = editor.extract(videos / LALIGA, LALIGA_INTERVALS, tmp_path_factory.mktemp("laliga"))
    TIMINGS["extract 2 clips (6.0 s) of 720p, accurate"] = time.perf_counter() - started
    return clips


@pytest.fixture(scope="module")
def dfl_clips(
    videos: Path, editor: FfmpegVideoEditor, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    started = time.perf_counter()
    clips = editor.extract(videos / DFL, DFL_INTERVALS, tmp_path_factory.mktemp("dfl"))
    TIMINGS["extract 2 clips (4.0 s) of 848x478, accurate"] = time.perf_counter() - started
    return clips


@pytest.fixture(scope="module", autouse=True)
def report_timings() -> object:
    yield None
    if TIMINGS:
        print("\nvideo editing timings:\n" + "\n".join(f"  {what}: {s:.2f} s" for what, s in TIMINGS.items()))


# --------------------------------------------------------------------------------------------
# Cutting
# --------------------------------------------------------------------------------------------


def test_accurate_cuts_of_the_720p_clip(videos: Path, laliga_clips: list[Path]) -> None:
    source_times = presentation_times(videos / LALIGA)
    assert [clip.name for clip in laliga_clips] == [f"{Path(LALIGA).stem}_00{n}.mp4" for n in (1, 2)]
    for clip, interval in zip(laliga_clips, LALIGA_INTERVALS, strict=True):
        found = probe(clip)
        assert_browser_ready(found)
        assert (found.width, found.height, found.rate) == (1280, 720, Fraction(30000, 1001))
        assert_holds_the_interval(found, source_times, interval)
        # The sound runs from the first frame to the last (in sync, not opening silent).
        assert found.audio_start_s is not None and found.audio_end_s is not None
        assert found.audio_start_s <= AAC_FRAME_S
        assert abs(found.audio_end_s - found.video_end_s) <= found.frame_s + AAC_FRAME_S


def test_accurate_cut_starts_on_the_requested_frame(videos: Path, laliga_clips: list[Path]) -> None:
    """The clip's first frame is the source's first frame at/after the start, not a neighbour
    (nor the keyframe 4.7 s earlier that a stream copy would start on)."""
    interval = LALIGA_INTERVALS[1]
    around = source_frames_around(videos / LALIGA, interval.start_s)
    opening = first_frame(laliga_clips[1])
    differences = [float(np.abs(image - opening).mean()) for _, image in around]
    assert int(np.argmin(differences)) == len(around) // 2, differences


def test_accurate_cuts_of_the_848x478_clip(videos: Path, dfl_clips: list[Path]) -> None:
    source_times = presentation_times(videos / DFL)
    for clip, interval in zip(dfl_clips, DFL_INTERVALS, strict=True):
        found = probe(clip)
        assert_browser_ready(found)
        assert (found.width, found.height, found.rate) == (848, 478, Fraction(25))
        assert_holds_the_interval(found, source_times, interval)
        assert found.audio_end_s is None


def test_copy_cut_starts_at_the_keyframe_before(
    videos: Path, editor: FfmpegVideoEditor, tmp_path: Path
) -> None:
    started = time.perf_counter()
    (clip,) = editor.extract(videos / LALIGA, [Interval(10.0, 12.0)], tmp_path, CutMode.COPY, prefix="copy")
    TIMINGS["extract 1 clip (2.0 s) of 720p, keyframe copy"] = time.perf_counter() - started
    found = probe(clip)
    assert clip.name == "copy_001.mp4"
    assert_browser_ready(found)
    # The keyframe before 10.0 s is at 5.339 s: the copy holds 4.66 s more than asked.
    assert found.video_s == pytest.approx(12.0 - 5.339, abs=0.1)


# --------------------------------------------------------------------------------------------
# Joining
# --------------------------------------------------------------------------------------------


def test_same_format_clips_are_joined_by_stream_copy(
    laliga_clips: list[Path], editor: FfmpegVideoEditor, tmp_path: Path
) -> None:
    started = time.perf_counter()
    joined = editor.concat(laliga_clips, tmp_path / "joined.mp4")
    TIMINGS["concat 2 clips of 720p, stream copy"] = elapsed = time.perf_counter() - started
    assert joined.stream_copied and joined.path == tmp_path / "joined.mp4"
    assert elapsed < 3, "a stream copy of 6 s of video takes well under a second"
    found = probe(joined.path)
    assert_browser_ready(found)
    parts = [probe(clip) for clip in laliga_clips]
    assert found.frames == sum(part.frames for part in parts)
    # The AAC encoder's priming (1024 samples) may shift the joined streams by one audio frame.
    assert found.video_s == pytest.approx(sum(part.video_s for part in parts), abs=1e-3)
    assert found.first_pts_s <= AAC_FRAME_S + 1e-3
    assert found.audio_end_s == pytest.approx(found.video_end_s, abs=found.frame_s + AAC_FRAME_S)
    assert [path.name for path in tmp_path.iterdir()] == ["joined.mp4"]


@pytest.mark.parametrize(
    ("order", "size", "rate"),
    [("dfl-first", (848, 478), Fraction(25)), ("laliga-first", (1280, 720), Fraction(30000, 1001))],
)
def test_different_formats_are_normalised_to_the_first_clip(
    dfl_clips: list[Path],
    laliga_clips: list[Path],
    editor: FfmpegVideoEditor,
    tmp_path: Path,
    order: str,
    size: tuple[int, int],
    rate: Fraction,
) -> None:
    clips = [dfl_clips[0], laliga_clips[0]] if order == "dfl-first" else [laliga_clips[0], dfl_clips[0]]
    started = time.perf_counter()
    joined = editor.concat(clips, tmp_path / "mixed.mp4")
    TIMINGS[f"concat 848x478@25 + 720p@29.97 ({order}), normalised"] = time.perf_counter() - started
    assert not joined.stream_copied
    found = probe(joined.path)
    assert_browser_ready(found)
    assert ((found.width, found.height), found.rate) == (size, rate)
    expected = sum(probe(clip).video_s for clip in clips)
    assert abs(found.video_s - expected) <= 2 * found.frame_s, (found.video_s, expected)
    # The 848x478 clip has no sound: silence fills its part, so the 720p clip's sound stays in sync.
    assert found.audio_end_s is not None and found.audio_start_s is not None
    assert found.audio_start_s <= AAC_FRAME_S
    assert abs(found.audio_end_s - found.video_end_s) <= 2 * found.frame_s


def test_silent_clips_join_without_an_audio_track(
    dfl_clips: list[Path], editor: FfmpegVideoEditor, tmp_path: Path
) -> None:
    joined = editor.concat(dfl_clips, tmp_path / "silent.mp4")
    found = probe(joined.path)
    assert joined.stream_copied and found.audio_end_s is None
    assert found.frames == 100


# --------------------------------------------------------------------------------------------
# The use case, end to end, and bad input
# --------------------------------------------------------------------------------------------


def test_highlight_cutter_end_to_end(videos: Path, tmp_path: Path) -> None:
    cutter = HighlightCutter(CsvIntervalReader(), FfmpegVideoEditor(preset="ultrafast"), padding_s=0.5)
    csv_text = "start,end,label\n0:02,0:03,pass\n2.5,4,shot\n0:00:15,0:00:16.5,tackle\n"
    started = time.perf_counter()
    result = cutter.execute(str(videos / LALIGA), csv_text, "RMA-SEV", "Player 7", tmp_path)
    TIMINGS["HighlightCutter: 2 merged intervals (6.5 s) of 720p, ultrafast"] = time.perf_counter() - started
    assert result.output == tmp_path / "RMA-SEV_Player-7.mp4"
    assert [(item.start_s, item.end_s, item.rows) for item in result.intervals] == [
        (1.5, 4.5, (1, 2)),
        (14.5, 17.0, (3,)),
    ]
    assert result.stream_copied
    found = probe(result.output)
    assert_browser_ready(found)
    assert abs(found.video_s - 5.5) <= 2 * found.frame_s
    assert sorted(path.name for path in (tmp_path / "RMA-SEV_Player-7").iterdir()) == [
        "RMA-SEV_Player-7_001.mp4",
        "RMA-SEV_Player-7_002.mp4",
    ]


def test_an_unreadable_game_video_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    game = tmp_path / "game.mp4"
    game.write_text("this is not a video\n")
    out = tmp_path / "clips"
    cutter = HighlightCutter(CsvIntervalReader(), FfmpegVideoEditor())
    with pytest.raises(InvalidVideo, match=r"game\.mp4: not a readable video"):
        cutter.execute(str(game), "start,end\n1,2\n", "G", "P", out)
    with pytest.raises(InvalidVideo, match=r"game\.mp4: not a readable video"):
        FfmpegVideoEditor().extract(game, [Interval(1, 2)], out)
    with pytest.raises(InvalidVideo, match=r"missing\.mp4: no such file"):
        FfmpegVideoEditor().extract(tmp_path / "missing.mp4", [Interval(1, 2)], out)
    assert not out.exists() or not list(out.rglob("*"))


def test_an_unreadable_clip_fails_the_join_before_writing(
    dfl_clips: list[Path], editor: FfmpegVideoEditor, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(dfl_clips[0].read_bytes()[:5000])  # truncated: header only, no index
    with pytest.raises(InvalidVideo, match=r"broken\.mp4"):
        editor.concat([dfl_clips[0], broken], tmp_path / "out.mp4")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.mp4"]


TRAILING_JUNK = b"\x10\xaf\x00\x00\x10[\x00\x00" + random.Random(8).randbytes(3102)
"""What followed the `mdat` of a broadcast file that plays everywhere; read as a box header, it
announces 279,904,256 bytes of type '\\x10[\\x00\\x00'."""


@pytest.mark.parametrize("name", [DFL, LALIGA], ids=["index-first", "index-last"])
def test_bytes_after_the_last_sample_neither_stop_a_cut_nor_a_join(
    videos: Path, editor: FfmpegVideoEditor, tmp_path: Path, name: str
) -> None:
    game = tmp_path / "game.mp4"
    game.write_bytes((videos / name).read_bytes() + TRAILING_JUNK)
    assert editor.duration(game) == editor.duration(videos / name)
    (clip,) = editor.extract(game, [Interval(1.0, 2.0)], tmp_path / "clips", CutMode.COPY)
    joined = editor.concat([game, clip], tmp_path / "joined.mp4")
    assert joined.stream_copied
    found = probe(joined.path)
    assert_browser_ready(found)
    # The same as without the junk (a stream-copy join also keeps the frames an edit list hides).
    (clean_clip,) = editor.extract(videos / name, [Interval(1.0, 2.0)], tmp_path / "clean", CutMode.COPY)
    assert probe(clip).frames == probe(clean_clip).frames
    assert (
        found.frames == probe(editor.concat([videos / name, clean_clip], tmp_path / "clean.mp4").path).frames
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (DFL, "truncated: the index points to samples up to byte 1085520 but the file has 542760"),
        (LALIGA, "truncated before its index: its 'mdat' box runs to byte 2986284 but the file has 1507285"),
    ],
    ids=["index-first", "index-last"],
)
def test_a_video_cut_off_in_its_media_data_is_refused_as_truncated(
    videos: Path, editor: FfmpegVideoEditor, tmp_path: Path, name: str, reason: str
) -> None:
    whole = (videos / name).read_bytes()
    game = tmp_path / "game.mp4"
    game.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InvalidVideo) as cut:
        editor.extract(game, [Interval(1.0, 2.0)], tmp_path / "clips", CutMode.COPY)
    with pytest.raises(InvalidVideo) as joined:
        editor.concat([game], tmp_path / "joined.mp4")
    for raised in (cut, joined):
        assert str(raised.value) == f"{game}: {reason} bytes"
    assert [path.name for path in tmp_path.iterdir()] == ["game.mp4"]


def test_an_ffmpeg_failure_names_the_file_and_leaves_no_partial_output(
    videos: Path, dfl_clips: list[Path], laliga_clips: list[Path], tmp_path: Path
) -> None:
    broken_encoder = FfmpegVideoEditor(preset="no-such-preset")
    with pytest.raises(
        VideoEditFailed, match=r"cutting 0:01\.000-0:02\.000 out of .*848x478\.mp4: ffmpeg exited"
    ):
        broken_encoder.extract(videos / DFL, [Interval(1, 2)], tmp_path)
    with pytest.raises(VideoEditFailed, match=r"joining 2 clips into .*out\.mp4: ffmpeg exited"):
        broken_encoder.concat([dfl_clips[0], laliga_clips[0]], tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("stderr", "detail"),
    [
        (b"", "no message"),
        (b"  [mov @ 0x1] moov atom not found\n", "[mov @ 0x1] moov atom not found"),
        (b"line one\n\tline two", "line one\n\tline two"),
        (b"box '\x10[\x00\x00' \x1b[0m", r"box '\x10[\x00\x00' \x1b[0m"),
        (b"caf\xc3\xa9 \xff", "caf\u00e9 \ufffd"),
        (b"x" * 2000 + b"END", "x" * 1497 + "END"),
    ],
    ids=["nothing", "stripped", "line breaks kept", "control bytes escaped", "not UTF-8", "the tail"],
)
def test_ffmpeg_output_in_a_message_has_no_control_bytes(stderr: bytes, detail: str) -> None:
    assert ffmpeg_detail(stderr) == detail


def test_extraction_is_all_or_nothing(videos: Path, editor: FfmpegVideoEditor, tmp_path: Path) -> None:
    """The second interval lies past the end of the 6.76 s clip: ffmpeg writes no frames, the
    editor refuses that file and removes the first clip it had already written."""
    with pytest.raises(VideoEditFailed, match=r"848x478_002\.mp4 .*ffmpeg wrote no playable video"):
        editor.extract(videos / DFL, [Interval(0.5, 1.0), Interval(30, 31)], tmp_path)
    assert list(tmp_path.iterdir()) == []
