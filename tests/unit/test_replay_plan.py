"""Every stored event payload in events/ is one `pitchlens replay` knows where to send."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.worker.replay import ReplayError, plan

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).resolve().parents[2] / "events"

EXPECTED: dict[str, str] = {
    "sqs-s3-raw-data-object-created.json": "ingest",
    "sqs-s3-videos-object-created.json": "detect",
    "sqs-s3-test-event.json": "ingest",  # holds no object: the queue it came from names the function
    "s3-raw-data-object-created.json": "ingest",
    "minio-webhook-raw-data-object-created.json": "ingest",
    "message-ingestion-requested.json": "ingest",
    "message-match-ingested.json": "persist",
    "message-video-processed.json": "persist",
    "message-detection-requested.json": "detect",
    "message-players-detected.json": "track",
    "message-segment-tracking-requested.json": "track",
    "message-tracks-stitch-requested.json": "track",
    "message-calibration-requested.json": "track",
    "message-render-requested.json": "render",
    "message-finalize-requested.json": "render",
    "message-final-clip-requested.json": "render",
    "message-highlights-requested.json": "render",
    "message-concat-requested.json": "render",
    "apigw-v2-post-ingest.json": "api",
    "apigw-v2-get-matches.json": "api",
}


def test_every_event_file_is_listed() -> None:
    assert {p.name for p in EVENTS.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize(("name", "function"), sorted(EXPECTED.items()))
def test_event_files_route_to_their_function(name: str, function: str) -> None:
    document = orjson.loads((EVENTS / name).read_bytes())
    chosen, event = plan(document, Settings(), None)
    assert chosen == function
    if function != "api":
        assert all(record["eventSource"] == "aws:sqs" for record in event["Records"])


def test_unknown_documents_are_refused() -> None:
    with pytest.raises(ReplayError, match="unknown event"):
        plan({"hello": "world"}, Settings(), None)
