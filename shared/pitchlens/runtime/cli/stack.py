"""Commands that run the stack or one of its roles: up, down, status, api, worker, migrate."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from pitchlens.infrastructure.logging import configure_logging
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.cli.app import (
    AsJson,
    DataDir,
    app,
    console,
    fail,
    out,
    settings_for,
    wait_for_signal,
)


# --- Stack -------------------------------------------------------------------------------------
@app.command()
def up(
    data_dir: DataDir = None,
    api_port: Annotated[int | None, typer.Option(help="API port (0 = any free port)")] = None,
    aws_port: Annotated[int | None, typer.Option(help="S3/SQS port (0 = any free port)")] = None,
) -> None:
    """Start the embedded stack (S3, SQS, PostgreSQL, functions, API) and run until stopped."""
    from pitchlens.runtime.embedded.stack import EmbeddedStack

    if api_port is not None:
        os.environ["PITCHLENS_API_PORT"] = str(api_port)
    if aws_port is not None:
        os.environ["PITCHLENS_AWS_PORT"] = str(aws_port)
    settings = settings_for(data_dir)
    configure_logging(settings.log_level, settings.log_format)
    stopping = threading.Event()

    def request_stop(signum: int, _: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    stack = EmbeddedStack(settings)
    try:
        info = stack.start()
    except Exception as error:
        stack.stop()
        raise fail(f"the stack could not start: {error}") from error
    table = Table(title="PitchLens stack is up", show_header=False)
    for name, value in (
        ("API", info.api_url),
        ("S3 endpoint", info.s3_endpoint),
        ("SQS endpoint", info.sqs_endpoint),
        ("PostgreSQL", info.database_url),
        ("data dir", info.data_dir),
        ("functions", ", ".join(info.functions)),
    ):
        table.add_row(name, value)
    console.print(table)
    console.print("Press Ctrl-C to stop.")
    try:
        wait_for_signal(stopping)
    finally:
        console.print("stopping ...")
        stack.stop()


@app.command()
def down(
    data_dir: DataDir = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a clean stop")] = 180,
) -> None:
    """Stop the embedded stack running on the data dir."""
    from pitchlens.runtime.embedded.stack import StackInfo

    settings = settings_for(data_dir)
    info = StackInfo.read(settings.data_dir.expanduser().resolve())
    if info is None:
        console.print("no stack is running")
        return
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        (settings.data_dir / "stack.json").unlink(missing_ok=True)
        console.print("no stack is running (removed a stale stack.json)")
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            console.print(f"stopped the stack (pid {info.pid})")
            return
        time.sleep(0.2)
    raise fail(f"the stack (pid {info.pid}) did not stop within {timeout:.0f} s")


@app.command()
def status(
    data_dir: DataDir = None,
    as_json: AsJson = False,
    env: Annotated[
        bool,
        typer.Option(
            "--env",
            help="Print `export` lines that point the AWS CLI, boto3, pyarrow, polars and DuckDB at the "
            'stack (eval "$(pitchlens status --env)")',
        ),
    ] = False,
) -> None:
    """Show the running stack's endpoints (exit code 1 when none runs)."""
    from dataclasses import asdict

    from pitchlens.runtime.embedded.stack import StackInfo

    settings = settings_for(data_dir)
    info = StackInfo.read(settings.data_dir.expanduser().resolve())
    running = info is not None and info.alive()
    document: dict[str, Any] = {"running": running, "data_dir": str(settings.data_dir.expanduser().resolve())}
    if info is not None and running:
        document.update(asdict(info))
    if env:
        if info is None or not running:
            raise fail(f"no stack runs on {document['data_dir']}; start one with `pitchlens up`")
        for line in environment_lines(info):
            out.print(line, highlight=False, soft_wrap=True)
        return
    if as_json:
        out.print_json(json.dumps(document))
    else:
        for key, value in document.items():
            out.print(f"{key:14} {value}")
    if not running:
        raise typer.Exit(1)


def environment_lines(info: Any) -> list[str]:
    """`export` lines for a shell: the stack's endpoints under the names the AWS SDKs and CLI
    (`AWS_ENDPOINT_URL`), polars / object_store (`AWS_ALLOW_HTTP` for a plain-http endpoint) and
    PitchLens (`PITCHLENS_DATA_DIR`: `pitchlens` commands and `pitchlens.connect()` find the stack
    there) read; any access key works on the embedded stack."""
    import shlex

    variables = {
        "PITCHLENS_DATA_DIR": info.data_dir,
        "AWS_ENDPOINT_URL": info.s3_endpoint,
        **{name: value for name, value in info.environment().items() if name.startswith("AWS_")},
        "AWS_REGION": info.aws_region,
    }
    if info.s3_endpoint.startswith("http://"):
        variables["AWS_ALLOW_HTTP"] = "true"
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]


@app.command()
def api(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Serve the HTTP API only (compose, containers); endpoints come from the settings."""
    import uvicorn

    from pitchlens.infrastructure.http.app import create_app

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(create_app(), host=host, port=port, log_config=None, access_log=False)


@app.command()
def worker(
    functions: Annotated[
        str,
        typer.Option(
            help="Comma-separated functions to poll: ingest,persist,render (CPU) or detect,track (GPU)"
        ),
    ],
    metrics_port: Annotated[int, typer.Option(help="Port for /metrics (0 = none)")] = 9100,
) -> None:
    """Poll the given functions' queues and run their handlers (compose, ECS workers)."""
    from prometheus_client import start_http_server

    from pitchlens.infrastructure import aws_clients
    from pitchlens.runtime.worker.runtime import FunctionRuntime

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if metrics_port:
        start_http_server(metrics_port)
    runtime = FunctionRuntime(settings, aws_clients.sqs_client(settings), functions.split(","))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    runtime.start()
    try:
        wait_for_signal(stopping)
    finally:
        runtime.stop()


@app.command()
def migrate() -> None:
    """Apply the database migrations to PITCHLENS_DATABASE_URL."""
    from pitchlens.infrastructure.postgres.migrate import migrate as run_migrations

    settings = Settings()
    if not settings.database_url:
        raise fail("PITCHLENS_DATABASE_URL is not set")
    run_migrations(settings.database_url)
    console.print("migrations applied")


@app.command()
def buckets() -> None:
    """Create the buckets with the CORS rules browsers need (compose's s3-init); idempotent."""
    from pitchlens.infrastructure import aws_clients
    from pitchlens.infrastructure.provisioning import AwsResourceProvisioner

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    s3, sqs = aws_clients.s3_client(settings), aws_clients.sqs_client(settings)
    AwsResourceProvisioner(s3, sqs, settings).ensure_buckets()
    console.print("buckets ready: " + ", ".join(settings.buckets.values()))
