"""PyAVVideoReader against real files: the shared clips, broken ones made from them, and clips
encoded here (4K, variable frame rate, audio only) with PyAV's libx264 / AAC encoders."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

av = pytest.importorskip("av", reason="needs the `vision` extra")

from pitchlens.domain.errors import InvalidVideo  # noqa: E402
from pitchlens.infrastructure.vision.video import PyAVVideoReader  # noqa: E402

pytestmark = pytest.mark.integration

DFL = "dfl_08fd33_4_848x478.mp4"
LALIGA = "laliga_rma_sev_broadcast_720p.mp4"


@pytest.fixture(scope="session")
def videos(shared_data: Path) -> Path:
    folder = shared_data / "video"
    if not (folder / DFL).is_file():
        pytest.skip(f"shared clips not found in {folder}")
    return folder


@pytest.fixture
def reader() -> PyAVVideoReader:
    return PyAVVideoReader()


def encode(path: Path, frames: Iterator[np.ndarray], fps: int = 25, pts: list[int] | None = None) -> Path:
    """H.264 (libx264, ultrafast) MP4 of BGR frames; `pts` in milliseconds for irregular timing."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for position, image in enumerate(frames):
            if position == 0:
                stream.width, stream.height = image.shape[1], image.shape[0]
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            if pts is not None:
                frame.pts, frame.time_base = pts[position], Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="session")
