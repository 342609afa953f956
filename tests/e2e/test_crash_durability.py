"""Nothing acknowledged is lost: `kill -9` of `pitchlens up` right after an upload's 200, then a
new `pitchlens up` on the same data dir, finds the object and delivers its notification; the
killed stack leaves no PostgreSQL (nor anything else) running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.conftest import service_dir
from tests.e2e.test_stack_lifecycle import REPO, cli, processes_using

pytestmark = pytest.mark.e2e


def up(data_dir: Path, **env: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """`pitchlens up` as a user starts it; returns the process and `pitchlens status --json`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PITCHLENS_", "AWS_"))}
    environment.update(env)
    ports = ["--api-port", "0", "--aws-port", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "pitchlens.runtime.cli", "up", "--data-dir", str(data_dir), *ports],
        env=environment,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = cli("status", "--json", data_dir=data_dir)
        if status.returncode == 0 and json.loads(status.stdout)["pid"] == process.pid:
            return process, json.loads(status.stdout)
        assert process.poll() is None, f"`pitchlens up` exited with {process.returncode}"
        time.sleep(0.3)
    process.kill()
    raise AssertionError("`pitchlens up` did not start within 120 s")


def s3_client(info: dict[str, Any]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=info["s3_endpoint"],
        region_name=info["aws_region"],
        aws_access_key_id="pitchlens",
        aws_secret_access_key="pitchlens",
    )


def test_an_upload_acknowledged_before_kill_9_is_kept_and_its_notification_delivered() -> None:
    with service_dir("crash") as folder:
        data_dir, no_functions = folder / "data", folder / "no-functions"
        no_functions.mkdir()
        # No pollers in the first run: the notification can only be consumed after the restart.
        stack, info = up(data_dir, PITCHLENS_FUNCTIONS_DIR=str(no_functions))
        assert info["functions"] == []
        correlation_id = str(uuid.uuid4())
        key = f"statsbomb/crash-{correlation_id[:8]}/events.json"
        body = f"not json {correlation_id}".encode()
        s3_client(info).put_object(
            Bucket="raw-data",
            Key=key,
            Body=body,
            Metadata={"correlation-id": correlation_id, "batch-size": "1"},
        )
        stack.send_signal(signal.SIGKILL)  # right after the 200
        stack.wait(10)

        deadline = time.monotonic() + 30  # postgres's guard stops it; nothing else is left
        while processes_using(data_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_using(data_dir) == []

        stack, info = up(data_dir)
        try:
            assert s3_client(info).get_object(Bucket="raw-data", Key=key)["Body"].read() == body
            # The queued notification reaches ingest, which fails the bad file with a reason.
            deadline, jobs = time.monotonic() + 60, []
            while time.monotonic() < deadline:
                jobs = httpx.get(
                    f"{info['api_url']}/api/v1/jobs", params={"correlation_id": correlation_id}, timeout=10
                ).json()["jobs"]
                if jobs and jobs[-1]["status"] in {"SUCCEEDED", "FAILED"}:
                    break
                time.sleep(0.2)
            assert jobs and jobs[-1]["status"] == "FAILED", jobs
            assert "events.json" in jobs[-1]["reason"] and "json" in jobs[-1]["reason"].lower()
        finally:
            stack.send_signal(signal.SIGINT)
            assert stack.wait(60) == 0
        assert processes_using(data_dir) == []
