"""Stress: `pitchlens up` / stop cycles, some ending in SIGKILL mid-upload; nothing acknowledged lost.

    python -m tests.stress.crash_cycles [--cycles 100] [--kill-every 3] [--minutes 30]

Each cycle starts `pitchlens up` on one data dir (no functions, so notifications stay queued),
uploads objects from a thread (PUTs of 1 B - 256 KiB; the third a 6 MiB multipart upload) into
a bucket whose ObjectCreated notifications go to a queue, then either stops the stack (`pitchlens
down`) or, every `--kill-every`th cycle, SIGKILLs it while the uploader is still sending. A PUT
counts as acknowledged when it returned; the next cycle starts at once (a killed stack's postgres
guard may still be stopping) and checks that every acknowledged object is there with its size and
ETag, and that the queue holds at least one notification per acknowledged object. At the end
every object's bytes are compared, the notifications are read and matched key by key, the stack
is stopped, and no process (stack, PostgreSQL, guard) may still use the data dir. Not run in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import psutil
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

REPO = Path(__file__).resolve().parents[2]
BUCKET, QUEUE = "stress", "stress-events"
MULTIPART = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)


def body_of(key: str, size: int) -> bytes:
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PITCHLENS_", "AWS_"))}
    return {**env, **extra}


def start(data_dir: Path, no_functions: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    env = environment({"PITCHLENS_FUNCTIONS_DIR": str(no_functions)})
    log = (data_dir.parent / "up.log").open("ab")
    ports = ["--api-port", "0", "--aws-port", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "pitchlens.runtime.cli", "up", "--data-dir", str(data_dir), *ports],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`pitchlens up` exited with {process.returncode}; see {log.name}")
        stack_file = data_dir / "stack.json"
        if stack_file.is_file():
            try:
                info = json.loads(stack_file.read_text())
            except ValueError:
                info = {}
            if info.get("pid") == process.pid:
                return process, info
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("`pitchlens up` did not start within 180 s")


def clients(info: dict[str, Any]) -> tuple[Any, Any]:
    options = {
        "endpoint_url": info["s3_endpoint"],
        "region_name": info["aws_region"],
        "aws_access_key_id": "pitchlens",
        "aws_secret_access_key": "pitchlens",
        "config": Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=30),
    }
    return boto3.client("s3", **options), boto3.client("sqs", **options)


def processes_using(data_dir: Path) -> list[str]:
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(str(data_dir) in part for part in process.info["cmdline"] or []):
                found.append(f"{process.info['pid']}: {' '.join(process.info['cmdline'])[:120]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


class Uploader(threading.Thread):
    """PUTs objects until stopped; `acknowledged` holds key -> (size, etag) of those that returned."""

    def __init__(self, s3: Any, cycle: int, acknowledged: dict[str, tuple[int, str]]) -> None:
        super().__init__(daemon=True)
        self._s3, self._cycle, self.acknowledged = s3, cycle, acknowledged
        self.stopping = threading.Event()
        self.sent = 0

    def run(self) -> None:
        number = 0
        while not self.stopping.is_set():
            number += 1
            key = f"cycle-{self._cycle:03d}/object-{number:04d}"
            multipart = number == 3
            size = 6 * 1024 * 1024 + 17 if multipart else random.choice([1, 1000, 64 * 1024, 256 * 1024])
            data = body_of(key, size)
            try:
                if multipart:
                    path = Path(tempfile.mkstemp()[1])
                    path.write_bytes(data)
                    try:
                        self._s3.upload_file(str(path), BUCKET, key, Config=MULTIPART)
                    finally:
                        path.unlink()
                    etag = ""  # a multipart ETag: sizes and, at the end, bytes are compared
                else:
                    etag = self._s3.put_object(Bucket=BUCKET, Key=key, Body=data)["ETag"]
            except (BotoCoreError, ClientError, OSError):
                continue  # not acknowledged (the stack was killed under it)
            self.sent += 1
            self.acknowledged[key] = (size, etag)


def check_objects(s3: Any, acknowledged: dict[str, tuple[int, str]]) -> list[str]:
    listed: dict[str, tuple[int, str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            listed[item["Key"]] = (item["Size"], item["ETag"])
    lost = []
    for key, (size, etag) in acknowledged.items():
        found = listed.get(key)
        if found is None or found[0] != size or (etag and found[1] != etag):
            lost.append(key)
    return lost


def queue_depth(sqs: Any) -> int:
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def notified_keys(sqs: Any) -> set[str]:
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    keys: set[str] = set()
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900).get(
            "Messages", []
        )
        if not messages:
            return keys
        for message in messages:
            for record in json.loads(message["Body"]).get("Records", []):
                keys.add(unquote_plus(record["s3"]["object"]["key"]))  # keys arrive URL-encoded


def provision(s3: Any, sqs: Any) -> None:
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    sqs.purge_queue(QueueUrl=url)  # the s3:TestEvent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--kill-every", type=int, default=3, help="every Nth cycle ends in SIGKILL")
    parser.add_argument(
        "--minutes", type=float, default=0, help="stop starting cycles after this (0: no limit)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    args = parser.parse_args()
    random.seed(args.seed)

    folder = Path(tempfile.mkdtemp(prefix="pitchlens-stress-"))
    folder.chmod(0o755)  # postgres runs as its own system user when we are root
    data_dir, no_functions = folder / "data", folder / "no-functions"
    no_functions.mkdir()
    acknowledged: dict[str, tuple[int, str]] = {}
    lost: set[str] = set()
    kills = stops = 0
    up_seconds: list[float] = []
    began = time.monotonic()
    cycle = 0
    try:
        for cycle in range(1, args.cycles + 1):
            if args.minutes and time.monotonic() - began > args.minutes * 60:
                cycle -= 1
                break
            started = time.monotonic()
            process, info = start(data_dir, no_functions)
            up_seconds.append(time.monotonic() - started)
            s3, sqs = clients(info)
            if cycle == 1:
                provision(s3, sqs)
            missing = check_objects(s3, acknowledged)
            depth = queue_depth(sqs)
            lost.update(missing)
            if missing or depth < len(acknowledged):
                print(f"cycle {cycle}: LOST {len(missing)} objects; {depth} queued for {len(acknowledged)}")
            uploader = Uploader(s3, cycle, acknowledged)
            uploader.start()
            time.sleep(random.uniform(0.5, 2.0))
            kill = cycle % args.kill_every == 0
            if kill:
                process.send_signal(signal.SIGKILL)  # while the uploader is still sending
                process.wait(30)
                uploader.stopping.set()
                uploader.join(60)
                kills += 1
            else:
                uploader.stopping.set()
                uploader.join(60)
                process.send_signal(signal.SIGTERM)  # what `pitchlens down` sends
                process.wait(180)
                stops += 1
                left = processes_using(data_dir)
                if left:
                    print(f"cycle {cycle}: processes left after a clean stop: {left}")
                    lost.add(f"orphan after cycle {cycle}")
            print(
                f"cycle {cycle:3d} {'SIGKILL' if kill else 'stop   '} up {up_seconds[-1]:4.1f} s, "
                f"{uploader.sent:3d} PUTs acknowledged, {len(acknowledged)} in all, {depth} queued before",
                flush=True,
            )

        process, info = start(data_dir, no_functions)
        s3, sqs = clients(info)
        lost.update(check_objects(s3, acknowledged))
        for key, (size, _) in acknowledged.items():
            if s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() != body_of(key, size):
                lost.add(key)
        unannounced = set(acknowledged) - notified_keys(sqs)
        process.send_signal(signal.SIGTERM)
        process.wait(180)
        time.sleep(1)
        orphans = processes_using(data_dir)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    summary = {
        "cycles": cycle,
        "sigkill": kills,
        "clean_stops": stops,
        "acknowledged_objects": len(acknowledged),
        "lost_objects": len(lost),
        "lost_notifications": len(unannounced),
        "orphan_processes": orphans,
        "up_seconds_median": sorted(up_seconds)[len(up_seconds) // 2] if up_seconds else None,
        "minutes": round((time.monotonic() - began) / 60, 1),
    }
    print(json.dumps(summary))
    return 0 if not lost and not unannounced and not orphans else 1


if __name__ == "__main__":
    sys.exit(main())
