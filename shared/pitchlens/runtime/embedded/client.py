"""Which stack CLI commands reach: the configured one (PITCHLENS_API_URL and endpoints: compose,
AWS), else the embedded stack running on the data dir, else a new embedded stack started in the
background."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pitchlens.infrastructure import bootstrap
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.embedded.stack import LOCAL_AWS_CREDENTIALS, StackInfo

START_TIMEOUT_S = 120


class StackUnavailable(RuntimeError):
    """No stack could be found or started."""


def configured_stack(settings: Settings) -> StackInfo | None:
    """A stack described by env vars (PITCHLENS_API_URL + endpoints), e.g. compose or AWS."""
    if not settings.api_url or not os.environ.get("PITCHLENS_API_URL"):
        return None
    return StackInfo(
        api_url=settings.api_url.rstrip("/"),
        s3_endpoint=settings.s3_endpoint or "",
        sqs_endpoint=settings.sqs_endpoint or "",
        database_url=settings.database_url or "",
        data_dir=str(settings.data_dir),
        pid=0,
        functions=[],
        aws_region=settings.aws_region,
    )


def running_stack(data_dir: Path) -> StackInfo | None:
    info = StackInfo.read(data_dir.expanduser().resolve())
    return info if info is not None and info.alive() else None


def connect(settings: Settings, *, start: bool, on_start: Callable[[Path], None] | None = None) -> StackInfo:
    """Finds (or starts) the stack and points this process's settings and boto3 at it."""
    info = configured_stack(settings)
    if info is None:
        data_dir = settings.data_dir.expanduser().resolve()
        info = running_stack(data_dir)
        if info is None:
            if not start:
                raise StackUnavailable(f"no stack runs on {data_dir}; start one with `pitchlens up`")
            if on_start is not None:
                on_start(data_dir)
            info = start_background(data_dir)
        for name, value in info.environment().items():
            if name in LOCAL_AWS_CREDENTIALS:
                os.environ.setdefault(name, value)  # any key works locally; keep the user's own
            else:
                os.environ[name] = value
    bootstrap.reset()
    return info


def start_background(data_dir: Path) -> StackInfo:
    """Starts `pitchlens up` detached (it outlives this command; `pitchlens down` stops it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "stack.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "pitchlens.runtime.cli", "up", "--data-dir", str(data_dir)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        info = running_stack(data_dir)
        if info is not None and info.pid == process.pid:
            return info
        if process.poll() is not None:
            raise StackUnavailable(f"the stack exited with code {process.returncode}; see {log_path}")
        time.sleep(0.25)
    process.terminate()
    raise StackUnavailable(f"the stack did not start within {START_TIMEOUT_S} s; see {log_path}")
