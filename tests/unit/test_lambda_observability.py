"""What a function reports on Lambda, where Prometheus cannot scrape it: CloudWatch EMF lines next to
the Prometheus counters (chosen by settings: Lambda sets AWS_LAMBDA_FUNCTION_NAME), and log lines
that carry the invocation's request id and cold-start flag."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import REGISTRY

from pitchlens.application.outcomes import Outcome, Result
from pitchlens.domain.jobs import JobKind, JobStatus
from pitchlens.domain.messages import IngestionRequested
from pitchlens.infrastructure import lambda_context
from pitchlens.infrastructure.bootstrap import Container
from pitchlens.infrastructure.lambda_sqs import MetricsOutcomes
from pitchlens.infrastructure.logging import configure_logging, get_logger
from pitchlens.infrastructure.metrics import FunctionMetrics
from pitchlens.infrastructure.settings import Settings

pytestmark = pytest.mark.unit


def _emf_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_emf_lines_name_the_metric_its_dimensions_and_value(capsys: pytest.CaptureFixture[str]) -> None:
    labels = {"function": "unit-emf", "outcome": "done"}
    before = _sample("pitchlens_function_invocations_total", labels)
    recorder = FunctionMetrics("PitchLens")
    recorder.handled("unit-emf", "done")
    recorder.duration("unit-emf", 0.25)
    recorder.dead_lettered("pitchlens-unit-emf")

    [handled, duration, dead] = _emf_lines(capsys.readouterr().out)
    [directive] = handled["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "PitchLens"
    assert directive["Dimensions"] == [["function", "outcome"]]
    assert directive["Metrics"] == [{"Name": "pitchlens_function_invocations", "Unit": "Count"}]
    assert (handled["function"], handled["outcome"], handled["pitchlens_function_invocations"]) == (
        "unit-emf",
        "done",
        [1.0],
    )
    assert duration["pitchlens_function_duration"] == [250.0]
    assert duration["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Milliseconds"
    assert dead["queue"] == "pitchlens-unit-emf"
    # Prometheus counts as well: the same code runs in compose and the embedded stack.
    assert _sample("pitchlens_function_invocations_total", labels) == before + 1


def test_without_a_namespace_nothing_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    labels = {"function": "unit-prom", "outcome": "failed"}
    before = _sample("pitchlens_function_invocations_total", labels)
    FunctionMetrics(None).handled("unit-prom", "failed")
    assert _emf_lines(capsys.readouterr().out) == []
    assert _sample("pitchlens_function_invocations_total", labels) == before + 1


def test_settings_choose_emf_on_lambda_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    assert Settings().emf_namespace is None
    assert not Container(Settings()).function_metrics.emf
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "pitchlens-ingest")
    monkeypatch.setenv("PITCHLENS_METRICS_NAMESPACE", "PitchLensStaging")
    assert Settings().emf_namespace == "PitchLensStaging"
    assert Container(Settings()).function_metrics.emf


def test_finished_ingestions_are_counted_by_the_pipeline_observer(capsys: pytest.CaptureFixture[str]) -> None:
    result = Result(
        Outcome.DONE, job_id="j1", source="unit-src", job_kind=JobKind.INGEST, job_status=JobStatus.SUCCEEDED
    )
    message = IngestionRequested(job_id="j1", source="unit-src", match_id="1")
    MetricsOutcomes(FunctionMetrics("PitchLens")).handled("ingest", message, result)
    names = [
        next(k for k in line if k.startswith("pitchlens_")) for line in _emf_lines(capsys.readouterr().out)
    ]
    assert names == ["pitchlens_function_invocations", "pitchlens_ingestion_jobs"]


class _Context:
    aws_request_id = "8f5e7c1a-0000-4000-8000-000000000001"


def test_log_lines_carry_request_id_and_cold_start(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_context, "_first_invocation", True)
    configure_logging("INFO", "json")
    log = get_logger("pitchlens.test")
    for _ in range(2):
        with lambda_context.lambda_invocation(_Context()):
            log.info("working")
    log.info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    working = [line for line in lines if line["message"] == "working"]
    assert [(line["aws_request_id"], line["cold_start"]) for line in working] == [
        (_Context.aws_request_id, True),
        (_Context.aws_request_id, False),
    ]
    [outside] = [line for line in lines if line["message"] == "outside"]
    assert "aws_request_id" not in outside and "cold_start" not in outside


def test_http_metrics_are_per_route_template_not_per_url() -> None:
    """`pitchlens_http_request_duration_seconds` and `_requests_total` carry the route template, so
    one series per route whatever the ids in the URL; an unknown path is `unmatched`. (401s: the
    token check answers before anything touches a database.)"""
    from fastapi.testclient import TestClient

    from pitchlens.infrastructure.http.app import create_app

    container = Container(Settings(database_url="postgresql://nobody@/none", api_token="t" * 16))
    client = TestClient(create_app(lambda: container))
    route = "/api/v1/matches/{match_id}"

    def count(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = count("pitchlens_http_request_duration_seconds_count", method="GET", route=route)
    for match_id in ("m-1", "m-2", "m-3"):
        assert client.get(f"/api/v1/matches/{match_id}").status_code == 401
    assert client.get("/no/such/path").status_code == 404
    after = count("pitchlens_http_request_duration_seconds_count", method="GET", route=route)
    assert after - before == 3
    assert count("pitchlens_http_requests_total", method="GET", route=route, status="401") >= 3
    assert count("pitchlens_http_request_duration_seconds_count", method="GET", route="unmatched") >= 1
    urls = [
        s.labels["route"]
        for m in REGISTRY.collect()
        if m.name == "pitchlens_http_request_duration_seconds"
        for s in m.samples
    ]
    assert not [u for u in urls if "m-1" in u], urls
