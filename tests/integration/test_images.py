"""The images `make images` builds (infra/images/build.sh), started with podman against the embedded
stack: the worker image's three roles (migrate, api, worker) and the Lambda function images through
their real entrypoint (the runtime interface client) and a local Lambda Runtime API.

What runs where: the embedded stack (moto S3 + SQS, PostgreSQL) on this machine; the API, the CPU
worker (ingest, persist, render) and, when `make images` built it, the GPU worker (detect, track; on
the CPU here: no GPU, PITCHLENS_DEVICE=auto falls back with a warning) in containers. A shared clip
goes through the container API (presigned upload) and the containers to a persisted, rendered clip.
Without the GPU worker image, the stack's own pollers take detect and track.

Opt-in: PITCHLENS_IMAGE_TESTS=1, after `make images` (the builds take minutes; CI's `make test`
skips this file). Skipped without podman; fails when the flag is set and an image is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import service_dir

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TAG = os.environ.get("PITCHLENS_IMAGE_TAG", "local")
WORKER = f"localhost/pitchlens-worker:{TAG}"
FUNCTION = f"localhost/pitchlens-function:{TAG}"
FUNCTION_VIDEO = f"localhost/pitchlens-function-video:{TAG}"
GPU_WORKER = f"localhost/pitchlens-gpu-worker:{TAG}"
CLIP = "dfl_08fd33_4_848x478.mp4"

if os.environ.get("PITCHLENS_IMAGE_TESTS") != "1":
    pytest.skip("image smoke tests: set PITCHLENS_IMAGE_TESTS=1 after `make images`", allow_module_level=True)
if shutil.which("podman") is None:
    pytest.skip("podman is not installed (apt-get install podman)", allow_module_level=True)

# Runtime flags build.sh uses too: runc where crun cannot (hybrid cgroups), limits the sandbox allows.
PODMAN_RUN = [
    "podman",
    "run",
    "--network",
    "host",
    "--ulimit",
    "nofile=4096:4096",
    "--ulimit",
    "nproc=4096:4096",
]
if shutil.which("runc"):
    PODMAN_RUN[2:2] = ["--runtime", "runc"]


def _podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module", autouse=True)
def images() -> None:
    missing = [i for i in (WORKER, FUNCTION, FUNCTION_VIDEO) if _podman("image", "exists", i).returncode]
    if missing:
        pytest.fail(f"images missing, run `make images` first: {missing}")


class PostgresBridge:
    """TCP on 127.0.0.1 -> the embedded PostgreSQL's Unix socket, whose folder the containers'
    non-root user may not enter. Runs its own event loop on a thread."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.port = _free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            finally:
                writer.close()

        async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
            server_r, server_w = await asyncio.open_unix_connection(self.socket_path)
            await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w), return_exceptions=True)

        async def serve() -> None:
            server = await asyncio.start_server(handle, "127.0.0.1", self.port)
            self._ready.set()
            async with server:
                await server.serve_forever()

        with contextlib.suppress(RuntimeError):  # stopped
            self._loop.run_until_complete(serve())

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


