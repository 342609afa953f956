from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import (
    CalibrationRequested,
    ConcatRequested,
    DetectionRequested,
    FinalClipRequested,
    FinalizeRequested,
    HighlightsRequested,
    IngestionRequested,
    MatchIngested,
    Message,
    PlayersDetected,
    RawDataUploaded,
    RenderRequested,
    SegmentTrackingRequested,
    TracksStitchRequested,
    VideoProcessed,
    VideoUploaded,
)
from pitchlens.infrastructure.bootstrap import Container
from pitchlens.infrastructure.messaging import codec
from pitchlens.infrastructure.settings import Settings
from tests.conftest import REPO_ROOT

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
    RawDataUploaded(bucket="raw-data", key="statsbomb/1/events.json", size=12, etag="e1", sequencer="01"),
    VideoUploaded(bucket="videos", key="m1/a b.mp4", size=1024, etag="e2"),
    DetectionRequested(
        job_id="j3", clip_id="c1", match_id="m1", video_uri="s3://videos/m1/a.mp4", frame_index=5
    ),
    PlayersDetected(
        job_id="j3",
        clip_id="c1",
        match_id="m1",
        video_uri="s3://videos/m1/a.mp4",
        frame_index=5,
        frame_uri="s3://artifacts/m1/c1/frame_5.jpg",
        detections_uri="s3://artifacts/m1/c1/detections.json",
        detections=21,
    ),
    SegmentTrackingRequested(
        job_id="j3",
        clip_id="c1",
        match_id="m1",
        video_uri="s3://videos/m1/a.mp4",
        segment=2,
        segments=90,
        start=3000,
        stop=4500,
        track_from=2990,
        fps=25.0,
        seek_pts=2990000,
        start_pts=2990000,
    ),
    TracksStitchRequested(job_id="j3", clip_id="c1", match_id="m1", fps=25.0),
    VideoProcessed(
        job_id="j3",
        clip_id="c1",
        match_id="m1",
        tracks_uri="s3://artifacts/t.parquet",
        frames=9,
        tracks=2,
        fps=25.0,
    ),
    RenderRequested(
        job_id="j4", clip_id="c1", match_id="m1", frame_index=0, box=(1.0, 2.0, 3.5, 4.0), preset="final"
    ),
    RenderRequested(
        job_id="j4", clip_id="c1", match_id="m1", frame_index=0, box=(1.0, 2.0, 3.5, 4.0), minimap=True
    ),
    HighlightsRequested(
        job_id="j5",
        session_id="s1",
        game_video_uri="s3://a/g.mp4",
        intervals_uri="s3://a/i.csv",
        padding_s=1.5,
    ),
    FinalizeRequested(job_id="j6", session_id="s1"),
    FinalClipRequested(job_id="j6", session_id="s1", clip_id="c1", position=2, clips=3),
    ConcatRequested(
        job_id="j7", clip_uris=("s3://outputs/a.mp4", "s3://outputs/b.mp4"), game="g", player="p"
    ),
    ConcatRequested(job_id="j6", clip_uris=("s3://outputs/a.mp4",), game="g", player="p", session_id="s1"),
    CalibrationRequested(
        job_id="j8",
        clip_id="c1",
        match_id="m1",
        frame_index=12,
        points=(("centre_spot", 424.0, 260.5), ("halfway_far", 430.0, 120.0)),
        orientation="home_attacks_left",
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


def test_every_message_type_round_trips_and_has_one_consumer() -> None:
    consumers = Container(Settings()).consumers
    assert set(codec.MESSAGE_TYPES.values()) == set(consumers) == {type(m) for m in MESSAGES}


def test_a_render_message_from_before_the_minimap_decodes_without_it() -> None:
    """The replay sample (and any message queued before the field existed) has no `minimap`."""
    sample = orjson.loads((REPO_ROOT / "events" / "message-render-requested.json").read_bytes())
    assert "minimap" not in sample["payload"]
    text = orjson.dumps({k: v for k, v in sample.items() if k not in ("seed", "expect")})
    _, decoded = codec.decode(text)
    assert isinstance(decoded, RenderRequested) and decoded.minimap is False
    assert decoded.indicator == "circle" and decoded.box == (207.4, 292.5, 220.2, 322.1)


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
