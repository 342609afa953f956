"""`FfmpegVideoEditor`: cuts clips out of a game video and joins clips, with the ffmpeg executable
(imageio-ffmpeg's static build with libx264, else `ffmpeg` on PATH); PyAV probes the files.

Cutting, two modes:
- `accurate` (default): re-encode with libx264 at the source's resolution and frame rate. The
  clip holds exactly the source's frames shown in [start, end): PyAV finds the first frame at or
  after `start` (a demux from the keyframe before, no decoding), and ffmpeg is run with `-ss`
  before `-i` (fast seek, `-accurate_seek`) to SEEK_MARGIN_S ahead of that frame, then `-ss`/`-t`
  after `-i`, which decode and drop the margin and stop before `end`. The first frame is timed 0
  and the sound starts with it. Costs a decode and an encode: on this 2-core machine 720p
  broadcast footage at `veryfast` cuts at about real time (6 s of clips in 5-8 s).
- `copy`: keyframe stream copy. No decode or encode (a cut takes tens of milliseconds, lossless),
  but packets can only be copied from a keyframe: the clip starts at the keyframe at or before
  `start` (broadcast footage has one every 2-5 s; some files only one at all) and so runs longer
  than asked. Only for H.264 yuv420p sources with AAC or no audio; other sources are re-encoded
  as in `accurate` so every output plays in browsers.

Joining: when every clip has the same video codec, size, frame rate, pixel format, H.264
parameter sets and audio format, the concat demuxer copies the streams (fast, lossless). Otherwise
the concat filter normalises each clip to the first one's size (scaled to fit, letterboxed) and
frame rate, yuv420p, and re-encodes; audio becomes AAC stereo 48 kHz, with silence for clips that
have none (no audio track at all when no clip has one).

Every output is H.264 + yuv420p with `-movflags +faststart` (the `moov` index before the media
data), written to a hidden temporary file next to the target and renamed onto it when complete.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error

from pitchlens.domain.errors import InvalidVideo
from pitchlens.domain.highlights import (
    Concatenation,
    CutMode,
    HighlightError,
    Interval,
    VideoEditFailed,
    VideoEditor,
)
from pitchlens.infrastructure.mp4_index import check_mp4_complete

_log = logging.getLogger(__name__)

DEFAULT_PRESET = "veryfast"
"""libx264 preset for re-encodes: on the shared 720p clip at CRF 18, `medium` took ~2.5x as long
for a file no smaller; `ultrafast` is ~3x faster for ~3.5x the bytes."""
DEFAULT_CRF = 18
"""Visually lossless: the clips are edited again (tracked, rendered) after the cut."""
AUDIO_BITRATE = "160k"
AUDIO_RATE = 48_000
_FRAME_LEAD_S = 0.0005
"""An accurate cut starts this long before its first frame: far less than a frame, more than the
microsecond rounding of the command line."""
SEEK_MARGIN_S = 3.0
"""Accurate cuts seek this far before the start, then decode and drop the margin. Seeking straight
to the start lands ffmpeg's MP4 demuxer on the right video keyframe, but an audio track with an
edit list (the shared 720p broadcast clip's) can land up to ~1 s late: the clip would open silent.
The margin costs decoding ~3 s of extra frames per clip."""
_STDERR_TAIL = 1500
_REORDER_S = 2
"""How far (seconds) decode order may run ahead of presentation order (B-frame reordering)."""
COPYABLE_AUDIO = frozenset({"aac"})


@dataclass(frozen=True, slots=True)
class AudioFormat:
    codec: str
    sample_rate: int
    layout: str
    extradata: bytes


@dataclass(frozen=True, slots=True)
class MediaFormat:
    """What must match for clips to be joined by stream copy."""

    codec: str
    width: int
    height: int
    rate: Fraction
    pix_fmt: str
    profile: str
    sample_aspect: str
    extradata: bytes
    audio: AudioFormat | None

    @property
    def browser_ready(self) -> bool:
        """H.264 yuv420p with AAC or no audio: copying it keeps every output browser-playable."""
        return (
            self.codec == "h264"
            and self.pix_fmt == "yuv420p"
            and (self.audio is None or self.audio.codec in COPYABLE_AUDIO)
        )


@dataclass(frozen=True, slots=True)
class MediaInfo:
    path: Path
    duration_s: float
    video_duration_s: float
    format: MediaFormat


class FfmpegVideoEditor(VideoEditor):
    """Cuts and joins local MP4 files with ffmpeg (see the module docstring for the modes)."""

    def __init__(
        self,
        ffmpeg: str | None = None,
        preset: str = DEFAULT_PRESET,
        crf: int = DEFAULT_CRF,
        timeout_s: float | None = None,
    ) -> None:
        self._ffmpeg = ffmpeg
        self._preset = preset
        self._crf = crf
        self._timeout_s = timeout_s

    # ---------------------------------------------------------------------------------------
    # Ports
    # ---------------------------------------------------------------------------------------

    def duration(self, source: Path) -> float:
        return probe_media(Path(source)).duration_s

    def extract(
        self,
        source: Path,
        intervals: Sequence[Interval],
        out_dir: Path,
        mode: CutMode | str = CutMode.ACCURATE,
        prefix: str | None = None,
        on_clip: Callable[[int], None] | None = None,
    ) -> list[Path]:
        source, out_dir = Path(source), Path(out_dir)
        try:
            mode = CutMode(mode)
        except ValueError:
            raise HighlightError(
                f"unknown cut mode {mode!r} (expected {', '.join(m.value for m in CutMode)})"
            ) from None
        if not intervals:
            raise HighlightError(f"{source.name}: no intervals to extract")
        media = probe_media(source)
        copy = mode is CutMode.COPY and media.format.browser_ready
        if mode is CutMode.COPY and not copy:
            _log.info("%s: not H.264/yuv420p/AAC; re-encoding instead of stream copy", source.name)
        stem = prefix or source.stem
        written: list[Path] = []
        try:
            for number, interval in enumerate(intervals, 1):
                target = out_dir / f"{stem}_{number:03d}.mp4"
                with publishing(target) as temp:
                    self._run(
                        self._cut_arguments(source, interval, copy, temp),
                        f"cutting {interval} out of {source}",
                    )
                    check_output(temp, f"{target.name} (cut {interval} of {source})")
                written.append(target)
                if on_clip is not None:
                    on_clip(len(written))
        except BaseException:
            for path in written:  # all or nothing: no partial set of clips
                path.unlink(missing_ok=True)
            raise
        return written

    def concat(self, clips: Sequence[Path], output: Path) -> Concatenation:
        output = Path(output)
        if not clips:
            raise HighlightError(f"{output.name}: no clips to concatenate")
        media = [probe_media(Path(clip)) for clip in clips]
        first = media[0].format
        copy = first.browser_ready and all(item.format == first for item in media)
        with publishing(output) as temp:
            if copy:
                self._concat_copy(media, temp, output)
            else:
                self._run(self._normalise_arguments(media, temp), f"joining {len(media)} clips into {output}")
            check_output(temp, str(output))
        return Concatenation(output, stream_copied=copy)

    # ---------------------------------------------------------------------------------------
    # ffmpeg command lines
    # ---------------------------------------------------------------------------------------

    def _cut_arguments(self, source: Path, interval: Interval, copy: bool, temp: Path) -> list[str]:
        streams = ["-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn"]
        if copy:
            codecs = ["-c", "copy", "-avoid_negative_ts", "make_zero"]
            seek = ["-ss", f"{interval.start_s:.6f}", "-i", str(source), "-t", f"{interval.duration_s:.6f}"]
            return [*seek, *streams, *codecs, *MP4_ARGUMENTS, str(temp)]
        # Start just before the first frame at/after the start, so that frame is timed 0 in the clip
        # and the sound starts with it: an offset of part of a frame would be rounded to a whole one
        # by the encoder's 1/fps time base, pushing the clip's last frame past -t.
        first = _first_frame_at(source, interval.start_s)
        start_s = max(0.0, first - _FRAME_LEAD_S) if first is not None else interval.start_s
        # Seek (fast, before -i) SEEK_MARGIN_S ahead, then drop the decoded margin (after -i,
        # exact): see SEEK_MARGIN_S for why not straight to the start.
        seek_s = max(0.0, start_s - SEEK_MARGIN_S)
        return [
            "-accurate_seek",
            "-ss",
            f"{seek_s:.6f}",
            "-i",
            str(source),
            "-ss",
            f"{start_s - seek_s:.6f}",
            "-t",  # to the lead before `end`: a frame shown exactly at `end` is not in [start, end)
            f"{interval.end_s - _FRAME_LEAD_S - start_s:.6f}",
            *streams,
            *self._video_codec(),
            *aac_arguments(),
            *MP4_ARGUMENTS,
            str(temp),
        ]

    def _concat_copy(self, media: Sequence[MediaInfo], temp: Path, output: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="pitchlens-concat-") as folder:
            listing = Path(folder) / "clips.txt"
            listing.write_text("".join(f"file {_concat_quote(item.path)}\n" for item in media), "utf-8")
            arguments = ["-f", "concat", "-safe", "0", "-i", str(listing)]
            arguments += ["-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", *MP4_ARGUMENTS, str(temp)]
            self._run(arguments, f"joining {len(media)} clips into {output} (stream copy)")

    def _normalise_arguments(self, media: Sequence[MediaInfo], temp: Path) -> list[str]:
        first = media[0].format
        width, height = first.width - first.width % 2, first.height - first.height % 2
        rate = f"{first.rate.numerator}/{first.rate.denominator}"
        with_audio = any(item.format.audio is not None for item in media)
        inputs: list[str] = []
        graph: list[str] = []
        pads: list[str] = []
        for index, item in enumerate(media):
            inputs += ["-i", str(item.path)]
            graph.append(
                f"[{index}:v:0]scale={width}:{height}:force_original_aspect_ratio=decrease"
                f":force_divisible_by=2,pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,"
                f"fps={rate},format=yuv420p[v{index}]"
            )
            pads.append(f"[v{index}]")
            if not with_audio:
                continue
            if item.format.audio is not None:
                graph.append(
                    f"[{index}:a:0]aresample={AUDIO_RATE},"
                    f"aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts=stereo[a{index}]"
                )
            else:  # silence as long as the clip, so the next clip's sound stays in sync
                graph.append(
                    f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=duration={item.video_duration_s:.6f}[a{index}]"
                )
            pads.append(f"[a{index}]")
        graph.append(
            f"{''.join(pads)}concat=n={len(media)}:v=1:a={int(with_audio)}[v]" + ("[a]" if with_audio else "")
        )
        maps = ["-map", "[v]"] + (["-map", "[a]", *aac_arguments()] if with_audio else [])
        return [
            *inputs,
            "-filter_complex",
            ";".join(graph),
            *maps,
            *self._video_codec(),
            *MP4_ARGUMENTS,
            str(temp),
        ]

    def _video_codec(self) -> list[str]:
        return ["-c:v", "libx264", "-preset", self._preset, "-crf", str(self._crf), "-pix_fmt", "yuv420p"]

    def _run(self, arguments: Sequence[str], what: str) -> None:
        command = [self._executable(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *arguments]
        _log.debug("ffmpeg: %s", " ".join(command))
        try:
            done = subprocess.run(command, capture_output=True, timeout=self._timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise VideoEditFailed(f"{what}: ffmpeg ran longer than {self._timeout_s} s") from None
        if done.returncode != 0:
            raise VideoEditFailed(
                f"{what}: ffmpeg exited with status {done.returncode}: {ffmpeg_detail(done.stderr)}"
            )

    def _executable(self) -> str:
        if self._ffmpeg is None:
            self._ffmpeg = find_ffmpeg()
        return self._ffmpeg


MP4_ARGUMENTS = ["-movflags", "+faststart", "-f", "mp4"]


def aac_arguments() -> list[str]:
    return ["-c:a", "aac", "-b:a", AUDIO_BITRATE]


def ffmpeg_detail(stderr: bytes) -> str:
    """The end of ffmpeg's error output, fit for a message (and a job's reason): undecodable bytes
    replaced, control characters other than line breaks and tabs escaped."""
    text = stderr.decode("utf-8", "replace").strip()[-_STDERR_TAIL:]
    return (
        "".join(char if char.isprintable() or char in "\n\t" else ascii(char)[1:-1] for char in text)
        or "no message"
    )


def find_ffmpeg() -> str:
    """imageio-ffmpeg's bundled static ffmpeg (honours IMAGEIO_FFMPEG_EXE), else `ffmpeg` on PATH."""
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if found is None:
            raise VideoEditFailed(
                "no ffmpeg executable: install imageio-ffmpeg (pip) or ffmpeg (apt)"
            ) from None
        return found


