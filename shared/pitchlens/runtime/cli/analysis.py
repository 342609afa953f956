"""Commands for analysts: export a match's events or trajectories to a file, draw pictures of its
events, list its lineups. Everything goes through the running stack's API (files by presigned
URLs)."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pitchlens.domain.model import EventType
from pitchlens.infrastructure.plots import PlotKind
from pitchlens.runtime.cli.api_client import ApiError, events_table
from pitchlens.runtime.cli.app import (
    AsJson,
    DataDir,
    app,
    fail,
    out,
    stack_and_client,
    upload_bar,
    work_bar,
)

export_app = typer.Typer(
    help="Export a match's data to a file (parquet, csv or json).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(export_app, name="export")


class ExportFormat(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"
    JSON = "json"
    """JSON Lines: one object per line (`.jsonl`)."""

    @property
    def suffix(self) -> str:
        return ".jsonl" if self is ExportFormat.JSON else f".{self.value}"


Format = Annotated[ExportFormat, typer.Option("--format", "-f", help="File format")]
OutPath = Annotated[Path | None, typer.Option("--out", "-o", help="The file to write (default: exports/...)")]


def write_table(table: Any, path: Path, file_format: ExportFormat) -> Path:
    """Writes a pyarrow Table as Parquet (zstd), CSV (header, ISO times) or JSON Lines, to a
    temporary name first: the file appears whole or not at all."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    if file_format is ExportFormat.PARQUET:
        pq.write_table(table, partial, compression="zstd")
    elif file_format is ExportFormat.CSV:
        pa_csv.write_csv(table, partial)
    else:
        with partial.open("w", encoding="utf-8") as sink:
            for batch in table.to_batches(max_chunksize=65_536):
                for row in batch.to_pylist():
                    sink.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    partial.replace(path)
    return path.resolve()


def _summary(kind: str, match_id: str, path: Path, rows: int, started: float, as_json: bool) -> None:
    document = {
        "kind": kind,
        "match_id": match_id,
        "path": str(path),
        "rows": rows,
        "bytes": path.stat().st_size,
        "elapsed_s": round(time.perf_counter() - started, 2),
    }
    if as_json:
        out.print_json(json.dumps(document))
    else:
        out.print(f"[bold green]{rows}[/] {kind} rows of match {match_id} -> {path}", soft_wrap=True)


