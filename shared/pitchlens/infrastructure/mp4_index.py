"""`check_mp4_complete`: whether an MP4/MOV file holds every sample its index points to, read
from the index alone (the `moov` box: kilobytes, a few MB for a whole match), never the media data.

A file is truncated when samples are missing, not when something follows them: cameras, editors
and downloads leave bytes after the last box (a broadcast file with ~3 KB of junk after its `mdat`
plays in ffmpeg and PyAV), and a player reads only what the index points to. So:
- the top-level boxes are walked only until the `moov`; a box before it that runs past the end of
  the file is a file cut short before its index (an upload whose index comes last);
- each track's sample table (`stco`/`co64` chunk offsets, `stsc` samples per chunk, `stsz`/`stz2`
  sample sizes) gives the byte just past its last sample; the file must reach it;
- a fragmented file (`mvex` in the index) keeps its samples in `moof` + `mdat` pairs after the
  index, which the demuxer reads until the first short one and then stops quietly: every such box
  must be whole. The walk ends at the first box of another kind: trailing data.

Not judged here, left to the demuxer: files that are not MP4/MOV, files with no `moov`, indexes
laid out in a way this reader does not follow. Box names in messages are escaped (`ascii`): junk
read as a box header must not put NUL or control bytes into a job's reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pitchlens.domain.errors import InvalidVideo

MP4_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"})
"""Boxes an MP4/MOV file may start with."""
_FRAGMENT_BOXES = frozenset(
    {b"moof", b"mdat", b"mfra", b"sidx", b"ssix", b"styp", b"emsg", b"prft", b"free", b"skip"}
)
"""Top-level boxes of the fragments after a fragmented file's index."""
_TRACK_PATH = (b"mdia", b"minf", b"stbl")
"""Where a `trak` keeps its sample table."""
_MAX_INDEX_BYTES = 256 << 20
"""A larger `moov` is not read (a whole match's index is a few MB): the demuxer decides."""


class _Unfollowed(Exception):
    """The index is not laid out as this reader expects: no judgement, the demuxer decides."""


@dataclass(frozen=True, slots=True)
class _Box:
    kind: bytes
    body: int
    """Where the payload starts."""
    end: int
    """Just past the box: beyond the available bytes when it was cut off."""

    @property
    def name(self) -> str:
        """The type for a message: quoted, every byte outside printable ASCII escaped."""
        return ascii(self.kind.decode("latin-1"))


def check_mp4_complete(path: Path) -> None:
    """Raises InvalidVideo when the MP4/MOV file at `path` is cut short: the index is missing or
    cut off, or samples it points to lie past the end of the file. Bytes after the last sample
    are accepted, as players accept them."""
    size = path.stat().st_size
    with path.open("rb") as file:
        if file.read(8)[4:8] not in MP4_FIRST_BOXES:
            return  # not MP4/MOV
        index = _find_index(file, size, path)
        if index is None or index.end - index.body > _MAX_INDEX_BYTES:
            return  # no index (the demuxer says why), or not one to read
        file.seek(index.body)
        try:
            samples_end, fragmented = _read_index(file.read(index.end - index.body))
        except _Unfollowed:
            return
        if samples_end > size:
            raise InvalidVideo(
                f"{path}: truncated: the index points to samples up to byte {samples_end} "
                f"but the file has {size} bytes"
            )
        if fragmented:
            _check_fragments(file, index.end, size, path)


def _find_index(file: BinaryIO, size: int, path: Path) -> _Box | None:
    """The top-level `moov` box; None when the boxes end (or stop looking like boxes) first."""
    position = 0
    while True:
        box = _top_level_box(file, position, size)
        if box is None:
            return None
        if box.end > size:
            where = (
                ": its index (moov box)" if box.kind == b"moov" else f" before its index: its {box.name} box"
            )
            raise InvalidVideo(
                f"{path}: truncated{where} runs to byte {box.end} but the file has {size} bytes"
            )
        if box.kind == b"moov":
            return box
        position = box.end


def _check_fragments(file: BinaryIO, position: int, size: int, path: Path) -> None:
    while (box := _top_level_box(file, position, size)) is not None and box.kind in _FRAGMENT_BOXES:
        if box.end > size:
            raise InvalidVideo(
                f"{path}: truncated: its {box.name} box (a fragment's samples) runs to byte "
                f"{box.end} but the file has {size} bytes"
            )
        position = box.end


def _top_level_box(file: BinaryIO, position: int, size: int) -> _Box | None:
    if position + 8 > size:
        return None
    file.seek(position)
    return _box(file.read(16), 0, position, size)


def _box(data: bytes | memoryview, offset: int, position: int, limit: int) -> _Box | None:
    """The box whose header is at data[offset:] and at `position` in its container; a size of 0
    runs to `limit`. None when the bytes cannot be a box header."""
    if len(data) - offset < 8:
        return None
    size = int.from_bytes(data[offset : offset + 4], "big")
    kind = bytes(data[offset + 4 : offset + 8])
    header = 8
    if size == 1:
        if len(data) - offset < 16:
            return None
        size, header = int.from_bytes(data[offset + 8 : offset + 16], "big"), 16
    elif size == 0:
        size = limit - position
    if size < header:
        return None
    return _Box(kind, position + header, position + size)


