"""migrate: the database migrations as a CloudFormation custom resource (template.yaml
`DatabaseMigration`): Create and Update upgrade the schema to the image's newest revision before the
functions that use it are updated; Delete changes nothing. Compose and the embedded stack run the
same migrations with `pitchlens migrate`."""

from __future__ import annotations

from typing import Any

from pitchlens.infrastructure.bootstrap import container
from pitchlens.infrastructure.lambda_context import lambda_invocation
from pitchlens.infrastructure.postgres.migration_resource import handle_migration_event


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with lambda_invocation(context):
        return handle_migration_event(event, context, settings=container().settings)
