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
from pitchlens.infrastructure.plots import PlotKind, TrackPlotKind
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
    kind: Annotated[
        str,
        typer.Argument(
            help="Of a match's events: shots (sized by xG), passes (arrows), heatmap. Of a calibrated "
            "clip's tracked players (--clip-id): path or heatmap (time spent) of one player, positions",
            show_default=False,
        ),
    ],
    match_id: Annotated[str | None, typer.Argument(help="A stored match (pictures of its events)")] = None,
    clip_id: Annotated[
        str | None, typer.Option("--clip-id", help="Or: a processed, calibrated clip (its tracked players)")
    ] = None,
    player: Annotated[
        str | None,
        typer.Option(
            "--player",
            help="Events: one player (id or part of a name). A clip: the player numbered N by "
            "`pitchlens players`",
        ),
    ] = None,
    track_id: Annotated[
        int | None, typer.Option("--track-id", help="A clip: the player by track id (anyone tracked)")
    ] = None,
    team: Annotated[
        str | None, typer.Option("--team", help="Events: one team (id or part of a name)")
    ] = None,
    event_type: Annotated[
        EventType | None, typer.Option("--type", help="Events' heatmap: of this event type (default: all)")
    ] = None,
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="The PNG (default: plots/...)")] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Draw a picture on a pitch (home attacking right) as a PNG, by the API (mplsoccer: the stack
    needs the plots extra): a match's shots, passes or a heatmap of its events; or, in a calibrated
    clip, one tracked player's path or heatmap (with distance covered and top speed), or every
    player's mean position."""
    if (match_id is None) == (clip_id is None):
        raise fail("give a match (pitchlens plot shots MATCH_ID) or a clip (--clip-id C), one of them")
    params: dict[str, str] = {}
    if match_id is not None:
        route, params, name, drawn = _event_picture(kind, match_id, player, team, event_type)
    else:
        chosen = _clip_picture(kind, player, track_id, team is not None or event_type is not None)
    _, client = stack_and_client(data_dir)
    try:
        if clip_id is not None:
            route, name, drawn = _clip_route(client, chosen, clip_id, player, track_id)
        response = client.get_bytes(route, params=params)
    except ApiError as error:
        raise fail(str(error)) from error
    path = out_path or Path("plots") / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(response.content)
    markers = int(response.headers.get("x-pitchlens-markers", "0"))
    if as_json:
        out.print_json(json.dumps({"path": str(path.resolve()), "kind": kind, "markers": markers}))
    else:
        out.print(f"[bold green]{path.resolve()}[/] ({markers} {drawn})", soft_wrap=True)


def _event_picture(
    kind: str, match_id: str, player: str | None, team: str | None, event_type: EventType | None
) -> tuple[str, dict[str, str], str, str]:
    """(route, query, file name, what the markers count) of a picture of a match's events."""
    try:
        chosen = PlotKind(kind)
    except ValueError:
        raise fail(
            f"a match's pictures are {', '.join(PlotKind)}; {', '.join(TrackPlotKind)} are of a clip "
            "(--clip-id)"
        ) from None
    params = {"player": player, "team": team, "type": event_type.value if event_type else None}
    who = "_".join(part for part in (player, team) if part).replace(" ", "-").replace("/", "-")
    return (
        f"/api/v1/matches/{match_id}/plots/{chosen.value}.png",
        {name: value for name, value in params.items() if value},
        f"{match_id}_{chosen.value}{'_' + who if who else ''}",
        {PlotKind.SHOTS: "shots", PlotKind.PASSES: "passes"}.get(chosen, "events binned"),
    )


def _clip_picture(kind: str, player: str | None, track_id: int | None, event_options: bool) -> TrackPlotKind:
    """The picture of a clip's tracked players asked for, its options checked."""
    try:
        chosen = TrackPlotKind(kind)
    except ValueError:
        raise fail(
            f"a clip's pictures are {', '.join(TrackPlotKind)} (of a match: {', '.join(PlotKind)})"
        ) from None
    if event_options:
        raise fail("--team and --type choose events; a clip's player is --player N or --track-id")
    one_player = chosen is not TrackPlotKind.POSITIONS
    if one_player and (player is None) == (track_id is None):
        raise fail(f"{chosen} is of one player: give --player N (see `pitchlens players`) or --track-id")
    if one_player and track_id is None and not (player or "").isdigit():
        raise fail(f"--player with --clip-id is the number `pitchlens players` shows, not {player!r}")
    if not one_player and (player is not None or track_id is not None):
        raise fail("positions shows every player: no --player or --track-id")
    return chosen


def _clip_route(
    client: Any, chosen: TrackPlotKind, clip_id: str, player: str | None, track_id: int | None
) -> tuple[str, str, str]:
    """(route, file name, what the markers count) of a picture of a clip's tracked players; the
    player numbered `player` is found as `pitchlens players` numbers them."""
    if chosen is TrackPlotKind.POSITIONS:
        return f"/api/v1/clips/{clip_id}/plots/positions.png", f"{clip_id}_positions", "players"
    if track_id is None:
        found = client.request("GET", f"/api/v1/clips/{clip_id}/players")
        numbered = [p["track_id"] for p in found["players"] if p["number"] == int(player or 0)]
        if not numbered:
            raise fail(f"no player {player} in clip {clip_id}: there are 1..{len(found['players'])}")
        track_id = numbered[0]
    drawn = "positions" if chosen is TrackPlotKind.PATH else "positions binned"
    return (
        f"/api/v1/clips/{clip_id}/players/{track_id}/plots/{chosen.value}.png",
        f"{clip_id}_track{track_id}_{chosen.value}",
        drawn,
    )


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
