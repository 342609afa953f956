"""Ports: what the application needs from the outside world, named by capability."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import BinaryIO

from pitchlens.domain.jobs import Job
from pitchlens.domain.messages import Message
from pitchlens.domain.model import Event, Match, Team
from pitchlens.domain.sessions import SessionRepository
from pitchlens.domain.vision import ClipRepository


@dataclass(frozen=True, slots=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True, slots=True)
class RawMatchData:
    """Provider files for one match, by file name (e.g. `events.json`, `lineups.json`)."""

    source: str
    match_id: str
    files: Mapping[str, bytes]


@dataclass(frozen=True, slots=True)
class MatchSummary:
    match_id: str
    source: str
    home_team: str
    away_team: str
    competition: str | None
    kickoff: datetime | None
    event_count: int
    player_count: int
    ingested_at: datetime


@dataclass(frozen=True, slots=True)
class EventQuery:
    match_id: str
    type: str | None = None
    player: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class EventPage:
    total: int
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class UploadPart:
    number: int
    """1-based, in order."""
    url: str
    """Where to PUT this part's bytes (a presigned URL: it needs no credentials)."""


@dataclass(frozen=True, slots=True)
class PlannedUpload:
    """A multipart upload a client sends straight to object storage: `parts` of `part_size` bytes
    (the last one shorter), each PUT to its URL, then completed with every part's ETag. Nothing is
    visible under the key until it is completed."""

    bucket: str
    key: str
    upload_id: str
    part_size: int
    parts: tuple[UploadPart, ...]
    expires_in_s: int


class ObjectStorage(ABC):
    """Buckets of bytes addressed by key (S3 semantics)."""

    @abstractmethod
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
        """Starts a multipart upload of `size` bytes and presigns a URL per part."""

    @abstractmethod
    def complete_upload(
        self, bucket: str, key: str, upload_id: str, etags: Sequence[tuple[int, str]]
    ) -> StoredObject:
        """Completes a planned upload with each (part number, ETag); InvalidInput when the parts do
        not make the upload (missing, wrong ETag, unknown upload id)."""

    @abstractmethod
    def download_url(self, bucket: str, key: str, *, expires_in_s: int, file_name: str | None = None) -> str:
        """A presigned GET of the object (ranges work), saved as `file_name` when given;
        ObjectNotFound when absent."""

    @abstractmethod
    def put(
        self, bucket: str, key: str, data: bytes, *, metadata: Mapping[str, str] | None = None
    ) -> StoredObject: ...

    @abstractmethod
    def put_file(
        self, bucket: str, key: str, file: BinaryIO, *, metadata: Mapping[str, str] | None = None
    ) -> StoredObject:
        """Uploads a (large) file object from its current position, streaming it."""

    @abstractmethod
    def get(self, bucket: str, key: str) -> bytes:
        """Raises ObjectNotFound when absent."""

    @abstractmethod
    def list(self, bucket: str, prefix: str) -> list[StoredObject]: ...

    @abstractmethod
    def head(self, bucket: str, key: str) -> StoredObject:
        """Raises ObjectNotFound when absent."""

    @abstractmethod
    def copy(self, source_uri: str, bucket: str, key: str) -> StoredObject:
        """Server-side copy of `s3://bucket/key` to a new place; raises ObjectNotFound."""


class MessagePublisher(ABC):
    """Sends a message to the queue of the function that consumes its type."""

    @abstractmethod
    def publish(self, message: Message, *, correlation_id: str, idempotency_key: str) -> str:
        """Returns the message id. Raises ServiceUnavailable when the queue cannot be reached."""


class MatchSource(ABC):
    """Fetches a provider's raw files for one match (from the provider, a folder or a bucket)."""

    @abstractmethod
    def fetch(self, source: str, match_id: str, location: str | None) -> RawMatchData:
        """Raises MatchNotFound / InvalidMatchData for bad requests."""


class MatchParser(ABC):
    """Turns one provider's raw files into the domain `Match`."""

    def ready(self, file_names: Collection[str]) -> bool:
        """Whether these files are enough to parse a match (uploads arrive one file at a time)."""
        return bool(file_names)

    @abstractmethod
    def parse(self, raw: RawMatchData) -> Match:
        """Raises InvalidMatchData naming the file and the problem."""


@dataclass(frozen=True, slots=True)
class TrackingRef:
    """Where a match's tracking data is stored (Parquet) and how many rows it has."""

    uri: str
    rows: int


@dataclass(frozen=True, slots=True)
class StagedMatch:
    match_uri: str
    tracking_uri: str | None = None


class MatchStaging(ABC):
    """Claim-check store for normalised matches travelling between functions."""

    @abstractmethod
    def stage(self, match: Match, job_id: str) -> StagedMatch:
        """Stores the match (events as JSON, tracking as Parquet); returns where."""

    @abstractmethod
    def load(self, uri: str) -> Match:
        """The staged match without its tracking. Raises ObjectNotFound when the claim check is gone."""

    @abstractmethod
    def publish_tracking(self, staged_uri: str, source: str, match_id: str) -> str:
        """Copies staged tracking to its permanent place; returns the permanent URI (idempotent)."""


class MatchRepository(ABC):
    """Matches and their events in the database."""

    @abstractmethod
    def save(self, match: Match, *, ingested_at: datetime, tracking: TrackingRef | None = None) -> bool:
        """Upserts the match, its players and teams, and replaces its events (match.tracking is
        not stored here: `tracking` points to its Parquet copy). Returns False, writing
        nothing, when an ingestion newer than `ingested_at` is already stored."""

    @abstractmethod
    def summary(self, match_id: str) -> MatchSummary:
        """Raises MatchNotFound."""

    @abstractmethod
    def list(self, *, limit: int, offset: int) -> list[MatchSummary]: ...

    @abstractmethod
    def count(self) -> int:
        """How many matches are stored."""

    @abstractmethod
    def events(self, query: EventQuery) -> EventPage:
        """Raises MatchNotFound."""

    @abstractmethod
    def lineup(self, match_id: str) -> tuple[Team, Team]:
        """The home and away teams with their players (starters first, then by jersey number).
        Raises MatchNotFound."""


class JobRepository(ABC):
    @abstractmethod
    def add(self, job: Job) -> bool:
        """Inserts the job; returns False when a job with this id already exists."""

    @abstractmethod
    def get(self, job_id: str, *, lock: bool = False) -> Job:
        """Raises JobNotFound; `lock` holds the job's row until the transaction ends, so that
        transactions deciding something about the job (its last part done?) take turns."""

    @abstractmethod
    def update(self, job: Job) -> None: ...

    @abstractmethod
    def find(self, *, correlation_id: str | None = None, match_id: str | None = None) -> list[Job]: ...


class ProcessedMessages(ABC):
    """The inbox: idempotency keys of messages whose effects are committed."""

    @abstractmethod
    def seen(self, consumer: str, key: str) -> bool: ...

    @abstractmethod
    def record(self, consumer: str, key: str) -> None: ...


class UnitOfWork(ABC):
    """One database transaction spanning the repositories: all of it commits, or none."""

    matches: MatchRepository
    jobs: JobRepository
    inbox: ProcessedMessages
    clips: ClipRepository
    sessions: SessionRepository

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime: ...