@dataclass
class Stack:
    status: dict[str, Any]
    env_file: Path
    folder: Path

    def cli(self, *args: str, api_url: str, timeout: float = 900) -> dict[str, Any]:
        env = {**os.environ, "PITCHLENS_API_URL": api_url, "PITCHLENS_DATA_DIR": str(self.folder / "cli")}
        result = subprocess.run(
            [sys.executable, "-m", "pitchlens.runtime.cli", *args, "--json"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=self.folder,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer


@pytest.fixture(scope="module")
def stack(shared_data: Path) -> Iterator[Stack]:
    # Not pytest's tmp_path: PostgreSQL runs as its own user, which another pytest session's
    # start would lock out of /tmp/pytest-of-root (see tests.conftest.service_dir).
    with service_dir("images") as folder:
        yield from _stack(folder, shared_data)


def _stack(folder: Path, shared_data: Path) -> Iterator[Stack]:
    model = shared_data.parent / "models" / "yolo11n_int8_openvino_model"
    if not (shared_data / "video" / CLIP).is_file() or not model.exists():
        pytest.skip(f"needs the shared clip {CLIP} and the shared model beside {shared_data}")
    # The host's pollers take the GPU worker's functions when its image is not there, else none.
    functions = folder / "functions"
    functions.mkdir()
    if _podman("image", "exists", GPU_WORKER).returncode:
        for name in ("detect", "track"):
            shutil.copytree(REPO / "functions" / name, functions / name)
    env = {
        **os.environ,
        "PITCHLENS_FUNCTIONS_DIR": str(functions),
        "PITCHLENS_MODEL": str(model),
        "PITCHLENS_DATA_DIR": str(folder / "stack"),
    }
    command = [sys.executable, "-m", "pitchlens.runtime.cli"]
    process = subprocess.Popen(
        [*command, "up", "--api-port", "0", "--aws-port", "0"],
        env=env,
        stdout=(folder / "stack.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    bridge: PostgresBridge | None = None
    try:
        status: dict[str, Any] = {}
        for _ in range(120):
            result = subprocess.run([*command, "status", "--json"], env=env, capture_output=True, text=True)
            if result.returncode == 0:
                status = json.loads(result.stdout)
                break
            assert process.poll() is None, (folder / "stack.log").read_text()[-3000:]
            time.sleep(1)
        assert status, "the embedded stack did not start"
        socket_dir = status["database_url"].split("host=")[1]
        bridge = PostgresBridge(f"{socket_dir}/.s.PGSQL.5432")
        env_file = folder / "containers.env"
        env_file.write_text(
            "\n".join(
                [
                    f"PITCHLENS_S3_ENDPOINT={status['s3_endpoint']}",
                    f"PITCHLENS_SQS_ENDPOINT={status['sqs_endpoint']}",
                    f"PITCHLENS_DATABASE_URL=postgresql://postgres@127.0.0.1:{bridge.port}/postgres",
                    "PITCHLENS_AWS_REGION=us-east-1",
                    "AWS_ACCESS_KEY_ID=pitchlens",
                    "AWS_SECRET_ACCESS_KEY=pitchlens",
                    "",
                ]
            )
        )
        yield Stack(status, env_file, folder)
    finally:
        if bridge is not None:
            bridge.stop()
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def containers(stack: Stack, shared_data: Path) -> Iterator[dict[str, Any]]:
    """The API, the CPU worker and (when built) the GPU worker, as compose runs them."""
    ports = {"api": _free_port(), "metrics": _free_port(), "gpu_metrics": _free_port()}
    suffix = uuid.uuid4().hex[:8]
    names = {"api": f"pitchlens-api-{suffix}", "worker": f"pitchlens-cpu-{suffix}"}
    run = [*PODMAN_RUN, "-d", "--env-file", str(stack.env_file)]
    commands = {
        "api": [WORKER, "api", "--host", "127.0.0.1", "--port", str(ports["api"])],
        "worker": [
            WORKER,
            "worker",
            "--functions",
            "ingest,persist,render",
            "--metrics-port",
            str(ports["metrics"]),
        ],
    }
    urls = [f"http://127.0.0.1:{ports['api']}/healthz", f"http://127.0.0.1:{ports['metrics']}/metrics"]
    if _podman("image", "exists", GPU_WORKER).returncode == 0:
        names["gpu"] = f"pitchlens-gpu-{suffix}"
        models = shared_data.parent / "models"
        commands["gpu"] = [
            *("-v", f"{models}:/shared-models:ro"),
            *("-e", "PITCHLENS_MODEL=/shared-models/yolo11n_int8_openvino_model"),
            *("-e", "PITCHLENS_BATCH_SIZE=1"),
            GPU_WORKER,
            *("worker", "--functions", "detect,track", "--metrics-port", str(ports["gpu_metrics"])),
        ]
        urls.append(f"http://127.0.0.1:{ports['gpu_metrics']}/metrics")
    try:
        for role, name in names.items():
            started = subprocess.run([*run, "--name", name, *commands[role]], capture_output=True, text=True)
            assert started.returncode == 0, started.stderr
        for url in urls:
            for _ in range(240):
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            else:
                logs = "\n".join(_podman("logs", n).stderr[-2000:] for n in names.values())
                pytest.fail(f"{url} never answered:\n{logs}")
        yield {**ports, **{f"{k}_name": v for k, v in names.items()}}
    finally:
        for name in names.values():
            _podman("rm", "-f", "-t", "5", name)


def _metric(port: int, line_start: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start)]
    return sum(values)


def test_migrate_role(stack: Stack) -> None:
    result = subprocess.run(
        [*PODMAN_RUN, "--rm", "--env-file", str(stack.env_file), WORKER, "migrate"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "migrations applied" in result.stdout + result.stderr


@pytest.mark.timeout(1500)  # a 169-frame clip detected, tracked and rendered on 2 busy cores
def test_clip_through_the_api_and_worker_containers(
    stack: Stack, containers: dict[str, Any], shared_data: Path
) -> None:
    api_url = f"http://127.0.0.1:{containers['api']}"
    processed = stack.cli(
        "process", str(shared_data / "video" / CLIP), "--match-id", "images", api_url=api_url
    )
    assert processed["status"] == "SUCCEEDED", processed
    assert processed["frames"] == 169 and processed["tracks"] > 0
    persisted = 'pitchlens_function_invocations_total{function="persist",outcome="done"}'
    assert _metric(containers["metrics"], persisted) >= 1, "persist did not run in the worker container"

    if "gpu_name" in containers:
        tracked = 'pitchlens_frames_processed_total{function="track"}'
        assert _metric(containers["gpu_metrics"], tracked) >= 169, (
            "track did not run in the GPU worker container"
        )

    rendered = stack.cli("render", "--clip-id", processed["clip_id"], "--player", "1", api_url=api_url)
    assert rendered["status"] == "SUCCEEDED", rendered
    assert rendered["frames"] == 169
    done = 'pitchlens_function_invocations_total{function="render",outcome="done"}'
    assert _metric(containers["metrics"], done) >= 1, "render did not run in the worker container"
    assert _metric(containers["api"], "pitchlens_http_request_duration_seconds_count") > 0

    # The worker finishes on SIGTERM (compose stop, ECS scale-in) well within its grace period.
    started = time.monotonic()
    stopped = _podman("stop", "-t", "60", containers["worker_name"], timeout=90)
    assert stopped.returncode == 0 and time.monotonic() - started < 30, stopped.stderr
    code = _podman("inspect", containers["worker_name"], "--format", "{{.State.ExitCode}}").stdout.strip()
    assert code == "0"


# --------------------------------------------------------------------------- Lambda function images


@dataclass
class RuntimeApi:
    """A local Lambda Runtime API (the interface awslambdaric polls): hands out queued events,
    collects each invocation's response or error."""

    events: queue.Queue[tuple[str, dict[str, Any]]] = field(default_factory=queue.Queue)
    answers: dict[str, tuple[str, Any]] = field(default_factory=dict)
    port: int = 0

    def __post_init__(self) -> None:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                request_id, event = api.events.get()
                body = json.dumps(event).encode()
                self.send_response(200)
                # Every header the real API sends: the client reads them all (one missing crashed it).
                self.send_header("Content-Type", "application/json")
                self.send_header(
                    "Lambda-Runtime-Trace-Id", f"Root=1-00000000-{request_id[:24].replace('-', '0')}"
                )
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 300_000))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:eu-west-1:123456789012:function:pitchlens",
                )
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = self.path.strip("/").split("/")  # 2018-06-01/runtime/invocation/<id>/response
                kind = parts[-1]
                key = parts[-2] if parts[-3] == "invocation" else "init"
                api.answers[key] = (kind, json.loads(body) if body else None)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, image: str, handler: str, event: dict[str, Any], env_file: Path) -> tuple[str, Any, str]:
        """Starts the image as Lambda would (its entrypoint, the handler as the command), sends one
        event, returns (response|error, its body, the container's log)."""
        request_id = str(uuid.uuid4())
        self.events.put((request_id, event))
        name = f"pitchlens-lambda-{request_id[:8]}"
        env = [
            f"AWS_LAMBDA_RUNTIME_API=127.0.0.1:{self.port}",
            "AWS_LAMBDA_FUNCTION_NAME=pitchlens-smoke",
            "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
            "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/pitchlens-smoke",
            "AWS_LAMBDA_LOG_STREAM_NAME=smoke",
        ]
        run = [*PODMAN_RUN, "-d", "--name", name, "--env-file", str(env_file)]
        for item in env:
            run += ["-e", item]
        started = subprocess.run([*run, image, handler], capture_output=True, text=True, timeout=60)
        assert started.returncode == 0, started.stderr
        try:
            deadline = time.monotonic() + 180
            while (
                request_id not in self.answers and "init" not in self.answers and time.monotonic() < deadline
            ):
                time.sleep(0.2)
            logs = _podman("logs", name)
            kind, body = self.answers.pop(request_id, None) or self.answers.pop("init", ("timeout", None))
            return kind, body, logs.stdout + logs.stderr
        finally:
            _podman("rm", "-f", "-t", "1", name)


@pytest.fixture
def runtime_api() -> Iterator[RuntimeApi]:
    # One per test: a container's next poll, left waiting when it is removed, would take the
    # following test's event.
    api = RuntimeApi()
    yield api
    api.server.shutdown()


def _apigw_event(path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", "x-correlation-id": "smoke-correlation"},
        "requestContext": {
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "t",
            },
            "requestId": "r1",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def test_api_function_image(stack: Stack, runtime_api: RuntimeApi) -> None:
    kind, body, logs = runtime_api.invoke(
        FUNCTION, "functions.api.handler.handler", _apigw_event("/api/v1/matches"), stack.env_file
    )
    assert kind == "response", (body, logs[-3000:])
    assert body["statusCode"] == 200 and isinstance(json.loads(body["body"]), list)
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    request = [line for line in lines if line.get("message") == "request"]
    assert request and request[0]["cold_start"] is True and request[0]["aws_request_id"]


def test_queue_function_image_reports_emf(stack: Stack, runtime_api: RuntimeApi) -> None:
    """ingest through the runtime interface client: an S3 test event (no work), partial-batch
    answer, and the cold start as a CloudWatch EMF line (AWS_LAMBDA_FUNCTION_NAME is set)."""
    event = {"Records": [_test_event_record("ingest")]}
    kind, body, logs = runtime_api.invoke(FUNCTION, "functions.ingest.handler.handler", event, stack.env_file)
    assert kind == "response", (body, logs[-3000:])
    assert body == {"batchItemFailures": []}
    emf = [json.loads(line) for line in logs.splitlines() if line.startswith('{"_aws"')]
    cold = [line for line in emf if line.get("pitchlens_cold_starts") == [1.0]]
    assert [line["function"] for line in cold] == ["ingest"], logs[-2000:]


def _test_event_record(function: str) -> dict[str, Any]:
    """An SQS record carrying S3's test event: a real delivery that asks for no work."""
    return {
        "messageId": "m1",
        "receiptHandle": "r",
        "body": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "raw-data"}),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:eu-west-1:123456789012:pitchlens-{function}",
        "awsRegion": "eu-west-1",
    }


