"""The ingestion use cases in their message pipelines, against fakes: jobs, idempotency, bad input,
dependency failures."""

from __future__ import annotations

import pytest

from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.errors import InvalidMatchData, ServiceUnavailable, UnsupportedSource
from pitchlens.domain.jobs import JobStatus
from pitchlens.domain.messages import MatchIngested, RawDataUploaded
from pitchlens.domain.model import Coordinates, Event, EventType, Match, Team
from pitchlens.domain.ports import RawMatchData
from tests.fakes.system import FakeSystem

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


class World(FakeSystem):
    def upload(self, key: str, data: bytes, **metadata: str) -> RawDataUploaded:
        stored = self.storage.put("raw-data", key, data, metadata=metadata)
        return RawDataUploaded("raw-data", key, stored.size, stored.etag)

    def ingest(self, created: RawDataUploaded, key: str = "n-1", attempt: int = 1) -> list[Result]:
        return self.deliver(created, key, attempt)

    def persist_sent(self) -> list[Result]:
        return self.drain()


def outcomes(results: list[Result]) -> list[Outcome]:
    return [result.outcome for result in results]


@pytest.fixture
def world() -> World:
    return World(parse_lines)


def test_upload_ingests_and_persists(world: World) -> None:
    created = world.upload("statsbomb/7/events.txt", b"pass\nshot\ncarry\n", **{"correlation-id": "c-1"})
    upload, result = world.ingest(created)
    assert (upload.outcome, result.outcome) == (Outcome.DONE, Outcome.DONE)
    world.persist_sent()
    job = world.database.jobs[result.job_id]  # type: ignore[index]
    assert (job.status, job.counts["events"], job.correlation_id) == (JobStatus.SUCCEEDED, 3, "c-1")
    assert len(world.database.matches["7"][0].events) == 3


def test_same_notification_three_times_is_one_ingestion(world: World) -> None:
    created = world.upload("statsbomb/7/events.txt", b"pass\nshot\n")
    handled = [outcomes(world.ingest(created))[-1] for _ in range(3)]
    assert handled == [Outcome.DONE, Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert len(world.publisher.sent) == 1 and len(world.database.jobs) == 1


def test_companion_file_waits_for_the_main_file(world: World) -> None:
    lineups = world.upload("statsbomb/7/lineups.json", b"[]")
    assert outcomes(world.ingest(lineups)) == [Outcome.SKIPPED]
    assert not world.database.jobs


def test_multi_file_upload_waits_for_its_whole_batch(world: World) -> None:
    tags = {"correlation-id": "batch-1", "batch-size": "2"}
    events = world.upload("statsbomb/7/events.txt", b"pass\n", **tags)
    assert outcomes(world.ingest(events)) == [Outcome.SKIPPED]
    lineups = world.upload("statsbomb/7/lineups.json", b"[]", **tags)
    results = [outcomes(world.ingest(n, f"n-{i}"))[-1] for i, n in enumerate((events, lineups))]
    assert results == [Outcome.DONE, Outcome.DUPLICATE]


@pytest.mark.parametrize("key", ["statsbomb/events.txt", "unknown/7/events.txt"])
def test_keys_outside_the_layout_are_skipped(world: World, key: str) -> None:
    assert outcomes(world.ingest(world.upload(key, b"pass"))) == [Outcome.SKIPPED]


def test_bad_input_fails_the_job_with_the_reason(world: World) -> None:
    created = world.upload("statsbomb/7/events.txt", b"   ")
    _, result = world.ingest(created)
    job = world.database.jobs[result.job_id]  # type: ignore[index]
    assert (result.outcome, job.status, job.reason) == (
        Outcome.FAILED,
        JobStatus.FAILED,
        "events.txt is empty",
    )
    assert world.publisher.sent == [] and world.database.matches == {}
    # Retrying bad input cannot help: a redelivery is a duplicate.
    assert outcomes(world.ingest(created)) == [Outcome.DONE, Outcome.DUPLICATE]


def test_dependency_failure_is_retried_then_fails_the_job_then_redrive_succeeds(world: World) -> None:
    created = world.upload("statsbomb/7/events.txt", b"pass\n")
    world.publisher.down = True
    for attempt in (1, 2):
        with pytest.raises(ServiceUnavailable):
            world.ingest(created, attempt=attempt)
        assert world.job().status is JobStatus.RUNNING
    with pytest.raises(ServiceUnavailable):
        world.ingest(created, attempt=3)
    assert world.job().status is JobStatus.FAILED
    assert "gave up after 3 attempts" in (world.job().reason or "")
    world.publisher.down = False  # the fault is fixed; the dead letter is re-driven
    assert outcomes(world.ingest(created)) == [Outcome.DONE, Outcome.DONE]
    world.persist_sent()
    assert world.job().status is JobStatus.SUCCEEDED


def test_persist_is_all_or_nothing_when_the_database_fails(world: World) -> None:
    world.ingest(world.upload("statsbomb/7/events.txt", b"pass\n"))
    [(message, _, key)] = world.publisher.sent
    world.database.down = True
    with pytest.raises(ServiceUnavailable):
        world.deliver(message, key)
    world.database.down = False
    assert world.database.matches == {}
    assert outcomes(world.deliver(message, key)) == [Outcome.DONE]
    assert outcomes(world.deliver(message, key)) == [Outcome.DUPLICATE]


def test_an_older_ingestion_never_overwrites_a_newer_one(world: World) -> None:
    first = world.upload("statsbomb/7/events.txt", b"pass\n")
    world.ingest(first, "n-1")
    second = world.upload("statsbomb/7/events.txt", b"pass\nshot\n")
    world.ingest(second, "n-2")
    older, newer = world.published(MatchIngested)
    world.deliver(newer, "k-new")
    [result] = world.deliver(older, "k-old")
    assert result.outcome is Outcome.SKIPPED and "newer ingestion" in (result.detail or "")
    assert len(world.database.matches["7"][0].events) == 2


def test_requested_ingestion_of_an_unknown_source_is_refused(world: World) -> None:
    with pytest.raises(UnsupportedSource, match="unknown source 'opta'"):
        world.ingestion_requester.execute("opta", "1", None, "c")


def test_requested_ingestion_when_the_queue_is_down_fails_the_job(world: World) -> None:
    world.publisher.down = True
    with pytest.raises(ServiceUnavailable):
        world.ingestion_requester.execute("statsbomb", "1", None, "c")
    assert world.job().status is JobStatus.FAILED


def test_requested_ingestion_of_an_unknown_match_fails_with_the_reason(world: World) -> None:
    job = world.ingestion_requester.execute("statsbomb", "999", None, "c")
    [result] = world.drain()
    assert result.outcome is Outcome.FAILED
    stored = world.database.jobs[job.job_id]
    assert stored.status is JobStatus.FAILED and "statsbomb match 999 not found" in (stored.reason or "")
