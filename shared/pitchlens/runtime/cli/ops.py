"""Operations: replay stored events against a handler, inspect and re-drive dead letters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from pitchlens.infrastructure.logging import configure_logging
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.cli.app import (
    AsJson,
    DataDir,
    app,
    dlq_app,
    fail,
    out,
    settings_for,
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
    office, _ = _dead_letter_office(data_dir)
    report = []
    for dlq, source in office.queues(queue):
        letters = office.peek(dlq)
        report.append({"queue": dlq, "source": source, "messages": office.count(dlq), "sample": letters})
    if as_json:
        from dataclasses import asdict

        out.print_json(json.dumps([{**r, "sample": [asdict(x) for x in r["sample"]]} for r in report]))
        return
    table = Table("dead-letter queue", "messages", "type", "correlation id", "receives", "body")
    for entry in report:
        table.add_row(entry["queue"], str(entry["messages"]), "", "", "", "")
        for letter in entry["sample"]:
            table.add_row(
                "", "", letter.type, letter.correlation_id or "", str(letter.receive_count), letter.preview
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
    office, _ = _dead_letter_office(data_dir)
    total = 0
    for dlq, source in office.queues(queue):
        moved = office.redrive(dlq, source)
        total += moved
        if moved:
            out.print(f"{dlq} -> {source}: {moved} message(s)")
    out.print(f"re-drove {total} message(s)")


def _dead_letter_office(data_dir: Path | None) -> tuple[Any, Settings]:
    from pitchlens.infrastructure import aws_clients
    from pitchlens.infrastructure.messaging.dead_letters import DeadLetterOffice
    from pitchlens.runtime.embedded.client import StackUnavailable, connect

    settings = settings_for(data_dir)
    try:
        connect(settings, start=False)
    except StackUnavailable as error:
        raise fail(str(error)) from error
    settings = Settings()
    return DeadLetterOffice(aws_clients.sqs_client(settings), settings), settings
