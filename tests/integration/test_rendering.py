"""FfmpegIndicatorRenderer against real ffmpeg and PyAV: indicator pixels where the player is (and none
on lost frames), presets (size, frame rate, H.264 yuv420p, faststart, sound), joining renders, bad input.

Pixel checks use a generated source (a plain pitch-green picture with a tone) so that the indicator is
the only thing that can put its colour at the checked spots; format checks also use the shared clips.
The minimap is checked on the generated source and on the DFL clip calibrated from hand-marked landmarks."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

av = pytest.importorskip("av", reason="needs the `vision` extra (PyAV)")
pytest.importorskip("imageio_ffmpeg", reason="needs imageio-ffmpeg (the bundled ffmpeg executable)")

import numpy as np  # noqa: E402

from pitchlens.domain.errors import InvalidTrackingData, InvalidVideo  # noqa: E402
from pitchlens.domain.rendering import (  # noqa: E402
    PRESETS,
    Indicator,
    PitchPositions,
    pitch_positions,
    smooth_followed,
)
from pitchlens.domain.vision import BoundingBox, FrameSpan, FrameTracks, TrackingFrame, every_frame  # noqa: E402
from pitchlens.infrastructure.rendering import FfmpegIndicatorRenderer, indicator_samples  # noqa: E402
from pitchlens.infrastructure.video_editing import FfmpegVideoEditor, find_ffmpeg  # noqa: E402
from pitchlens.infrastructure.vision.indicators import (  # noqa: E402
    ACCENT_RGB,
    Region,
    circle_geometry,
    dot_geometry,
)
from pitchlens.infrastructure.vision.minimap import GRASS_OPACITY, GRASS_RGB, Minimap, team_rgb  # noqa: E402
from pitchlens.infrastructure.vision.video import PyAVVideoReader  # noqa: E402
from tests.clip_tracks import TracksOf  # noqa: E402
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


def make_pitch_video(path: Path, fps: int, seconds: int, tone: bool) -> Path:
    """`seconds` of plain pitch green at SOURCE_SIZE and `fps`, with a 440 Hz tone (AAC) if `tone`."""
    width, height = SOURCE_SIZE
    colour = "0x{:02x}{:02x}{:02x}".format(*PITCH_RGB)
    sound = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"] if tone else []
    audio = ["-c:a", "aac", "-shortest"] if tone else []
    subprocess.run(
        [find_ffmpeg(), "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"color=c={colour}:s={width}x{height}:r={fps}:d={seconds}", *sound,
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p", *audio, str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def pitch_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of plain pitch green at 640x360, 25 fps, with a 440 Hz tone (AAC)."""
    return make_pitch_video(tmp_path_factory.mktemp("render-source") / "pitch.mp4", SOURCE_FPS, 4, tone=True)


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


def test_a_60_fps_preview_counts_the_player_on_every_source_frame(
    renderer: FfmpegIndicatorRenderer, tmp_path: Path
) -> None:
    """A 60 fps source previewed at 30 fps shows every other frame, but the counts are of source
    frames: the player marked on all 100 where he is followed, lost on the other 20 (the job's
    `marked_frames` + `lost_frames` = its `frames`; counting shown frames said 50 of 120)."""
    source = make_pitch_video(tmp_path / "pitch-60fps.mp4", 60, 2, tone=False)
    result = renderer.render(
        str(source), str(tmp_path / "out.mp4"), followed(120), Indicator.CIRCLE, PRESETS["preview"]
    )
    assert (result.fps, result.frames, result.source_frames) == (30.0, 60, 120)
    assert result.marked_frames == 120 - len(LOST)


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


# --- the minimap ------------------------------------------------------------------------------


def people_at(index: int) -> tuple[tuple[float, float], ...]:
    """Where three people walking on the pitch stand (white, green, the followed one), metres."""
    return (-30.0 + index * 0.3, 10.0), (20.0, -15.0 + index * 0.2), (index * 0.2, 0.0)


def minimap_people(index: int) -> PitchPositions:
    """The minimap of `people_at`; frames of LOST have no metres (a shot not calibrated)."""
    if index in LOST:
        return PitchPositions(index, calibrated=False)
    return PitchPositions(index, people_at(index), ("white", "green", "white"), 2, True)


def unchanged_outside(with_map: np.ndarray, without: np.ndarray, region: Region) -> float:
    """Mean absolute difference of two decoded frames outside `region` grown by a 16-px
    macroblock (x264 codes the blocks around the minimap differently, nothing else may change)."""
    outside = np.ones(with_map.shape[:2], bool)
    outside[max(0, region.y0 - 16) : region.y1 + 16, max(0, region.x0 - 16) : region.x1 + 16] = False
    return float(np.abs(with_map[outside] - without[outside]).mean())


