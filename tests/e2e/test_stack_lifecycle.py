"""The CLI as a user runs it: ingest (starting the stack), status, replay, down, up, Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import service_dir
from tests.e2e import uploads

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, data_dir: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PITCHLENS_", "AWS_"))}
    env.update({"PITCHLENS_DATA_DIR": str(data_dir), "PITCHLENS_API_PORT": "0", "PITCHLENS_AWS_PORT": "0"})
    return subprocess.run(
        [sys.executable, "-m", "pitchlens.runtime.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


def processes_using(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(str(data_dir) in part for part in process.info["cmdline"] or []):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_ingest_starts_the_stack_and_everything_survives_a_restart(
    statsbomb_dir: Path, metrica_dir: Path
) -> None:
    with service_dir("lifecycle") as folder:
        run_lifecycle(folder / "data", statsbomb_dir, metrica_dir)


def run_lifecycle(data_dir: Path, statsbomb_dir: Path, metrica_dir: Path) -> None:
    ingest = cli(
        "ingest", "statsbomb", "3788741", "--open-data", str(statsbomb_dir), "--json", data_dir=data_dir
    )
    assert ingest.returncode == 0, ingest.stderr
    job = json.loads(ingest.stdout)
    assert job["status"] == "SUCCEEDED" and job["counts"]["events"] == 3803

    try:
        status = cli("status", "--json", data_dir=data_dir)
        assert status.returncode == 0, status.stderr
        info = json.loads(status.stdout)
        for field in ("api_url", "s3_endpoint", "sqs_endpoint", "database_url", "data_dir"):
            assert info[field], field
        if shutil.which("psql"):  # the printed URL works as is for PostgreSQL's own client
            query = "SELECT count(*) FROM events WHERE match_id = 3788741"
            counted = subprocess.run(
                ["psql", info["database_url"], "-tAc", query], capture_output=True, text=True, timeout=30
            )
            assert counted.stdout.strip() == "3803", counted.stderr

        replayed = cli("replay", str(REPO / "events" / "apigw-v2-post-ingest.json"), data_dir=data_dir)
        assert replayed.returncode == 0, replayed.stderr
        response = json.loads(replayed.stdout)
        assert response["function"] == "api" and response["response"]["statusCode"] == 202

        metrica = cli(
            "ingest",
            "metrica",
            str(metrica_dir / "Sample_Game_1"),
            "--match-id",
            "game-1",
            "--json",
            data_dir=data_dir,
        )
        assert metrica.returncode == 0, metrica.stderr
        assert json.loads(metrica.stdout)["counts"]["events"] > 1000

        unknown = cli("ingest", "statsbomb", "424242", "--open-data", str(statsbomb_dir), data_dir=data_dir)
        assert unknown.returncode == 1 and "424242" in unknown.stderr

        # A highlight session (its one "video" is damaged: detection fails it, with the reason).
        damaged = data_dir / "damaged.mp4"
        damaged.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64)
        with httpx.Client(base_url=info["api_url"], timeout=30) as api:
            session_id = uploads.create_session(api, [damaged], "Lifecycle Cup", "No 4")["session_id"]

        dead = cli("dlq", "list", "--json", data_dir=data_dir)
        assert dead.returncode == 0 and all(q["messages"] == 0 for q in json.loads(dead.stdout))
    finally:
        down = cli("down", data_dir=data_dir, timeout=240)
    log = data_dir / "stack.log"
    assert down.returncode == 0, down.stderr + (log.read_text()[-3000:] if log.is_file() else "")
    assert processes_using(data_dir) == []
    assert cli("status", "--json", data_dir=data_dir).returncode == 1

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PITCHLENS_", "AWS_"))}
    up = subprocess.Popen(
        [sys.executable, "-m", "pitchlens.runtime.cli", "up", "--data-dir", str(data_dir), "--api-port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and cli("status", data_dir=data_dir).returncode != 0:
            time.sleep(0.5)
        info = json.loads(cli("status", "--json", data_dir=data_dir).stdout)
        match = httpx.get(f"{info['api_url']}/api/v1/matches/3788741", timeout=10)
        assert match.status_code == 200 and match.json()["event_count"] == 3803
        session = httpx.get(f"{info['api_url']}/cv/session/{session_id}/clips", timeout=10)
        assert session.status_code == 200, session.text  # sessions live in PostgreSQL: a restart keeps them
        assert [c["name"] for c in session.json()["clips"]] == ["damaged.mp4"]
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=info["s3_endpoint"],
            aws_access_key_id="x",
            aws_secret_access_key="x",
            region_name="us-east-1",
        )
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="raw-data").get("Contents", [])]
        assert "statsbomb/3788741/events.json" in keys
    finally:
        up.send_signal(signal.SIGINT)  # Ctrl-C
        assert up.wait(60) == 0
    assert processes_using(data_dir) == []
