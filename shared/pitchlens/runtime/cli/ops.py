"""Operations: replay stored events against a handler, inspect and re-drive dead letters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pitchlens.infrastructure.logging import configure_logging
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.cli.api_client import ApiClient, ApiError
from pitchlens.runtime.cli.app import (
    AsJson,
    DataDir,
    app,
    console,
    dlq_app,
    fail,
    out,
    settings_for,
    stack_and_client,
)


# --- Replay and dead letters -----------------------------------------------------------------
@app.command()
def replay(
    file: Annotated[
        Path, typer.Argument(help="An event file, e.g. events/sqs-s3-videos-object-created.json")
    ],
    function: Annotated[
        str | None, typer.Option("--function", help="Handler to invoke (default: inferred)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Run the use cases even if this message was processed before")
    ] = False,
    seed: Annotated[
        bool, typer.Option(help="Run the sample's seed steps first (create what the event refers to)")
    ] = True,
    data_dir: DataDir = None,
) -> None:
    """Invoke a function's handler in-process with a stored event, against the running stack (as
    Lambda would call it). A sample's seed runs first through the API and its expectations are
    checked after; exit code 1 when a record failed or an expectation was not met."""
    from pitchlens.runtime.cli.samples import SampleError, SampleRunner, load, substitute, unresolved
    from pitchlens.runtime.embedded.client import StackUnavailable, connect
    from pitchlens.runtime.worker.replay import ReplayError
    from pitchlens.runtime.worker.replay import replay as run_replay

    settings = settings_for(data_dir)
    configure_logging("WARNING", settings.log_format)
    try:
        event, steps, expectations = load(file)
        info = connect(settings, start=False)
    except (SampleError, StackUnavailable) as error:
        raise fail(str(error)) from error
    client = ApiClient(info.api_url, Settings().api_token)

    def invoke(document: dict[str, Any]) -> dict[str, Any]:
        return run_replay(
            document, Settings(), function if document is event else None, force=force
        ).as_dict()

    runner = SampleRunner(
        client, shared_dir(), file.resolve().parent, invoke, lambda line: console.print(line)
    )
    variables: dict[str, Any] = {}
    try:
        if seed:
            runner.seed(steps, variables)
        resolved = substitute(event, variables)
        if unresolved(resolved):
            raise SampleError(
                f"{file.name} refers to {', '.join(unresolved(resolved))}: run it with its seed"
            )
        event = resolved
        report = invoke(event)
    except (SampleError, ReplayError, LookupError, ApiError, TimeoutError) as error:
        raise fail(str(error)) from error
    outcomes = [result["outcome"] for record in report["records"] for result in record["results"]]
    problems = runner.check(expectations, variables, outcomes) if seed else []
    out.print_json(json.dumps({**report, "expectations_unmet": problems}, default=str))
    for record in report["records"]:
        if record["error"]:
            console.print(f"[bold red]record {record['message_id']} failed:[/] {record['error']}")
        for result in record["results"]:
            if result["outcome"] == "duplicate":
                console.print(
                    f"[yellow]record {record['message_id']}: already processed (duplicate);[/] "
                    "replay with --force to run it again"
                )
            elif result["outcome"] in ("failed", "error"):
                console.print(
                    f"[bold red]record {record['message_id']} {result['outcome']}:[/] {result['detail']}"
                )
    for problem in problems:
        console.print(f"[bold red]expected, not done:[/] {problem}")
    if report["failed"] or problems:
        raise typer.Exit(1)


def shared_dir() -> Path:
    """The shared data folder samples take their files from (PITCHLENS_SHARED_DIR, else ../shared)."""
    import os

    from pitchlens.runtime.worker.functions import functions_dir

    configured = os.environ.get("PITCHLENS_SHARED_DIR")
    return Path(configured) if configured else functions_dir().parents[1] / "shared"


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
