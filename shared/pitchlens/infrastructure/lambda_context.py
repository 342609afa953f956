"""What every Lambda invocation binds to its log lines: the request id Lambda gave it and whether it
is the execution environment's first (a cold start), so one invocation's lines can be found in
CloudWatch Logs and slow first requests told apart. The worker runtime passes a Lambda-like context
too, so its lines carry a request id per batch as well."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pitchlens.infrastructure.logging import log_context

_first_invocation = True


@contextmanager
def lambda_invocation(context: Any) -> Iterator[bool]:
    """Binds `aws_request_id` and `cold_start` to the log lines inside; yields `cold_start`."""
    global _first_invocation
    cold_start, _first_invocation = _first_invocation, False
    request_id = getattr(context, "aws_request_id", None)
    if request_id is None:
        yield cold_start
        return
    with log_context(aws_request_id=str(request_id), cold_start=cold_start):
        yield cold_start