def _children(data: memoryview, start: int, end: int) -> dict[bytes, list[_Box]]:
    """The boxes in data[start:end], by type (positions relative to `data`)."""
    found: dict[bytes, list[_Box]] = {}
    position = start
    while position + 8 <= end:
        box = _box(data, position, position, end)
        if box is None or box.end > end:
            raise _Unfollowed
        found.setdefault(box.kind, []).append(box)
        position = box.end
    return found


def _read_index(index: bytes) -> tuple[int, bool]:
    """(the byte just past the last sample of any track, whether the file is fragmented) from the
    payload of a `moov` box."""
    data = memoryview(index)
    boxes = _children(data, 0, len(data))
    samples_end = 0
    for track in boxes.get(b"trak", []):
        table = _sample_table(data, track)
        if table is not None:  # else the demuxer skips the track
            samples_end = max(samples_end, _track_end(data, table))
    return samples_end, b"mvex" in boxes


def _sample_table(data: memoryview, track: _Box) -> dict[bytes, list[_Box]] | None:
    """The boxes of a `trak`'s `stbl`, or None when it has none."""
    box = track
    for kind in _TRACK_PATH:
        inside = _children(data, box.body, box.end).get(kind)
        if not inside:
            return None
        box = inside[0]
    return _children(data, box.body, box.end)


def _track_end(data: memoryview, table: dict[bytes, list[_Box]]) -> int:
    """The byte just past the track's last sample, from its sample table's boxes (0: no samples)."""
    offsets = _chunk_offsets(data, table)
    if offsets.size == 0:
        return 0
    per_chunk = _samples_per_chunk(data, table, offsets.size)
    count, uniform, sizes = _sample_sizes(data, table)
    # Chunks may promise more samples than the track has: the demuxer stops at its last sample.
    ends = np.cumsum(per_chunk)
    first, last = np.minimum(ends - per_chunk, count), np.minimum(ends, count)
    if uniform:
        lengths = (last - first) * uniform
    else:
        cumulative = np.concatenate(([0], np.cumsum(sizes)))
        lengths = cumulative[last] - cumulative[first]
    return int((offsets + lengths).max())


def _full_box(data: memoryview, table: dict[bytes, list[_Box]], kind: bytes) -> memoryview | None:
    """The payload of a full box (version + flags skipped), or None when the table has none."""
    boxes = table.get(kind)
    if not boxes:
        return None
    box = boxes[0]
    if box.end - box.body < 4:
        raise _Unfollowed
    return data[box.body + 4 : box.end]


def _table(payload: memoryview, offset: int, count: int, dtype: str) -> np.ndarray:
    item = np.dtype(dtype).itemsize
    if len(payload) < offset + count * item:
        raise _Unfollowed
    return np.frombuffer(payload, dtype=dtype, count=count, offset=offset).astype(np.int64)


def _count(payload: memoryview, offset: int = 0) -> int:
    if len(payload) < offset + 4:
        raise _Unfollowed
    return int.from_bytes(payload[offset : offset + 4], "big")


def _chunk_offsets(data: memoryview, table: dict[bytes, list[_Box]]) -> np.ndarray:
    for kind, dtype in ((b"stco", ">u4"), (b"co64", ">u8")):
        payload = _full_box(data, table, kind)
        if payload is not None:
            return _table(payload, 4, _count(payload), dtype)
    return np.empty(0, np.int64)  # no chunks: the demuxer skips the track


def _samples_per_chunk(data: memoryview, table: dict[bytes, list[_Box]], chunks: int) -> np.ndarray:
    """How many samples each of the `chunks` chunks holds (`stsc` runs expanded)."""
    payload = _full_box(data, table, b"stsc")
    if payload is None:
        raise _Unfollowed
    entries = _table(payload, 4, 3 * _count(payload), ">u4").reshape(-1, 3)
    first_chunks = entries[:, 0]
    if first_chunks.size == 0 or first_chunks[0] != 1 or np.any(np.diff(first_chunks) <= 0):
        raise _Unfollowed
    runs = np.diff(np.append(np.minimum(first_chunks, chunks + 1), chunks + 1))
    return np.repeat(entries[:, 1], runs)


def _sample_sizes(data: memoryview, table: dict[bytes, list[_Box]]) -> tuple[int, int, np.ndarray]:
    """(how many samples, the size they all share or 0 when they differ, their sizes when they
    differ) from `stsz`, or the compact `stz2`."""
    payload = _full_box(data, table, b"stsz")
    if payload is not None:
        uniform, count = _count(payload), _count(payload, 4)
        if uniform:
            return count, uniform, np.empty(0, np.int64)
        return count, 0, _table(payload, 8, count, ">u4")
    payload = _full_box(data, table, b"stz2")
    if payload is None or len(payload) < 8:
        raise _Unfollowed
    field, count = payload[3], _count(payload, 4)
    if field == 4:
        packed = _table(payload, 8, (count + 1) // 2, ">u1")
        return count, 0, np.column_stack((packed >> 4, packed & 0xF)).ravel()[:count]
    if field in (8, 16):
        return count, 0, _table(payload, 8, count, f">u{field // 8}")
    raise _Unfollowed
