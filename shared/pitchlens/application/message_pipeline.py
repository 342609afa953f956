"""The one skeleton every queue consumer runs in (cosmicpython's message bus).

A function's queue delivers messages at least once, in any order, and a handler may die half way.
`MessagePipeline.handle` makes every use case safe under that, the same way:

1. the consumer for the message's type comes from one table (built in the composition root); a
   type nobody consumes is bad input;
2. a delivery whose idempotency key the consumer's inbox already holds is a DUPLICATE: nothing runs
   (the use case records the key in its inbox in the same transaction as its effect, with
   `delivery.consumer`, so the effect and the key commit together or not at all);
3. the use case runs. Bad input (a `PermanentError`: unreadable files, an unknown clip, a box on
   nobody) FAILS the job with the error as its reason, and what the job works on with it
   (`JobKeeper.fail_in`), and records the key, in one transaction: the message is consumed, never
   retried. Anything else (a dependency down, a bug) propagates, so the queue retries the message;
   on its last receive the job is FAILED first ("gave up after N attempts: ..."), then the message
   goes to the dead-letter queue, so no job stays RUNNING;
4. a use case may hand on a follow-up message (an upload becomes the command it asks for), which
   goes through the same steps at once;
5. every outcome (done, failed, duplicate, skipped, error) is reported to the observer (metrics)
   with the job's kind and status.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pitchlens.application.job_keeper import JobKeeper
from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.errors import InvalidMessage, PermanentError, PitchLensError
from pitchlens.domain.jobs import Job
from pitchlens.domain.messages import Delivery, Message
from pitchlens.domain.ports import Clock, UnitOfWork

MAX_FOLLOW_UPS = 4
"""Follow-up messages one delivery may lead to (a guard against a use case handing on in a loop)."""


class MessageConsumer(Protocol):
    """A use case that consumes one type of message."""

    def execute(self, message: Any, delivery: Delivery) -> Result: ...


@dataclass(frozen=True, slots=True)
class Consumer:
    """Who consumes a message type: the function whose queue receives it, the inbox its keys are
    recorded in, and the use case (built on first use)."""

    function: str
    inbox: str
    use_case: Callable[[], MessageConsumer]


class PipelineObserver(Protocol):
    """Told every outcome (metrics)."""

    def handled(self, function: str, message: Message, result: Result) -> None: ...


class MessagePipeline:
    """Handles the messages one function consumes; see the module docstring for the steps."""

    def __init__(
        self,
        function: str,
        consumers: Mapping[type[Message], Consumer],
        unit_of_work: Callable[[], UnitOfWork],
        clock: Clock,
        observer: PipelineObserver | None = None,
    ) -> None:
        self._function = function
        self._consumers = consumers
        self._uow = unit_of_work
        self._jobs = JobKeeper(unit_of_work, clock)
        self._observer = observer

    def handle(self, message: Message, delivery: Delivery, *, force: bool = False) -> list[Result]:
        """The results of the message and of its follow-ups, in order. Raises what the queue must
        retry. `force` runs the use case even when the inbox holds the key (a deliberate replay)."""
        results = [self._handle_one(message, delivery, force)]
        while results[-1].then is not None:
            if len(results) > MAX_FOLLOW_UPS:
                raise RuntimeError(f"{type(message).__name__} led to more than {MAX_FOLLOW_UPS} follow-ups")
            follow_up = results[-1].then
            results.append(self._handle_one(follow_up.message, follow_up.delivery, force))
        return results

    def _handle_one(self, message: Message, delivery: Delivery, force: bool) -> Result:
        consumer = self._consumers.get(type(message))
        if consumer is None or consumer.function != self._function:
            raise InvalidMessage(f"{self._function} does not consume {message.TYPE} messages")
        delivery = dataclasses.replace(delivery, consumer=consumer.inbox)
        job_id: str | None = getattr(message, "job_id", None)
        try:
            if not force:
                with self._uow() as uow:
                    if uow.inbox.seen(consumer.inbox, delivery.idempotency_key):
                        return self._report(message, Result.of(delivery, Outcome.DUPLICATE, job_id, None))
            result = consumer.use_case().execute(message, delivery)
        except PermanentError as error:
            reason = _reason(message, str(error))
            job = self._jobs.fail(job_id, reason, delivery, part=bool(message.describe()))
            failed = Result.of(delivery, Outcome.FAILED, job_id, None, reason)
            return self._report(message, failed.with_job(job))
        except Exception as error:
            job = None
            if delivery.last_attempt and job_id:
                reason = _reason(message, f"gave up after {delivery.attempt} attempts: {error}")
                job = self._jobs.fail(job_id, reason, part=bool(message.describe()))
            self._report(message, Result.of(delivery, Outcome.ERROR, job_id, None, str(error)).with_job(job))
            raise
        return self._report(message, result.with_job(self._job(result.job_id)))

    def _job(self, job_id: str | None) -> Job | None:
        if not job_id:
            return None
        try:
            with self._uow() as uow:
                return uow.jobs.get(job_id)
        except PitchLensError:
            return None

    def _report(self, message: Message, result: Result) -> Result:
        if self._observer is not None:
            self._observer.handled(self._function, message, result)
        return result


def _reason(message: Message, reason: str) -> str:
    """A failure's reason, naming the part of the job the message was (a segment) when it was one."""
    part = message.describe()
    return f"{part}: {reason}" if part else reason
