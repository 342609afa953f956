"""Large objects in moto without whole copies of them in memory.

moto 5.2 keeps an object's bytes in a spool file (on disk above 5 MB), but copies them whole into
memory to complete a multipart upload (the parts joined, copied, then joined and copied again for
the full-object checksum: four copies; an 868 MB match video took the server to 4 GB for over
30 s, longer than the CLI waits for the completion) and to answer every GET, ranged ones included
(the whole object read, then the range sliced from it: two copies per request, and a worker
decoding a segment of a match video makes several). Here, with everything else left to moto
(headers, errors, conditional and ranged requests, notifications, the write-through):

* completing an upload joins its parts into the new object's spool file a chunk at a time, the
  checksum computed on the way, as moto computes it;
* a GET of an object of at least STREAMED_MIN_BYTES answers with the bytes asked for read from the
  object's spool file a chunk at a time while they are sent (from a duplicate of its descriptor:
  an object replaced meanwhile is still read whole, as S3 does).

moto still reads each request's body whole (an upload's part: 16 MB by default). glibc then raises
its mmap threshold to the largest block freed, so later parts come from the heap of whichever
thread reads them and stay there: an embedded stack took 160-270 MB more during an 868 MB upload
(+44 MB for 325 MB with the threshold pinned, +138 MB without). `install` pins it at
MMAP_THRESHOLD_BYTES: a block that large is mapped for itself and returned when freed.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import ctypes
import hashlib
import importlib.util
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from typing import IO, Any

STREAMED_MIN_BYTES = 8 << 20
"""Objects from this size are streamed (smaller ones cost little; above moto's 5 MB spool limit,
so their bytes are in a file)."""
CHUNK = 1 << 20
MMAP_THRESHOLD_BYTES = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


class _Reading(threading.local):
    streamed: bool = False


_reading = _Reading()
_installed = False


class AssembledObject:
    """A completed upload's bytes, joined in a spool file of their own (the upload's parts are
    disposed of once it completes), for `FakeKey.value` (as patched) to adopt without a copy."""

    def __init__(self, buffer: IO[bytes], size: int) -> None:
        self.buffer = buffer
        self.size = size


class ObjectBytes:
    """Bytes [start, stop) of a stored object, read when iterated. Sized and sliceable, which is
    all moto's GET does with an object's value before handing it to werkzeug."""

    def __init__(self, key: Any, start: int, stop: int) -> None:
        self._key = key
        self._start = start
        self._stop = stop

    def __len__(self) -> int:
        return self._stop - self._start

    def __getitem__(self, item: slice) -> ObjectBytes:
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("an object's bytes are sliced by a contiguous range only")
        start, stop, _ = item.indices(len(self))
        return ObjectBytes(self._key, self._start + start, self._start + max(start, stop))

    def __iter__(self) -> Iterator[bytes]:
        with self._key.lock:
            descriptor = os.dup(self._key._value_buffer.fileno())
        try:
            position = self._start
            while position < self._stop:
                chunk = os.pread(descriptor, min(CHUNK, self._stop - position), position)
                if not chunk:
                    raise OSError(f"the object ended at byte {position} of {self._stop}")
                position += len(chunk)
                yield chunk
        finally:
            os.close(descriptor)


def install() -> None:
    """Patches moto's S3 models and GET response (once per process)."""
    global _installed
    if _installed:
        return
    from moto.s3.models import FakeKey, FakeMultipart
    from moto.s3.responses import S3Response

    value: property = vars(FakeKey)["value"]
    read, write = value.fget, value.fset
    assert read is not None and write is not None

    def read_value(key: Any) -> Any:
        if _reading.streamed and key.contentsize >= STREAMED_MIN_BYTES:
            return ObjectBytes(key, 0, int(key.contentsize))
        return read(key)

    def write_value(key: Any, new: Any) -> None:
        if not isinstance(new, AssembledObject):
            write(key, new)
            return
        key._value_buffer.close()
        key._value_buffer = new.buffer
        key.contentsize = new.size

    get_object = S3Response.get_object

    def streamed_get_object(response: Any) -> Any:
        _reading.streamed = True
        try:
            return get_object(response)
        finally:
            _reading.streamed = False

    _pin_mmap_threshold()
    setattr(FakeKey, "value", property(read_value, write_value))  # noqa: B010 - moto's types say otherwise
    setattr(FakeMultipart, "complete", _complete)  # noqa: B010
    setattr(S3Response, "get_object", streamed_get_object)  # noqa: B010
    _installed = True


