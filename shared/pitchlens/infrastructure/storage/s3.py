"""`ObjectStorage` on any S3-compatible server (AWS S3, MinIO, the embedded moto server)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from pitchlens.domain.errors import InvalidInput, ObjectNotFound, ServiceUnavailable
from pitchlens.domain.ports import ObjectStorage, PlannedUpload, StoredObject, UploadPart

_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}
_UPLOAD_REFUSED = {"NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"}
MAX_PARTS = 10_000
"""S3's limit of parts per multipart upload."""
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".ts": "video/mp2t",
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
    """S3 API calls; errors become ObjectNotFound / ServiceUnavailable. URLs handed to clients are
    presigned with `public_client` (the same S3 through the endpoint clients can reach)."""

    def __init__(self, client: Any, public_client: Any | None = None) -> None:
        self._client = client
        self._public = public_client or client

    def plan_upload(
        self,
        bucket: str,
        key: str,
        size: int,
        *,
        metadata: Mapping[str, str],
        part_size: int,
        expires_in_s: int,
    ) -> PlannedUpload:
        count = max(1, -(-size // part_size))
        if count > MAX_PARTS:
            part_size = -(-size // MAX_PARTS)
            count = -(-size // part_size)
        with storage_errors(bucket, key):
            started = self._client.create_multipart_upload(
                Bucket=bucket, Key=key, Metadata=dict(metadata), ContentType=content_type(key)
            )
            upload_id = started["UploadId"]
            parts = tuple(
                UploadPart(
                    number,
                    self._public.generate_presigned_url(
                        "upload_part",
                        Params={"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": number},
                        ExpiresIn=expires_in_s,
                    ),
                )
                for number in range(1, count + 1)
            )
        return PlannedUpload(bucket, key, upload_id, part_size, parts, expires_in_s)

    def complete_upload(
        self, bucket: str, key: str, upload_id: str, etags: Sequence[tuple[int, str]]
    ) -> StoredObject:
        parts = [{"PartNumber": number, "ETag": etag} for number, etag in sorted(etags)]
        try:
            with storage_errors(bucket, key):
                self._client.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except ServiceUnavailable as error:
            code = str(getattr(error.__cause__, "response", {}).get("Error", {}).get("Code", ""))
            if code in _UPLOAD_REFUSED:
                raise InvalidInput(
                    f"the upload of s3://{bucket}/{key} cannot be completed: {code}"
                ) from error
            raise
        return self.head(bucket, key)

    def _upload_in_progress(self, bucket: str, key: str, upload_id: str) -> bool:
        """Whether `upload_id` is a multipart upload of `key` still open (some S3-compatible servers
        answer an unknown id with a server error rather than NoSuchUpload)."""
        with storage_errors(bucket, key):
            listed = self._client.list_multipart_uploads(Bucket=bucket, Prefix=key)
        return any(
            upload["UploadId"] == upload_id and upload["Key"] == key for upload in listed.get("Uploads", [])
        )

    def download_url(self, bucket: str, key: str, *, expires_in_s: int, file_name: str | None = None) -> str:
        self.head(bucket, key)  # ObjectNotFound rather than a link to nothing
        params = {"Bucket": bucket, "Key": key}
        if file_name:
            params["ResponseContentDisposition"] = f'attachment; filename="{file_name}"'
        with storage_errors(bucket, key):
            url: str = self._public.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires_in_s
            )
        return url

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
