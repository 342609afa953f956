from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import IngestionRequested, MatchIngested, Message
from pitchlens.infrastructure.messaging import codec

pytestmark = pytest.mark.unit

MESSAGES: list[Message] = [
    IngestionRequested(job_id="j1", source="statsbomb", match_id="3788741"),
    IngestionRequested(job_id="j2", source="metrica", match_id="g1", location="s3://raw-data/metrica/g1/"),
    MatchIngested(
        job_id="j1",
        source="statsbomb",
        match_id="3788741",
        match_uri="s3://artifacts/staging/matches/j1/match.json.gz",
        ingested_at=datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC),
        tracking_uri=None,
        counts={"events": 3803, "players": 46},
    ),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.TYPE)
def test_every_message_type_round_trips(message: Message) -> None:
    text = codec.encode(message, correlation_id="corr-1", idempotency_key="key-1")
    envelope, decoded = codec.decode(text)
    assert decoded == message
    assert (envelope.type, envelope.version) == (message.TYPE, message.VERSION)
    assert (envelope.correlation_id, envelope.idempotency_key) == ("corr-1", "key-1")
    assert envelope.message_id and envelope.occurred_at.tzinfo is not None


def test_every_message_type_has_a_consumer() -> None:
    assert set(codec.MESSAGE_TYPES) == set(codec.MESSAGE_ROUTES)


def test_messages_stay_small() -> None:
    # Claim checks: a message describing a whole match is a pointer plus counts, not the data.
    assert len(codec.encode(MESSAGES[2], correlation_id="c", idempotency_key="k")) < 1024


def _envelope(**changes: object) -> bytes:
    document = orjson.loads(codec.encode(MESSAGES[0], correlation_id="c", idempotency_key="k"))
    document.update(changes)
    return orjson.dumps(document)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "IngestionRequested"}', "missing"),
        (_envelope(type="Nope"), "unknown message type 'Nope'"),
        (_envelope(version=99), "version 99 is not supported"),
        (_envelope(payload={"job_id": "j"}), "payload is invalid"),
        (_envelope(payload={"job_id": 1, "source": [], "match_id": "m"}), "payload is invalid"),
    ],
)
def test_bad_messages_are_rejected_with_the_reason(body: bytes, problem: str) -> None:
    with pytest.raises(InvalidMessage, match=problem):
        codec.decode(body)
