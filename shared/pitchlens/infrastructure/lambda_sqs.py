"""The SQS side of every queue-driven function, as Lambda's SQS event source calls it.

Each record's body is a PitchLens envelope or an object-created notification; it is decoded into
messages and handed to the function's `MessagePipeline` (application layer: inbox, failures,
retries). A record that raises is reported in `batchItemFailures` (only that record is retried);
the others are deleted. Logs carry the function, correlation id, Lambda request id and cold-start
flag; metrics count the outcomes the pipeline reports and the duration of each record (Prometheus,
plus CloudWatch EMF on Lambda: `FunctionMetrics`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import orjson
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from pitchlens.application.message_pipeline import MessagePipeline
from pitchlens.application.outcomes import Result
from pitchlens.domain.errors import InvalidMessage
from pitchlens.domain.jobs import JobKind
from pitchlens.domain.messages import Delivery, Message, ObjectCreated
from pitchlens.infrastructure.lambda_context import lambda_invocation
from pitchlens.infrastructure.logging import get_logger, log_context
from pitchlens.infrastructure.messaging import codec, notifications
from pitchlens.infrastructure.metrics import FunctionMetrics

log = get_logger("pitchlens.function")


@dataclass
class Replay:
    """What a deliberate replay asks of the handlers it invokes (`replaying`), and what they did:
    per record, its results or its error."""

    force: bool = False
    """Run the use cases even when their inbox already holds the message's key."""
    results: dict[str, list[Result]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


_REPLAY: ContextVar[Replay | None] = ContextVar("pitchlens_replay", default=None)


@contextmanager
def replaying(force: bool = False) -> Iterator[Replay]:
    """Handlers called inside record what happened to each record, and bypass inboxes if `force`."""
    replay = Replay(force)
    token = _REPLAY.set(replay)
    try:
        yield replay
    finally:
        _REPLAY.reset(token)


def handle_sqs_batch(event: dict[str, Any], context: Any, *, function: str) -> dict[str, Any]:
    """Processes a Lambda SQS event for `function`; returns `{"batchItemFailures": [...]}`."""
    from pitchlens.infrastructure.bootstrap import container

    replay = _REPLAY.get()
    force = replay is not None and replay.force
    app = container()
    pipeline = app.pipeline(function)
    uploads = app.upload_types
    function_metrics = app.function_metrics

    def record_handler(record: SQSRecord) -> list[dict[str, Any]]:
        return _handle_record(
            record, function, pipeline, uploads, app.settings.max_receive_count, force, function_metrics
        )

    with lambda_invocation(context) as cold_start:
        if cold_start:
            function_metrics.cold_start(function)
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return dict(response)


def _handle_record(
    record: SQSRecord,
    function: str,
    pipeline: MessagePipeline,
    uploads: Mapping[str, type[ObjectCreated]],
    max_attempts: int,
    force: bool,
    function_metrics: FunctionMetrics,
) -> list[dict[str, Any]]:
    attempt = int(record.attributes.approximate_receive_count or 1)
    queue = record.event_source_arn.rsplit(":", 1)[-1] if record.event_source_arn else function
    correlation_id = _attribute(record, "correlation_id") or str(uuid.uuid4())
    started = time.perf_counter()
    results: list[Result] = []
    types: list[str] = []
    with log_context(function=function, correlation_id=correlation_id, message_id=record.message_id):
        try:
            for message, delivery in _messages(record.body, correlation_id, attempt, max_attempts, uploads):
                types.append(message.TYPE)
                with log_context(correlation_id=delivery.correlation_id, message_type=message.TYPE):
                    results.extend(pipeline.handle(message, delivery, force=force))
        except Exception as error:
            replay = _REPLAY.get()
            if replay is not None:
                replay.errors[record.message_id] = f"{type(error).__name__}: {error}"
            last = attempt >= max_attempts
            log.error(
                "message failed" + (" on its last attempt; it goes to the dead-letter queue" if last else ""),
                attempt=attempt,
                error=str(error),
                exc_info=True,
            )
            if last:
                function_metrics.dead_lettered(queue)
            raise
        finally:
            seconds = time.perf_counter() - started
            function_metrics.duration(function, seconds)
        for result in results:
            log.info(
                "message handled",
                outcome=result.outcome.value,
                job_id=result.job_id,
                detail=result.detail,
                message_type=",".join(types),
                seconds=round(seconds, 3),  # the whole record's handling
            )
        replay = _REPLAY.get()
        if replay is not None:
            replay.results[record.message_id] = results
        return [describe_result(r) for r in results]


def _messages(
    body: str,
    correlation_id: str,
    attempt: int,
    max_attempts: int,
    uploads: Mapping[str, type[ObjectCreated]],
) -> Iterator[tuple[Message, Delivery]]:
    """The messages in one record's body, each with how it was delivered: an envelope's message,
    or one upload message per object-created record of a notification (by bucket)."""
    document = _json(body)
    if codec.is_envelope(document):
        envelope = codec.decode_envelope(document)
        message = codec.decode_message(envelope)
        yield message, Delivery(envelope.correlation_id, envelope.idempotency_key, attempt, max_attempts)
    elif notifications.is_notification(document):
        for created in notifications.parse_object_created(document):
            kind = uploads.get(created.bucket)
            if kind is None:
                raise InvalidMessage(f"no function takes uploads to bucket {created.bucket!r}")
            key = f"s3://{created.bucket}/{created.key}@{created.etag or created.sequencer}"
            upload = kind(created.bucket, created.key, created.size, created.etag, created.sequencer)
            yield upload, Delivery(correlation_id, key, attempt, max_attempts)
    else:
        raise InvalidMessage("message is neither a PitchLens envelope nor an object notification")


class MetricsOutcomes:
    """The pipeline's observer: counts outcomes per function, and ingestion jobs that finished."""

    def __init__(self, function_metrics: FunctionMetrics) -> None:
        self._metrics = function_metrics

    def handled(self, function: str, message: Message, result: Result) -> None:
        self._metrics.handled(function, result.outcome.value)
        if result.job_finished and result.job_kind is JobKind.INGEST and result.job_status is not None:
            self._metrics.ingestion_finished(result.source or "", result.job_status.value.lower())


def describe_result(result: Result) -> dict[str, Any]:
    return {
        "outcome": result.outcome.value,
        "job_id": result.job_id,
        "source": result.source,
        "detail": result.detail,
        "counts": result.counts,
        "job_status": result.job_status.value if result.job_status else None,
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
