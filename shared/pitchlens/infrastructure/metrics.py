"""Metrics: Prometheus collectors, exported on `/metrics` by the API and by each worker, and the same
function metrics as CloudWatch embedded metric format (EMF) lines where Prometheus cannot scrape
(Lambda). Every name starts with `pitchlens_` so that it cannot collide with another exporter's.

`FunctionMetrics` is what queue-driven functions report through; it always counts in the Prometheus
collectors and, when given an EMF namespace (settings: running on Lambda), also prints one EMF line
per data point to stdout, where Lambda's log agent hands it to CloudWatch Logs, which turns it into a
CloudWatch metric (`<namespace>/pitchlens_function_invocations` with dimensions function, outcome).
"""

from __future__ import annotations

import platform

from prometheus_client import Counter, Gauge, Histogram, Info

import pitchlens

INGESTION_JOBS = Counter(
    "pitchlens_ingestion_jobs", "Ingestion jobs that reached a final state", ["source", "outcome"]
)
FUNCTION_INVOCATIONS = Counter(
    "pitchlens_function_invocations", "Messages handled by a function", ["function", "outcome"]
)
FUNCTION_DURATION = Histogram(
    "pitchlens_function_duration_seconds",
    "Time a function spent on one message",
    ["function"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)
MESSAGES_DEAD_LETTERED = Counter(
    "pitchlens_messages_dead_lettered", "Messages that failed their last allowed attempt", ["queue"]
)
QUEUE_MESSAGES = Gauge(
    "pitchlens_queue_messages", "Visible messages waiting in a queue (DLQs included)", ["queue"]
)
FRAMES_PROCESSED = Counter(
    "pitchlens_frames_processed", "Video frames run through person detection", ["function"]
)
HTTP_REQUESTS = Counter(
    "pitchlens_http_requests", "HTTP requests served by the API", ["method", "route", "status"]
)
HTTP_REQUEST_DURATION = Histogram(
    "pitchlens_http_request_duration_seconds",
    "Time the API took to answer a request, per route template (not per URL)",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BUILD_INFO = Info("pitchlens_build", "The PitchLens release and Python running this process")
BUILD_INFO.info({"version": pitchlens.__version__, "python": platform.python_version()})


class FunctionMetrics:
    """What a queue-driven function reports: outcomes, durations, dead letters, finished ingestions.

    Prometheus always; CloudWatch EMF as well when `emf_namespace` is given (on Lambda)."""

    def __init__(self, emf_namespace: str | None = None) -> None:
        self._emf_namespace = emf_namespace

    @property
    def emf(self) -> bool:
        return self._emf_namespace is not None

    def handled(self, function: str, outcome: str) -> None:
        FUNCTION_INVOCATIONS.labels(function, outcome).inc()
        self._emf("pitchlens_function_invocations", 1, "Count", function=function, outcome=outcome)

    def ingestion_finished(self, source: str, outcome: str) -> None:
        INGESTION_JOBS.labels(source, outcome).inc()
        self._emf("pitchlens_ingestion_jobs", 1, "Count", source=source, outcome=outcome)

    def duration(self, function: str, seconds: float) -> None:
        FUNCTION_DURATION.labels(function).observe(seconds)
        self._emf("pitchlens_function_duration", seconds * 1000, "Milliseconds", function=function)

    def dead_lettered(self, queue: str) -> None:
        MESSAGES_DEAD_LETTERED.labels(queue).inc()
        self._emf("pitchlens_messages_dead_lettered", 1, "Count", queue=queue)

    def cold_start(self, function: str) -> None:
        """A Lambda execution environment's first invocation (EMF only: Prometheus has no Lambda)."""
        self._emf("pitchlens_cold_starts", 1, "Count", function=function)

    def _emf(self, name: str, value: float, unit: str, **dimensions: str) -> None:
        if self._emf_namespace is None:
            return
        # Deferred: only Lambda pays for the import.
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        with single_metric(
            name=name,
            unit=MetricUnit(unit),
            value=value,
            namespace=self._emf_namespace,
            default_dimensions=dimensions,
        ):
            pass
