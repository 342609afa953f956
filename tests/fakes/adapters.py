"""In-memory implementations of the ports, with real state, for application-layer unit tests."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from pitchlens.domain.errors import (
    InvalidInput,
    InvalidMatchData,
    JobNotFound,
    MatchNotFound,
    ObjectNotFound,
    ServiceUnavailable,
)
from pitchlens.domain.jobs import Job
from pitchlens.domain.messages import Message
from pitchlens.domain.model import Match, Team
from pitchlens.domain.ports import (
    Clock,
    EventPage,
    EventQuery,
    JobRepository,
    MatchParser,
    MatchRepository,
    MatchSource,
    MatchStaging,
    MatchSummary,
    MessagePublisher,
    ObjectStorage,
    PlannedUpload,
    ProcessedMessages,
    RawMatchData,
    StagedMatch,
    StoredObject,
    TrackingRef,
    UnitOfWork,
    UploadPart,
)
from pitchlens.domain.sessions import HighlightSession, SessionClip, SessionNotFound, SessionRepository
from tests.fakes.vision import FakeClipRepository


class FakeClock(Clock):
    def __init__(self) -> None:
        self.current = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


class FakeObjectStorage(ObjectStorage):
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = {}
        self.uploads: dict[str, tuple[str, str, dict[str, str], dict[int, bytes]]] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ServiceUnavailable("fake storage is down")

    def put(
        self, bucket: str, key: str, data: bytes, *, metadata: Mapping[str, str] | None = None
    ) -> StoredObject:
        self._check()
        self.objects[(bucket, key)] = (data, dict(metadata or {}))
        return self.head(bucket, key)

    def put_file(
        self, bucket: str, key: str, file: BinaryIO, *, metadata: Mapping[str, str] | None = None
    ) -> StoredObject:
        return self.put(bucket, key, file.read(), metadata=metadata)

    def get(self, bucket: str, key: str) -> bytes:
        self._check()
        if (bucket, key) not in self.objects:
            raise ObjectNotFound(f"s3://{bucket}/{key}")
        return self.objects[(bucket, key)][0]

    def head(self, bucket: str, key: str) -> StoredObject:
        self._check()
        if (bucket, key) not in self.objects:
            raise ObjectNotFound(f"s3://{bucket}/{key}")
        data, metadata = self.objects[(bucket, key)]
        return StoredObject(bucket, key, len(data), hashlib.md5(data).hexdigest(), metadata)

    def list(self, bucket: str, prefix: str) -> list[StoredObject]:
        self._check()
        return [self.head(b, k) for (b, k) in sorted(self.objects) if b == bucket and k.startswith(prefix)]

    def copy(self, source_uri: str, bucket: str, key: str) -> StoredObject:
        source_bucket, _, source_key = source_uri[5:].partition("/")
        return self.put(bucket, key, self.get(source_bucket, source_key))

    # Uploads straight from clients: `send_part` plays the client's PUT of a presigned part.
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
        self._check()
        upload_id = f"up-{len(self.uploads) + 1}"
        self.uploads[upload_id] = (bucket, key, dict(metadata), {})
        count = max(1, -(-size // part_size))
        parts = tuple(
            UploadPart(n, f"fake://{bucket}/{key}?uploadId={upload_id}&partNumber={n}")
            for n in range(1, count + 1)
        )
        return PlannedUpload(bucket, key, upload_id, part_size, parts, expires_in_s)

    def send_part(self, upload_id: str, number: int, data: bytes) -> str:
        """The ETag of a part sent to a planned upload."""
        self.uploads[upload_id][3][number] = data
        return hashlib.md5(data).hexdigest()

    def complete_upload(
        self, bucket: str, key: str, upload_id: str, etags: Sequence[tuple[int, str]]
    ) -> StoredObject:
        self._check()
        if upload_id not in self.uploads or self.uploads[upload_id][:2] != (bucket, key):
            raise InvalidInput(f"the upload of s3://{bucket}/{key} cannot be completed: NoSuchUpload")
        _, _, metadata, parts = self.uploads[upload_id]
        if any(
            number not in parts or hashlib.md5(parts[number]).hexdigest() != etag for number, etag in etags
        ):
            raise InvalidInput(f"the upload of s3://{bucket}/{key} cannot be completed: InvalidPart")
        del self.uploads[upload_id]
        return self.put(bucket, key, b"".join(parts[n] for n, _ in sorted(etags)), metadata=metadata)

    def download_url(self, bucket: str, key: str, *, expires_in_s: int, file_name: str | None = None) -> str:
        self.head(bucket, key)
        return f"fake://{bucket}/{key}?expires={expires_in_s}"


class FakePublisher(MessagePublisher):
    def __init__(self) -> None:
        self.sent: list[tuple[Message, str, str]] = []
        self.down = False

    def publish(self, message: Message, *, correlation_id: str, idempotency_key: str) -> str:
        if self.down:
            raise ServiceUnavailable("fake queue is down")
        self.sent.append((message, correlation_id, idempotency_key))
        return f"m-{len(self.sent)}"


class FakeDatabase:
    """Committed state shared by the units of work; `down` makes every transaction fail."""

    def __init__(self) -> None:
        self.matches: dict[str, tuple[Match, datetime, str | None]] = {}
        self.jobs: dict[str, Job] = {}
        self.processed: set[tuple[str, str]] = set()
        self.clips: dict[str, Any] = {}
        self.segments: dict[tuple[str, str, int], Any] = {}
        self.sessions: dict[str, HighlightSession] = {}
        self.session_clips: dict[tuple[str, str], SessionClip] = {}
        self.down = False


class FakeMatchRepository(MatchRepository):
    def __init__(self, state: FakeDatabase) -> None:
        self.state = state

    def save(self, match: Match, *, ingested_at: datetime, tracking: TrackingRef | None = None) -> bool:
        stored = self.state.matches.get(match.match_id)
        if stored is not None and stored[1] > ingested_at:
            return False
        self.state.matches[match.match_id] = (match, ingested_at, tracking.uri if tracking else None)
        return True

    def summary(self, match_id: str) -> MatchSummary:
        if match_id not in self.state.matches:
            raise MatchNotFound(match_id)
        match, ingested_at, _ = self.state.matches[match_id]
        return MatchSummary(
            match_id,
            match.source,
            match.home_team.name,
            match.away_team.name,
            None,
            None,
            len(match.events),
            len(match.players),
            ingested_at,
        )

    def list(self, *, limit: int, offset: int) -> list[MatchSummary]:
        return [self.summary(m) for m in list(self.state.matches)[offset : offset + limit]]

    def count(self) -> int:
        return len(self.state.matches)

    def lineup(self, match_id: str) -> tuple[Team, Team]:
        if match_id not in self.state.matches:
            raise MatchNotFound(match_id)
        match = self.state.matches[match_id][0]
        return match.home_team, match.away_team

    def events(self, query: EventQuery) -> EventPage:
        if query.match_id not in self.state.matches:
            raise MatchNotFound(query.match_id)
        match = self.state.matches[query.match_id][0]
        named = {
            p.player_id for p in match.players if query.player and query.player.lower() in p.name.lower()
        }
        events = [
            e
            for e in match.events
            if query.type in (None, e.type.value) and query.player in (None, e.player_id, *named)
        ]
        return EventPage(len(events), tuple(events[query.offset : query.offset + query.limit]))


class FakeJobRepository(JobRepository):
    def __init__(self, state: FakeDatabase) -> None:
        self.state = state

    def add(self, job: Job) -> bool:
        if job.job_id in self.state.jobs:
            return False
        self.state.jobs[job.job_id] = job
        return True

    def get(self, job_id: str, *, lock: bool = False) -> Job:
        if job_id not in self.state.jobs:
            raise JobNotFound(f"no job {job_id!r}")
        return self.state.jobs[job_id]

    def update(self, job: Job) -> None:
        self.state.jobs[job.job_id] = job

    def find(self, *, correlation_id: str | None = None, match_id: str | None = None) -> list[Job]:
        return [
            j
            for j in self.state.jobs.values()
            if correlation_id in (None, j.correlation_id) and match_id in (None, j.match_id)
        ]


class FakeProcessedMessages(ProcessedMessages):
    def __init__(self, state: FakeDatabase) -> None:
        self.state = state

    def seen(self, consumer: str, key: str) -> bool:
        return (consumer, key) in self.state.processed

    def record(self, consumer: str, key: str) -> None:
        self.state.processed.add((consumer, key))


class FakeSessionRepository(SessionRepository):
    def __init__(self, state: FakeDatabase) -> None:
        self.state = state

    def add(self, session: HighlightSession) -> None:
        self.state.sessions[session.session_id] = session

    def get(self, session_id: str) -> HighlightSession:
        if session_id not in self.state.sessions:
            raise SessionNotFound(f"no session {session_id!r}")
        return self.state.sessions[session_id]

    def update(self, session: HighlightSession) -> None:
        self.get(session.session_id)
        self.state.sessions[session.session_id] = session

    def clips(self, session_id: str) -> list[SessionClip]:
        return [clip for (sid, _), clip in self.state.session_clips.items() if sid == session_id]

    def save_clip(self, clip: SessionClip) -> None:
        self.state.session_clips[(clip.session_id, clip.clip_id)] = clip


class FakeUnitOfWork(UnitOfWork):
    """Works on a copy of the database state; commit() swaps it in (all or nothing)."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    def __enter__(self) -> FakeUnitOfWork:
        if self._database.down:
            raise ServiceUnavailable("fake database is down")
        self._working = copy.copy(self._database)
        self._working.matches = dict(self._database.matches)
        self._working.jobs = dict(self._database.jobs)
        self._working.processed = set(self._database.processed)
        self._working.clips = dict(self._database.clips)
        self._working.segments = dict(self._database.segments)
        self._working.sessions = dict(self._database.sessions)
        self._working.session_clips = dict(self._database.session_clips)
        self.matches = FakeMatchRepository(self._working)
        self.jobs = FakeJobRepository(self._working)
        self.inbox = FakeProcessedMessages(self._working)
        self.clips = FakeClipRepository(self._working.clips, self._working.segments)
        self.sessions = FakeSessionRepository(self._working)
        return self

    def commit(self) -> None:
        if self._database.down:
            raise ServiceUnavailable("fake database is down")
        self._database.matches = self._working.matches
        self._database.jobs = self._working.jobs
        self._database.processed = self._working.processed
        self._database.clips = self._working.clips
        self._database.segments = self._working.segments
        self._database.sessions = self._working.sessions
        self._database.session_clips = self._working.session_clips

    def rollback(self) -> None:
        pass


