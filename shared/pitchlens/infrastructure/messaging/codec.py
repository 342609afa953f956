"""The envelope codec: domain messages <-> JSON text on the wire.

Wire format (one JSON object per queue message)::

    {"type": "MatchIngested", "version": 1, "message_id": "...", "correlation_id": "...",
     "idempotency_key": "...", "occurred_at": "2026-11-21T10:00:00+00:00", "payload": {...}}
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import (
    CalibrationRequested,
    ConcatRequested,
    DetectionRequested,
    Envelope,
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

MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        IngestionRequested,
        RawDataUploaded,
        MatchIngested,
        VideoUploaded,
        DetectionRequested,
        PlayersDetected,
        SegmentTrackingRequested,
        TracksStitchRequested,
        VideoProcessed,
        RenderRequested,
        HighlightsRequested,
        FinalizeRequested,
        FinalClipRequested,
        ConcatRequested,
        CalibrationRequested,
    )
}
"""Every message type that travels in an envelope (which function consumes each: the composition
root's `consumers` table)."""

ENVELOPE_FIELDS = ("type", "version", "correlation_id", "idempotency_key", "payload")


def encode(message: Message, *, correlation_id: str, idempotency_key: str) -> str:
    envelope = {
        "type": message.TYPE,
        "version": message.VERSION,
        "message_id": str(uuid.uuid4()),
        "correlation_id": correlation_id,
        "idempotency_key": idempotency_key,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": msgspec.to_builtins(message),
    }
    return msgspec.json.encode(envelope).decode()


def is_envelope(document: object) -> bool:
    return isinstance(document, dict) and all(name in document for name in ENVELOPE_FIELDS)


def decode_envelope(document: dict[str, Any]) -> Envelope:
    """Checks the envelope's shape; raises InvalidMessage naming what is wrong."""
    missing = [name for name in ENVELOPE_FIELDS if name not in document]
    if missing:
        raise InvalidMessage(f"not a PitchLens envelope: missing {', '.join(missing)}")
    try:
        return msgspec.convert(
            {
                "message_id": "",
                "occurred_at": datetime.now(UTC).isoformat(),
                **{k: v for k, v in document.items() if k in Envelope.__dataclass_fields__},
            },
            type=Envelope,
            strict=False,
        )
    except msgspec.ValidationError as error:
        raise InvalidMessage(f"malformed envelope: {error}") from error


def decode_message(envelope: Envelope) -> Message:
    """The typed message inside an envelope; raises InvalidMessage for unknown types/versions."""
    cls = MESSAGE_TYPES.get(envelope.type)
    if cls is None:
        raise InvalidMessage(f"unknown message type {envelope.type!r}; known: {', '.join(MESSAGE_TYPES)}")
    if envelope.version > cls.VERSION or envelope.version < 1:
        raise InvalidMessage(
            f"{envelope.type} version {envelope.version} is not supported (<= {cls.VERSION})"
        )
    try:
        return msgspec.convert(envelope.payload, type=cls, strict=False)
    except msgspec.ValidationError as error:
        raise InvalidMessage(f"{envelope.type} payload is invalid: {error}") from error


def decode(text: str | bytes) -> tuple[Envelope, Message]:
    try:
        document = msgspec.json.decode(text)
    except msgspec.DecodeError as error:
        raise InvalidMessage(f"message body is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise InvalidMessage("message body is not a JSON object")
    envelope = decode_envelope(document)
    return envelope, decode_message(envelope)
