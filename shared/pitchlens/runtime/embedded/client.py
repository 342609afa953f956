"""How CLI commands reach a stack: the configured endpoints (env vars: compose, AWS), else the
embedded stack running on the data dir, else a new embedded stack started in the background."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from pitchlens.domain.jobs import JobStatus
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


class ApiClient:
    """Thin client of the PitchLens HTTP API; errors carry the API's message."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=30)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                message = response.json().get("message") or response.text
            except ValueError:
                message = response.text
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {message}")
        return response.json()

    def wait_for_job(
        self,
        *,
        job_id: str | None = None,
        correlation_id: str | None = None,
        timeout_s: float = 600,
        on_update: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> Mapping[str, Any]:
        """Polls until the job (by id, or the first job of a correlation id) is final."""
        deadline = time.monotonic() + timeout_s
        job: Mapping[str, Any] | None = None
        while time.monotonic() < deadline:
            if job_id is not None:
                job = self.request("GET", f"/api/v1/jobs/{job_id}")
            else:
                found = self.request("GET", "/api/v1/jobs", params={"correlation_id": correlation_id})
                job = found[-1] if found else None
            if job is not None:
                if on_update is not None:
                    on_update(job)
                if JobStatus(job["status"]).terminal:
                    return job
            time.sleep(0.2)
        raise TimeoutError(f"no final job status within {timeout_s:.0f} s (last seen: {job})")
