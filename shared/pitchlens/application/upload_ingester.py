from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from pitchlens.application.outcomes import FollowUp, Outcome, Result
from pitchlens.domain.messages import Delivery, IngestionRequested, RawDataUploaded
from pitchlens.domain.ports import MatchParser, ObjectStorage, StoredObject

JOB_NAMESPACE = uuid.UUID("5f1c3a55-2f0e-4a8c-9a53-0b1e7c1d2a10")


@dataclass(frozen=True, slots=True)
class UploadKey:
    """`<source>/<match_id>/<file>` inside the raw-data bucket."""

    source: str
    match_id: str
    file: str

    @classmethod
    def parse(cls, key: str) -> UploadKey | None:
        parts = key.split("/", 2)
        if len(parts) != 3 or not all(parts):
            return None
        return cls(*parts)


class UploadIngester:
    """Turns an object uploaded to `raw-data/<source>/<match_id>/...` into an ingestion of that
    match folder (an `IngestionRequested` follow-up, which MatchIngester consumes at once). The job
    id and idempotency key derive from the folder's content (and the uploader's correlation id), so
    redelivered notifications, and the several notifications of one multi-file upload, make one
    ingestion."""

    def __init__(self, storage: ObjectStorage, parsers: Mapping[str, MatchParser]) -> None:
        self._storage = storage
        self._parsers = parsers

    def execute(self, created: RawDataUploaded, delivery: Delivery) -> Result:
        upload = UploadKey.parse(created.key)
        if upload is None:
            return Result(Outcome.SKIPPED, detail=f"{created.key}: not a <source>/<match_id>/<file> key")
        parser = self._parsers.get(upload.source)
        if parser is None:
            return Result(Outcome.SKIPPED, detail=f"{created.key}: unknown source {upload.source!r}")
        prefix = f"{upload.source}/{upload.match_id}/"
        files = sorted(self._storage.list(created.bucket, prefix), key=lambda item: item.key)
        if not parser.ready([item.key[len(prefix) :] for item in files]):
            return Result(
                Outcome.SKIPPED, source=upload.source, detail=f"{prefix}: waiting for the main file"
            )
        uploaded = self._storage.head(created.bucket, created.key)
        correlation_id = uploaded.metadata.get("correlation-id") or delivery.correlation_id
        waiting = self._missing_batch_files(created.bucket, files, uploaded)
        if waiting:
            return Result(
                Outcome.SKIPPED, source=upload.source, detail=f"{prefix}: waiting for {waiting} more file(s)"
            )
        fingerprint = hashlib.sha256(
            "\n".join(
                [uploaded.metadata.get("correlation-id", ""), *(f"{f.key}:{f.etag}" for f in files)]
            ).encode()
        ).hexdigest()
        request = IngestionRequested(
            job_id=str(uuid.uuid5(JOB_NAMESPACE, fingerprint)),
            source=upload.source,
            match_id=upload.match_id,
            location=f"s3://{created.bucket}/{prefix}",
        )
        follow_up = FollowUp(
            request,
            Delivery(correlation_id, f"upload:{fingerprint}", delivery.attempt, delivery.max_attempts),
        )
        return Result(
            Outcome.DONE,
            request.job_id,
            upload.source,
            f"{prefix}: ingestion requested",
            correlation_id=correlation_id,
            then=follow_up,
        )

    def _missing_batch_files(self, bucket: str, files: list[StoredObject], uploaded: StoredObject) -> int:
        """Uploaders that send several files tag each with `correlation-id` and `batch-size`;
        the ingestion waits until the whole batch is there (one ingestion per upload)."""
        expected = uploaded.metadata.get("batch-size", "")
        if not expected.isdigit():
            return 0
        correlation = uploaded.metadata.get("correlation-id")
        present = sum(
            1
            for f in files
            if self._storage.head(bucket, f.key).metadata.get("correlation-id") == correlation
        )
        return max(0, int(expected) - present)
