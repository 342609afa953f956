"""Uploads that go straight to object storage: the API plans them (checks, job, presigned parts),
the client sends the bytes, the API completes them. No process of ours ever holds the file; the
bucket's notification then starts the pipeline as for any upload."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pitchlens.domain.errors import InvalidInput, UnsupportedSource
from pitchlens.domain.jobs import Job, JobKind
from pitchlens.domain.ports import Clock, MatchParser, ObjectStorage, PlannedUpload, StoredObject, UnitOfWork
from pitchlens.domain.sessions import UnsupportedUpload, UploadTooLarge, safe_file_name
from pitchlens.domain.vision import VIDEO_SUFFIXES, is_video_name

MATCH_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
RAW_DATA_SUFFIXES = frozenset({".json", ".csv", ".xml", ".txt", ".dat"})
"""Provider files: StatsBomb JSON, Metrica CSV / JSON / EPTS XML and TXT."""


class UploadKind(StrEnum):
    VIDEO = "video"
    """A match video: `videos/<match_id>/<file>`, processed (detect, track, persist) as one job."""
    RAW_DATA = "raw-data"
    """A provider file: `raw-data/<source>/<match_id>/<file>`, ingested once its folder is complete."""
    GAME_VIDEO = "game-video"
    """A whole game to cut highlights from: `artifacts/sessions/<session_id>/<file>` (planned by
    `CutSessionCreator`, not processed on arrival)."""


@dataclass(frozen=True, slots=True)
class UploadRequest:
    kind: UploadKind
    file_name: str
    size_bytes: int
    match_id: str
    correlation_id: str
    source: str | None = None
    """Raw data: the provider (statsbomb, metrica)."""
    detection_frame: int = 0
    """Video: the frame players are detected on."""
    batch_size: int | None = None
    """Raw data: how many files this upload's correlation id sends (ingested when all are there)."""


@dataclass(frozen=True, slots=True)
class StartedUpload:
    plan: PlannedUpload
    job: Job | None
    """Video: the processing job, PENDING until the upload completes (poll it)."""


def checked_size(name: str, size_bytes: int, max_bytes: int) -> int:
    """`size_bytes` when a file of that size can be uploaded: InvalidInput for an empty file,
    UploadTooLarge above the limit."""
    if size_bytes <= 0:
        raise InvalidInput(f"{name} is empty (0 bytes): nothing to upload")
    if size_bytes > max_bytes:
        raise UploadTooLarge(
            f"{name}: {size_bytes / 1048576:,.0f} MB is over the {max_bytes / 1048576:,.0f} MB upload limit "
            "(PITCHLENS_MAX_UPLOAD_MB)"
        )
    return size_bytes


def checked_match_id(match_id: str) -> str:
    """`match_id` when it can name a storage folder; InvalidInput naming the rule otherwise."""
    if not MATCH_ID.match(match_id):
        raise InvalidInput(
            f"match id {match_id!r} must be 1 to 128 letters, digits, '.', '_' or '-' (it names a folder)"
        )
    return match_id


class UploadStarter:
    """Checks an upload before any byte moves (a name that is not a video's or a provider file's,
    an empty file, one over the size limit, a match id that cannot name a folder, an unknown
    provider: each a clear error), creates the video's processing job (PENDING) and plans a
    multipart upload straight to the bucket."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        parsers: Mapping[str, MatchParser],
        clock: Clock,
        *,
        videos_bucket: str,
        raw_data_bucket: str,
        max_bytes: int,
        part_size: int,
        expires_in_s: int,
    ) -> None:
        self._uow = unit_of_work
        self._storage = storage
        self._parsers = parsers
        self._clock = clock
        self._buckets = {UploadKind.VIDEO: videos_bucket, UploadKind.RAW_DATA: raw_data_bucket}
        self._max_bytes = max_bytes
        self._part_size = part_size
        self._expires_in_s = expires_in_s

    def execute(self, requests: Sequence[UploadRequest]) -> list[StartedUpload]:
        """Every request is checked before any is planned: all of them, or none."""
        checked = [self._checked(request) for request in requests]
        started = []
        for request, (key, metadata, job) in zip(requests, checked, strict=True):
            plan = self._storage.plan_upload(
                self._buckets[request.kind],
                key,
                request.size_bytes,
                metadata=metadata,
                part_size=self._part_size,
                expires_in_s=self._expires_in_s,
            )
            if job is not None:
                job = job.with_outputs({"video_uri": f"s3://{plan.bucket}/{plan.key}"})
                with self._uow() as uow:
                    uow.jobs.add(job)
                    uow.commit()
            started.append(StartedUpload(plan, job))
        return started

    def _checked(self, request: UploadRequest) -> tuple[str, dict[str, str], Job | None]:
        """(key, metadata, the video's job) of an upload that may start; the error otherwise."""
        name = request.file_name.replace("\\", "/").rsplit("/", 1)[-1]
        match_id = checked_match_id(request.match_id)
        checked_size(name, request.size_bytes, self._max_bytes)
        metadata = {"correlation-id": request.correlation_id}
        if request.kind is UploadKind.VIDEO:
            if not is_video_name(name):
                raise UnsupportedUpload(
                    f"{name}: not a video file (expected {', '.join(sorted(VIDEO_SUFFIXES))})"
                )
            now = self._clock.now()
            job = Job(str(uuid.uuid4()), JobKind.PROCESS, "video", match_id, request.correlation_id, now, now)
            metadata |= {"job-id": job.job_id, "detection-frame": str(max(0, request.detection_frame))}
            return f"{match_id}/{safe_file_name(name)}", metadata, job
        if request.kind is not UploadKind.RAW_DATA:
            raise InvalidInput(f"{request.kind.value} uploads start with their session, not here")
        if request.source not in self._parsers:
            raise UnsupportedSource(
                f"unknown source {request.source!r}; supported: {', '.join(sorted(self._parsers))}"
            )
        suffix = "." + name.rpartition(".")[2].lower()
        if "." not in name or suffix not in RAW_DATA_SUFFIXES:
            raise UnsupportedUpload(
                f"{name}: not a provider file (expected {', '.join(sorted(RAW_DATA_SUFFIXES))})"
            )
        if request.batch_size:
            metadata["batch-size"] = str(request.batch_size)
        return f"{request.source}/{match_id}/{safe_file_name(name)}", metadata, None


class UploadCompleter:
    """Completes a planned upload with the ETag of every part; the object appears whole (and its
    notification starts the pipeline). InvalidInput when the parts do not make the upload."""

    def __init__(
        self, storage: ObjectStorage, *, videos_bucket: str, raw_data_bucket: str, artifacts_bucket: str
    ) -> None:
        self._storage = storage
        self._buckets = {
            UploadKind.VIDEO: videos_bucket,
            UploadKind.RAW_DATA: raw_data_bucket,
            UploadKind.GAME_VIDEO: artifacts_bucket,
        }

    def execute(
        self, kind: UploadKind, key: str, upload_id: str, etags: Sequence[tuple[int, str]]
    ) -> StoredObject:
        if not etags:
            raise InvalidInput("an upload is completed with the ETag of each of its parts")
        return self._storage.complete_upload(self._buckets[kind], key, upload_id, etags)
