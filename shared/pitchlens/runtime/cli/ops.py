"""Operations: replay stored events against a handler, inspect and re-drive dead letters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from pitchlens.infrastructure.logging import configure_logging
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.cli.api_client import ApiError
from pitchlens.runtime.cli.app import (
    AsJson,
    DataDir,
    app,
    dlq_app,
    fail,
    out,
    settings_for,
    stack_and_client,
)


# --- Replay and dead letters -----------------------------------------------------------------
@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="An event file, e.g. events/s3-raw-data-object-created.json")],
    function: Annotated[
        str | None, typer.Option("--function", help="Handler to invoke (default: inferred)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Invoke a function's handler in-process with a stored event, against the configured stack."""
    from pitchlens.runtime.embedded.client import StackUnavailable, connect
    from pitchlens.runtime.worker.replay import ReplayError
    from pitchlens.runtime.worker.replay import replay as run_replay

    settings = settings_for(data_dir)
    configure_logging(settings.log_level, settings.log_format)
    try:
        document = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise fail(f"{file}: {error}") from error
    try:
        connect(settings, start=False)
        name, result = run_replay(document, Settings(), function)
    except (ReplayError, StackUnavailable, LookupError) as error:
        raise fail(str(error)) from error
    out.print_json(json.dumps({"function": name, "result": result}, default=str))


@dlq_app.command("list")
def dlq_list(
    queue: Annotated[str | None, typer.Option("--queue", help="Function or queue name")] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Count and preview the messages in the dead-letter queues."""
    _, client = stack_and_client(data_dir)
    try:
        report = client.request("GET", "/api/v1/dead-letters", params={"queue": queue} if queue else None)
    except ApiError as error:
        raise fail(str(error)) from error
    if as_json:
        out.print_json(json.dumps(report))
        return
    table = Table("dead-letter queue", "messages", "type", "correlation id", "receives", "body")
    for entry in report:
        table.add_row(entry["queue"], str(entry["messages"]), "", "", "", "")
        for letter in entry["sample"]:
            table.add_row(
                "",
                "",
                letter["type"],
                letter["correlation_id"] or "",
                str(letter["receive_count"]),
                letter["preview"],
            )
    out.print(table)


@dlq_app.command("redrive")
def dlq_redrive(
    queue: Annotated[
        str | None, typer.Option("--queue", help="Function or queue name (default: all)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Move dead letters back to their source queues to be processed again."""
    _, client = stack_and_client(data_dir)
    try:
        moved = client.request("POST", "/api/v1/dead-letters/redrive", json={"queue": queue})
    except ApiError as error:
        raise fail(str(error)) from error
    for dlq, count in moved["moved"].items():
        if count:
            out.print(f"{dlq}: {count} message(s) back to their queue")
    out.print(f"re-drove {moved['total']} message(s)")
