"""What the image tests share (tests/integration/test_images_smoke.py in `make test`,
tests/integration/test_images.py in `make test-images`): the names `make images` (infra/images/build.sh)
gives its images, podman's run flags, and a local Lambda Runtime API to start a function image
through its real entrypoint."""

from __future__ import annotations

import http.server
import json
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TAG = os.environ.get("PITCHLENS_IMAGE_TAG", "local")
WORKER = f"localhost/pitchlens-worker:{TAG}"
FUNCTION = f"localhost/pitchlens-function:{TAG}"
FUNCTION_VIDEO = f"localhost/pitchlens-function-video:{TAG}"
GPU_WORKER = f"localhost/pitchlens-gpu-worker:{TAG}"
IMAGES = {"worker": WORKER, "function": FUNCTION, "function-video": FUNCTION_VIDEO, "gpu-worker": GPU_WORKER}
"""`PITCHLENS_IMAGES` name -> image, as build.sh tags them."""

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


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)


def image_exists(image: str) -> bool:
    return shutil.which("podman") is not None and podman("image", "exists", image).returncode == 0


def revision(image: str) -> str:
    """The commit build.sh labelled the image with ("" for an image built before the label)."""
    label = '{{index .Labels "org.opencontainers.image.revision"}}'
    found = podman("image", "inspect", image, "--format", label)
    return found.stdout.strip() if found.returncode == 0 else ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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

    def invoke(
        self, image: str, handler: str, event: dict[str, Any], env_file: Path | None = None
    ) -> tuple[str, Any, str]:
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
        run = [*PODMAN_RUN, "-d", "--name", name]
        if env_file is not None:
            run += ["--env-file", str(env_file)]
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
            logs = podman("logs", name)
            kind, body = self.answers.pop(request_id, None) or self.answers.pop("init", ("timeout", None))
            return kind, body, logs.stdout + logs.stderr
        finally:
            podman("rm", "-f", "-t", "1", name)


def apigw_event(path: str) -> dict[str, Any]:
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


def s3_test_event_record(function: str) -> dict[str, Any]:
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
