"""`pitchlens replay FILE`: invoke a handler in-process with a stored event, as Lambda would.

Accepted files (see `events/`): a Lambda SQS event, an S3 event (`aws:s3` records), a MinIO
webhook notification, a bare PitchLens envelope, or an API Gateway HTTP API (v2) event. Bare
notifications and envelopes are wrapped in an SQS event for the function that consumes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from pitchlens.infrastructure import bootstrap
from pitchlens.infrastructure.lambda_sqs import describe_result as _describe
from pitchlens.infrastructure.lambda_sqs import replaying
from pitchlens.infrastructure.messaging import codec, notifications
from pitchlens.infrastructure.settings import FUNCTIONS, Settings
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
        # The queue the records came from names its function, as Lambda's event source mapping does.
        queue = str(records[0].get("eventSourceARN", "")).rsplit(":", 1)[-1]
        by_queue = {settings.queue_name(name): name for name in FUNCTIONS}
        return function or by_queue.get(queue) or _function_for_body(
            records[0].get("body", ""), settings
        ), document
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


@dataclass(frozen=True)
class RecordReport:
    """What a replayed queue record came to: its results (one per message: the record's, then any
    follow-up), or the error that would have sent it back to the queue."""

    message_id: str
    results: list[dict[str, Any]]
    error: str | None

    @property
    def failed(self) -> bool:
        return self.error is not None or any(r["outcome"] in ("failed", "error") for r in self.results)


@dataclass(frozen=True)
class ReplayReport:
    function: str
    records: list[RecordReport] = field(default_factory=list)
    response: dict[str, Any] | None = None
    """The API's answer (API Gateway events): statusCode, body."""

    @property
    def failed(self) -> bool:
        if self.response is not None:
            return int(self.response.get("statusCode", 500)) >= 400
        return any(record.failed for record in self.records)

    def as_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "failed": self.failed,
            "records": [
                {"message_id": r.message_id, "failed": r.failed, "error": r.error, "results": r.results}
                for r in self.records
            ],
            **({"response": self.response} if self.response is not None else {}),
        }


def replay(
    document: Any, settings: Settings, function: str | None = None, *, force: bool = False
) -> ReplayReport:
    """Runs the function's handler on the event, as Lambda would, and reports each record;
    `force` runs the use cases even when their inbox already holds the key (a deliberate re-run)."""
    name, event = plan(document, settings, function)
    handler = load_handler(name)
    context = LocalLambdaContext(name, settings.visibility_timeout_s)
    if name == "api":
        response = handler(event, context)
        return ReplayReport(
            name, response={"statusCode": response.get("statusCode"), "body": response.get("body")}
        )
    with replaying(force) as seen:
        handler(event, context)
    records = [
        RecordReport(
            record["messageId"],
            [_describe(result) for result in seen.results.get(record["messageId"], [])],
            seen.errors.get(record["messageId"]),
        )
        for record in event.get("Records", [])
    ]
    return ReplayReport(name, records)
