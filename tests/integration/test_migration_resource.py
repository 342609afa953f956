"""The migrations as a CloudFormation custom resource (template.yaml DatabaseMigration): the migrate
function's handler against a real PostgreSQL, answering on a real HTTP PUT as CloudFormation's
pre-signed response URL expects."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from pitchlens.infrastructure.postgres.migrate import current_revision, head_revision
from pitchlens.infrastructure.postgres.migration_resource import PHYSICAL_ID, handle_migration_event
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.embedded.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


class ResponseUrl:
    """A local stand-in for the pre-signed S3 URL: records each PUT's headers and JSON body."""

    def __init__(self) -> None:
        self.answers: list[tuple[dict[str, str], dict[str, Any]]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.answers.append((dict(self.headers), orjson.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cfn-response?X-Amz-Signature=x"


@pytest.fixture
def response_url() -> Iterator[ResponseUrl]:
    target = ResponseUrl()
    thread = threading.Thread(target=target.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        target.server.shutdown()
        target.server.server_close()


def _event(request: str, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/pitchlens/1",
        "RequestId": f"req-{request}",
        "LogicalResourceId": "DatabaseMigration",
        "ResourceType": "Custom::DatabaseMigration",
        "ResourceProperties": {"Version": "arn:aws:lambda:eu-west-1:123456789012:function:m:3"},
        **extra,
    }


class _Context:
    log_stream_name = "2026/12/02/[3]abc"


def test_create_and_update_migrate_to_head(
    embedded_postgres: EmbeddedPostgres, response_url: ResponseUrl
) -> None:
    if not embedded_postgres.running:
        embedded_postgres.start()
    url = embedded_postgres.create_database("pitchlens_custom_resource")
    settings = Settings(database_url=url)
    assert current_revision(url) is None

    created = handle_migration_event(_event("Create", response_url.url), _Context(), settings=settings)
    assert created["Status"] == "SUCCESS"
    assert current_revision(url) == head_revision() == created["Data"]["Revision"]
    # A new image's deploy: Update, with the physical id CloudFormation got on Create; a no-op here.
    updated = handle_migration_event(
        _event("Update", response_url.url, PhysicalResourceId=PHYSICAL_ID), _Context(), settings=settings
    )
    assert updated["Status"] == "SUCCESS" and updated["PhysicalResourceId"] == PHYSICAL_ID

    [(headers, body), _] = response_url.answers
    assert body["Status"] == "SUCCESS" and body["RequestId"] == "req-Create"
    assert body["StackId"].endswith("stack/pitchlens/1") and body["LogicalResourceId"] == "DatabaseMigration"
    # Signed without a content type: none may be sent.
    assert headers.get("Content-Type", "") == ""


def test_failure_is_reported_and_delete_touches_nothing(response_url: ResponseUrl) -> None:
    unreachable = Settings(database_url="postgresql://pitchlens@127.0.0.1:1/pitchlens")
    failed = handle_migration_event(_event("Create", response_url.url), _Context(), settings=unreachable)
    assert failed["Status"] == "FAILED"
    assert "ServiceUnavailable" in failed["Reason"] and "log stream 2026/12/02/[3]abc" in failed["Reason"]

    def must_not_run(_: Settings) -> str:
        raise AssertionError("Delete must not migrate")

    deleted = handle_migration_event(
        _event("Delete", response_url.url, PhysicalResourceId=PHYSICAL_ID),
        _Context(),
        settings=unreachable,
        migrator=must_not_run,
    )
    assert deleted["Status"] == "SUCCESS"
    assert [body["Status"] for _, body in response_url.answers] == ["FAILED", "SUCCESS"]