def test_render_function_image(stack: Stack, runtime_api: RuntimeApi) -> None:
    event = {"Records": [_test_event_record("render")]}
    kind, body, logs = runtime_api.invoke(
        FUNCTION_VIDEO, "functions.render.handler.handler", event, stack.env_file
    )
    assert kind == "response", (body, logs[-3000:])
    assert body == {"batchItemFailures": []}
    probe = subprocess.run(
        [
            *PODMAN_RUN,
            "--rm",
            "--entrypoint",
            "python",
            FUNCTION_VIDEO,
            "-c",
            "import av, cv2, imageio_ffmpeg, subprocess;"
            " subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-version'], check=True)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0 and "ffmpeg version" in probe.stdout, probe.stderr[-2000:]


def test_migrate_function_image(stack: Stack, runtime_api: RuntimeApi) -> None:
    """The migrate function as CloudFormation calls it: Create -> migrations -> SUCCESS on the PUT."""
    answers: list[dict[str, Any]] = []

    class Response(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            answers.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Response)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    event = {
        "RequestType": "Create",
        "ResponseURL": f"http://127.0.0.1:{server.server_address[1]}/response",
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/pitchlens/1",
        "RequestId": "create-1",
        "LogicalResourceId": "DatabaseMigration",
        "ResourceType": "Custom::DatabaseMigration",
        "ResourceProperties": {},
    }
    try:
        kind, body, logs = runtime_api.invoke(
            FUNCTION, "functions.migrate.handler.handler", event, stack.env_file
        )
    finally:
        server.shutdown()
    assert kind == "response", (body, logs[-3000:])
    assert [a["Status"] for a in answers] == ["SUCCESS"], logs[-2000:]
    assert answers[0]["Data"]["Revision"]
