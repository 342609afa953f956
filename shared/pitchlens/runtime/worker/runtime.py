"""Runs a set of queue-driven functions: one poller per function queue, plus the queue-depth
sampler. Used by the embedded stack and by `pitchlens worker` (compose, ECS)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pitchlens.infrastructure.settings import FUNCTIONS, Settings
from pitchlens.runtime.worker.functions import load_handler
from pitchlens.runtime.worker.periodic import PeriodicTask
from pitchlens.runtime.worker.poller import QueuePoller, sample_queue_depths


class FunctionRuntime:
    """Starts and stops the pollers of the given functions against the configured SQS."""

    def __init__(self, settings: Settings, sqs: Any, functions: Iterable[str]) -> None:
        self._settings = settings
        self._sqs = sqs
        self.functions = list(functions)
        unknown = set(self.functions) - set(FUNCTIONS)
        if unknown:
            raise ValueError(f"unknown functions {sorted(unknown)}; known: {', '.join(FUNCTIONS)}")
        self._pollers: list[QueuePoller] = []
        self._sampler: PeriodicTask | None = None

    def start(self) -> None:
        queue_urls: dict[str, str] = {}
        for function in self.functions:
            url = self._url(self._settings.queue_name(function))
            queue_urls[self._settings.queue_name(function)] = url
            queue_urls[self._settings.dlq_name(function)] = self._url(self._settings.dlq_name(function))
            arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            poller = QueuePoller(
                function,
                load_handler(function),
                self._sqs,
                url,
                arn,
                region=self._settings.aws_region,
                batch_size=self._settings.batch_size_for(function),
                wait_s=self._settings.poll_wait_s,
                timeout_s=self._settings.visibility_timeout_s,
            )
            poller.start()
            self._pollers.append(poller)
        self._sampler = PeriodicTask("queue-depth", 5.0, lambda: sample_queue_depths(self._sqs, queue_urls))
        self._sampler.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stops polling; each poller finishes the batch it is handling."""
        for poller in self._pollers:
            poller.stop()
        if self._sampler is not None:
            self._sampler.stop()
        for poller in self._pollers:
            poller.join(timeout_s)
        self._pollers.clear()

    def _url(self, name: str) -> str:
        url: str = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return url
