"""check_mp4_complete on small synthetic MP4 files: every sample-table layout (stco/co64,
stsz/stz2, stsc runs) gives the byte the last sample ends at; bytes after it are accepted, a file
one byte short of it is truncated. The shared clips are cut and joined in test_video_editing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from pitchlens.domain.errors import InvalidVideo
from pitchlens.infrastructure.mp4_index import check_mp4_complete

pytestmark = pytest.mark.unit

JUNK = b"\x10\xaf\x00\x00\x10[\x00\x00" + bytes(range(256)) * 12  # like the broadcast file's tail
FTYP = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return (8 + len(body)).to_bytes(4, "big") + kind + body


def full(kind: bytes, *parts: bytes) -> bytes:
    return box(kind, b"\x00\x00\x00\x00", *parts)


def words(values: Sequence[int], width: int = 4) -> bytes:
    return b"".join(value.to_bytes(width, "big") for value in values)


def stco(offsets: Sequence[int], co64: bool = False) -> bytes:
    return full(b"co64" if co64 else b"stco", words([len(offsets)]), words(offsets, 8 if co64 else 4))


def stsc(runs: Sequence[tuple[int, int]]) -> bytes:
    """(first chunk, samples per chunk) runs."""
    return full(b"stsc", words([len(runs)]), b"".join(words([first, count, 1]) for first, count in runs))


def stsz(sizes: Sequence[int], uniform: int = 0) -> bytes:
    return full(b"stsz", words([uniform, len(sizes)]), b"" if uniform else words(sizes))


def stz2(sizes: Sequence[int], field: int) -> bytes:
    if field == 4:
        padded = [*sizes, 0][: len(sizes) + len(sizes) % 2]
        packed = bytes(high << 4 | low for high, low in zip(padded[::2], padded[1::2], strict=True))
    else:
        packed = words(sizes, field // 8)
    return full(b"stz2", bytes([0, 0, 0, field]), words([len(sizes)]), packed)


def track(*table: bytes) -> bytes:
    return box(b"trak", box(b"mdia", box(b"minf", box(b"stbl", *table))))


def index_first(tracks: Sequence[Sequence[bytes]], media: int) -> tuple[bytes, int]:
    """An MP4 with its index first and `media` bytes of media data; the chunk offsets in `tracks`
    count from the start of the media data. Also returns where that data starts."""
    moov_size = len(box(b"moov", *(track(*table) for table in tracks)))
    start = len(FTYP) + moov_size + 8
    return FTYP + box(b"moov", *(track(*rebased(table, start)) for table in tracks)) + box(
        b"mdat", bytes(media)
    ), start


def rebased(table: Sequence[bytes], start: int) -> list[bytes]:
    """`table` with its chunk offsets moved `start` bytes on (the same length)."""
    moved = []
    for part in table:
        kind = part[4:8]
        if kind in (b"stco", b"co64"):
            width = 8 if kind == b"co64" else 4
            count = int.from_bytes(part[12:16], "big")
            offsets = [
                int.from_bytes(part[16 + i * width : 16 + (i + 1) * width], "big") for i in range(count)
            ]
            part = stco([offset + start for offset in offsets], co64=kind == b"co64")
        moved.append(part)
    return moved


# (what, tracks as sample tables with offsets from the media start, where the last sample ends)
LAYOUTS = [
    ("one chunk", [[stco([0]), stsc([(1, 3)]), stsz([10, 20, 30])]], 60),
    ("chunks of two", [[stco([0, 40]), stsc([(1, 2)]), stsz([10, 20, 30, 5])]], 75),
    ("stsc runs", [[stco([0, 10, 100]), stsc([(1, 1), (2, 2)]), stsz([10, 20, 30, 1, 2])]], 103),
    ("one size for all", [[stco([0, 50]), stsc([(1, 4)]), stsz([0] * 8, uniform=6)]], 74),
    ("co64", [[stco([0, 500], co64=True), stsc([(1, 1)]), stsz([100, 7])]], 507),
    ("stz2, 4 bits", [[stco([0]), stsc([(1, 3)]), stz2([15, 1, 9], 4)]], 25),
    ("stz2, 8 bits", [[stco([0]), stsc([(1, 2)]), stz2([200, 55], 8)]], 255),
    ("stz2, 16 bits", [[stco([3]), stsc([(1, 2)]), stz2([1000, 24], 16)]], 1027),
    ("chunks promise more samples than exist", [[stco([0, 30]), stsc([(1, 2)]), stsz([10, 20, 5])]], 35),
    (
        "two tracks, the first ends last",
        [[stco([0, 300]), stsc([(1, 1)]), stsz([100, 50])], [stco([100]), stsc([(1, 2)]), stsz([100, 60])]],
        350,
    ),
    ("an empty track", [[stco([]), stsc([]), stsz([])], [stco([0]), stsc([(1, 1)]), stsz([9])]], 9),
]


@pytest.mark.parametrize(
    ("tracks", "media"), [layout[1:] for layout in LAYOUTS], ids=[layout[0] for layout in LAYOUTS]
)
def test_the_file_must_reach_the_end_of_its_last_sample(
    tracks: list[list[bytes]], media: int, tmp_path: Path
) -> None:
    whole, start = index_first(tracks, media)
    path = tmp_path / "clip.mp4"
    path.write_bytes(whole)
    check_mp4_complete(path)
    path.write_bytes(whole + JUNK)  # bytes after the last sample: what players accept
    check_mp4_complete(path)
    path.write_bytes(whole[:-1])
    with pytest.raises(
        InvalidVideo, match=rf"truncated: the index points to samples up to byte {start + media}"
    ):
        check_mp4_complete(path)


def test_an_index_after_the_media_must_be_whole(tmp_path: Path) -> None:
    media = box(b"mdat", bytes(100))
    moov = box(b"moov", track(stco([len(FTYP) + 8]), stsc([(1, 1)]), stsz([100])))
    path = tmp_path / "clip.mp4"
    path.write_bytes(FTYP + media + moov + JUNK)
    check_mp4_complete(path)
    path.write_bytes(FTYP + media + moov[:-1])
    with pytest.raises(InvalidVideo, match=r"truncated: its index \(moov box\) runs to byte"):
        check_mp4_complete(path)
    path.write_bytes(FTYP + media[:50])
    with pytest.raises(InvalidVideo, match=r"truncated before its index: its 'mdat' box runs to byte 132 "):
        check_mp4_complete(path)


def test_a_fragmented_file_must_hold_whole_fragments(tmp_path: Path) -> None:
    moov = box(b"moov", track(stco([]), stsc([]), stsz([])), box(b"mvex"))
    fragments = box(b"moof", bytes(20)) + box(b"mdat", bytes(300))
    path = tmp_path / "clip.mp4"
    path.write_bytes(FTYP + moov + fragments * 2 + JUNK)
    check_mp4_complete(path)
    path.write_bytes(FTYP + moov + fragments * 2 + box(b"moof", bytes(20)) + box(b"mdat", bytes(300))[:-1])
    with pytest.raises(InvalidVideo, match=r"truncated: its 'mdat' box \(a fragment's samples\)"):
        check_mp4_complete(path)


def test_junk_read_as_a_box_is_named_without_control_bytes(tmp_path: Path) -> None:
    path = tmp_path / "junk.mp4"
    path.write_bytes(FTYP + JUNK)
    with pytest.raises(InvalidVideo) as raised:
        check_mp4_complete(path)
    message = str(raised.value)
    assert message.isprintable(), message
    assert r"its '\x10[\x00\x00' box runs to byte 279904280 but the file has 3104 bytes" in message


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a video at all",
        FTYP,
        FTYP + box(b"free", bytes(8)),
        FTYP + box(b"moov", b"\x00\x00\x00\x03junk"),
    ],
    ids=["empty", "not MP4", "ftyp only", "no index", "an index it cannot follow"],
)
def test_what_it_cannot_judge_is_left_to_the_demuxer(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    check_mp4_complete(path)
