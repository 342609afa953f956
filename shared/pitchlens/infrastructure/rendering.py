"""`FfmpegIndicatorRenderer`: the followed player's indicator drawn on every frame, encoded by ffmpeg.

One pass, two processes working at once: this process decodes the source with PyAV (libavcodec,
frame threads), scales each frame to the preset's size in YUV 4:2:0 (swscale), draws the
indicator into the planes (see `indicators`) and writes the raw frames to ffmpeg's stdin; ffmpeg
encodes them with libx264 while the next frames are decoded, and takes the sound straight from the
source file (stream copy for AAC, else AAC). Frames never pass through BGR and are never all held:
memory stays flat with clip length.

Frame rate: each output frame time k / fps shows the source frame presented nearest to it (like
ffmpeg's `fps` filter): a 60 fps source previewed at 30 fps skips every other frame before it is
scaled or drawn, a 29.97 fps one gains a repeated frame every ~33 s, a variable-rate one becomes
constant-rate. Output: H.264 yuv420p, `+faststart`, written to a temporary file and renamed into
place when ffmpeg succeeded and the result probes as H.264 yuv420p.
"""

from __future__ import annotations

import logging
import math
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import av
import av.error
import cv2
import numpy as np

from pitchlens.domain.errors import InvalidVideo
from pitchlens.domain.highlights import VideoEditFailed
from pitchlens.domain.rendering import (
    Indicator,
    IndicatorRenderer,
    InvalidSelection,
    PitchPositions,
    ProgressCallback,
    RenderedVideo,
    RenderPreset,
)
from pitchlens.domain.vision import BoundingBox, TrackingFrame, VideoReader, by_frame_index
from pitchlens.infrastructure.video_editing import (
    COPYABLE_AUDIO,
    MP4_ARGUMENTS,
    aac_arguments,
    check_output,
    ffmpeg_detail,
    find_ffmpeg,
    probe_media,
    publishing,
)
from pitchlens.infrastructure.vision.indicators import I420Frame, draw_indicator, from_bgr, to_bgr
from pitchlens.infrastructure.vision.minimap import Minimap

_log = logging.getLogger(__name__)

PROGRESS_EVERY = 10
"""Source frames between progress callbacks."""
_EPSILON_S = 1e-6


@dataclass(frozen=True, slots=True)
class _Source:
    width: int
    height: int
    fps: Fraction
    frames: int
    audio_codec: str | None
    audio_lead_s: float = 0.0
    """How long the sound runs before the first video frame (a recording whose video starts late):
    that much sound is skipped so the output's sound starts with its first frame, in sync."""


