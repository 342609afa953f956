"""The ingestion use cases against fakes: jobs, idempotency, bad input, dependency failures."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pitchlens.application.ingestion_requester import IngestionRequester
from pitchlens.application.match_ingester import MatchIngester
from pitchlens.application.match_persister import MatchPersister
from pitchlens.application.outcomes import Outcome
from pitchlens.application.upload_ingester import UploadIngester
from pitchlens.domain.errors import InvalidMatchData, ServiceUnavailable, UnsupportedSource
from pitchlens.domain.jobs import JobStatus
from pitchlens.domain.messages import Delivery, MatchIngested, ObjectCreated
from pitchlens.domain.model import Coordinates, Event, EventType, Match, Team
from pitchlens.domain.ports import RawMatchData
from tests.fakes.adapters import (
    FakeClock,
    FakeDatabase,
    FakeMatchSource,
    FakeObjectStorage,
    FakeParser,
    FakePublisher,
    FakeStaging,
    FakeUnitOfWork,
)

pytestmark = pytest.mark.unit


def parse_lines(raw: RawMatchData) -> Match:
    text = raw.files.get("events.txt", b"").decode()
    if not text.strip():
        raise InvalidMatchData("events.txt is empty")
    events = tuple(
        Event(str(i), EventType(line.strip()), 1, float(i), "home", None, Coordinates(0, 0), raw_type=line)
        for i, line in enumerate(text.splitlines())
    )
    return Match(raw.match_id, raw.source, Team("home", "Home"), Team("away", "Away"), events)


@dataclass
class World:
    database: FakeDatabase
    storage: FakeObjectStorage
    publisher: FakePublisher
    requester: IngestionRequester
    ingester: MatchIngester
    uploads: UploadIngester
    persister: MatchPersister

    def upload(self, key: str, data: bytes, **metadata: str) -> ObjectCreated:
        stored = self.storage.put("raw-data", key, data, metadata=metadata)
        return ObjectCreated("raw-data", key, stored.size, stored.etag)

    def persist_sent(self) -> None:
        for message, correlation_id, key in list(self.publisher.sent):
            if isinstance(message, MatchIngested):
                self.persister.execute(message, Delivery(correlation_id, key))

    def job(self) -> object:
        [job] = self.database.jobs.values()
        return job


@pytest.fixture
def world() -> World:
    database, storage, publisher, clock = FakeDatabase(), FakeObjectStorage(), FakePublisher(), FakeClock()
    parsers = {"statsbomb": FakeParser(parse_lines)}
    uow = lambda: FakeUnitOfWork(database)  # noqa: E731
    staging = FakeStaging(storage)
    ingester = MatchIngester(uow, FakeMatchSource(storage), parsers, staging, publisher, clock)
    return World(
        database,
        storage,
        publisher,
        IngestionRequester(uow, publisher, parsers, clock),
        ingester,
        UploadIngester(storage, parsers, ingester),
        MatchPersister(uow, staging, clock),
    )


def test_upload_ingests_and_persists(world: World) -> None:
    created = world.upload("statsbomb/7/events.txt", b"pass\nshot\ncarry\n", **{"correlation-id": "c-1"})
    result = world.uploads.execute(created, Delivery("ignored", "n-1"))
    assert result.outcome is Outcome.DONE
    world.persist_sent()
    job = world.database.jobs[result.job_id]  # type: ignore[index]
    assert (job.status, job.counts["events"], job.correlation_id) == (JobStatus.SUCCEEDED, 3, "c-1")
    assert len(world.database.matches["7"][0].events) == 3


def test_same_notification_three_times_is_one_ingestion(world: World) -> None:
    created = world.upload("statsbomb/7/events.txt", b"pass\nshot\n")
    outcomes = [world.uploads.execute(created, Delivery("c", "n-1")).outcome for _ in range(3)]
    assert outcomes == [Outcome.DONE, Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert len(world.publisher.sent) == 1 and len(world.database.jobs) == 1


def test_companion_file_waits_for_the_main_file(world: World) -> None:
    lineups = world.upload("statsbomb/7/lineups.json", b"[]")
    assert world.uploads.execute(lineups, Delivery("c", "n-1")).outcome is Outcome.SKIPPED
    assert not world.database.jobs


def test_multi_file_upload_waits_for_its_whole_batch(world: World) -> None:
    tags = {"correlation-id": "batch-1", "batch-size": "2"}
    events = world.upload("statsbomb/7/events.txt", b"pass\n", **tags)
    assert world.uploads.execute(events, Delivery("c", "n-1")).outcome is Outcome.SKIPPED
    lineups = world.upload("statsbomb/7/lineups.json", b"[]", **tags)
    results = [
        world.uploads.execute(n, Delivery("c", f"n-{i}")).outcome for i, n in enumerate((events, lineups))
    ]
    assert results == [Outcome.DONE, Outcome.DUPLICATE]


@pytest.mark.parametrize("key", ["statsbomb/events.txt", "unknown/7/events.txt"])
def test_keys_outside_the_layout_are_skipped(world: World, key: str) -> None:
    assert world.uploads.execute(world.upload(key, b"pass"), Delivery("c", "n")).outcome is Outcome.SKIPPED


def test_bad_input_fails_the_job_with_the_reason(world: World) -> None:
    created = world.upload("statsbomb/7/events.txt", b"   ")
    result = world.uploads.execute(created, Delivery("c", "n-1"))
    job = world.database.jobs[result.job_id]  # type: ignore[index]
    assert (result.outcome, job.status, job.reason) == (
        Outcome.FAILED,
        JobStatus.FAILED,
        "events.txt is empty",
    )
    assert world.publisher.sent == [] and world.database.matches == {}
    # Retrying bad input cannot help: a redelivery is a duplicate.
    assert world.uploads.execute(created, Delivery("c", "n-1")).outcome is Outcome.DUPLICATE


def test_dependency_failure_is_retried_then_fails_the_job_then_redrive_succeeds(world: World) -> None:
    created = world.upload("statsbomb/7/events.txt", b"pass\n")
    world.publisher.down = True
    for attempt in (1, 2):
        with pytest.raises(ServiceUnavailable):
            world.uploads.execute(created, Delivery("c", "n", attempt, 3))
        assert world.job().status is JobStatus.RUNNING  # type: ignore[attr-defined]
    with pytest.raises(ServiceUnavailable):
        world.uploads.execute(created, Delivery("c", "n", 3, 3))
    assert world.job().status is JobStatus.FAILED  # type: ignore[attr-defined]
    assert "gave up after 3 attempts" in world.job().reason  # type: ignore[attr-defined]
    world.publisher.down = False  # the fault is fixed; the dead letter is re-driven
    assert world.uploads.execute(created, Delivery("c", "n", 1, 3)).outcome is Outcome.DONE
    world.persist_sent()
    assert world.job().status is JobStatus.SUCCEEDED  # type: ignore[attr-defined]


def test_persist_is_all_or_nothing_when_the_database_fails(world: World) -> None:
    world.uploads.execute(world.upload("statsbomb/7/events.txt", b"pass\n"), Delivery("c", "n"))
    [(message, correlation_id, key)] = world.publisher.sent
    world.database.down = True
    with pytest.raises(ServiceUnavailable):
        world.persister.execute(message, Delivery(correlation_id, key))  # type: ignore[arg-type]
    world.database.down = False
    assert world.database.matches == {}
    assert world.persister.execute(message, Delivery(correlation_id, key)).outcome is Outcome.DONE  # type: ignore[arg-type]
    assert world.persister.execute(message, Delivery(correlation_id, key)).outcome is Outcome.DUPLICATE  # type: ignore[arg-type]


def test_an_older_ingestion_never_overwrites_a_newer_one(world: World) -> None:
    first = world.upload("statsbomb/7/events.txt", b"pass\n")
    world.uploads.execute(first, Delivery("c", "n-1"))
    second = world.upload("statsbomb/7/events.txt", b"pass\nshot\n")
    world.uploads.execute(second, Delivery("c", "n-2"))
    older, newer = [m for m, _, _ in world.publisher.sent]
    world.persister.execute(newer, Delivery("c", "k-new"))  # type: ignore[arg-type]
    result = world.persister.execute(older, Delivery("c", "k-old"))  # type: ignore[arg-type]
    assert result.outcome is Outcome.SKIPPED and "newer ingestion" in (result.detail or "")
    assert len(world.database.matches["7"][0].events) == 2


def test_requested_ingestion_of_an_unknown_source_is_refused(world: World) -> None:
    with pytest.raises(UnsupportedSource, match="unknown source 'opta'"):
        world.requester.execute("opta", "1", None, "c")


def test_requested_ingestion_when_the_queue_is_down_fails_the_job(world: World) -> None:
    world.publisher.down = True
    with pytest.raises(ServiceUnavailable):
        world.requester.execute("statsbomb", "1", None, "c")
    assert world.job().status is JobStatus.FAILED  # type: ignore[attr-defined]


def test_requested_ingestion_of_an_unknown_match_fails_with_the_reason(world: World) -> None:
    job = world.requester.execute("statsbomb", "999", None, "c")
    [(request, correlation_id, key)] = world.publisher.sent
    result = world.ingester.execute(request, Delivery(correlation_id, key))  # type: ignore[arg-type]
    assert result.outcome is Outcome.FAILED
    stored = world.database.jobs[job.job_id]
    assert stored.status is JobStatus.FAILED and "statsbomb match 999 not found" in (stored.reason or "")
