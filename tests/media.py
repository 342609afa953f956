"""Checks of rendered and cut videos with PyAV (libavformat, what ffprobe reports) and by reading
the MP4's top-level boxes (faststart). Needs the `vision` extra."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av


@dataclass(frozen=True)
class Probe:
    codec: str
    pix_fmt: str
    width: int
    height: int
    rate: Fraction
    frames: int
    first_pts_s: float
    video_end_s: float
    """When the last frame stops showing."""
    audio_start_s: float | None
    audio_end_s: float | None
    boxes: list[str]

    @property
    def frame_s(self) -> float:
        return 1 / float(self.rate)

    @property
    def video_s(self) -> float:
        """How long the frames play (constant frame rate)."""
        return self.frames * self.frame_s


def probe(path: Path) -> Probe:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        times = sorted(
            float(packet.pts * video.time_base)
            for packet in container.demux(video)
            if packet.pts is not None and not packet.is_discard
        )
        rate = Fraction(video.guessed_rate)
        audio_start = audio_end = None
        if container.streams.audio:
            audio = container.streams.audio[0]
            audio_start = float(audio.start_time * audio.time_base)
            audio_end = audio_start + float(audio.duration * audio.time_base)
        return Probe(
            codec=video.codec_context.name,
            pix_fmt=str(video.codec_context.pix_fmt),
            width=video.codec_context.width,
            height=video.codec_context.height,
            rate=rate,
            frames=len(times),
            first_pts_s=times[0],
            video_end_s=times[-1] + 1 / float(rate),
            audio_start_s=audio_start,
            audio_end_s=audio_end,
            boxes=top_level_boxes(path),
        )


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types in file order (size 1 = 64-bit size follows, 0 = to the end)."""
    data = path.read_bytes()
    boxes, position = [], 0
    while position < len(data):
        size = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[position + 8 : position + 16], "big")
        elif size == 0:
            size = len(data) - position
        assert size >= 8, f"{path.name}: bad box size {size} at byte {position}"
        boxes.append(kind)
        position += size
    return boxes


def assert_browser_ready(found: Probe) -> None:
    assert (found.codec, found.pix_fmt) == ("h264", "yuv420p")
    assert "moov" in found.boxes and "mdat" in found.boxes, found.boxes
    assert found.boxes.index("moov") < found.boxes.index("mdat"), f"not faststart: {found.boxes}"