def test_the_minimap_shows_the_people_in_metres_and_nothing_else_changes(
    pitch_video: Path, renderer: FfmpegIndicatorRenderer, tmp_path: Path
) -> None:
    positions = [minimap_people(i) for i in range(SOURCE_FRAMES)]
    with_map, without = tmp_path / "minimap.mp4", tmp_path / "plain.mp4"
    result = renderer.render(
        str(pitch_video), str(with_map), followed(), Indicator.CIRCLE, PRESETS["preview"], minimap=positions
    )
    renderer.render(str(pitch_video), str(without), followed(), Indicator.CIRCLE, PRESETS["preview"])
    assert result.minimap_frames == result.marked_frames == SOURCE_FRAMES - len(LOST)
    minimap = Minimap(result.width, result.height)
    wanted = {6, 30, 54, 60, 90}  # source frames 5, 25, 45 (no metres), 50 (no metres), 75
    maps, plains = decoded(with_map, wanted), decoded(without, wanted)
    for k in sorted(wanted):
        image, plain, shown = maps[k], plains[k], minimap_people(source_index(k, 30))
        assert unchanged_outside(image, plain, minimap.region) < 1.0, k
        grass = np.array(GRASS_RGB) * GRASS_OPACITY + patch(plain, *minimap.pixel(-25.0, -20.0), 2) * (
            1 - GRASS_OPACITY
        )
        assert near(patch(image, *minimap.pixel(-25.0, -20.0), 2), tuple(grass), 12), k
        colours = (team_rgb("white"), team_rgb("green"), ACCENT_RGB)
        if not shown.calibrated:  # no dot where the people would be with metres
            for xy, colour in zip(people_at(source_index(k, 30)), colours, strict=True):
                assert not near(patch(image, *minimap.pixel(*xy)), colour, 40), (k, xy)
            continue
        white, green, chosen = (minimap.pixel(*xy) for xy in shown.xy)
        assert near(patch(image, *white), team_rgb("white"), 40), (k, patch(image, *white))
        assert near(patch(image, *green), team_rgb("green"), 50), (k, patch(image, *green))
        assert near(patch(image, *chosen), ACCENT_RGB, 50), (k, patch(image, *chosen))


DFL = "dfl_08fd33_4_848x478.mp4"
DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def calibrated_dfl(clip_tracks: TracksOf, shared_data: Path) -> list[FrameTracks]:
    """The DFL clip's tracks (the session's shared tracks, native instruction set) placed as a
    calibration job places them: metres from the landmarks hand-marked on its frame 0
    (tests/data/pitch_landmarks.json), carried by the camera motion, re-anchored on the lines."""
    from pitchlens.application.player_placer import PlayerPlacer
    from pitchlens.domain.pitch import CalibrationPoint, calibrate
    from pitchlens.infrastructure.vision.camera import BroadcastPitchCamera
    from pitchlens.infrastructure.vision.pitch_area import GrassPitchArea
    from pitchlens.infrastructure.vision.teams import KitColourTeams

    [annotated] = [
        c for c in json.loads((DATA / "pitch_landmarks.json").read_text())["clips"] if c["clip"] == DFL
    ]
    [spec] = [
        s for s in json.loads((DATA / "players_on_pitch.json").read_text())["ranges"] if s.startswith(DFL)
    ]
    first, last = (int(v) for v in spec.rsplit(":", 2)[1:])
    path = str(shared_data / "video" / DFL)
    reader = PyAVVideoReader()
    info = reader.probe(path)
    frame = annotated["calibrate"]
    points = [CalibrationPoint(name, *xy) for name, xy in annotated["points"][str(frame)].items()]
    homography = calibrate(points, frame, info.width, info.height).homography
    placer = PlayerPlacer(GrassPitchArea(), BroadcastPitchCamera, KitColourTeams, automatic_calibration=False)
    tracks = clip_tracks("native", DFL, first, last)
    placed = placer.execute(tracks, reader.frames(path, FrameSpan(first, last + 1)), {frame: homography})
    return list(placed.tracks)


