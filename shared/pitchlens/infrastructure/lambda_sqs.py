"""The SQS side of every queue-driven handler, as Lambda's SQS event source calls it.

Each record's body is either a PitchLens envelope or an object-created notification. A record
that raises is reported in `batchItemFailures` (only that record is retried); the others are
deleted. Logs carry the function and correlation id; metrics count outcomes and durations.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from pitchlens.application.outcomes import Result
from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.messages import Delivery, Message, ObjectCreated
from pitchlens.infrastructure import metrics
from pitchlens.infrastructure.logging import get_logger, log_context
from pitchlens.infrastructure.messaging import codec, notifications

log = get_logger("pitchlens.function")

TERMINAL_JOB_OUTCOMES = {"persist": {"done": "succeeded", "skipped": "succeeded", "failed": "failed"}}


@dataclass(frozen=True, slots=True)
class Routes:
    """What a function does with each kind of record."""

    on_message: Callable[[Message, Delivery], Result] | None = None
    on_object: Callable[[ObjectCreated, Delivery], Result] | None = None
    max_attempts: int = 3


def handle_sqs_batch(event: dict[str, Any], context: Any, *, function: str, routes: Routes) -> dict[str, Any]:
    """Processes a Lambda SQS event; returns `{"batchItemFailures": [...]}`."""

    def record_handler(record: SQSRecord) -> list[dict[str, Any]]:
        return _handle_record(record, function, routes)

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


def _handle_record(record: SQSRecord, function: str, routes: Routes) -> list[dict[str, Any]]:
    attempt = int(record.attributes.approximate_receive_count or 1)
    queue = record.event_source_arn.rsplit(":", 1)[-1] if record.event_source_arn else function
    correlation_id = _attribute(record, "correlation_id") or str(uuid.uuid4())
    started = time.perf_counter()
    source: str | None = None
    with log_context(function=function, correlation_id=correlation_id, message_id=record.message_id):
        try:
            document = _json(record.body)
            results: list[Result] = []
            if codec.is_envelope(document):
                envelope = codec.decode_envelope(document)
                message = codec.decode_message(envelope)
                source = getattr(message, "source", None)
                delivery = Delivery(
                    envelope.correlation_id, envelope.idempotency_key, attempt, routes.max_attempts
                )
                with log_context(correlation_id=envelope.correlation_id, message_type=envelope.type):
                    if routes.on_message is None:
                        raise InvalidMessage(f"{function} does not consume {envelope.type} messages")
                    results.append(routes.on_message(message, delivery))
            elif notifications.is_notification(document):
                for created in notifications.parse_object_created(document):
                    key = f"s3://{created.bucket}/{created.key}@{created.etag or created.sequencer}"
                    if routes.on_object is None:
                        raise InvalidMessage(f"{function} does not consume object notifications")
                    results.append(
                        routes.on_object(created, Delivery(correlation_id, key, attempt, routes.max_attempts))
                    )
            else:
                raise InvalidMessage("message is neither a PitchLens envelope nor an object notification")
        except Exception as error:
            metrics.FUNCTION_INVOCATIONS.labels(function, "error").inc()
            last = attempt >= routes.max_attempts
            log.error(
                "message failed" + (" on its last attempt; it goes to the dead-letter queue" if last else ""),
                attempt=attempt,
                error=str(error),
                exc_info=True,
            )
            if last:
                metrics.MESSAGES_DEAD_LETTERED.labels(queue).inc()
                if source is not None and function in ("ingest", "persist"):
                    metrics.INGESTION_JOBS.labels(source, "failed").inc()
            raise
        finally:
            metrics.FUNCTION_DURATION.labels(function).observe(time.perf_counter() - started)
        for result in results:
            metrics.FUNCTION_INVOCATIONS.labels(function, result.outcome.value).inc()
            final = (
                "failed"
                if result.outcome.value == "failed"
                else TERMINAL_JOB_OUTCOMES.get(function, {}).get(result.outcome.value)
            )
            if final and result.source and result.source != "video":  # provider data only
                metrics.INGESTION_JOBS.labels(result.source, final).inc()
            log.info(
                "message handled", outcome=result.outcome.value, job_id=result.job_id, detail=result.detail
            )
        return [_describe(r) for r in results]


def _describe(result: Result) -> dict[str, Any]:
    return {
        "outcome": result.outcome.value,
        "job_id": result.job_id,
        "source": result.source,
        "detail": result.detail,
        "counts": result.counts,
    }


def _json(body: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidMessage(f"message body is not JSON: {error}") from error


def _attribute(record: SQSRecord, name: str) -> str | None:
    value = record.raw_event.get("messageAttributes", {}).get(name) or {}
    text = value.get("stringValue")
    return str(text) if text else None