class FfmpegIndicatorRenderer(IndicatorRenderer):
    """Renders with PyAV + the ffmpeg executable (imageio-ffmpeg's static build, else PATH);
    `reader` probes the source (frame count, for progress and to check the tracking data)."""

    def __init__(self, reader: VideoReader, ffmpeg: str | None = None, threads: int = 0) -> None:
        self._reader = reader
        self._ffmpeg = ffmpeg
        self._threads = threads

    def render(
        self,
        source: str,
        target: str,
        followed: Sequence[TrackingFrame],
        indicator: Indicator,
        preset: RenderPreset,
        on_progress: ProgressCallback | None = None,
        minimap: Sequence[PitchPositions] | None = None,
    ) -> RenderedVideo:
        info = self._probe(source)
        boxes = _boxes_by_frame(followed, info.frames, Path(source).name)
        positions = None if minimap is None else by_frame_index(minimap, info.frames, Path(source).name)
        out_width, out_height = preset.output_size(info.width, info.height)
        out_fps = Fraction(preset.fps).limit_denominator(1001) if preset.fps else info.fps
        scale = (out_width / info.width, out_height / info.height)
        ffmpeg = self._ffmpeg or find_ffmpeg()
        with publishing(Path(target)) as temp, tempfile.TemporaryFile() as errors:
            command = _encoder_command(ffmpeg, source, temp, (out_width, out_height), out_fps, preset, info)
            encoder = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=errors)
            assert encoder.stdin is not None
            try:
                written, decoded, marked, mapped = self._pipe(
                    source,
                    encoder.stdin,
                    boxes,
                    positions,
                    indicator,
                    (out_width, out_height),
                    scale,
                    out_fps,
                    info.frames,
                    on_progress,
                )
                encoder.stdin.close()
            except BrokenPipeError:
                written = decoded = marked = mapped = 0
            except BaseException:
                encoder.kill()
                encoder.wait()
                raise
            status = encoder.wait()
            if status != 0 or written == 0:
                errors.seek(0)
                detail = ffmpeg_detail(errors.read())
                raise VideoEditFailed(f"rendering {source}: ffmpeg exited with status {status}: {detail}")
            check_output(temp, f"render of {source}")
        return RenderedVideo(
            path=target,
            width=out_width,
            height=out_height,
            fps=float(out_fps),
            frames=written,
            source_frames=decoded,
            marked_frames=marked,
            has_audio=info.audio_codec is not None,
            minimap_frames=mapped,
        )

    def _probe(self, source: str) -> _Source:
        info = self._reader.probe(source)
        media = probe_media(Path(source))
        return _Source(
            width=media.format.width,
            height=media.format.height,
            fps=media.format.rate,
            frames=info.frames,
            audio_codec=media.format.audio.codec if media.format.audio else None,
            audio_lead_s=_audio_lead_s(source) if media.format.audio else 0.0,
        )

    def _pipe(
        self,
        source: str,
        sink: IO[bytes],
        boxes: dict[int, BoundingBox],
        positions: dict[int, PitchPositions] | None,
        indicator: Indicator,
        size: tuple[int, int],
        scale: tuple[float, float],
        out_fps: Fraction,
        total: int,
        on_progress: ProgressCallback | None,
    ) -> tuple[int, int, int, int]:
        """Decodes, draws and writes every output frame; (frames written, source frames decoded,
        source frames marked, source frames with the minimap showing metres), counted on every
        source frame, also those a lower output rate skips (a 60 fps clip previewed at 30 shows
        every other one). The minimap goes over the indicator (so the glow does not dim it)."""
        width, height = size
        slot = 1 / float(out_fps)
        written = marked = decoded = mapped = 0
        minimap = None if positions is None else Minimap(width, height)
        for index, shown_s, next_s, frame in self._decode(source):
            decoded = index + 1
            box = boxes.get(index)
            here = None if positions is None else positions.get(index)
            marked += box is not None
            mapped += here is not None and here.calibrated
            repeats = _slots_until(written, slot, (shown_s + next_s) / 2)
            if repeats:
                image = frame.reformat(width=width, height=height, format="yuv420p").to_ndarray()
                image = np.ascontiguousarray(image)
                planes = I420Frame(image, width, height)
                if box is not None:
                    draw_indicator(planes, _scaled(box, scale), indicator)
                if minimap is not None:
                    minimap.draw(planes, here)
                data = image.data
                for _ in range(repeats):
                    sink.write(data)
                written += repeats
            if on_progress is not None and (decoded % PROGRESS_EVERY == 0):
                on_progress(decoded, max(total, decoded))
        if on_progress is not None:
            on_progress(decoded, decoded)
        return written, decoded, marked, mapped

    def _decode(self, source: str) -> Iterator[tuple[int, float, float, Any]]:
        """(index, shown at, next frame shown at, frame) in presentation order, times in seconds
        from the first frame; the last frame's "next" is one frame duration later."""
        try:
            with av.open(source) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                if self._threads:
                    stream.codec_context.thread_count = self._threads
                rate = stream.guessed_rate or stream.average_rate or Fraction(25)
                duration = 1 / float(rate)
                origin: float | None = None
                held: tuple[int, float, Any] | None = None
                for index, frame in enumerate(container.decode(stream)):
                    shown = float(frame.time) if frame.time is not None else index * duration
                    if origin is None:
                        origin = shown
                    shown -= origin
                    if held is not None:
                        yield held[0], held[1], max(shown, held[1]), held[2]
                    held = (index, shown, frame)
                if held is not None:
                    yield held[0], held[1], held[1] + duration, held[2]
        except av.error.FFmpegError as error:
            raise InvalidVideo(f"{Path(source).name}: decoding failed (damaged video): {error}") from error


