"""Event samples (`events/*.json`) made replayable on a fresh stack.

A sample is the event a handler receives (an SQS, S3, MinIO or API Gateway event, or a bare
PitchLens envelope), plus two optional top-level keys that handlers ignore:

* `seed`: steps run through the stack's API before the replay, to create what the event refers
  to (upload a shared clip, create a session, wait for a job). A step may save its answer under a
  name (`"as": "video"`), and later strings refer to it as `${video.job_id}` or `${video.parts.0.url}`.
* `expect`: what the replay must have done, checked through the API afterwards (a job's status,
  a stored match, an object).

Steps, each a JSON object:

    {"upload": "data/video/dfl_08fd33_4_848x478.mp4", "kind": "video", "match_id": "replay",
     "once": true, "as": "video"}          upload a file of the shared data folder (`once`: reuse an
                                            earlier upload of it whose processing succeeded)
    {"send": "${session.uploads.0}", "file": "data/video/x.mp4"}   send a planned upload
    {"request": {"method": "POST", "path": "/cv/sessions", "json": {...}}, "as": "session"}
    {"wait": "${video.job_id}", "status": "SUCCEEDED", "timeout": 600}
    {"replay": "message-ingestion-requested.json"}                 another sample, first

Expectations: `{"job": ID, "status": "SUCCEEDED"}`, `{"match": ID}`, `{"object": "s3://..."}`,
`{"outcome": "done"}` (some record ended so), `{"records": 0}` (nothing to handle).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pitchlens.runtime.cli.api_client import ApiClient, ApiError

VARIABLE = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")
WAIT_S = 300


class SampleError(RuntimeError):
    """A sample cannot be seeded, or its replay did not do what it expects."""


def load(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(the event, its seed steps, its expectations)."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SampleError(f"{path}: {error}") from error
    if not isinstance(document, dict):
        raise SampleError(f"{path}: an event file holds one JSON object")
    seed, expect = document.pop("seed", []), document.pop("expect", [])
    return document, seed, expect


def lookup(name: str, variables: Mapping[str, Any]) -> Any:
    """`video.parts.0.url` in the saved answers."""
    value: Any = variables
    for part in name.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            raise SampleError(f"${{{name}}} is not known (saved: {', '.join(variables) or 'nothing'})")
    return value


def substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    """`value` with every `${name}` replaced: a string that is one reference takes the referred
    value itself (a list stays a list); references inside longer strings become text."""
    if isinstance(value, str):
        whole = VARIABLE.fullmatch(value)
        if whole:
            return lookup(whole.group(1), variables)
        return VARIABLE.sub(lambda m: str(lookup(m.group(1), variables)), value)
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    return value


def unresolved(value: Any) -> list[str]:
    """The `${...}` references left in a value."""
    return VARIABLE.findall(json.dumps(value))


class SampleRunner:
    """Runs seeds and checks expectations through one stack's API."""

    def __init__(
        self,
        client: ApiClient,
        shared_dir: Path,
        samples_dir: Path,
        replay: Callable[[dict[str, Any]], Any],
        log: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._client = client
        self._shared = shared_dir
        self._samples = samples_dir
        self._replay = replay
        self._log = log
        self._correlation_id = f"replay-{uuid.uuid4()}"
        """One upload of several files (a match's events and lineups) is one batch."""

    def seed(self, steps: list[dict[str, Any]], variables: dict[str, Any]) -> dict[str, Any]:
        for step in steps:
            step = substitute(step, variables)
            answer = self._step(step, variables)
            if "as" in step:
                variables[step["as"]] = answer
        return variables

    def _step(self, step: dict[str, Any], variables: dict[str, Any]) -> Any:
        if "upload" in step:
            return self._upload(step)
        if "send" in step:
            plan = step["send"]
            self._log(f"seed: sending {step['file']} to {plan['uri']}")
            return self._client.send(plan, self._file(step["file"]))
        if "request" in step:
            request = step["request"]
            self._log(f"seed: {request['method']} {request['path']}")
            options = {key: request[key] for key in ("json", "params") if key in request}
            return self._client.request(request["method"], request["path"], **options)
        if "wait" in step:
            return self._wait(
                step["wait"], step.get("status", "SUCCEEDED"), float(step.get("timeout", WAIT_S))
            )
        if "replay" in step:
            event, seed, _ = load(self._samples / step["replay"])
            self._log(f"seed: replaying {step['replay']}")
            self.seed(seed, variables)
            return self._replay(substitute(event, variables))
        raise SampleError(f"unknown seed step {json.dumps(step)[:120]}")

    def _file(self, relative: str) -> Path:
        path = self._shared / relative
        if not path.is_file():
            raise SampleError(f"the sample needs {path} (the shared data folder: PITCHLENS_SHARED_DIR)")
        return path

    def _upload(self, step: dict[str, Any]) -> Any:
        path = self._file(step["upload"])
        fields = {key: step[key] for key in ("match_id", "source", "batch_size", "file_name") if key in step}
        if step.get("once"):
            earlier = self._earlier_upload(
                step["kind"], fields["match_id"], step.get("file_name") or path.name
            )
            if earlier is not None:
                self._log(f"seed: {path.name} was uploaded and processed before ({earlier['uri']})")
                return earlier
        self._log(
            f"seed: uploading {path.name}" + (f" as {step['file_name']}" if "file_name" in step else "")
        )
        return self._client.upload(path, kind=step["kind"], correlation_id=self._correlation_id, **fields)

    def _earlier_upload(self, kind: str, match_id: str, name: str) -> dict[str, Any] | None:
        if kind != "video":
            return None
        for job in reversed(self._client.items("/api/v1/jobs", "jobs", {"match_id": match_id})):
            uri = job["outputs"].get("video_uri", "")
            if job["kind"] == "process" and job["status"] == "SUCCEEDED" and uri.endswith(f"/{name}"):
                return {"job_id": job["job_id"], "uri": uri, "key": uri.split("/", 3)[3]}
        return None

    def _wait(self, job_id: str, status: str, timeout_s: float) -> Any:
        job = self._client.wait_for_job(job_id=job_id, timeout_s=timeout_s)
        if job["status"] != status:
            raise SampleError(f"job {job_id} is {job['status']}, not {status}: {job.get('reason')}")
        return job

    # --- Expectations ----------------------------------------------------------------------------
    def check(
        self, expectations: list[dict[str, Any]], variables: dict[str, Any], outcomes: list[str]
    ) -> list[str]:
        """What the replay did not do, as sentences (empty: all of it)."""
        problems = []
        for expectation in substitute(expectations, variables):
            try:
                self._expect(expectation, outcomes)
            except (SampleError, ApiError, TimeoutError) as error:
                problems.append(str(error))
        return problems

    def _expect(self, expectation: dict[str, Any], outcomes: list[str]) -> None:
        if "job" in expectation:
            self._log(f"check: job {expectation['job']} ends {expectation.get('status', 'SUCCEEDED')}")
            self._wait(
                expectation["job"],
                expectation.get("status", "SUCCEEDED"),
                float(expectation.get("timeout", WAIT_S)),
            )
        elif "match" in expectation:
            self._eventually(
                lambda: self._client.request("GET", f"/api/v1/matches/{expectation['match']}"),
                f"match {expectation['match']} stored",
            )
        elif "object" in expectation:
            self._client.read(expectation["object"])
        elif "outcome" in expectation:
            # A duplicate was handled by an earlier replay: its effect is what the other
            # expectations check; the replay says so and how to run it again (--force).
            if expectation["outcome"] not in outcomes and set(outcomes) != {"duplicate"}:
                raise SampleError(
                    f"no record ended {expectation['outcome']} (outcomes: {outcomes or 'none'})"
                )
        elif "records" in expectation:
            if len(outcomes) != int(expectation["records"]):
                raise SampleError(f"{len(outcomes)} messages handled, expected {expectation['records']}")
        else:
            raise SampleError(f"unknown expectation {json.dumps(expectation)[:120]}")

    @staticmethod
    def _eventually(check: Callable[[], Any], what: str, timeout_s: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                check()
                return
            except ApiError as error:
                if error.status != 404 or time.monotonic() > deadline:
                    raise SampleError(f"{what}: {error}") from error
            time.sleep(0.5)