@export_app.command("events")
def export_events(
    match_id: Annotated[str, typer.Argument(help="A stored match (see GET /api/v1/matches)")],
    file_format: Format = ExportFormat.PARQUET,
    out_path: OutPath = None,
    event_type: Annotated[EventType | None, typer.Option("--type", help="Only events of this type")] = None,
    player: Annotated[
        str | None, typer.Option("--player", help="Only this player's (id or part of a name)")
    ] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Export a match's events (one row per event, names included, coordinates in metres) through
    the API, a page of 1,000 at a time with a progress bar."""
    _, client = stack_and_client(data_dir)
    started = time.perf_counter()
    path = out_path or Path("exports") / f"{match_id}_events{file_format.suffix}"
    with work_bar(as_json) as progress:
        bar = progress.add_task("events", total=None, detail="reading")

        def page(read: int, total: int) -> None:
            progress.update(bar, completed=read, total=total, detail=f"{read}/{total} events")

        try:
            rows = client.event_rows(
                match_id, type=event_type.value if event_type else None, player=player, on_page=page
            )
        except ApiError as error:
            raise fail(str(error)) from error
        progress.update(bar, detail=f"writing {file_format.value}")
        written = write_table(events_table(rows), path, file_format)
        progress.update(bar, detail=f"{len(rows)} events")
    _summary("events", match_id, written, len(rows), started, as_json)


@export_app.command("trajectories")
def export_trajectories(
    match_id: Annotated[str, typer.Argument(help="A match with processed clips")],
    file_format: Format = ExportFormat.PARQUET,
    out_path: OutPath = None,
    clip_id: Annotated[str | None, typer.Option("--clip-id", help="Only this clip")] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Export the trajectories of a match's processed clips (or of one) into one file: each clip's
    Parquet is downloaded through a presigned URL with a progress bar in bytes, then written in the
    format asked for (one row per track per frame, pixels of the video)."""
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    _, client = stack_and_client(data_dir)
    started = time.perf_counter()
    try:
        clips = client.request("GET", f"/api/v1/matches/{match_id}/clips")
    except ApiError as error:
        raise fail(str(error)) from error
    chosen = [c for c in clips if c["trajectories_uri"] and clip_id in (None, c["clip_id"])]
    if not chosen:
        what = f"clip {clip_id} of match {match_id}" if clip_id else f"match {match_id}"
        raise fail(f"{what} has no processed clip with trajectories")
    suffix = f"_{clip_id}" if clip_id else ""
    path = out_path or Path("exports") / f"{match_id}{suffix}_trajectories{file_format.suffix}"
    with tempfile.TemporaryDirectory(prefix="pitchlens-export-") as folder:
        tables = []
        with upload_bar(as_json) as progress:
            for clip in chosen:
                task = progress.add_task(f"downloading {clip['clip_id']}", total=None)
                try:
                    local = client.download(
                        clip["trajectories_uri"],
                        Path(folder) / f"{clip['clip_id']}.parquet",
                        on_progress=lambda n, task=task: progress.advance(task, n),
                    )
                except ApiError as error:
                    raise fail(str(error)) from error
                tables.append(pq.read_table(local))
        table = pa.concat_tables(tables)
        written = write_table(table, path, file_format)
    _summary("trajectories", match_id, written, table.num_rows, started, as_json)


@app.command()
def plot(
    kind: Annotated[PlotKind, typer.Argument(help="shots (sized by xG), passes (arrows) or heatmap")],
    match_id: Annotated[str, typer.Argument(help="A stored match")],
    player: Annotated[str | None, typer.Option("--player", help="One player (id or part of a name)")] = None,
    team: Annotated[str | None, typer.Option("--team", help="One team (id or part of a name)")] = None,
    event_type: Annotated[
        EventType | None, typer.Option("--type", help="heatmap: of this event type (default: all)")
    ] = None,
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="The PNG (default: plots/...)")] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Draw a match's shots, passes or a heatmap of its events on a pitch (home attacking right) as
    a PNG, by the API (mplsoccer: the stack needs the plots extra)."""
    _, client = stack_and_client(data_dir)
    params = {"player": player, "team": team, "type": event_type.value if event_type else None}
    try:
        response = client.get_bytes(
            f"/api/v1/matches/{match_id}/plots/{kind.value}.png",
            params={name: value for name, value in params.items() if value},
        )
    except ApiError as error:
        raise fail(str(error)) from error
    who = "_".join(part for part in (player, team) if part).replace(" ", "-").replace("/", "-")
    path = out_path or Path("plots") / f"{match_id}_{kind.value}{'_' + who if who else ''}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(response.content)
    markers = int(response.headers.get("x-pitchlens-markers", "0"))
    if as_json:
        out.print_json(json.dumps({"path": str(path.resolve()), "kind": kind.value, "markers": markers}))
    else:
        drawn = {PlotKind.SHOTS: "shots", PlotKind.PASSES: "passes"}.get(kind, "events binned")
        out.print(f"[bold green]{path.resolve()}[/] ({markers} {drawn})", soft_wrap=True)


@app.command()
def lineups(
    match_id: Annotated[str, typer.Argument(help="A stored match")],
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """The match's lineups: both teams' players, starters first."""
    _, client = stack_and_client(data_dir)
    try:
        lineup = client.request("GET", f"/api/v1/matches/{match_id}/players")
    except ApiError as error:
        raise fail(str(error)) from error
    if as_json:
        out.print_json(json.dumps(lineup))
        return
    table = Table("team", "#", "player", "position", "starting", title=f"match {match_id}")
    for player in lineup["players"]:
        table.add_row(
            player["team_name"],
            str(player["jersey_number"] or ""),
            player["name"],
            player["position"] or "",
            "yes" if player["starting"] else "",
        )
    out.print(table)