def _encoder_command(
    ffmpeg: str,
    source: str,
    target: Path,
    size: tuple[int, int],
    fps: Fraction,
    preset: RenderPreset,
    info: _Source,
) -> list[str]:
    """ffmpeg reading raw I420 frames on stdin (and the source's sound), writing H.264 + faststart."""
    width, height = size
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}"]
    raw += ["-r", f"{fps.numerator}/{fps.denominator}", "-i", "pipe:0"]
    video = [
        "-c:v",
        "libx264",
        "-preset",
        preset.x264_preset,
        "-crf",
        str(preset.crf),
        "-pix_fmt",
        preset.pix_fmt,
    ]
    if info.audio_codec is None:
        streams, audio = ["-map", "0:v:0"], []
    else:
        # ffmpeg starts each input at its earliest stream: skip the sound before the first frame.
        lead = ["-ss", f"{info.audio_lead_s:.6f}"] if info.audio_lead_s > _EPSILON_S else []
        streams = [*lead, "-i", source, "-map", "0:v:0", "-map", "1:a:0"]
        audio = ["-c:a", "copy"] if info.audio_codec in COPYABLE_AUDIO else aac_arguments()
    head = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    return [*head, *raw, *streams, *video, *audio, *MP4_ARGUMENTS, str(target)]


def _audio_lead_s(source: str) -> float:
    """Seconds between the file's start (its earliest stream) and its first video frame."""
    try:
        with av.open(source) as container:
            video = container.streams.video[0]
            if video.start_time is None or video.time_base is None or container.start_time is None:
                return 0.0
            return max(0.0, float(video.start_time * video.time_base) - container.start_time / av.time_base)
    except av.error.FFmpegError as error:
        raise InvalidVideo(f"{Path(source).name}: not a readable video: {error}") from error


def _slots_until(written: int, slot: float, until_s: float) -> int:
    """How many output frames, from frame `written` on, are due before `until_s`."""
    due = math.ceil(until_s / slot - _EPSILON_S)
    return max(0, due - written)


def _scaled(box: BoundingBox, scale: tuple[float, float]) -> BoundingBox:
    sx, sy = scale
    return BoundingBox(box.x1 * sx, box.y1 * sy, box.x2 * sx, box.y2 * sy)


def _boxes_by_frame(followed: Sequence[TrackingFrame], frames: int, name: str) -> dict[int, BoundingBox]:
    """The boxes to mark, by frame: the followed frames that are not lost (InvalidTrackingData when
    one names a frame the video does not have, or a frame twice)."""
    return {
        index: item.box
        for index, item in by_frame_index(followed, frames, name).items()
        if not item.lost and item.box is not None
    }


def indicator_samples(
    reader: VideoReader, video: str, frame_index: int, box: Sequence[float], out_dir: Path
) -> list[Path]:
    """Frame `frame_index` of `video` with each indicator drawn over `box` (as the renderer draws it)
    as `indicator_<kind>.png`, plus `indicators.png`: the three side by side, cropped around the
    player. Returns the paths written."""
    image = reader.frame(video, frame_index)
    height, width = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    chosen = BoundingBox(*(float(value) for value in box))
    if not chosen.inside(width, height):
        raise InvalidSelection(f"the box {list(box)} is outside the {width}x{height} frame")
    source = from_bgr(np.ascontiguousarray(image[:height, :width]))
    reach = max(chosen.height * 2.5, 60.0)
    cx, cy = chosen.center
    x0, x1 = int(max(0, cx - reach * 16 / 9)), int(min(width, cx + reach * 16 / 9))
    y0, y1 = int(max(0, cy - reach)), int(min(height, cy + reach))
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    crops = []
    for kind in Indicator:
        drawn = source.copy()
        draw_indicator(I420Frame(drawn, width, height), chosen, kind)
        picture = to_bgr(drawn)
        path = out_dir / f"indicator_{kind.value}.png"
        cv2.imwrite(str(path), picture)
        written.append(path.resolve())
        crops.append(picture[y0:y1, x0:x1])
    strip = out_dir / "indicators.png"
    cv2.imwrite(str(strip), np.hstack(crops))
    return [*written, strip.resolve()]