class FakeStaging(MatchStaging):
    def __init__(self, storage: FakeObjectStorage) -> None:
        self.storage = storage
        self.staged: dict[str, Match] = {}

    def stage(self, match: Match, job_id: str) -> StagedMatch:
        uri = f"s3://artifacts/staging/matches/{job_id}/match.json.gz"
        self.storage.put("artifacts", uri.split("/", 3)[3], b"staged")
        self.staged[uri] = dataclasses.replace(match, tracking=None)
        return StagedMatch(uri)

    def load(self, uri: str) -> Match:
        if self.storage.get("artifacts", uri.split("/", 3)[3]) != b"staged":
            raise InvalidMatchData(f"{uri} is not a staged match")
        return self.staged[uri]

    def publish_tracking(self, staged_uri: str, source: str, match_id: str) -> str:
        return f"s3://tracking-data/provider/{source}/{match_id}/tracking.parquet"


class FakeParser(MatchParser):
    """Parses `events.txt` holding one event type per line; needs a file named events*."""

    def __init__(self, build: object) -> None:
        self.build = build

    def ready(self, file_names: Collection[str]) -> bool:
        return any(name.startswith("events") for name in file_names)

    def parse(self, raw: RawMatchData) -> Match:
        return self.build(raw)  # type: ignore[operator, no-any-return]


class FakeMatchSource(MatchSource):
    def __init__(self, storage: FakeObjectStorage) -> None:
        self.storage = storage

    def fetch(self, source: str, match_id: str, location: str | None) -> RawMatchData:
        if location is None:
            raise MatchNotFound(f"{source} match {match_id} not found")
        bucket, _, prefix = location[5:].partition("/")
        files = {
            o.key[len(prefix) :]: self.storage.get(bucket, o.key) for o in self.storage.list(bucket, prefix)
        }
        if not files:
            raise MatchNotFound(f"no files under {location}")
        return RawMatchData(source, match_id, files)
