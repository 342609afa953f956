"""Prometheus metrics, exported on `/metrics` by the API and by each worker."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

INGESTION_JOBS = Counter("ingestion_jobs", "Ingestion jobs that reached a final state", ["source", "outcome"])
FUNCTION_INVOCATIONS = Counter(
    "function_invocations", "Messages handled by a function", ["function", "outcome"]
)
FUNCTION_DURATION = Histogram(
    "function_duration_seconds",
    "Time a function spent on one message",
    ["function"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
MESSAGES_DEAD_LETTERED = Counter(
    "messages_dead_lettered", "Messages that failed their last allowed attempt", ["queue"]
)
QUEUE_MESSAGES = Gauge("queue_messages", "Visible messages waiting in a queue (DLQs included)", ["queue"])
FRAMES_PROCESSED = Counter("frames_processed", "Video frames run through person detection", ["function"])
HTTP_REQUESTS = Counter("http_requests", "HTTP requests served by the API", ["method", "route", "status"])
