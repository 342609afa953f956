"""The Typer apps every command area registers on, the consoles, the shared options, and how a
command reaches the stack and fails."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Column

import pitchlens
from pitchlens.infrastructure.logging import configure_logging
from pitchlens.infrastructure.settings import Settings

app = typer.Typer(
    help="PitchLens: football match data and video into analytics.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold database URLs and tokens
)
ingest_app = typer.Typer(
    help="Ingest a match's event data through the running stack.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
dlq_app = typer.Typer(
    help="Inspect and re-drive dead-letter queues.", no_args_is_help=True, pretty_exceptions_show_locals=False
)
app.add_typer(ingest_app, name="ingest")
app.add_typer(dlq_app, name="dlq")

console = Console(stderr=True)
out = Console()


def _print_version(wanted: bool) -> None:
    if wanted:
        out.print(f"pitchlens {pitchlens.__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit"),
    ] = False,
) -> None:
    """PitchLens: football match data and video into analytics."""


DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the embedded stack keeps its data [env: PITCHLENS_DATA_DIR]"),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object")]


def settings_for(data_dir: Path | None) -> Settings:
    if data_dir is not None:
        os.environ["PITCHLENS_DATA_DIR"] = str(data_dir.expanduser().resolve())
    return Settings()


def wait_for_signal(stopping: threading.Event) -> None:
    """Blocks until SIGINT/SIGTERM. Waits in short slices: a signal the kernel delivers to another
    thread only runs its Python handler when the main thread next runs bytecode, which a wait with
    no timeout would never do."""
    while not stopping.wait(0.5):
        pass


def stack_and_client(data_dir: Path | None) -> tuple[Any, Any]:
    """The running stack (the embedded one is started when none runs) and an API client of it;
    this process's settings point at it afterwards."""
    from pitchlens.runtime.cli.api_client import ApiClient
    from pitchlens.runtime.embedded.client import StackUnavailable, connect

    settings = settings_for(data_dir)
    configure_logging("WARNING", settings.log_format)
    try:
        info = connect(
            settings, start=True, on_start=lambda d: console.print(f"starting the embedded stack in {d} ...")
        )
    except StackUnavailable as error:
        raise fail(str(error)) from error
    return info, ApiClient(info.api_url, Settings().api_token)


def fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


# Rich shrinks every column of a progress line that does not fit the terminal, the time columns
# included (an 80-column terminal showed "0:00:…"). So each line fits 80 columns by construction:
# text that can be long (a file name, a detail) is cut with an ellipsis at a width, numbers and
# times have fixed widths.
def _elastic(max_width: int) -> Column:
    return Column(no_wrap=True, overflow="ellipsis", max_width=max_width)


def _fixed(width: int) -> Column:
    return Column(no_wrap=True, min_width=width, max_width=width, justify="right")


def upload_bar(as_json: bool) -> Progress:
    """A progress bar in bytes: transferred, speed, time left."""
    return Progress(
        TextColumn("[bold]{task.description}", table_column=_elastic(max_width=28)),
        BarColumn(bar_width=20),
        DownloadColumn(table_column=_fixed(15)),
        TransferSpeedColumn(table_column=_fixed(10)),
        TimeRemainingColumn(compact=True, table_column=_fixed(5)),
        console=console,
        transient=as_json,
    )


def stage_bars(as_json: bool) -> Progress:
    """Progress bars per stage, narrow enough for an 80-column terminal."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<10}", table_column=_elastic(12)),
        BarColumn(bar_width=20),
        TextColumn("{task.percentage:>3.0f}%", table_column=_fixed(4)),
        TextColumn("{task.fields[detail]}", table_column=_elastic(24)),
        TimeElapsedColumn(table_column=_fixed(7)),
        console=console,
        transient=as_json,
    )


def work_bar(as_json: bool) -> Progress:
    """One bar of work whose share done is known (a cut, a join, an export): no spinner, the
    percentage, what is being done, the time taken and the time left."""
    return Progress(
        TextColumn("[bold]{task.description:<10}", table_column=_elastic(12)),
        BarColumn(bar_width=20),
        TextColumn("{task.percentage:>3.0f}%", table_column=_fixed(4)),
        TextColumn("{task.fields[detail]}", table_column=_elastic(20)),
        TimeElapsedColumn(table_column=_fixed(7)),
        TimeRemainingColumn(compact=True, table_column=_fixed(5)),
        console=console,
        transient=as_json,
    )