def followed_track(tracks: list[FrameTracks], team: str) -> list[TrackingFrame]:
    """The track of the `team` player on the pitch nearest the centre spot on frame 0, as the follower
    hands it over (lost where the track is not seen)."""
    first = tracks[0]
    assert first.pitch_xy is not None and first.teams is not None and first.on_pitch is not None
    candidates = [
        (float(np.hypot(*xy)), int(track_id))
        for track_id, xy, own, on in zip(
            first.track_ids, first.pitch_xy, first.teams, first.on_pitch, strict=True
        )
        if own == team and on and np.isfinite(xy).all()
    ]
    chosen = min(candidates)[1]
    found = []
    for frame in tracks:
        ids = [int(i) for i in frame.track_ids]
        if chosen in ids:
            box = BoundingBox(*map(float, frame.boxes[ids.index(chosen)]))
            found.append(TrackingFrame(frame.frame_index, box, 0.9, track_id=chosen))
        else:
            found.append(TrackingFrame(frame.frame_index, None, 0.0, lost=True))
    return found


@pytest.mark.timeout(1200)  # the first test to ask for the session's tracks waits for them
def test_the_minimap_of_a_calibrated_shared_clip(
    calibrated_dfl: list[FrameTracks], shared_data: Path, renderer: FfmpegIndicatorRenderer, tmp_path: Path
) -> None:
    """The DFL clip rendered with and without the minimap after a manual calibration: the minimap's
    grass, every isolated person's dot in their team's colour where their metres put it, the followed
    player in yellow, the picture outside the minimap exactly as without it. Encoded losslessly (the
    preview preset at CRF 0): at CRF 28 the minimap changes the frame's complexity, so x264 picks
    another quantiser for the whole frame and every pixel moves a little."""
    lossless = replace(PRESETS["preview"], name="preview-lossless", crf=0)
    source = str(shared_data / "video" / DFL)
    frames = PyAVVideoReader().probe(source).frames
    tracks = every_frame(calibrated_dfl, frames)
    teams = sorted({t for f in tracks for t in f.teams or [] if t not in (None, "other")})
    assert len(teams) == 2, teams
    chosen = followed_track(tracks, teams[0])
    positions = pitch_positions(tracks, chosen)
    with_map, without = tmp_path / "minimap.mp4", tmp_path / "plain.mp4"
    smoothed = smooth_followed(chosen)
    result = renderer.render(source, str(with_map), smoothed, Indicator.CIRCLE, lossless, minimap=positions)
    renderer.render(source, str(without), smoothed, Indicator.CIRCLE, lossless)
    assert result.minimap_frames >= 0.9 * frames, (result.minimap_frames, frames)
    minimap = Minimap(result.width, result.height)
    spacing = 3 * minimap.dot_radius
    wanted = {0, 60, 120, 180}  # source frames 0, 50, 100, 150
    maps, plains = decoded(with_map, wanted), decoded(without, wanted)
    report, checked, right = [], 0, 0
    for k in sorted(wanted):
        image, plain, shown = maps[k], plains[k], positions[source_index(k, 30)]
        outside = np.ones(image.shape[:2], bool)  # 2 px more: RGB conversion interpolates the chroma
        region = minimap.region
        outside[region.y0 - 2 : region.y1 + 2, region.x0 - 2 : region.x1 + 2] = False
        assert np.array_equal(image[outside], plain[outside]), k
        assert shown.calibrated and len(shown.xy) >= 10, (k, shown)
        report.append(
            f"output frame {k}: {len(shown.xy)} people on the minimap, the rest of the frame as without"
        )
        at = [minimap.pixel(*xy) for xy in shown.xy]
        for index, (point, team) in enumerate(zip(at, shown.teams, strict=True)):
            if any(
                other != index and np.hypot(*np.subtract(point, q)) < spacing for other, q in enumerate(at)
            ):
                continue  # another dot overlaps: its colour may lie on top
            expected = ACCENT_RGB if index == shown.followed else team_rgb(team)
            found = patch(image, *point)
            checked += 1
            right += near(found, expected, 40)
            report.append(f"  {team} at {point[0]:.0f},{point[1]:.0f}: {found.round()} (want {expected})")
        empty = [
            (x, y)
            for x in (-45.0, -25.0, 25.0, 45.0)
            for y in (-25.0, -10.0, 10.0, 25.0)
            if all(np.hypot(*np.subtract(minimap.pixel(x, y), q)) > spacing + 3 for q in at)
        ]
        for x, y in empty:
            grass = np.array(GRASS_RGB) * GRASS_OPACITY + patch(plain, *minimap.pixel(x, y), 2) * (
                1 - GRASS_OPACITY
            )
            assert near(patch(image, *minimap.pixel(x, y), 2), tuple(grass), 15), (k, x, y)
    print("\n" + "\n".join(report))
    assert checked >= 20 and right >= 0.9 * checked, (
        f"{right} of {checked} dots in their colour\n" + "\n".join(report)
    )
