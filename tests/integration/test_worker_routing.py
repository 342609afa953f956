"""Worker routing: a vision message is never taken by a CPU-only worker.

Workers subscribe to queues, not to message types: `pitchlens worker --functions
ingest,persist,render` polls only the ingest, persist and render queues, so a message on the detect
or track queue waits for a GPU worker. Checked against a real SQS server (moto's, in this process)
with probe handlers that record what they receive, and then in the deploy files:
docker-compose.yml's cpu-worker and gpu-worker, and template.yaml's Lambda event sources and ECS GPU
service, split the queues the same way.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cfnlint.decode import cfn_yaml
from moto.server import ThreadedMotoServer

from pitchlens.domain.messages import MatchIngested, PlayersDetected
from pitchlens.infrastructure import aws_clients
from pitchlens.infrastructure.bootstrap import Container
from pitchlens.infrastructure.messaging.codec import encode
from pitchlens.infrastructure.provisioning import AwsResourceProvisioner
from pitchlens.infrastructure.settings import FUNCTIONS, Settings
from pitchlens.runtime.worker.functions import load_handler
from pitchlens.runtime.worker.runtime import FunctionRuntime

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
TEMPLATE = REPO / "template.yaml"

CPU_FUNCTIONS = ("ingest", "persist", "render")
"""Render decodes, draws and encodes video (PyAV, OpenCV, ffmpeg) but runs no model: a CPU function."""
GPU_FUNCTIONS = ("detect", "track")
"""The functions that need the vision stack (YOLO, tracking): GPU workers only."""

MESSAGE_ROUTES = {kind.TYPE: consumer.function for kind, consumer in Container(Settings()).consumers.items()}
"""Message type -> the function whose queue receives it (the composition root's consumers table)."""

PROBE_HANDLER = """
import json
from pathlib import Path

FUNCTION = {function!r}
LOG = Path({log!r})


def _write(entry):
    with LOG.open("a") as log:
        log.write(json.dumps(entry) + "\\n")


_write({{"loaded": FUNCTION}})


def handler(event, context):
    for record in event["Records"]:
        _write({{"function": FUNCTION, "queue_arn": record["eventSourceARN"], "body": record["body"]}})
    return {{"batchItemFailures": []}}
"""


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture
def sqs_endpoint() -> Iterator[str]:
    """moto's server on a free port, reset, stopped afterwards."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        httpx.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        yield endpoint
    finally:
        server.stop()


@dataclass
class Probes:
    """Probe handlers for every queue-driven function, and what they logged."""

    log: Path

    def entries(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def loaded(self) -> set[str]:
        return {e["loaded"] for e in self.entries() if "loaded" in e}

    def received(self) -> list[tuple[str, str]]:
        """(function, message type) of every message a handler got; "ObjectCreated" for a storage
        notification (an S3 event, not an envelope)."""
        found = []
        for entry in self.entries():
            if "function" in entry:
                body = json.loads(entry["body"])
                found.append(
                    (entry["function"], body.get("type") or ("ObjectCreated" if "Records" in body else "?"))
                )
        return found

    def wait_for(self, count: int, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.received()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.received()) >= count, f"expected {count} messages, handlers got {self.received()}"


@pytest.fixture
def probes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Probes]:
    """PITCHLENS_FUNCTIONS_DIR -> a folder of probe handlers (load_handler's cache cleared around)."""
    root = tmp_path / "functions"
    log = tmp_path / "received.jsonl"
    for function in FUNCTIONS:
        (root / function).mkdir(parents=True)
        (root / function / "handler.py").write_text(PROBE_HANDLER.format(function=function, log=str(log)))
    monkeypatch.setenv("PITCHLENS_FUNCTIONS_DIR", str(root))
    load_handler.cache_clear()
    try:
        yield Probes(log)
    finally:
        load_handler.cache_clear()


@pytest.fixture
def settings(sqs_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith(("PITCHLENS_", "AWS_")) and name != "PITCHLENS_FUNCTIONS_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PITCHLENS_SQS_ENDPOINT", sqs_endpoint)
    monkeypatch.setenv("PITCHLENS_S3_ENDPOINT", sqs_endpoint)
    monkeypatch.setenv("PITCHLENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PITCHLENS_POLL_WAIT_S", "1")
    return Settings()


@pytest.fixture
def sqs(settings: Settings) -> Any:
    client = aws_clients.sqs_client(settings)
    AwsResourceProvisioner(aws_clients.s3_client(settings), client, settings).ensure_queues()
    return client


# ------------------------------------------------------------------------------- messages


def _players_detected() -> str:
    message = PlayersDetected(
        job_id="job-vision",
        clip_id="clip-1",
        match_id="match-1",
        video_uri="s3://videos/match-1/clip-1.mp4",
        frame_index=0,
        frame_uri="s3://artifacts/clips/clip-1/frame.jpg",
        detections_uri="s3://artifacts/clips/clip-1/detections.json",
        detections=22,
    )
    return encode(message, correlation_id="corr-vision", idempotency_key="players-detected:clip-1")


def _match_ingested() -> str:
    message = MatchIngested(
        job_id="job-ingest",
        source="statsbomb",
        match_id="3788741",
        match_uri="s3://artifacts/staging/3788741/match.json",
        ingested_at=datetime(2024, 6, 14, 19, 0, tzinfo=UTC),
    )
    return encode(message, correlation_id="corr-ingest", idempotency_key="match-ingested:3788741")


def _video_uploaded(settings: Settings) -> str:
    """What S3 (or the API, for MinIO's webhook) puts on the detect queue for an upload."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": "2024-06-14T19:00:00.000Z",
        "s3": {
            "bucket": {"name": settings.bucket_videos},
            "object": {"key": "match-1/clip-1.mp4", "size": 1024, "eTag": "abc", "sequencer": "01"},
        },
    }
    return json.dumps({"Records": [record]})


def _queue_url(sqs: Any, settings: Settings, function: str) -> str:
    url: str = sqs.get_queue_url(QueueName=settings.queue_name(function))["QueueUrl"]
    return url


def _send(sqs: Any, settings: Settings, function: str, body: str) -> None:
    sqs.send_message(QueueUrl=_queue_url(sqs, settings, function), MessageBody=body)


def _untouched(sqs: Any, settings: Settings, function: str) -> list[str]:
    """Bodies on a function's queue that nobody received before (receive count 1 on this read)."""
    url = _queue_url(sqs, settings, function)
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0", f"{function}: in flight"
    received = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["ApproximateReceiveCount"]
    ).get("Messages", [])
    assert all(m["Attributes"]["ApproximateReceiveCount"] == "1" for m in received), received
    return [m["Body"] for m in received]


def _run(runtime: FunctionRuntime, probes: Probes, expected: int) -> None:
    """Runs the worker until its handlers got `expected` messages, then a few more poll rounds
    (time to take anything it should not), then stops it."""
    runtime.start()
    try:
        probes.wait_for(expected)
        time.sleep(3.0)
    finally:
        runtime.stop()


# ---------------------------------------------------------------------------- the workers


def test_message_routes_put_vision_messages_on_gpu_queues(settings: Settings) -> None:
    assert MESSAGE_ROUTES["PlayersDetected"] in GPU_FUNCTIONS
    assert MESSAGE_ROUTES["MatchIngested"] in CPU_FUNCTIONS
    assert MESSAGE_ROUTES["VideoProcessed"] in CPU_FUNCTIONS, "persisting trajectories needs no GPU"
    assert MESSAGE_ROUTES["RenderRequested"] in CPU_FUNCTIONS, "rendering needs no GPU"
    assert MESSAGE_ROUTES["VideoUploaded"] == MESSAGE_ROUTES["DetectionRequested"] in GPU_FUNCTIONS
    assert settings.notification_routes[settings.bucket_videos] in GPU_FUNCTIONS
    uploads = Container(settings).upload_types
    for bucket, function in settings.notification_routes.items():  # notifications reach their consumer
        assert MESSAGE_ROUTES[uploads[bucket].TYPE] == function


def test_cpu_worker_never_takes_a_vision_message(sqs: Any, settings: Settings, probes: Probes) -> None:
    players_detected, match_ingested, video_uploaded = (
        _players_detected(),
        _match_ingested(),
        _video_uploaded(settings),
    )
    _send(sqs, settings, MESSAGE_ROUTES["PlayersDetected"], players_detected)
    _send(sqs, settings, settings.notification_routes[settings.bucket_videos], video_uploaded)
    _send(sqs, settings, MESSAGE_ROUTES["MatchIngested"], match_ingested)

    _run(FunctionRuntime(settings, sqs, list(CPU_FUNCTIONS)), probes, expected=1)

    assert probes.received() == [("persist", "MatchIngested")]
    assert probes.loaded() == set(CPU_FUNCTIONS), "a CPU worker must not even load a vision handler"
    assert _untouched(sqs, settings, "track") == [players_detected]
    assert _untouched(sqs, settings, "detect") == [video_uploaded]
    assert _untouched(sqs, settings, "persist") == []


def test_gpu_worker_takes_only_vision_messages(sqs: Any, settings: Settings, probes: Probes) -> None:
    match_ingested = _match_ingested()
    _send(sqs, settings, MESSAGE_ROUTES["MatchIngested"], match_ingested)
    _send(sqs, settings, MESSAGE_ROUTES["PlayersDetected"], _players_detected())
    _send(sqs, settings, settings.notification_routes[settings.bucket_videos], _video_uploaded(settings))

    _run(FunctionRuntime(settings, sqs, list(GPU_FUNCTIONS)), probes, expected=2)

    assert sorted(probes.received()) == [("detect", "ObjectCreated"), ("track", "PlayersDetected")]
    assert probes.loaded() == set(GPU_FUNCTIONS)
    assert _untouched(sqs, settings, "persist") == [match_ingested]


# ---------------------------------------------------------------------------- deploy files


def _worker_functions(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    assert command[0] == "worker", command
    functions: list[str] = command[command.index("--functions") + 1].split(",")
    return functions


def test_compose_workers_split_the_queues() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    cpu = _worker_functions(services["cpu-worker"])
    gpu = _worker_functions(services["gpu-worker"])
    assert cpu == list(CPU_FUNCTIONS)
    assert gpu == list(GPU_FUNCTIONS)
    assert not set(cpu) & set(gpu), "a queue polled by both workers"
    # Every function with a handler is polled by exactly one worker.
    deployed = {f for f in FUNCTIONS if (REPO / "functions" / f / "handler.py").is_file()}
    assert set(cpu) | set(gpu) == deployed
    # Only the GPU worker gets a GPU, and only the CPU worker runs without the vision image.
    assert "deploy" not in services["cpu-worker"]
    assert services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    assert services["cpu-worker"]["build"]["dockerfile"] == "infra/Dockerfile.worker"
    assert services["gpu-worker"]["build"]["dockerfile"] == "infra/Dockerfile.gpu-worker"


def _queue_functions(template: dict[str, Any], prefix: str) -> dict[str, str]:
    """Queue logical id -> the function whose queue it is (QueueName "${QueuePrefix}<function>")."""
    names: dict[str, str] = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::SQS::Queue":
            continue
        queue_name = resource["Properties"]["QueueName"]
        text = queue_name["Fn::Sub"] if isinstance(queue_name, dict) else queue_name
        resolved = text.replace("${QueuePrefix}", prefix)
        if resolved.startswith(prefix) and not resolved.endswith("-dlq"):
            names[name] = resolved[len(prefix) :]
    return names


def test_template_consumers_split_the_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    template: dict[str, Any] = cfn_yaml.load(str(TEMPLATE))
    monkeypatch.delenv("PITCHLENS_QUEUE_PREFIX", raising=False)
    prefix = template["Parameters"]["QueuePrefix"]["Default"]
    assert prefix == Settings().queue_prefix
    queues = _queue_functions(template, prefix)
    resources = template["Resources"]

    lambda_consumers: dict[str, list[str]] = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                queue = event["Properties"]["Queue"]["Fn::GetAtt"]
                queue_id = queue[0] if isinstance(queue, list) else queue.split(".")[0]
                lambda_consumers.setdefault(queues[queue_id], []).append(name)

    gpu_consumers: list[str] = []
    for resource in resources.values():
        if resource["Type"] == "AWS::ECS::TaskDefinition":
            for container in resource["Properties"]["ContainerDefinitions"]:
                gpu_consumers += _worker_functions({"command": container["Command"]})
                assert {"Type": "GPU", "Value": "1"} in container["ResourceRequirements"]

    assert sorted(lambda_consumers) == sorted(CPU_FUNCTIONS), "CPU functions: Lambda event sources"
    assert all(len(c) == 1 for c in lambda_consumers.values()), lambda_consumers
    assert gpu_consumers == list(GPU_FUNCTIONS), "vision functions: the ECS GPU service"
    assert set(queues.values()) == set(CPU_FUNCTIONS) | set(GPU_FUNCTIONS)
    # Every message type and every bucket notification lands on a queue that has a consumer.
    consumed = set(lambda_consumers) | set(gpu_consumers)
    assert set(MESSAGE_ROUTES.values()) <= consumed
    assert set(Settings().notification_routes.values()) <= consumed
