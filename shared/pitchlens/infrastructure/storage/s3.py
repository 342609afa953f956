"""`ObjectStorage` on any S3-compatible server (AWS S3, MinIO, the embedded moto server)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from pitchlens.domain.errors import ObjectNotFound, ServiceUnavailable
from pitchlens.domain.ports import ObjectStorage, StoredObject

_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".json": "application/json",
    ".csv": "text/csv",
}


def content_type(key: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(key).suffix.lower(), "application/octet-stream")


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


@contextmanager
def storage_errors(bucket: str, key: str) -> Iterator[None]:
    """S3 client errors as ObjectNotFound (a missing key or bucket) or ServiceUnavailable."""
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise ObjectNotFound(f"s3://{bucket}/{key} does not exist") from error
        raise ServiceUnavailable(f"object storage refused s3://{bucket}/{key}: {code}") from error
    except BotoCoreError as error:
        raise ServiceUnavailable(f"object storage unreachable for s3://{bucket}/{key}: {error}") from error


class S3ObjectStorage(ObjectStorage):
    """S3 API calls; errors become ObjectNotFound / ServiceUnavailable."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def put(
        self, bucket: str, key: str, data: bytes, *, metadata: Mapping[str, str] | None = None
    ) -> StoredObject:
        with storage_errors(bucket, key):
            response = self._client.put_object(
                Bucket=bucket, Key=key, Body=data, Metadata=dict(metadata or {})
            )
        return StoredObject(bucket, key, len(data), response.get("ETag", "").strip('"'), dict(metadata or {}))

    def put_file(
        self, bucket: str, key: str, file: BinaryIO, *, metadata: Mapping[str, str] | None = None
    ) -> StoredObject:
        """`upload_fileobj`: multipart above 8 MB, the object visible only once complete."""
        extra = {"Metadata": dict(metadata or {}), "ContentType": content_type(key)}
        with storage_errors(bucket, key):
            try:
                self._client.upload_fileobj(file, bucket, key, ExtraArgs=extra)
            except S3UploadFailedError as error:
                raise ServiceUnavailable(f"could not upload s3://{bucket}/{key}: {error}") from error
        return self.head(bucket, key)

    def get(self, bucket: str, key: str) -> bytes:
        with storage_errors(bucket, key):
            body: bytes = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def head(self, bucket: str, key: str) -> StoredObject:
        with storage_errors(bucket, key):
            response = self._client.head_object(Bucket=bucket, Key=key)
        return StoredObject(
            bucket,
            key,
            int(response.get("ContentLength", 0)),
            response.get("ETag", "").strip('"'),
            response.get("Metadata", {}),
        )

    def list(self, bucket: str, prefix: str) -> list[StoredObject]:
        objects = []
        with storage_errors(bucket, prefix):
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    objects.append(StoredObject(bucket, item["Key"], item["Size"], item["ETag"].strip('"')))
        return objects

    def copy(self, source_uri: str, bucket: str, key: str) -> StoredObject:
        source_bucket, source_key = split_uri(source_uri)
        with storage_errors(source_bucket, source_key):
            self._client.copy_object(
                Bucket=bucket, Key=key, CopySource={"Bucket": source_bucket, "Key": source_key}
            )
        return self.head(bucket, key)