@contextmanager
def publishing(target: Path) -> Iterator[Path]:
    """A temporary path next to `target`, renamed onto it when the block succeeds, removed if not."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # A fresh name, not mkstemp: ffmpeg creates the file, so it gets the usual (umask) permissions.
    temp = target.parent / f".{target.stem}.{uuid.uuid4().hex[:12]}.partial.mp4"
    try:
        yield temp
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _concat_quote(path: Path) -> str:
    # The concat demuxer's list syntax: single-quoted, a quote written as '\''.
    return "'" + str(path.resolve()).replace("'", "'\\''") + "'"


def probe_media(path: Path) -> MediaInfo:
    if not path.is_file():
        raise InvalidVideo(f"{path}: no such file")
    check_mp4_complete(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidVideo(f"{path}: no video stream")
            video = container.streams.video[0]
            context = video.codec_context
            rate = video.guessed_rate or video.average_rate or video.base_rate
            if not context.width or not context.height or not rate:
                raise InvalidVideo(f"{path}: the video stream has no frame size or frame rate")
            video_duration = (
                float(video.duration * video.time_base) if video.duration and video.time_base else 0.0
            )
            duration = container.duration / av.time_base if container.duration else video_duration
            audio = None
            if container.streams.audio:
                sound = container.streams.audio[0].codec_context
                audio = AudioFormat(
                    sound.name, sound.sample_rate, sound.layout.name, bytes(sound.extradata or b"")
                )
            found = MediaFormat(
                codec=context.name,
                width=context.width,
                height=context.height,
                rate=Fraction(rate),
                pix_fmt=str(context.pix_fmt),
                profile=str(context.profile),
                sample_aspect=str(context.sample_aspect_ratio),
                extradata=bytes(context.extradata or b""),
                audio=audio,
            )
    except av.error.FFmpegError as error:
        raise InvalidVideo(f"{path}: not a readable video: {error}") from error
    if duration <= 0:
        raise InvalidVideo(f"{path}: the video has no duration (empty or damaged)")
    return MediaInfo(path, duration, video_duration or duration, found)


def _first_frame_at(path: Path, seconds: float) -> float | None:
    """When (from the file's start, as ffmpeg's -ss counts) the first frame at or after `seconds`
    is presented; None past the last frame. Demuxes from the keyframe before; no decoding."""
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            if video.time_base is None:
                return None
            origin = Fraction(container.start_time or 0, av.time_base)
            target = origin + Fraction(seconds).limit_denominator(1_000_000)
            container.seek(max(0, int((target - 1) / video.time_base)), stream=video)
            found: Fraction | None = None
            for packet in container.demux(video):
                if packet.pts is None or packet.is_discard:
                    continue
                shown = packet.pts * video.time_base
                if shown >= target and (found is None or shown < found):
                    found = shown
                sent = (packet.dts if packet.dts is not None else packet.pts) * video.time_base
                if found is not None and sent > found + _REORDER_S:
                    break  # every frame shown before `found` was sent before this packet
            return None if found is None else float(found - origin)
    except av.error.FFmpegError as error:
        raise InvalidVideo(f"{path}: not a readable video: {error}") from error


def check_output(path: Path, name: str) -> None:
    """ffmpeg can exit 0 having written no frames (a cut past the end): refuse such a file."""
    try:
        media = probe_media(path)
    except InvalidVideo as error:
        raise VideoEditFailed(f"{name}: ffmpeg wrote no playable video ({error})") from error
    if media.format.codec != "h264" or media.format.pix_fmt != "yuv420p":
        raise VideoEditFailed(
            f"{name}: expected H.264 yuv420p, got {media.format.codec} {media.format.pix_fmt}"
        )
