"""Failures against the real services: retries, dead letters, re-drive, the database going away."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pitchlens.infrastructure import aws_clients
from pitchlens.infrastructure.messaging.dead_letters import DeadLetterOffice
from tests.conftest import service_dir
from tests.e2e.conftest import RunningStack, start_stack
from tests.e2e.test_ingestion_flow import statsbomb_files

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running(statsbomb_dir: Path) -> Iterator[RunningStack]:
    with service_dir("reliability") as folder:
        yield from start_stack(folder, statsbomb_dir)


def wait_until(condition: object, timeout: float = 30, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting: {message}")


def test_database_down_dead_letters_after_three_receives_then_redrive_processes_once(
    running: RunningStack, statsbomb_dir: Path
) -> None:
    running.stack.postgres.stop()
    try:
        correlation_id = running.upload_batch("statsbomb/9880", statsbomb_files(statsbomb_dir, "9880"))
        # visibility timeout 2 s, 3 receives: the notification reaches the DLQ in ~6 s.
        wait_until(lambda: running.queue_depth("pitchlens-ingest-dlq") >= 1, 40, "message in the DLQ")
        assert running.queue_depth("pitchlens-ingest") == 0
    finally:
        running.stack.postgres.start()
    metrics = running.api.get("/metrics").text
    assert 'pitchlens_messages_dead_lettered_total{queue="pitchlens-ingest"}' in metrics

    office = DeadLetterOffice(aws_clients.sqs_client(running.settings), running.settings)
    # One notification per uploaded file; each that reached the database failed 3 times.
    letters = office.peek("pitchlens-ingest-dlq")
    assert 1 <= len(letters) <= 2
    assert all(letter.type == "ObjectCreated" and letter.receive_count >= 3 for letter in letters)
    assert office.redrive("pitchlens-ingest-dlq", "pitchlens-ingest") == len(letters)
    job = running.job(correlation_id=correlation_id)
    assert job["status"] == "SUCCEEDED", job
    assert running.sql("SELECT count(*) FROM events WHERE match_id = '9880'") == [(job["counts"]["events"],)]
    assert running.api.get("/api/v1/jobs", params={"match_id": "9880"}).json()["total"] == 1
    assert running.queue_depth("pitchlens-ingest-dlq") == 0


def test_database_stopped_mid_persist_leaves_no_partial_rows_and_the_retry_succeeds(
    running: RunningStack, statsbomb_dir: Path
) -> None:
    url = running.info.database_url.replace("+psycopg", "")
    locker = psycopg.connect(url)
    locker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")  # persist will block inside its transaction
    correlation_id = running.upload_batch(f"statsbomb/{3788741}", statsbomb_files(statsbomb_dir, "3788741"))

    def persist_is_blocked() -> bool:
        with psycopg.connect(url, autocommit=True) as probe:
            rows = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND state = 'active'"
            ).fetchone()
        return bool(rows and rows[0])

    wait_until(persist_is_blocked, 30, "persist waiting on the lock, mid-transaction")
    stopper = threading.Thread(target=running.stack.postgres.stop)
    stopper.start()
    stopper.join(60)
    with contextlib.suppress(psycopg.Error):
        locker.close()
    running.stack.postgres.start()
    job = running.job(correlation_id=correlation_id, timeout=90)
    assert job["status"] == "SUCCEEDED", job
    # All or nothing: exactly one copy of every event, the match row, the players.
    assert running.sql("SELECT count(*) FROM events WHERE match_id = '3788741'") == [
        (job["counts"]["events"],)
    ]
    assert running.sql("SELECT count(*) FROM matches WHERE match_id = '3788741'") == [(1,)]
    assert running.sql("SELECT count(*) FROM match_players WHERE match_id = '3788741'") == [(46,)]