def clip_4k(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten 3840x2160 frames: the DFL clip's first frames scaled up (real content, real decode cost)."""
    cv2 = pytest.importorskip("cv2")
    stream = PyAVVideoReader().frames(str(videos / DFL))
    source = [next(stream)[1] for _ in range(10)]
    stream.close()
    frames = (cv2.resize(image, (3840, 2160), interpolation=cv2.INTER_LINEAR) for image in source)
    return encode(tmp_path_factory.mktemp("video") / "uhd.mp4", frames)


def synthetic(count: int, width: int = 320, height: int = 240) -> Iterator[np.ndarray]:
    for position in range(count):
        image = np.zeros((height, width, 3), np.uint8)
        image[:, : (position * 7) % width] = (40, 160, 60)
        yield image


# --------------------------------------------------------------------------------------------
# The shared clips
# --------------------------------------------------------------------------------------------


def test_probe_of_the_dfl_clip(reader: PyAVVideoReader, videos: Path) -> None:
    info = reader.probe(str(videos / DFL))

    assert (info.width, info.height, info.codec) == (848, 478, "h264")
    assert info.fps == pytest.approx(25.0)
    assert info.frames == 169
    assert info.duration_s == pytest.approx(6.76, abs=0.01)
    assert not info.has_audio
    assert not info.variable_frame_rate


def test_probe_of_the_laliga_clip_counts_the_frames_its_edit_list_shows(
    reader: PyAVVideoReader, videos: Path
) -> None:
    # The MP4 holds 772 coded frames (25.8 s) but its edit list starts playback 142 frames in:
    # players and decoders present 630 frames (21.0 s), and so does the reader.
    info = reader.probe(str(videos / LALIGA))

    assert (info.width, info.height, info.codec) == (1280, 720, "h264")
    assert info.fps == pytest.approx(30000 / 1001)
    assert info.frames == 630
    assert info.duration_s == pytest.approx(21.02, abs=0.01)
    assert info.has_audio
    assert not info.variable_frame_rate


@pytest.mark.parametrize("clip", [DFL, LALIGA])
def test_frames_decodes_every_frame_the_probe_counts(
    reader: PyAVVideoReader, videos: Path, clip: str
) -> None:
    path = str(videos / clip)
    info = reader.probe(path)

    began = time.perf_counter()
    indexes = []
    for index, image in reader.frames(path):
        indexes.append(index)
        assert image.shape == (info.height, info.width, 3) and image.dtype == np.uint8
    seconds = time.perf_counter() - began

    assert indexes == list(range(info.frames))
    print(f"\n{clip}: {info.frames} frames decoded in {seconds:.2f} s = {info.frames / seconds:.0f} frames/s")


def test_frames_at_a_step_and_a_smaller_size_are_the_tracked_frames_scaled_down(
    reader: PyAVVideoReader, videos: Path
) -> None:
    """What a 50/60 fps clip's tracking reads: every second frame plus the span's ends, scaled by
    the decoder (swscale, area averaging) to the size the network uses."""
    import cv2

    path = str(videos / DFL)
    span = reader.span(path, 3, 20)
    assert reader.frame_size(path) == (848, 478)

    read = list(reader.frames(path, span, step=2, size=(424, 240)))

    assert [index for index, _ in read] == [3, 4, 6, 8, 10, 12, 14, 16, 18, 19]
    assert all(image.shape == (240, 424, 3) for _, image in read)
    # The same picture as the full-size frame shrunk afterwards (colour conversion and filters
    # differ in rounding only).
    full = cv2.resize(reader.frame(path, 10), (424, 240), interpolation=cv2.INTER_AREA)
    difference = np.abs(dict(read)[10].astype(np.int16) - full.astype(np.int16))
    assert difference.mean() < 3, difference.mean()


@pytest.mark.parametrize(("clip", "indexes"), [(DFL, [0, 1, 57, 168]), (LALIGA, [0, 300])])
def test_frame_by_index_is_the_same_frame_as_in_the_stream(
    reader: PyAVVideoReader, videos: Path, clip: str, indexes: list[int]
) -> None:
    path = str(videos / clip)
    wanted = set(indexes)
    streamed = {}
    for index, image in reader.frames(path):
        if index in wanted:
            streamed[index] = image
        if index >= max(indexes):
            break

    for index in indexes:
        assert np.array_equal(reader.frame(path, index), streamed[index]), index


@pytest.mark.parametrize("index", [-1, 169, 10_000])
def test_frame_out_of_range_is_invalid(reader: PyAVVideoReader, videos: Path, index: int) -> None:
    with pytest.raises(InvalidVideo, match="out of range"):
        reader.frame(str(videos / DFL), index)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def test_a_zero_byte_file_is_invalid(reader: PyAVVideoReader, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")

    with pytest.raises(InvalidVideo, match="empty file"):
        reader.probe(str(empty))
    with pytest.raises(InvalidVideo, match="empty file"):
        next(reader.frames(str(empty)))


def test_a_text_file_named_mp4_is_invalid(reader: PyAVVideoReader, tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("kick-off at 20:45, bring the tripod\n" * 20)

    with pytest.raises(InvalidVideo, match="not a video"):
        reader.probe(str(text))


def test_a_missing_file_is_invalid(reader: PyAVVideoReader, tmp_path: Path) -> None:
    with pytest.raises(InvalidVideo, match="no such file"):
        reader.probe(str(tmp_path / "nowhere.mp4"))


def test_half_of_a_clip_with_its_index_at_the_end_is_invalid(
    reader: PyAVVideoReader, videos: Path, tmp_path: Path
) -> None:
    # The LaLiga MP4 keeps its index (moov atom) after the media data: cut in half, it has none.
    data = (videos / LALIGA).read_bytes()
    cut = tmp_path / "half.mp4"
    cut.write_bytes(data[: len(data) // 2])

    with pytest.raises(InvalidVideo, match=r"truncated .*moov"):
        reader.probe(str(cut))
    with pytest.raises(InvalidVideo, match="truncated"):
        next(reader.frames(str(cut)))


def test_half_of_a_clip_with_its_index_in_front_is_invalid(
    reader: PyAVVideoReader, videos: Path, tmp_path: Path
) -> None:
    # The DFL MP4 has its index first ("faststart"): it opens, but half of the frames are gone.
    data = (videos / DFL).read_bytes()
    cut = tmp_path / "half.mp4"
    cut.write_bytes(data[: len(data) // 2])

    with pytest.raises(InvalidVideo, match="truncated"):
        reader.probe(str(cut))
    with pytest.raises(InvalidVideo, match="truncated"):
        next(reader.frames(str(cut)))  # refused before the first frame, not after 84 of 169


def test_an_audio_only_file_has_no_video_stream(reader: PyAVVideoReader, tmp_path: Path) -> None:
    path = tmp_path / "commentary.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        for position in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, position * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())

    with pytest.raises(InvalidVideo, match="no video stream"):
        reader.probe(str(path))


# --------------------------------------------------------------------------------------------
# Clips made here
# --------------------------------------------------------------------------------------------


def test_4k_clip(reader: PyAVVideoReader, clip_4k: Path) -> None:
    info = reader.probe(str(clip_4k))
    assert (info.width, info.height, info.frames) == (3840, 2160, 10)

    began = time.perf_counter()
    shapes = [image.shape for _, image in reader.frames(str(clip_4k))]
    seconds = time.perf_counter() - began

    assert shapes == [(2160, 3840, 3)] * 10
    assert reader.frame(str(clip_4k), 9).shape == (2160, 3840, 3)
    print(f"\n4K: 10 frames decoded in {seconds:.2f} s = {10 / seconds:.1f} frames/s")


def test_variable_frame_rate_is_flagged(reader: PyAVVideoReader, tmp_path: Path) -> None:
    # Frames 33 ms and 50 ms apart, alternately (as phones record in low light).
    pts = [sum(33 if i % 2 == 0 else 50 for i in range(n)) for n in range(40)]
    path = encode(tmp_path / "vfr.mp4", synthetic(40), fps=30, pts=pts)

    info = reader.probe(str(path))

    assert info.variable_frame_rate
    assert info.frames == 40
    assert info.fps == pytest.approx(39 / (pts[-1] / 1000), rel=0.02)  # the average rate


def test_constant_frame_rate_is_not_flagged(reader: PyAVVideoReader, tmp_path: Path) -> None:
    info = reader.probe(str(encode(tmp_path / "cfr.mp4", synthetic(40), fps=30)))

    assert not info.variable_frame_rate
    assert info.fps == pytest.approx(30.0)
    assert info.frames == 40


# --------------------------------------------------------------------------------------------
# The decode thread
# --------------------------------------------------------------------------------------------


def decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("pitchlens-decode")]


def test_stopping_early_leaves_no_decode_thread(reader: PyAVVideoReader, videos: Path) -> None:
    frames = reader.frames(str(videos / LALIGA))
    next(frames)
    next(frames)
    assert len(decode_threads()) == 1

    frames.close()

    assert decode_threads() == []


def test_breaking_out_of_a_loop_leaves_no_decode_thread(reader: PyAVVideoReader, videos: Path) -> None:
    for index, _ in reader.frames(str(videos / LALIGA)):
        if index == 5:
            break

    assert decode_threads() == []


def test_frames_are_decoded_ahead_of_the_consumer(videos: Path) -> None:
    reader = PyAVVideoReader(prefetch=3)
    frames = reader.frames(str(videos / DFL))
    next(frames)
    time.sleep(0.5)  # the decode thread fills the queue while the consumer "infers"

    began = time.perf_counter()
    ready = [next(frames) for _ in range(3)]
    waited = time.perf_counter() - began
    frames.close()

    assert [index for index, _ in ready] == [1, 2, 3]
    assert waited < 0.05  # already decoded
    assert decode_threads() == []


# -------------------------------------------------------------------------------------------
# Through a presigned URL (how the detect and track workers read a match where it lies)
# -------------------------------------------------------------------------------------------


@pytest.fixture
def bucket_urls(videos: Path) -> Iterator[tuple[Any, Any]]:
    """(S3VideoStore on moto's S3 server holding the DFL clip and half of LaLiga, the server)."""
    from pitchlens.infrastructure.storage.video_store import S3VideoStore
    from tests.moto_s3 import moto_s3

    with moto_s3() as (client, server):
        client.create_bucket(Bucket="videos")
        client.upload_file(str(videos / DFL), "videos", f"match 7/{DFL}")
        client.put_object(Bucket="videos", Key="half.mp4", Body=(videos / LALIGA).read_bytes()[:1_000_000])
        yield S3VideoStore(client, "artifacts"), server


def test_a_presigned_url_reads_the_same_frames_as_the_file(
    reader: PyAVVideoReader, videos: Path, bucket_urls: tuple[Any, Any]
) -> None:
    store, _ = bucket_urls
    url = store.readable(f"s3://videos/match 7/{DFL}")
    local = str(videos / DFL)

    assert reader.probe(url) == reader.probe(local)
    assert reader.keyframes(url) == reader.keyframes(local)
    span = reader.span(url, 100, 110)
    remote = dict(reader.frames(url, span))
    assert list(remote) == list(range(100, 110))
    for index, image in reader.frames(local, reader.span(local, 100, 110)):
        np.testing.assert_array_equal(remote[index], image)


def test_a_broken_object_is_invalid_and_an_unreachable_store_is_a_retry(
    reader: PyAVVideoReader, bucket_urls: tuple[Any, Any]
) -> None:
    from pitchlens.domain.errors import ServiceUnavailable

    store, server = bucket_urls
    half = store.readable("s3://videos/half.mp4")
    with pytest.raises(InvalidVideo, match=r"half\.mp4: truncated .*moov"):
        reader.probe(half)

    url = store.readable(f"s3://videos/match 7/{DFL}")
    server.stop()
    began = time.perf_counter()
    with pytest.raises(ServiceUnavailable, match=f"{DFL}: could not be read"):
        reader.probe(url)
    assert time.perf_counter() - began < 5
