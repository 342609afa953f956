"""An embedded stack (real S3/SQS server, real PostgreSQL, real pollers, real API) per module."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from pitchlens.infrastructure import aws_clients, bootstrap
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.embedded.stack import EmbeddedStack, StackInfo
from tests.conftest import service_dir

TERMINAL = {"SUCCEEDED", "FAILED"}


@dataclass
class RunningStack:
    stack: EmbeddedStack
    info: StackInfo
    api: httpx.Client
    s3: Any
    sqs: Any
    settings: Settings

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.info.database_url.replace("+psycopg", ""), autocommit=True) as connection:
            return connection.execute(query, params or None).fetchall()

    def upload(
        self, key: str, data: bytes, metadata: Mapping[str, str] | None = None, bucket: str = "raw-data"
    ) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata=dict(metadata or {}))

    def upload_batch(self, prefix: str, files: Mapping[str, bytes]) -> str:
        """Uploads files as the CLI does (one batch, one correlation id); returns the id."""
        correlation_id = str(uuid.uuid4())
        for name, data in files.items():
            self.upload(
                f"{prefix}/{name}", data, {"correlation-id": correlation_id, "batch-size": str(len(files))}
            )
        return correlation_id

    def job(
        self, *, job_id: str | None = None, correlation_id: str | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        """Waits until the job is final and returns it."""
        deadline = time.monotonic() + timeout
        job: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            if job_id:
                response = self.api.get(f"/api/v1/jobs/{job_id}")
                job = response.json() if response.status_code == 200 else None
            else:
                found = self.api.get("/api/v1/jobs", params={"correlation_id": correlation_id}).json()["jobs"]
                job = found[-1] if found else None
            if job and job["status"] in TERMINAL:
                return job
            time.sleep(0.05)
        raise AssertionError(f"job not final after {timeout} s: {job}")

    def queue_url(self, name: str) -> str:
        url: str = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return url

    def queue_depth(self, name: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url(name),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


def start_stack(data_dir: Path, statsbomb_dir: Path | None, **overrides: str) -> Iterator[RunningStack]:
    saved = dict(os.environ)
    os.environ.update(
        {
            "PITCHLENS_DATA_DIR": str(data_dir),
            "PITCHLENS_API_PORT": "0",
            "PITCHLENS_AWS_PORT": "0",
            "PITCHLENS_VISIBILITY_TIMEOUT_S": "2",
            "PITCHLENS_LOG_LEVEL": "INFO",
            **({"PITCHLENS_STATSBOMB_OPEN_DATA_DIR": str(statsbomb_dir)} if statsbomb_dir else {}),
            **overrides,
        }
    )
    bootstrap.reset()
    stack = EmbeddedStack(Settings())
    try:
        info = stack.start()
        settings = Settings()
        with httpx.Client(base_url=info.api_url, timeout=30) as api:
            yield RunningStack(
                stack, info, api, aws_clients.s3_client(settings), aws_clients.sqs_client(settings), settings
            )
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        bootstrap.reset()


@pytest.fixture(scope="module")
def model_dir(shared_data: Path) -> Path:
    """The shared offline YOLO11n OpenVINO export the vision functions run."""
    folder = shared_data.parent / "models" / "yolo11n_int8_openvino_model"
    if not folder.is_dir():
        pytest.skip(f"the shared YOLO model is not at {folder}")
    return folder


def start_vision_stack(name: str, model: Path, **overrides: str) -> Iterator[RunningStack]:
    """A stack whose detect and track functions run `model` (offline), under a fresh service dir."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    with service_dir(name) as folder:
        yield from start_stack(folder, None, PITCHLENS_MODEL=str(model), **overrides)


@pytest.fixture(scope="module")
def running(statsbomb_dir: Path) -> Iterator[RunningStack]:
    with service_dir("stack") as folder:
        yield from start_stack(folder, statsbomb_dir)
