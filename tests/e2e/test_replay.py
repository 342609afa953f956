"""Replay proves every function: each sample in events/ (every trigger of every function) is
replayed with `pitchlens replay` on a fresh embedded stack with the real model, its seed creating
what it refers to, and its effect checked (jobs, rows, objects). A new trigger without a replayable
sample fails here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pitchlens.domain.messages import VideoProcessed
from pitchlens.infrastructure.bootstrap import Container
from pitchlens.infrastructure.messaging import codec, notifications
from pitchlens.infrastructure.settings import FUNCTIONS, Settings
from pitchlens.runtime.worker.replay import plan
from tests.conftest import REPO_ROOT
from tests.e2e.conftest import RunningStack, start_vision_stack

pytestmark = pytest.mark.e2e

EVENTS = REPO_ROOT / "events"
SAMPLES = sorted(path.name for path in EVENTS.glob("*.json"))


@pytest.fixture(scope="module")
def running(model_dir: Path) -> Iterator[RunningStack]:
    yield from start_vision_stack("replay", model_dir)


def replay(running: RunningStack, sample: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PITCHLENS_DATA_DIR": str(running.info.data_dir),
        "PITCHLENS_SHARED_DIR": os.environ.get("PITCHLENS_SHARED_DIR", str(REPO_ROOT.parent / "shared")),
        "PITCHLENS_MODEL": running.settings.model,
        "YOLO_OFFLINE": "1",
    }
    for name in (
        "PITCHLENS_API_URL",
        "PITCHLENS_S3_ENDPOINT",
        "PITCHLENS_SQS_ENDPOINT",
        "PITCHLENS_DATABASE_URL",
    ):
        env.pop(name, None)  # the CLI finds the stack by its data dir, as a person's would
    command = [sys.executable, "-m", "pitchlens.runtime.cli", "replay", str(sample), *options]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)


def report_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    start = done.stdout.index("{")
    report: dict[str, Any] = json.loads(done.stdout[start:])
    return report


def message_types(document: dict[str, Any]) -> set[str]:
    """The message types a sample delivers: an envelope's, or the upload its notification becomes."""
    _, event = plan(document, Settings(), None)
    if "Records" not in event:
        return set()
    uploads = Container(Settings()).upload_types
    found = set()
    for record in event["Records"]:
        body = json.loads(record["body"])
        if codec.is_envelope(body):
            found.add(body["type"])
        else:
            found |= {uploads[c.bucket].TYPE for c in notifications.parse_object_created(body)}
    return found


def test_every_trigger_of_every_function_has_a_sample() -> None:
    documents = {name: json.loads((EVENTS / name).read_text()) for name in SAMPLES}
    covered = set().union(*(message_types(document) for document in documents.values()))
    consumed = {kind.TYPE for kind in Container(Settings()).consumers}
    assert consumed <= covered, f"no sample in events/ for {sorted(consumed - covered)}"
    functions = {plan(document, Settings(), None)[0] for document in documents.values()}
    assert functions == {*FUNCTIONS, "api"}
    for name, document in documents.items():
        assert document.get("expect") is not None, f"{name} does not say what its replay must do"
    assert (EVENTS / "README.md").read_text().count(".json`") >= len(SAMPLES)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_replays_on_a_fresh_stack(running: RunningStack, name: str) -> None:
    done = replay(running, EVENTS / name)

    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    report = report_of(done)
    assert not report["failed"] and report["expectations_unmet"] == [], report
    if report["function"] == "api":
        assert report["response"]["statusCode"] < 400
    else:
        assert all(record["error"] is None for record in report["records"]), report


def test_a_second_replay_is_a_duplicate_and_force_runs_it_again(
    running: RunningStack, tmp_path: Path
) -> None:
    # The stack is the module's: the sample itself may have been replayed on it already, so this
    # replays it under a key of its own.
    document = json.loads((EVENTS / "message-detection-requested.json").read_text())
    document["idempotency_key"] = "replay-twice-${video.job_id}"
    sample = tmp_path / "detection-twice.json"
    sample.write_text(json.dumps(document))
    first = replay(running, sample)
    assert first.returncode == 0, first.stderr[-2000:]
    again = replay(running, sample)
    assert (
        again.returncode == 0
        and "already processed (duplicate)" in again.stderr
        and "--force" in again.stderr
    )
    forced = replay(running, sample, "--force")
    assert forced.returncode == 0, forced.stderr[-2000:]
    [record] = report_of(forced)["records"]
    assert [r["outcome"] for r in record["results"]] == ["done"]


def test_a_record_that_fails_exits_non_zero_saying_which_and_why(
    running: RunningStack, tmp_path: Path
) -> None:
    unknown = codec.encode(
        VideoProcessed("j-unknown", "no-such-clip", "m", "s3://artifacts/x", frames=1, tracks=1, fps=25.0),
        correlation_id="c",
        idempotency_key="k-unknown",
    )
    sample = tmp_path / "unknown-clip.json"
    sample.write_text(unknown)

    done = replay(running, sample)

    assert done.returncode == 1
    assert "failed:" in done.stderr and "no clip 'no-such-clip'" in done.stderr
    [record] = report_of(done)["records"]
    assert record["failed"] and record["results"][0]["outcome"] == "failed"
