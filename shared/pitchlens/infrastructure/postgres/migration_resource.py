"""The database migrations as a CloudFormation custom resource (template.yaml `DatabaseMigration`,
served by the migrate function): CloudFormation sends Create on the first deploy and Update on every
deploy that brings a new image; the functions that use the database depend on the resource, so they
get their new code only after the schema is migrated, and a migration that fails rolls the whole
deploy back before any new code takes traffic. Delete leaves the database as it is.

The answer goes to the pre-signed `ResponseURL` CloudFormation gives (an HTTPS PUT to S3): a
function that never answers would hold the stack for the resource's ServiceTimeout.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from pitchlens.infrastructure.logging import get_logger
from pitchlens.infrastructure.settings import Settings

log = get_logger("pitchlens.migrate")

PHYSICAL_ID = "pitchlens-database-schema"


def migrate_to_head(settings: Settings) -> str | None:
    """Upgrades settings' database to the newest schema; returns the revision it is then at."""
    from pitchlens.infrastructure.bootstrap import database_password
    from pitchlens.infrastructure.postgres.migrate import current_revision, migrate

    if not settings.database_url:
        raise RuntimeError("PITCHLENS_DATABASE_URL is not set")
    password = database_password(settings)
    migrate(settings.database_url, password)
    return current_revision(settings.database_url, password)


def handle_migration_event(
    event: Mapping[str, Any],
    context: Any,
    *,
    settings: Settings,
    migrator: Callable[[Settings], str | None] = migrate_to_head,
    respond: Callable[[str, bytes], None] | None = None,
) -> dict[str, Any]:
    """Runs the migrations for Create/Update, nothing for Delete, and answers CloudFormation."""
    request = str(event.get("RequestType", ""))
    status, reason, data = "SUCCESS", "", {}
    try:
        if request in ("Create", "Update"):
            data["Revision"] = migrator(settings) or ""
            log.info("database migrated", request=request, revision=data["Revision"])
        elif request != "Delete":
            raise ValueError(f"unknown RequestType {request!r}")
    except Exception as error:
        status = "FAILED"
        stream = getattr(context, "log_stream_name", "")
        reason = f"{type(error).__name__}: {error}"[:800] + (f" (log stream {stream})" if stream else "")
        log.error("database migration failed", request=request, error=str(error), exc_info=True)
    answer = {
        "Status": status,
        "Reason": reason or f"{request} done",
        "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID,
        "StackId": event.get("StackId"),
        "RequestId": event.get("RequestId"),
        "LogicalResourceId": event.get("LogicalResourceId"),
        "NoEcho": False,
        "Data": data,
    }
    (respond or _put)(str(event["ResponseURL"]), orjson.dumps(answer))
    return answer


def _put(url: str, body: bytes) -> None:
    # The pre-signed URL is signed without a content type: send none (urllib would add one).
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
