"""The one list of video suffixes, and the first-bytes check of a video container."""

from __future__ import annotations

import pytest

from pitchlens.domain.vision import VIDEO_SUFFIXES, is_video_name, looks_like_video
from pitchlens.infrastructure.storage.s3 import content_type

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "video"),
    [
        ("first half.mp4", True),
        ("m1/clip.MOV", True),
        ("game.mkv", True),
        ("broadcast.ts", True),
        ("notes.txt", False),
        ("mp4", False),
        (".mp4", False),
        ("m1/", False),
    ],
)
def test_video_names(name: str, video: bool) -> None:
    assert is_video_name(name) is video


@pytest.mark.parametrize(
    ("head", "video"),
    [
        (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 8, True),  # MP4
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", True),  # QuickTime
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 12, True),  # Matroska / WebM
        (b"RIFF\x00\x00\x00\x00AVI LIST", True),
        (b"\x00\x00\x01\xba" + b"\x00" * 12, True),  # MPEG program stream
        ((b"\x47" + b"\x00" * 187) * 3, True),  # MPEG transport stream
        (b"just text, no video", False),
        (b"\x00\x00\x00\x18ftyp", False),  # too short to tell
        (b"", False),
    ],
)
def test_the_first_bytes_of_a_video_container(head: bytes, video: bool) -> None:
    assert looks_like_video(head) is video


def test_every_video_suffix_is_stored_with_a_video_content_type() -> None:
    assert all(content_type(f"m/a{suffix}").startswith("video/") for suffix in VIDEO_SUFFIXES)
