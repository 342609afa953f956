"""The images `make images` builds (infra/images/build.sh), started with podman against the embedded
stack: the worker image's three roles (migrate, api, worker) and the Lambda function images through
their real entrypoint (the runtime interface client) and a local Lambda Runtime API.

What runs where: the embedded stack (moto S3 + SQS, PostgreSQL) on this machine; the API, the CPU
worker (ingest, persist, render) and, when `make images` built it from the same commit as the
worker image, the GPU worker (detect, track; on the CPU here: no GPU, PITCHLENS_DEVICE=auto falls
back with a warning) in containers. A shared clip goes through the container API (presigned
upload) and the containers to a persisted, rendered clip. Without that GPU worker image, the
stack's own pollers take detect and track.

Opt-in: PITCHLENS_IMAGE_TESTS=1, after `make images` (`make test-images`; the clip alone takes
minutes on 2 cores, so `make test` skips this file and runs the seconds-long
tests/integration/test_images_smoke.py instead). Skipped without podman; fails when the flag is
set and an image is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import service_dir
from tests.podman_images import (
    FUNCTION,
    FUNCTION_VIDEO,
    GPU_WORKER,
    PODMAN_RUN,
    REPO,
    WORKER,
    RuntimeApi,
    apigw_event,
    free_port,
    image_exists,
    podman,
    revision,
    s3_test_event_record,
)

pytestmark = pytest.mark.integration

CLIP = "dfl_08fd33_4_848x478.mp4"

if os.environ.get("PITCHLENS_IMAGE_TESTS") != "1":
    pytest.skip(
        "the images against the embedded stack: `make images && make test-images` (PITCHLENS_IMAGE_TESTS=1);"
        " `make test` runs only tests/integration/test_images_smoke.py",
        allow_module_level=True,
    )
if shutil.which("podman") is None:
    pytest.skip("podman is not installed (apt-get install podman)", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def images() -> None:
    missing = [i for i in (WORKER, FUNCTION, FUNCTION_VIDEO) if podman("image", "exists", i).returncode]
    if missing:
        pytest.fail(f"images missing, run `make images` first: {missing}")


def _use_gpu_image() -> bool:
    """The GPU worker image takes detect and track when it was built from the same commit as the
    worker image: its 25-minute build is often skipped (PITCHLENS_IMAGES), and an older one would
    run older code against this schema. Otherwise the embedded stack's pollers take them."""
    return image_exists(GPU_WORKER) and revision(GPU_WORKER) == revision(WORKER) != ""


class PostgresBridge:
    """TCP on 127.0.0.1 -> the embedded PostgreSQL's Unix socket, whose folder the containers'
    non-root user may not enter. Runs its own event loop on a thread."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.port = free_port()
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
    if not _use_gpu_image():
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
    ports = {"api": free_port(), "metrics": free_port(), "gpu_metrics": free_port()}
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
    if _use_gpu_image():
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
                logs = "\n".join(podman("logs", n).stderr[-2000:] for n in names.values())
                pytest.fail(f"{url} never answered:\n{logs}")
        yield {**ports, **{f"{k}_name": v for k, v in names.items()}}
    finally:
        for name in names.values():
            podman("rm", "-f", "-t", "5", name)


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
    stopped = podman("stop", "-t", "60", containers["worker_name"], timeout=90)
    assert stopped.returncode == 0 and time.monotonic() - started < 30, stopped.stderr
    code = podman("inspect", containers["worker_name"], "--format", "{{.State.ExitCode}}").stdout.strip()
    assert code == "0"


# --------------------------------------------------------------------------- Lambda function images


@pytest.fixture
def runtime_api() -> Iterator[RuntimeApi]:
    # One per test: a container's next poll, left waiting when it is removed, would take the
    # following test's event.
    api = RuntimeApi()
    yield api
    api.server.shutdown()


def test_api_function_image(stack: Stack, runtime_api: RuntimeApi) -> None:
    kind, body, logs = runtime_api.invoke(
        FUNCTION, "functions.api.handler.handler", apigw_event("/api/v1/matches"), stack.env_file
    )
    assert kind == "response", (body, logs[-3000:])
    assert body["statusCode"] == 200, body
    assert isinstance(json.loads(body["body"])["matches"], list)  # the paged envelope
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    request = [line for line in lines if line.get("message") == "request"]
    assert request and request[0]["cold_start"] is True and request[0]["aws_request_id"]


def test_queue_function_image_reports_emf(stack: Stack, runtime_api: RuntimeApi) -> None:
    """ingest through the runtime interface client: an S3 test event (no work), partial-batch
    answer, and the cold start as a CloudWatch EMF line (AWS_LAMBDA_FUNCTION_NAME is set)."""
    event = {"Records": [s3_test_event_record("ingest")]}
    kind, body, logs = runtime_api.invoke(FUNCTION, "functions.ingest.handler.handler", event, stack.env_file)
    assert kind == "response", (body, logs[-3000:])
    assert body == {"batchItemFailures": []}
    emf = [json.loads(line) for line in logs.splitlines() if line.startswith('{"_aws"')]
    cold = [line for line in emf if line.get("pitchlens_cold_starts") == [1.0]]
    assert [line["function"] for line in cold] == ["ingest"], logs[-2000:]


def test_render_function_image(stack: Stack, runtime_api: RuntimeApi) -> None:
    event = {"Records": [s3_test_event_record("render")]}
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