def _pin_mmap_threshold() -> None:
    """Blocks from MMAP_THRESHOLD_BYTES are mapped and unmapped for themselves (glibc; elsewhere,
    nothing is done)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def _complete(multipart: Any, body: Iterable[tuple[int, str]]) -> tuple[Any, str, Any]:
    """moto's `FakeMultipart.complete`: the same checks, ETag and checksum, the parts' bytes joined
    a chunk at a time into a spool file (moto's own kind, on disk above its size limit)."""
    from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
    from moto.s3.models import S3_UPLOAD_PART_MIN_SIZE, MultipartChecksumBuilder
    from moto.settings import get_s3_default_key_buffer_size
    from moto.utilities.utils import md5_hash

    checksum = MultipartChecksumBuilder(
        multipart.metadata.get("x-amz-checksum-algorithm"), multipart.metadata.get("x-amz-checksum-type")
    )
    decode_hex = codecs.getdecoder("hex_codec")
    md5s = bytearray()
    parts: list[Any] = []
    for number, etag in body:
        part = multipart.parts.get(number)
        part_etag = None
        if part is not None:
            part_etag = part.etag.replace('"', "")
            etag = etag.replace('"', "")
        if part is None or part_etag != etag:
            raise InvalidPart()
        if parts and parts[-1].contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        md5s.extend(decode_hex(part_etag)[0])  # type: ignore[arg-type]
        parts.append(part)
    if not parts:
        raise MalformedXML
    composite = checksum.checksum_type == "COMPOSITE"
    whole = _FullObjectChecksum(checksum.checksum_algorithm)
    buffer = tempfile.SpooledTemporaryFile(get_s3_default_key_buffer_size())  # noqa: SIM115 - the object's
    for part in parts:
        if composite:  # a checksum of each part: one part's bytes in memory at a time
            checksum.addPart(part.value)
        with part.lock:
            part._value_buffer.seek(0)
            while chunk := part._value_buffer.read(CHUNK):
                buffer.write(chunk)
                if not composite:
                    whole.update(chunk)
    details = checksum.build() if composite else (checksum.checksum_type, whole.base64(), 1)
    full_etag = md5_hash()
    full_etag.update(bytes(md5s))
    size = buffer.tell()
    return AssembledObject(buffer, size), f"{full_etag.hexdigest()}-{len(parts)}", details


class _FullObjectChecksum:
    """moto's `compute_checksum` of a whole object, updated a chunk at a time."""

    def __init__(self, algorithm: str) -> None:
        from moto.s3.utils import HAS_CRT

        self._kind = "crc32"  # CRC32, and moto's fallback for CRC32C and CRC64NVME without their libraries
        self._crc = 0
        self._digest: Any = None
        if algorithm == "SHA1" or algorithm not in ("CRC32", "CRC32C", "CRC64NVME"):
            self._kind = "digest"
            self._digest = hashlib.new("sha1" if algorithm == "SHA1" else "sha256", usedforsecurity=False)
        elif algorithm == "CRC64NVME" and HAS_CRT:
            self._kind = "crc64nvme"
        elif algorithm == "CRC32C" and importlib.util.find_spec("crc32c") is not None:
            self._kind = "crc32c"

    def update(self, chunk: bytes) -> None:
        if self._kind == "digest":
            self._digest.update(chunk)
        elif self._kind == "crc64nvme":
            from awscrt import checksums

            self._crc = checksums.crc64nvme(chunk, self._crc)
        elif self._kind == "crc32c":
            import crc32c

            self._crc = crc32c.crc32c(chunk, self._crc)
        else:
            self._crc = binascii.crc32(chunk, self._crc)

    def base64(self) -> str:
        if self._kind == "digest":
            hashed = self._digest.digest()
        else:
            hashed = self._crc.to_bytes(8 if self._kind == "crc64nvme" else 4, "big")
        return base64.b64encode(hashed).decode()
