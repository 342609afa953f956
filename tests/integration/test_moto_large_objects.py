"""The embedded S3 server completes and serves large objects without a whole copy of them in
memory (moto alone held four copies of an upload while completing it, and two per GET, ranged
ones included): the bytes, ETags, checksums and ranges are what S3 gives."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from pitchlens.runtime.embedded.moto_large_objects import STREAMED_MIN_BYTES
from tests.integration.test_moto_durability import Server

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def peak_allocated() -> Iterator[Callable[[], int]]:
    """The most memory Python held (every thread, the server's included) above where it stood."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        yield lambda: tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_a_large_upload_completes_part_by_part_with_moto_s_etag_and_checksum(aws: Server) -> None:
    aws.s3.create_bucket(Bucket="videos")
    part_size, parts = 8 * MiB, 6
    data = os.urandom(part_size * parts)
    upload = aws.s3.create_multipart_upload(
        Bucket="videos", Key="match.mp4", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )
    etags = [
        {
            "PartNumber": n + 1,
            "ETag": aws.s3.upload_part(
                Bucket="videos",
                Key="match.mp4",
                UploadId=upload["UploadId"],
                PartNumber=n + 1,
                Body=data[n * part_size : (n + 1) * part_size],
            )["ETag"],
        }
        for n in range(parts)
    ]
    with peak_allocated() as peak:
        aws.s3.complete_multipart_upload(
            Bucket="videos", Key="match.mp4", UploadId=upload["UploadId"], MultipartUpload={"Parts": etags}
        )
        completing = peak()
    assert completing < len(data) / 3, f"{completing / MiB:.1f} MiB held to complete a 48 MiB upload"

    md5s = b"".join(hashlib.md5(data[n * part_size : (n + 1) * part_size]).digest() for n in range(parts))
    expected_etag = f'"{hashlib.md5(md5s).hexdigest()}-{parts}"'
    for attempt in ("before", "after a restart"):
        stored = aws.s3.get_object(Bucket="videos", Key="match.mp4", ChecksumMode="ENABLED")
        assert stored["ETag"] == expected_etag, attempt
        assert stored["ContentLength"] == len(data), attempt
        assert stored["Body"].read() == data, attempt  # boto3 checks the full-object CRC32 as it reads
        assert stored["ChecksumType"] == "FULL_OBJECT"
        aws.restart()


def test_an_upload_with_a_missing_or_wrong_part_is_refused_as_moto_refuses_it(aws: Server) -> None:
    aws.s3.create_bucket(Bucket="videos")
    upload = aws.s3.create_multipart_upload(Bucket="videos", Key="match.mp4")
    etag = aws.s3.upload_part(
        Bucket="videos", Key="match.mp4", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 100
    )["ETag"]
    for parts in (
        [{"PartNumber": 2, "ETag": etag}],
        [{"PartNumber": 1, "ETag": '"0123"'}],
    ):
        with pytest.raises(ClientError) as refused:
            aws.s3.complete_multipart_upload(
                Bucket="videos",
                Key="match.mp4",
                UploadId=upload["UploadId"],
                MultipartUpload={"Parts": parts},
            )
        assert refused.value.response["Error"]["Code"] == "InvalidPart"


def test_ranged_gets_of_a_large_object_read_only_their_range(aws: Server) -> None:
    aws.s3.create_bucket(Bucket="videos")
    data = os.urandom(STREAMED_MIN_BYTES + 56 * MiB)
    aws.s3.put_object(Bucket="videos", Key="match.mp4", Body=data, ContentType="video/mp4")
    head = aws.s3.head_object(Bucket="videos", Key="match.mp4")

    def get(range_: str) -> dict[str, Any]:
        found: dict[str, Any] = aws.s3.get_object(Bucket="videos", Key="match.mp4", Range=range_)
        return found

    url = aws.s3.generate_presigned_url("get_object", Params={"Bucket": "videos", "Key": "match.mp4"})
    cases = {
        "bytes=100-199": data[100:200],
        "bytes=-50": data[-50:],
        "bytes=20000000-20000999": data[20000000:20001000],
    }

    def read_ranges() -> None:
        for range_, expected in cases.items():
            found = get(range_)
            assert found["Body"].read() == expected, range_
            assert found["ContentLength"] == len(expected)
            assert found["ETag"] == head["ETag"] and found["ContentType"] == "video/mp4"
        assert get("bytes=100-199")["ContentRange"] == f"bytes 100-199/{len(data)}"
        # As a decoder reads: an open range from a position, a little of it, then it seeks elsewhere.
        with httpx.stream("GET", url, headers={"Range": "bytes=1000-"}) as response:
            assert response.status_code == 206
            assert response.headers["content-length"] == str(len(data) - 1000)
            first = next(response.iter_raw(64 * 1024))
        assert first == data[1000 : 1000 + len(first)]

    read_ranges()  # once first: the clients' first calls load what they need
    with peak_allocated() as peak:
        read_ranges()
        reading = peak()
    # Not a copy of the object (moto alone held two per request); a few MB are the clients' own.
    assert reading < len(data) / 3, (
        f"{reading / MiB:.1f} MiB held to read ranges of a {len(data) // MiB} MiB object"
    )

    assert aws.s3.get_object(Bucket="videos", Key="match.mp4")["Body"].read() == data
    with pytest.raises(ClientError) as refused:
        get(f"bytes={len(data)}-")
    assert refused.value.response["Error"]["Code"] == "InvalidRange"
    with pytest.raises(ClientError) as unchanged:
        aws.s3.get_object(Bucket="videos", Key="match.mp4", IfNoneMatch=head["ETag"])
    assert unchanged.value.response["Error"]["Code"] == "304"


def test_an_object_replaced_while_it_is_read_is_read_whole_as_it_was(aws: Server) -> None:
    aws.s3.create_bucket(Bucket="videos")
    old, new = os.urandom(STREAMED_MIN_BYTES + MiB), os.urandom(STREAMED_MIN_BYTES + MiB)
    aws.s3.put_object(Bucket="videos", Key="match.mp4", Body=old)
    url = aws.s3.generate_presigned_url("get_object", Params={"Bucket": "videos", "Key": "match.mp4"})
    with httpx.stream("GET", url) as response:
        chunks = response.iter_raw(MiB)
        read = next(chunks)
        aws.s3.put_object(Bucket="videos", Key="match.mp4", Body=new)
        read += b"".join(chunks)
    assert read == old
    assert aws.s3.get_object(Bucket="videos", Key="match.mp4")["Body"].read() == new
