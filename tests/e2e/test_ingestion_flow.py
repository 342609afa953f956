"""The whole event chain on the embedded stack: upload / API -> ingest -> persist -> PostgreSQL."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import orjson
import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

MATCH = "3788741"


def statsbomb_files(statsbomb_dir: Path, match_id: str) -> dict[str, bytes]:
    data = statsbomb_dir / "data"
    return {
        "lineups.json": (data / "lineups" / f"{match_id}.json").read_bytes(),
        "events.json": (data / "events" / f"{match_id}.json").read_bytes(),
    }


def test_uploaded_statsbomb_files_persist_every_event(running: RunningStack, statsbomb_dir: Path) -> None:
    files = statsbomb_files(statsbomb_dir, MATCH)
    expected = len(json.loads(files["events.json"]))
    correlation_id = running.upload_batch(f"statsbomb/{MATCH}", files)
    job = running.job(correlation_id=correlation_id)
    assert job["status"] == "SUCCEEDED", job
    assert job["counts"]["events"] == expected
    # The seed's check, as written, with a quoted and an unquoted id.
    assert running.sql(f"SELECT count(*) FROM events WHERE match_id = '{MATCH}'") == [(expected,)]
    assert running.sql(f"SELECT count(*) FROM events WHERE match_id = {MATCH}") == [(expected,)]
    assert running.sql("SELECT count(*) FROM match_players WHERE match_id = %s", MATCH) == [(46,)]


def test_the_same_notification_three_times_is_one_ingestion(
    running: RunningStack, statsbomb_dir: Path
) -> None:
    files = statsbomb_files(statsbomb_dir, "9880")
    correlation_id = running.upload_batch("statsbomb/9880", files)
    assert running.job(correlation_id=correlation_id)["status"] == "SUCCEEDED"
    before = running.sql("SELECT count(*) FROM events WHERE match_id = '9880'")
    head = running.s3.head_object(Bucket="raw-data", Key="statsbomb/9880/events.json")
    notification = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "raw-data"},
                    "object": {
                        "key": "statsbomb/9880/events.json",
                        "size": 1,
                        "eTag": head["ETag"].strip('"'),
                    },
                },
            }
        ]
    }
    for _ in range(3):
        running.sqs.send_message(
            QueueUrl=running.queue_url("pitchlens-ingest"), MessageBody=json.dumps(notification)
        )
    _drain(running, "pitchlens-ingest")
    _drain(running, "pitchlens-persist")
    jobs = running.api.get("/api/v1/jobs", params={"match_id": "9880"}).json()
    assert jobs["total"] == len(jobs["jobs"]) == 1
    assert running.sql("SELECT count(*) FROM events WHERE match_id = '9880'") == before


def test_api_ingest_then_query(running: RunningStack) -> None:
    response = running.api.post(
        "/api/v1/ingest",
        json={"source": "statsbomb", "match_id": MATCH},
        headers={"X-Correlation-ID": "api-corr-1"},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    job = running.job(job_id=accepted["job_id"])
    assert (job["status"], job["correlation_id"], job["progress"]) == ("SUCCEEDED", "api-corr-1", 1.0)
    # Re-ingesting upserts: the event count does not change.
    assert running.sql("SELECT count(*) FROM events WHERE match_id = %s", MATCH) == [
        (job["counts"]["events"],)
    ]

    summary = running.api.get(f"/api/v1/matches/{MATCH}").json()
    assert (summary["home_team"], summary["away_team"]) == ("Turkey", "Italy")
    listed = running.api.get("/api/v1/matches").json()
    assert listed["total"] >= 1 and any(m["match_id"] == MATCH for m in listed["matches"])

    shots = running.api.get(f"/api/v1/matches/{MATCH}/events", params={"type": "shot", "limit": 5}).json()
    assert shots["total"] >= 20 and len(shots["events"]) == 5
    assert all(e["type"] == "shot" and -52.5 <= e["start"]["x"] <= 52.5 for e in shots["events"])
    assert all(e["player_name"] and e["team_name"] in ("Turkey", "Italy") for e in shots["events"])
    page2 = running.api.get(
        f"/api/v1/matches/{MATCH}/events", params={"type": "shot", "limit": 5, "offset": 5}
    ).json()
    assert {e["event_id"] for e in page2["events"]}.isdisjoint({e["event_id"] for e in shots["events"]})

    player = shots["events"][0]["player_id"]
    by_player = running.api.get(
        f"/api/v1/matches/{MATCH}/events", params={"player": player, "limit": 1000}
    ).json()
    assert by_player["total"] > 0 and all(e["player_id"] == player for e in by_player["events"])


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("events.json", b"", "empty"),
        ("events.json", b"this is not json", "JSON"),
        ("events.json", b'[{"id": "x", "type": {"name": "Pass"}', "JSON"),
        ("events.json", b'{"hello": "world"}', "events"),
    ],
    ids=["empty", "not-json", "truncated", "wrong-schema"],
)
def test_malformed_upload_fails_the_job_with_a_reason(
    running: RunningStack, name: str, data: bytes, problem: str
) -> None:
    match_id = f"bad-{abs(hash((name, data))) % 10**8}"
    correlation_id = running.upload_batch(f"statsbomb/{match_id}", {name: data})
    job = running.job(correlation_id=correlation_id)
    assert job["status"] == "FAILED"
    assert "events.json" in job["reason"] and problem.lower() in job["reason"].lower(), job["reason"]
    assert running.sql("SELECT count(*) FROM matches WHERE match_id = %s", match_id) == [(0,)]
    assert running.api.get("/healthz").status_code == 200  # the workers keep running


def test_unknown_match_offline_fails_with_a_reason(running: RunningStack) -> None:
    accepted = running.api.post(
        "/api/v1/ingest", json={"source": "statsbomb", "match_id": "123456789"}
    ).json()
    job = running.job(job_id=accepted["job_id"])
    assert job["status"] == "FAILED" and "123456789" in job["reason"]


def test_api_validates_input(running: RunningStack) -> None:
    assert running.api.post("/api/v1/ingest", json={"source": "opta", "match_id": "1"}).status_code == 422
    assert running.api.post("/api/v1/ingest", json={"source": "statsbomb"}).status_code == 422
    assert running.api.post("/api/v1/ingest", content=b"nope").status_code == 422
    missing = running.api.get("/api/v1/jobs/does-not-exist")
    assert missing.status_code == 404 and missing.json()["error"] == "JobNotFound"
    assert running.api.get("/api/v1/matches/nope/events").status_code == 404


def test_minio_webhook_needs_the_token_and_enqueues(running: RunningStack) -> None:
    document = orjson.loads(
        (Path(__file__).parents[2] / "events" / "minio-webhook-raw-data-object-created.json").read_bytes()
    )
    assert running.api.post("/api/v1/notifications/minio", json=document).status_code == 401
    response = running.api.post(
        "/api/v1/notifications/minio",
        json=document,
        headers={"Authorization": f"Bearer {running.settings.notification_token}"},
    )
    assert response.status_code == 202 and response.json() == {"queued": 1}
    _drain(running, "pitchlens-ingest")


def test_metrics_are_exported(running: RunningStack) -> None:
    text = running.api.get("/metrics").text
    for sample in (
        'pitchlens_function_invocations_total{function="ingest",outcome="done"}',
        'pitchlens_function_invocations_total{function="persist",outcome="done"}',
        'pitchlens_ingestion_jobs_total{outcome="succeeded",source="statsbomb"}',
        'pitchlens_ingestion_jobs_total{outcome="failed",source="statsbomb"}',
        'pitchlens_function_duration_seconds_bucket{function="persist"',
    ):
        assert sample in text, sample


def test_metrica_events_and_tracking_are_normalised(running: RunningStack, metrica_dir: Path) -> None:
    game = metrica_dir / "Sample_Game_3"
    files = {
        p.name: p.read_bytes()
        for p in (game / "Sample_Game_3_events.json", game / "Sample_Game_3_metadata.xml")
    }
    job = running.job(correlation_id=running.upload_batch("metrica/game-3", files))
    assert job["status"] == "SUCCEEDED", job
    expected = len(orjson.loads(files["Sample_Game_3_events.json"])["data"])
    assert running.sql("SELECT count(*) FROM events WHERE match_id = 'game-3'") == [(expected,)]
    # One frame for both teams: home shots at x > 0, away shots at x < 0, in both halves.
    rows = running.sql(
        "SELECT e.team_id = m.home_team_id, e.period, avg(e.start_x) FROM events e"
        " JOIN matches m USING (match_id) WHERE match_id = 'game-3' AND type = 'shot' GROUP BY 1, 2"
    )
    assert {(home, period) for home, period, _ in rows} == {(True, 1), (True, 2), (False, 1), (False, 2)}
    assert all((x > 0) == home for home, _, x in rows), rows

    excerpts = metrica_dir / "kloppy_test_excerpts"
    tracking = {name: (excerpts / name).read_bytes() for name in ("metrica_home.csv", "metrica_away.csv")}
    job = running.job(correlation_id=running.upload_batch("metrica/tracking-excerpt", tracking))
    assert job["status"] == "SUCCEEDED", job
    [(uri, rows_stored)] = running.sql(
        "SELECT tracking_uri, tracking_rows FROM matches WHERE match_id = 'tracking-excerpt'"
    )
    assert uri == "s3://tracking-data/provider/metrica/tracking-excerpt/tracking.parquet"
    import io

    import pyarrow.parquet as pq

    table = pq.read_table(
        io.BytesIO(
            running.s3.get_object(Bucket="tracking-data", Key=uri[len("s3://tracking-data/") :])[
                "Body"
            ].read()
        )
    )
    assert table.num_rows == rows_stored == job["counts"]["tracking_rows"] > 0
    assert {"frame", "object_id", "x", "y"} <= set(table.column_names)


def test_correlation_id_follows_the_work_into_every_log_line(running: RunningStack) -> None:
    formatter = logging.getLogger().handlers[0].formatter  # the JSON formatter the stack configured
    assert formatter is not None
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))

    collector = Collect()
    logging.getLogger().addHandler(collector)
    try:
        accepted = running.api.post(
            "/api/v1/ingest",
            json={"source": "statsbomb", "match_id": "9880"},
            headers={"X-Correlation-ID": "trace-42"},
        )
        assert accepted.headers["X-Correlation-ID"] == "trace-42"
        running.job(job_id=accepted.json()["job_id"])
        time.sleep(0.3)
    finally:
        logging.getLogger().removeHandler(collector)
    documents = [orjson.loads(line) for line in lines]  # every line is one JSON object
    traced = [d for d in documents if d.get("correlation_id") == "trace-42"]
    assert {d.get("function") for d in traced} >= {"api", "ingest", "persist"}
    for document in traced:
        assert {"timestamp", "level", "message", "function", "correlation_id"} <= set(document)


def _drain(running: RunningStack, queue: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while running.queue_depth(queue) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running.queue_depth(queue) == 0
