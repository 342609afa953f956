"""`PyAVVideoReader`: decodes video files with PyAV (FFmpeg's libavformat + libavcodec), local
or through an HTTP(S) URL (a presigned GET of the object in the bucket: FFmpeg reads it with range
requests, so a worker reads the index and the frames it decodes, never a whole match).

Why PyAV rather than OpenCV's `VideoCapture`: both decode H.264 with the same libavcodec, and on
this 2-core machine their sequential throughput is within measurement noise (with BGR conversion,
frame threading on: 848x478 ~180-250 frames/s, 720p ~80-140, 4K ~15-30). PyAV also exposes
what OpenCV hides: the packets' timestamps (frame count by demux, variable frame rate, exact
seeking by presentation timestamp), the container's streams (audio, codec) and FFmpeg's own error
for a damaged file, so one library serves `probe`, `frame` and `frames`.

Frame `i` is the `i`-th frame the decoder presents (edit lists applied: a clip whose MP4 edit
list hides its first 142 coded frames has 142 fewer frames than packets), the same frame in
`frame(path, i)` and in `frames(path)`.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import urllib.error
import urllib.request
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import unquote, urlsplit

import av
import av.error
import numpy as np

from pitchlens.domain.errors import InvalidVideo, ServiceUnavailable
from pitchlens.domain.frame_sampling import is_tracked, tracked_count
from pitchlens.domain.vision import FrameSpan, VideoInfo, VideoReader
from pitchlens.infrastructure.mp4_index import MP4_FIRST_BOXES

_log = logging.getLogger(__name__)

DEFAULT_PREFETCH = 4
"""Frames decoded ahead of the consumer (a 4K BGR frame is ~25 MB)."""
VFR_TOLERANCE = 0.1
"""A frame interval this far (relative) from the median interval is irregular..."""
VFR_IRREGULAR_SHARE = 0.01
"""...and a clip with more than this share of irregular intervals has a variable frame rate."""
_PUT_POLL_S = 0.05
"""How often a blocked decode thread looks whether its consumer has gone."""
NETWORK_TIMEOUT_S = 30.0
"""How long opening a URL, or one read from it, may wait before the read fails (never a hang)."""
SCALE_INTERPOLATION = "AREA"
"""swscale's filter when frames are decoded smaller: area averaging, as a downscale should be."""


@dataclass(frozen=True, slots=True)
class _StreamIndex:
    """What one demux pass learns about a file's video stream."""

    info: VideoInfo
    presentation_pts: tuple[int, ...] | None
    """Sorted timestamps of the presented frames (None when the packets carry none)."""
    keyframes: tuple[int, ...] = (0,)
    """Indexes of the frames whose packets are keyframes."""


