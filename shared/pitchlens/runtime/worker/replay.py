"""`pitchlens replay FILE`: invoke a handler in-process with a stored event, as Lambda would.

Accepted files (see `events/`): a Lambda SQS event, an S3 event (`aws:s3` records), a MinIO
webhook notification, a bare PitchLens envelope, or an API Gateway HTTP API (v2) event. Bare
notifications and envelopes are wrapped in an SQS event for the function that consumes them."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from pitchlens.infrastructure import bootstrap
from pitchlens.infrastructure.messaging import codec, notifications
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.worker.functions import load_handler
from pitchlens.runtime.worker.poller import LocalLambdaContext


class ReplayError(ValueError):
    """The file is not an event this command knows how to replay."""


def plan(document: Any, settings: Settings, function: str | None) -> tuple[str, dict[str, Any]]:
    """(function name, event to pass to its handler) for a stored event."""
    if not isinstance(document, dict):
        raise ReplayError("an event file holds one JSON object")
    if "requestContext" in document and ("routeKey" in document or "rawPath" in document):
        return function or "api", document
    records = document.get("Records")
    if isinstance(records, list) and records and all(r.get("eventSource") == "aws:sqs" for r in records):
        return function or _function_for_body(records[0].get("body", ""), settings), document
    if notifications.is_notification(document):
        body = orjson.dumps(document).decode()
        return function or _function_for_body(body, settings), _sqs_event_of(body, settings)
    if codec.is_envelope(document):
        body = orjson.dumps(document).decode()
        return function or _function_for_body(body, settings), _sqs_event_of(body, settings)
    raise ReplayError(
        "unknown event: expected an SQS, S3, MinIO, API Gateway v2 event or a PitchLens envelope"
    )


def _function_for_body(body: str, settings: Settings) -> str:
    document = orjson.loads(body)
    if codec.is_envelope(document):
        functions = {
            kind.TYPE: consumer.function for kind, consumer in bootstrap.Container(settings).consumers.items()
        }
        function = functions.get(document["type"])
        if function is None:
            raise ReplayError(f"no function consumes {document['type']}; pass --function")
        return function
    created = notifications.parse_object_created(document)
    if not created:
        raise ReplayError("the notification holds no object-created record; pass --function")
    function = settings.notification_routes.get(created[0].bucket)
    if function is None:
        raise ReplayError(f"no function is notified for bucket {created[0].bucket}; pass --function")
    return function


def _sqs_event_of(body: str, settings: Settings) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "replay",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{settings.aws_region}:000000000000:replay",
                "awsRegion": settings.aws_region,
            }
        ]
    }


def replay(document: Any, settings: Settings, function: str | None = None) -> tuple[str, Any]:
    """Runs the handler; returns (function, what it returned)."""
    name, event = plan(document, settings, function)
    handler = load_handler(name)
    return name, handler(event, LocalLambdaContext(name, settings.visibility_timeout_s))
