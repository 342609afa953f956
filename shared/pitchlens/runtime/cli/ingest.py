"""Commands that ingest a match's event and tracking data through the stack."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from pitchlens.runtime.cli.api_client import ApiError
from pitchlens.runtime.cli.app import (
    AsJson,
    DataDir,
    fail,
    ingest_app,
    out,
    stack_and_client,
    stage_bars,
    upload_bar,
)


# --- Ingest ------------------------------------------------------------------------------------
@ingest_app.command("statsbomb")
def ingest_statsbomb(
    match_id: Annotated[str, typer.Argument(help="StatsBomb match id, e.g. 3788741")],
    open_data: Annotated[
        Path | None,
        typer.Option("--open-data", help="A statsbomb/open-data folder (offline); else the stack fetches it"),
    ] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the job")] = 600,
) -> None:
    """Ingest a StatsBomb match: upload its open-data files, or ask the stack to fetch it."""
    from pitchlens.domain.errors import PitchLensError
    from pitchlens.infrastructure.providers.statsbomb import StatsBombOpenDataSource

    files: Mapping[str, Path] | None = None
    if open_data is not None:
        try:
            files = StatsBombOpenDataSource(open_data).paths(match_id)
        except PitchLensError as error:
            raise fail(str(error)) from error
    _ingest("statsbomb", match_id, files, data_dir, as_json, timeout)


@ingest_app.command("metrica")
def ingest_metrica(
    game_dir: Annotated[
        Path, typer.Argument(help="Folder with Metrica events (CSV/JSON) and/or tracking files")
    ],
    match_id: Annotated[str, typer.Option("--match-id", help="The id to store this match under")],
    data_dir: DataDir = None,
    as_json: AsJson = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the job")] = 600,
) -> None:
    """Ingest a Metrica game folder (events CSV or JSON, tracking CSV or EPTS)."""
    if not game_dir.is_dir():
        raise fail(f"{game_dir} is not a folder")
    files = {
        path.name: path
        for path in sorted(game_dir.iterdir())
        if path.is_file() and path.suffix.lower() in (".csv", ".json", ".xml", ".txt")
    }
    if not files:
        raise fail(f"{game_dir} holds no .csv, .json, .xml or .txt files")
    _ingest("metrica", match_id, files, data_dir, as_json, timeout)


def _ingest(
    source: str,
    match_id: str,
    files: Mapping[str, Path] | None,
    data_dir: Path | None,
    as_json: bool,
    timeout: float,
) -> None:
    """Uploads the match's files straight to raw-data (one batch: the ingestion starts once all are
    there), or asks the stack to fetch the match; then follows the job."""
    info, client = stack_and_client(data_dir)
    correlation_id = str(uuid.uuid4())
    started = time.perf_counter()
    try:
        if files is not None:
            total = sum(path.stat().st_size for path in files.values())
            with upload_bar(as_json) as progress:
                task = progress.add_task(f"uploading {len(files)} file(s)", total=total)
                # Main files last: the ingestion starts when the whole batch is there.
                for name in sorted(files, key=lambda n: ("event" in n.lower(), n)):
                    client.upload(
                        files[name],
                        kind="raw-data",
                        file_name=name,
                        source=source,
                        match_id=match_id,
                        batch_size=len(files),
                        correlation_id=correlation_id,
                        on_progress=lambda n: progress.advance(task, n),
                    )
            job_ref: dict[str, Any] = {"correlation_id": correlation_id}
        else:
            accepted = client.request(
                "POST",
                "/api/v1/ingest",
                json={"source": source, "match_id": match_id},
                headers={"X-Correlation-ID": correlation_id},
            )
            job_ref = {"job_id": accepted["job_id"]}
        with stage_bars(as_json) as progress:
            task = progress.add_task("queued", total=1.0, detail="")

            def show(job: Mapping[str, Any]) -> None:
                progress.update(
                    task, completed=job["progress"], description=job["stage"], detail=job["status"]
                )

            job = client.wait_for_job(**job_ref, timeout_s=timeout, on_update=show)
    except (ApiError, TimeoutError) as error:
        raise fail(str(error)) from error
    elapsed = time.perf_counter() - started
    if as_json:
        out.print_json(json.dumps({**job, "elapsed_s": round(elapsed, 3), "api_url": info.api_url}))
    else:
        _print_job(job, elapsed, info.api_url)
    if job["status"] != "SUCCEEDED":
        raise typer.Exit(1)


def _print_job(job: Mapping[str, Any], elapsed: float, api_url: str) -> None:
    ok = job["status"] == "SUCCEEDED"
    colour = "green" if ok else "red"
    out.print(f"[bold {colour}]{job['status']}[/] {job['source']} match {job['match_id']} in {elapsed:.1f} s")
    out.print(f"  job      {job['job_id']}")
    if job.get("counts"):
        out.print("  stored   " + ", ".join(f"{v} {k}" for k, v in job["counts"].items()))
    if job.get("reason"):
        out.print(f"  reason   {job['reason']}")
    if ok:
        out.print(f"  events   {api_url}/api/v1/matches/{job['match_id']}/events")
