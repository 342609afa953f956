"""FfmpegIndicatorRenderer against real ffmpeg and PyAV: indicator pixels where the player is (and none
on lost frames), presets (size, frame rate, H.264 yuv420p, faststart, sound), joining renders, bad input.

Pixel checks use a generated source (a plain pitch-green picture with a tone) so that the indicator is
the only thing that can put its colour at the checked spots; format checks also use the shared clips."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

av = pytest.importorskip("av", reason="needs the `vision` extra (PyAV)")
pytest.importorskip("imageio_ffmpeg", reason="needs imageio-ffmpeg (the bundled ffmpeg executable)")

import numpy as np  # noqa: E402

from pitchlens.domain.errors import InvalidTrackingData, InvalidVideo  # noqa: E402
from pitchlens.domain.rendering import PRESETS, Indicator, smooth_followed  # noqa: E402
from pitchlens.domain.vision import BoundingBox, TrackingFrame  # noqa: E402
from pitchlens.infrastructure.rendering import FfmpegIndicatorRenderer, indicator_samples  # noqa: E402
from pitchlens.infrastructure.video_editing import FfmpegVideoEditor, find_ffmpeg  # noqa: E402
from pitchlens.infrastructure.vision.indicators import (  # noqa: E402
    ACCENT_RGB,
    circle_geometry,
    dot_geometry,
)
from pitchlens.infrastructure.vision.video import PyAVVideoReader  # noqa: E402
from tests.media import assert_browser_ready, probe  # noqa: E402

pytestmark = pytest.mark.integration

PITCH_RGB = (58, 125, 44)
SOURCE_SIZE, SOURCE_FPS, SOURCE_FRAMES = (640, 360), 25, 100
LOST = range(40, 60)


def player_box(index: int) -> BoundingBox:
    """The followed player walks right 3 px a frame: 30x80 px at (100 + 3i, 150)."""
    return BoundingBox(100 + 3 * index, 150, 130 + 3 * index, 230)


def followed(frames: int = SOURCE_FRAMES, lost: Sequence[int] = LOST) -> list[TrackingFrame]:
    return [
        TrackingFrame(i, None, 0.0, lost=True) if i in lost else TrackingFrame(i, player_box(i), 0.9)
        for i in range(frames)
    ]


@pytest.fixture(scope="module")
def pitch_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of plain pitch green at 640x360, 25 fps, with a 440 Hz tone (AAC)."""
    path = tmp_path_factory.mktemp("render-source") / "pitch.mp4"
    width, height = SOURCE_SIZE
    colour = "0x{:02x}{:02x}{:02x}".format(*PITCH_RGB)
    subprocess.run(
        [find_ffmpeg(), "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"color=c={colour}:s={width}x{height}:r={SOURCE_FPS}:d=4",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def renderer() -> FfmpegIndicatorRenderer:
    return FfmpegIndicatorRenderer(PyAVVideoReader())


def decoded(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """RGB images of the output frames numbered in `wanted`."""
    images: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                images[index] = frame.to_ndarray(format="rgb24").astype(int)
    assert set(images) == wanted, f"{path.name} has fewer frames than {max(wanted) + 1}"
    return images


def source_index(output_index: int, out_fps: float) -> int:
    """The source frame an output frame shows (the one presented nearest its time)."""
    return int(np.floor(output_index * SOURCE_FPS / out_fps + 0.5))


def near(pixel: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 40) -> bool:
    return bool(np.all(np.abs(pixel - np.array(rgb)) <= tolerance))


def patch(image: np.ndarray, x: float, y: float, radius: int = 1) -> np.ndarray:
    """Mean colour of the (2 * radius + 1)^2 pixels around (x, y)."""
    column, row = round(x), round(y)
    return (
        image[row - radius : row + radius + 1, column - radius : column + radius + 1].reshape(-1, 3).mean(0)
    )


@pytest.mark.parametrize("indicator", list(Indicator))
def test_the_indicator_is_drawn_at_the_player_and_absent_on_lost_frames(
    pitch_video: Path, renderer: FfmpegIndicatorRenderer, tmp_path: Path, indicator: Indicator
) -> None:
    target = tmp_path / f"{indicator.value}.mp4"
    result = renderer.render(str(pitch_video), str(target), followed(), indicator, PRESETS["preview"])
    assert (result.width, result.height, result.fps) == (1280, 720, 30.0)
    assert result.marked_frames == SOURCE_FRAMES - len(LOST) and result.source_frames == SOURCE_FRAMES
    scale = result.width / SOURCE_SIZE[0]
    seen_at = [k for k in range(0, 48, 6)]  # source frames 0..35: the player is seen
    lost_at = [k for k in range(54, 66, 3)]  # source frames 45..55: lost
    assert all(source_index(k, 30) not in LOST for k in seen_at)
    assert all(source_index(k, 30) in LOST for k in lost_at)
    images = decoded(target, {*seen_at, *lost_at})
    for k in [*seen_at, *lost_at]:
        image, index = images[k], source_index(k, 30)
        box = player_box(index)
        box = BoundingBox(box.x1 * scale, box.y1 * scale, box.x2 * scale, box.y2 * scale)
        marked = k in seen_at
        if indicator is Indicator.DOT:
            cx, cy, _ = dot_geometry(box)
            assert near(patch(image, cx, cy), ACCENT_RGB) == marked, (k, patch(image, cx, cy))
        elif indicator is Indicator.CIRCLE:
            cx, cy, half_width, _, _ = circle_geometry(box)
            ring = patch(image, cx + half_width, cy)
            assert near(ring, ACCENT_RGB) == marked, (k, ring)
            assert near(patch(image, cx, cy), PITCH_RGB), "the ring's inside stays clear"
        else:
            corner, centre = patch(image, 20, 20, 3), patch(image, *box.center, 3)
            assert near(centre, PITCH_RGB, 25), (k, centre)  # the player stays lit
            if marked:
                assert corner.sum() < 0.6 * sum(PITCH_RGB), (k, corner)  # the rest is dimmed
            else:
                assert near(corner, PITCH_RGB, 25), (k, corner)  # no spotlight on lost frames


def test_preview_is_720p_at_30_fps_browser_ready_with_the_sound(
    pitch_video: Path, renderer: FfmpegIndicatorRenderer, tmp_path: Path
) -> None:
    target = tmp_path / "preview.mp4"
    renderer.render(str(pitch_video), str(target), followed(), Indicator.CIRCLE, PRESETS["preview"])
    found = probe(target)
    assert_browser_ready(found)
    assert (found.width, found.height, float(found.rate)) == (1280, 720, 30.0)
    assert found.frames == SOURCE_FRAMES * 30 // SOURCE_FPS  # 4 s at 30 fps
    assert found.audio_start_s is not None and found.audio_end_s == pytest.approx(4.0, abs=0.1)


def test_final_keeps_the_source_size_frame_rate_and_sound(
    pitch_video: Path, renderer: FfmpegIndicatorRenderer, tmp_path: Path
) -> None:
    target = tmp_path / "final.mp4"
    result = renderer.render(str(pitch_video), str(target), followed(), Indicator.DOT, PRESETS["final"])
    found = probe(target)
    assert_browser_ready(found)
    assert (found.width, found.height, found.rate, found.frames) == (*SOURCE_SIZE, SOURCE_FPS, SOURCE_FRAMES)
    assert result.has_audio and found.audio_end_s == pytest.approx(4.0, abs=0.1)
    with av.open(str(target)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"


@pytest.mark.parametrize(
    ("clip", "size", "frames"),
    [("dfl_08fd33_4_848x478.mp4", (1278, 720), 203), ("laliga_rma_sev_broadcast_720p.mp4", (1280, 720), 631)],
)
def test_previews_of_the_shared_clips(
    shared_data: Path,
    renderer: FfmpegIndicatorRenderer,
    tmp_path: Path,
    clip: str,
    size: tuple[int, int],
    frames: int,
) -> None:
    """848x478 at 25 fps becomes 1278x720 (aspect kept, even) at 30 fps; the 29.97 fps broadcast clip
    gains one repeated frame; its AAC sound is copied."""
    source = shared_data / "video" / clip
    count = PyAVVideoReader().probe(str(source)).frames
    track = [TrackingFrame(i, BoundingBox(400, 200, 430, 270), 0.9) for i in range(count)]
    target = tmp_path / "preview.mp4"
    result = renderer.render(
        str(source), str(target), smooth_followed(track), Indicator.GLOW, PRESETS["preview"]
    )
    found = probe(target)
    assert_browser_ready(found)
    assert (found.width, found.height) == size and float(found.rate) == 30.0
    assert found.frames == result.frames == frames
    assert (found.audio_start_s is not None) == ("laliga" in clip)


def test_renders_are_joined_and_their_durations_add_up(
    pitch_video: Path, shared_data: Path, renderer: FfmpegIndicatorRenderer, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    renderer.render(str(pitch_video), str(first), followed(), Indicator.DOT, PRESETS["preview"])
    renderer.render(str(pitch_video), str(second), followed(lost=()), Indicator.CIRCLE, PRESETS["preview"])
    editor = FfmpegVideoEditor()
    same = editor.concat([first, second], tmp_path / "same.mp4")
    assert same.stream_copied
    assert probe(same.path).frames == probe(first).frames + probe(second).frames
    assert editor.duration(same.path) == pytest.approx(
        editor.duration(first) + editor.duration(second), abs=0.1
    )

    dfl = tmp_path / "dfl.mp4"  # 1278x720 without sound: joined by re-encoding to the first's format
    dfl_frames = PyAVVideoReader().probe(str(shared_data / "video" / "dfl_08fd33_4_848x478.mp4")).frames
    renderer.render(
        str(shared_data / "video" / "dfl_08fd33_4_848x478.mp4"),
        str(dfl),
        [TrackingFrame(i, BoundingBox(300, 200, 320, 250), 0.9) for i in range(dfl_frames)],
        Indicator.CIRCLE,
        PRESETS["preview"],
    )
    mixed = editor.concat([first, dfl], tmp_path / "mixed.mp4")
    assert not mixed.stream_copied
    joined = probe(mixed.path)
    assert_browser_ready(joined)
    assert (joined.width, joined.height) == (1280, 720)
    assert joined.video_s == pytest.approx(probe(first).video_s + probe(dfl).video_s, abs=2 / 30)


def test_an_unreadable_video_is_refused_and_nothing_is_left(
    renderer: FfmpegIndicatorRenderer, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"not really a video" * 100)
    out = tmp_path / "out"
    with pytest.raises(InvalidVideo, match=r"broken\.mp4"):
        renderer.render(str(broken), str(out / "x.mp4"), followed(), Indicator.DOT, PRESETS["preview"])
    assert not out.exists() or not any(out.iterdir())


def test_a_video_with_bytes_after_its_last_sample_renders(
    pitch_video: Path, renderer: FfmpegIndicatorRenderer, tmp_path: Path
) -> None:
    source = tmp_path / "trailing.mp4"  # ~3 KB of junk after the index, as in a broadcast download
    source.write_bytes(pitch_video.read_bytes() + b"\x10\xaf\x00\x00\x10[\x00\x00" + bytes(range(256)) * 12)
    target = tmp_path / "final.mp4"
    renderer.render(str(source), str(target), followed(), Indicator.DOT, PRESETS["final"])
    assert probe(target).frames == SOURCE_FRAMES


def test_a_video_cut_off_in_its_media_data_is_refused_as_truncated(
    pitch_video: Path, renderer: FfmpegIndicatorRenderer, tmp_path: Path
) -> None:
    whole = pitch_video.read_bytes()
    source = tmp_path / "cut.mp4"
    source.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InvalidVideo, match=r"cut\.mp4: truncated"):
        renderer.render(str(source), str(tmp_path / "x.mp4"), followed(), Indicator.DOT, PRESETS["final"])
    assert [path.name for path in tmp_path.iterdir()] == ["cut.mp4"]


def test_tracking_data_beyond_the_video_is_refused_and_nothing_is_left(
    pitch_video: Path, renderer: FfmpegIndicatorRenderer, tmp_path: Path
) -> None:
    with pytest.raises(
        InvalidTrackingData, match=rf"names frame {SOURCE_FRAMES}, .* has frames 0\.\.{SOURCE_FRAMES - 1}"
    ):
        renderer.render(
            str(pitch_video),
            str(tmp_path / "x.mp4"),
            followed(SOURCE_FRAMES + 5),
            Indicator.DOT,
            PRESETS["final"],
        )
    assert not any(tmp_path.iterdir())


def test_indicator_samples_are_written_as_pngs(pitch_video: Path, tmp_path: Path) -> None:
    import cv2

    paths = indicator_samples(PyAVVideoReader(), str(pitch_video), 10, [130, 150, 160, 230], tmp_path)
    assert [p.name for p in paths] == [
        "indicator_dot.png",
        "indicator_circle.png",
        "indicator_glow.png",
        "indicators.png",
    ]
    dot = cv2.imread(str(paths[0]))[:, :, ::-1].astype(int)
    cx, cy, _ = dot_geometry(BoundingBox(130, 150, 160, 230))
    assert near(patch(dot, cx, cy), ACCENT_RGB)


def test_sound_that_starts_before_the_first_frame_is_trimmed_to_stay_in_sync(
    renderer: FfmpegIndicatorRenderer, tmp_path: Path
) -> None:
    """A recording (MPEG-TS keeps absolute times) whose video starts 0.8 s after its sound: the render's
    sound must start with its first frame, so the first 0.8 s of sound are left out."""
    ffmpeg = find_ffmpeg()
    base, late = tmp_path / "base.ts", tmp_path / "late.ts"
    quiet = [ffmpeg, "-nostdin", "-loglevel", "error", "-y"]
    subprocess.run(
        [*quiet, "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4", "-f", "lavfi", "-i", "sine=duration=5",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts", str(base)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        [*quiet, "-itsoffset", "0.8", "-i", str(base), "-i", str(base), "-map", "0:v", "-map", "1:a",
         "-c", "copy", "-f", "mpegts", str(late)],
        check=True,
    )  # fmt: skip
    frames = PyAVVideoReader().probe(str(late)).frames
    target = tmp_path / "synced.mp4"
    lost = [TrackingFrame(i, None, 0.0, lost=True) for i in range(frames)]
    renderer.render(str(late), str(target), lost, Indicator.DOT, PRESETS["final"])
    found = probe(target)
    assert found.audio_start_s == pytest.approx(0, abs=0.05)
    assert found.audio_end_s is not None and found.audio_end_s == pytest.approx(5 - 0.8, abs=0.08)
    assert found.video_s == pytest.approx(4.0, abs=0.05)