class PyAVVideoReader(VideoReader):
    """Probes, seeks and decodes local video files; `frames` decodes on a background thread at
    most `prefetch` frames ahead, so decoding overlaps the consumer's work while memory stays flat."""

    def __init__(self, prefetch: int = DEFAULT_PREFETCH, threads: int = 0) -> None:
        if prefetch < 1:
            raise ValueError(f"prefetch must be >= 1, got {prefetch}")
        self._prefetch = prefetch
        self._threads = threads
        self._cache_key: tuple[str, int, str] | None = None
        self._cache: _StreamIndex | None = None
        self._cache_lock = threading.Lock()

    # ---------------------------------------------------------------------------------------
    # Ports
    # ---------------------------------------------------------------------------------------

    def probe(self, path: str) -> VideoInfo:
        return self._index(path).info

    def frame(self, path: str, index: int) -> np.ndarray:
        known = self._index(path)
        if not 0 <= index < known.info.frames:
            raise InvalidVideo(f"{_name(path)}: frame {index} is out of range (0..{known.info.frames - 1})")
        if known.presentation_pts is not None:
            image = self._seek_decode(path, known.presentation_pts[index])
            if image is not None:
                return image
            _log.warning("%s: seeking to frame %d failed; decoding from the start", _name(path), index)
        for found, image in self.frames(path):
            if found == index:
                return image
        raise InvalidVideo(f"{_name(path)}: frame {index} could not be decoded")

    def frames(
        self,
        path: str,
        span: FrameSpan | None = None,
        *,
        step: int = 1,
        size: tuple[int, int] | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        # Without a span, the demux pass (tens of ms) rejects truncated files before any frame is
        # handed out, which the decoder alone does not: it stops quietly at the cut. A span comes
        # from `span()`, whose pass did that; its worker need not read the whole file again.
        if step < 1:
            raise ValueError(f"step must be >= 1, got {step}")
        if size is not None and min(size) < 1:
            raise ValueError(f"size must be positive, got {size}")
        if span is None:
            span = FrameSpan(0, self._index(path).info.frames)
        container, stream = self._open_video(path)
        if size == (stream.codec_context.width, stream.codec_context.height):
            size = None
        frames: queue.Queue[Any] = queue.Queue(maxsize=self._prefetch)
        stop = threading.Event()
        decoder = threading.Thread(
            target=_decode_into,
            args=(container, stream, frames, stop, span, step, size),
            name=f"pitchlens-decode-{_name(path)}",
            daemon=True,
        )
        decoder.start()
        expected = tracked_count(span.start, span.stop, step)
        handed_out = 0
        try:
            while handed_out < expected:
                item = frames.get()
                if item is _END:
                    raise InvalidVideo(
                        f"{_name(path)}: decoded {handed_out} of the {expected} frames "
                        f"{span.start}..{span.stop - 1} (damaged stream)"
                    )
                if isinstance(item, _Failure) and _unreachable(path, item.error):
                    raise ServiceUnavailable(
                        f"{_name(path)}: reading frames {span.start}..{span.stop - 1} failed after "
                        f"{item.decoded} frames: {item.error}"
                    ) from item.error
                if isinstance(item, _Failure):
                    raise InvalidVideo(
                        f"{_name(path)}: decoding frames {span.start}..{span.stop - 1} stopped after "
                        f"{item.decoded} frames (truncated or damaged file): {item.error}"
                    ) from item.error
                handed_out += 1
                yield item
        finally:
            # The consumer is done (exhausted, failed, or stopped early): release the thread.
            stop.set()
            decoder.join()

    def keyframes(self, path: str) -> list[int]:
        return list(self._index(path).keyframes)

    def frame_size(self, path: str) -> tuple[int, int]:
        """From the stream's header: no pass over the file (a match is GBs)."""
        container, stream = self._open_video(path)
        with container:
            width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise InvalidVideo(f"{_name(path)}: the video stream has no frame size")
        return width, height

    def span(self, path: str, start: int, stop: int) -> FrameSpan:
        known = self._index(path)
        if not 0 <= start < stop <= known.info.frames:
            raise InvalidVideo(
                f"{_name(path)}: frames {start}..{stop - 1} are not in its {known.info.frames}"
            )
        if start == 0 or known.presentation_pts is None:
            return FrameSpan(start, stop)
        keyframe = known.keyframes[bisect_right(known.keyframes, start) - 1]
        return FrameSpan(start, stop, known.presentation_pts[keyframe], known.presentation_pts[start])

    # ---------------------------------------------------------------------------------------
    # Probe
    # ---------------------------------------------------------------------------------------

    def _index(self, path: str) -> _StreamIndex:
        key = _identity(path)
        with self._cache_lock:
            if key == self._cache_key and self._cache is not None:
                return self._cache
        found = self._scan(path)
        with self._cache_lock:
            self._cache_key, self._cache = key, found
        return found

    def _scan(self, path: str) -> _StreamIndex:
        container, stream = self._open_video(path)
        with container:
            declared = stream.frames or 0
            codec = stream.codec_context.name
            width, height = stream.codec_context.width, stream.codec_context.height
            has_audio = bool(container.streams.audio)
            time_base = stream.time_base
            packets = 0
            presented: list[int] = []
            keyframe_pts: list[int] = []
            durations: list[int] = []
            missing_pts = False
            try:
                for packet in container.demux(stream):
                    if packet.size == 0 and packet.pts is None and packet.dts is None:
                        continue  # the demuxer's end-of-stream flush packet
                    packets += 1
                    if packet.is_corrupt:
                        raise InvalidVideo(
                            f"{_name(path)}: truncated or damaged: packet {packets} of the video stream "
                            f"is incomplete (declared {declared} frames)"
                        )
                    if packet.is_discard:
                        continue  # hidden by an edit list; the decoder drops it too
                    timestamp = packet.pts if packet.pts is not None else packet.dts
                    if timestamp is None:
                        missing_pts = True
                    else:
                        presented.append(timestamp)
                        if packet.is_keyframe:
                            keyframe_pts.append(timestamp)
                    if packet.duration:
                        durations.append(packet.duration)
            except av.error.FFmpegError as error:
                if _unreachable(path, error):
                    raise ServiceUnavailable(
                        f"{_name(path)}: reading failed after {packets} packets: {error}"
                    ) from error
                raise InvalidVideo(
                    f"{_name(path)}: truncated or damaged: demuxing failed after {packets} packets: {error}"
                ) from error
        frames = len(presented) + (packets - len(presented) if missing_pts else 0)
        if frames == 0:
            raise InvalidVideo(f"{_name(path)}: the video stream has no frames")
        if declared and packets < declared:
            raise InvalidVideo(
                f"{_name(path)}: truncated: the index declares {declared} video frames but only "
                f"{packets} are in the file"
            )
        if width <= 0 or height <= 0:
            raise InvalidVideo(f"{_name(path)}: the video stream has no frame size")
        if missing_pts or time_base is None:
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            if fps <= 0:
                raise InvalidVideo(f"{_name(path)}: no timestamps and no frame rate")
            info = VideoInfo(width, height, fps, frames, frames / fps, codec, has_audio, False)
            return _StreamIndex(info, None)
        presented.sort()
        fps, duration, variable = _timing(presented, durations, time_base)
        info = VideoInfo(width, height, fps, frames, duration, codec, has_audio, variable)
        positions = {pts: index for index, pts in enumerate(presented)}
        keyframes = sorted({positions[pts] for pts in keyframe_pts} | {0})
        return _StreamIndex(info, tuple(presented), tuple(keyframes))

    def _open_video(self, path: str) -> tuple[Any, Any]:
        """The opened container and its first video stream (set up for threaded decoding)."""
        _, size, _ = _identity(path)
        if size == 0:
            raise InvalidVideo(f"{_name(path)}: empty file (0 bytes)")
        try:
            container = av.open(path, metadata_errors="ignore", timeout=NETWORK_TIMEOUT_S)
        except av.error.FFmpegError as error:
            if _unreachable(path, error):
                raise ServiceUnavailable(f"{_name(path)}: could not be read: {error.strerror}") from error
            raise InvalidVideo(f"{_name(path)}: {_unopenable_reason(path)} ({error.strerror})") from error
        if not container.streams.video:
            kinds = ", ".join(s.type for s in container.streams) or "none"
            container.close()
            raise InvalidVideo(f"{_name(path)}: no video stream (streams: {kinds})")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            container.close()
            raise InvalidVideo(f"{_name(path)}: no decoder for the video codec")
        stream.thread_type = "AUTO"
        stream.thread_count = self._threads
        return container, stream

    # ---------------------------------------------------------------------------------------
    # Random access
    # ---------------------------------------------------------------------------------------

    def _seek_decode(self, path: str, target_pts: int) -> np.ndarray | None:
        """Seek to the keyframe at or before `target_pts`, decode forward to that frame."""
        container, stream = self._open_video(path)
        with container:
            try:
                container.seek(target_pts, stream=stream, backward=True, any_frame=False)
                for decoded in container.decode(stream):
                    if decoded.pts is None:
                        return None
                    if decoded.pts > target_pts:
                        return None  # the seek landed past the frame: let the caller decode linearly
                    if decoded.pts == target_pts:
                        return decoded.to_ndarray(format="bgr24")
            except av.error.FFmpegError as error:
                raise InvalidVideo(
                    f"{_name(path)}: decoding failed near pts {target_pts}: {error}"
                ) from error
        return None


# -------------------------------------------------------------------------------------------
# The decode thread
# -------------------------------------------------------------------------------------------


_END = object()


@dataclass(frozen=True, slots=True)
class _Failure:
    error: Exception
    decoded: int


def _decode_into(
    container: Any,
    stream: Any,
    frames: queue.Queue[Any],
    stop: threading.Event,
    span: FrameSpan,
    step: int = 1,
    size: tuple[int, int] | None = None,
) -> None:
    """Decodes the span's frames into `frames`: from the start, counting; or, with timestamps, from
    the keyframe at `span.seek_pts`, dropping frames before `span.start_pts`. Only frames handed out
    (those `is_tracked` at `step`) are converted to BGR, scaled to `size` by swscale on the way
    (one pass: a 4K frame never exists in BGR)."""
    convert: dict[str, Any] = {"format": "bgr24"}
    if size is not None:
        convert.update(width=size[0], height=size[1], interpolation=SCALE_INTERPOLATION)
    decoded = 0
    try:
        with container:
            index: int | None = 0
            if span.seek_pts is not None and span.start_pts is not None:
                container.seek(span.seek_pts, stream=stream, backward=True, any_frame=False)
                index = None  # numbered from the first frame at or after start_pts
            for decoded_frame in container.decode(stream):
                if index is None:
                    if decoded_frame.pts is None or decoded_frame.pts < (span.start_pts or 0):
                        continue
                    index = span.start
                if index >= span.stop:
                    break
                if index >= span.start and is_tracked(index, span.start, span.stop, step):
                    if not _put(frames, (index, decoded_frame.to_ndarray(**convert)), stop):
                        return
                    decoded += 1
                index += 1
        _put(frames, _END, stop)
    except Exception as error:  # handed to the consumer, which raises it in its own thread
        _put(frames, _Failure(error, decoded), stop)


def _put(frames: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Blocks while the queue is full; False once the consumer has gone."""
    while not stop.is_set():
        try:
            frames.put(item, timeout=_PUT_POLL_S)
            return True
        except queue.Full:
            continue
    return False


# -------------------------------------------------------------------------------------------
# Helpers
# -------------------------------------------------------------------------------------------


def _timing(presented: list[int], durations: list[int], time_base: Fraction) -> tuple[float, float, bool]:
    """(fps, duration in seconds, variable frame rate) from sorted presentation timestamps."""
    if len(presented) < 2:
        step = durations[0] if durations else 0
        if step <= 0:
            raise InvalidVideo("a one-frame video without a frame duration has no frame rate")
        return 1 / float(step * time_base), float(step * time_base), False
    intervals = [later - earlier for earlier, later in pairwise(presented)]
    typical = median(intervals)
    if typical <= 0:
        raise InvalidVideo("the video's frames share one timestamp")
    irregular = sum(abs(interval - typical) > VFR_TOLERANCE * typical for interval in intervals)
    variable = irregular > max(1, VFR_IRREGULAR_SHARE * len(intervals))
    last_duration = durations[-1] if durations else typical
    duration = float((presented[-1] - presented[0] + last_duration) * time_base)
    if variable:
        fps = (len(presented) - 1) / float((presented[-1] - presented[0]) * time_base)
    else:
        fps = 1 / float(typical * time_base)
    return fps, duration, variable


def _is_url(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def _unreachable(path: str, error: Exception) -> bool:
    """Whether FFmpeg failed to read a URL (a network fault, worth a retry) rather than the bytes
    it read being no valid video."""
    return _is_url(path) and not isinstance(error, av.error.InvalidDataError)


def _identity(path: str) -> tuple[str, int, str]:
    """(where, size in bytes, version): what tells one file from another, or a changed one."""
    if _is_url(path):
        where = urlsplit(path)
        size, version, _ = _fetch_head(path)
        return f"{where.scheme}://{where.netloc}{where.path}", size, version
    try:
        stat = os.stat(path)
    except FileNotFoundError as error:
        raise InvalidVideo(f"{_name(path)}: no such file") from error
    except OSError as error:
        raise InvalidVideo(f"{_name(path)}: unreadable: {error.strerror}") from error
    return str(Path(path).resolve()), stat.st_size, str(stat.st_mtime_ns)


def _fetch_head(url: str, length: int = 16) -> tuple[int, str, bytes]:
    """(size, ETag or Last-Modified, first bytes) of the object behind `url`, by one ranged GET
    (a presigned URL is signed for GET only, so no HEAD)."""
    request = urllib.request.Request(url, headers={"Range": f"bytes=0-{length - 1}"})
    try:
        with urllib.request.urlopen(request, timeout=NETWORK_TIMEOUT_S) as response:
            head = response.read(length)
            total = response.headers.get("Content-Range", "").rpartition("/")[2]
            size = int(total) if total.isdigit() else int(response.headers.get("Content-Length") or 0)
            version = response.headers.get("ETag") or response.headers.get("Last-Modified") or ""
    except urllib.error.HTTPError as error:
        if error.code == 416:  # no byte 0 to give: the object is empty
            return 0, "", b""
        if error.code == 404:
            raise InvalidVideo(f"{_name(url)}: no such object") from error
        raise ServiceUnavailable(
            f"{_name(url)}: could not be read: HTTP {error.code} {error.reason}"
        ) from error
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise ServiceUnavailable(f"{_name(url)}: could not be read: {error}") from error
    return size, version, head


def _unopenable_reason(path: str) -> str:
    """Why FFmpeg could not open a file, judged from its first bytes."""
    if _is_url(path):
        head = _fetch_head(path)[2]
    else:
        with open(path, "rb") as file:
            head = file.read(16)
    if head[4:8] in MP4_FIRST_BOXES:
        return (
            "truncated or damaged MP4/MOV: no readable index (moov atom), the upload was probably cut short"
        )
    return "not a video: no known container format"


def _name(path: str) -> str:
    """The file's name, for messages (a URL's signature left out)."""
    if _is_url(path):
        return unquote(Path(urlsplit(path).path).name)
    return Path(path).name
