"""The `pitchlens` command line."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pitchlens.infrastructure.logging import configure_logging
from pitchlens.infrastructure.settings import Settings

app = typer.Typer(help="PitchLens: football match data and video into analytics.", no_args_is_help=True)
ingest_app = typer.Typer(help="Ingest a match's event data through the running stack.", no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and re-drive dead-letter queues.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(dlq_app, name="dlq")

console = Console(stderr=True)
out = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the embedded stack keeps its data [env: PITCHLENS_DATA_DIR]"),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object")]


def _settings(data_dir: Path | None) -> Settings:
    if data_dir is not None:
        os.environ["PITCHLENS_DATA_DIR"] = str(data_dir.expanduser().resolve())
    return Settings()


def _wait_for_signal(stopping: threading.Event) -> None:
    """Blocks until SIGINT/SIGTERM. Waits in short slices: a signal the kernel delivers to another
    thread only runs its Python handler when the main thread next runs bytecode, which a wait with
    no timeout would never do."""
    while not stopping.wait(0.5):
        pass


def _stack_and_client(data_dir: Path | None) -> tuple[Any, Any]:
    """The running stack (the embedded one is started when none runs) and an API client of it;
    this process's settings point at it afterwards."""
    from pitchlens.runtime.stack_client import ApiClient, StackUnavailable, connect

    settings = _settings(data_dir)
    configure_logging("WARNING", settings.log_format)
    try:
        info = connect(
            settings, start=True, on_start=lambda d: console.print(f"starting the embedded stack in {d} ...")
        )
    except StackUnavailable as error:
        raise _fail(str(error)) from error
    return info, ApiClient(info.api_url, Settings().api_token)


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


# --- Stack -------------------------------------------------------------------------------------
@app.command()
def up(
    data_dir: DataDir = None,
    api_port: Annotated[int | None, typer.Option(help="API port (0 = any free port)")] = None,
    aws_port: Annotated[int | None, typer.Option(help="S3/SQS port (0 = any free port)")] = None,
) -> None:
    """Start the embedded stack (S3, SQS, PostgreSQL, functions, API) and run until stopped."""
    from pitchlens.runtime.stack import EmbeddedStack

    if api_port is not None:
        os.environ["PITCHLENS_API_PORT"] = str(api_port)
    if aws_port is not None:
        os.environ["PITCHLENS_AWS_PORT"] = str(aws_port)
    settings = _settings(data_dir)
    configure_logging(settings.log_level, settings.log_format)
    stopping = threading.Event()

    def request_stop(signum: int, _: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    stack = EmbeddedStack(settings)
    try:
        info = stack.start()
    except Exception as error:
        stack.stop()
        raise _fail(f"the stack could not start: {error}") from error
    table = Table(title="PitchLens stack is up", show_header=False)
    for name, value in (
        ("API", info.api_url),
        ("S3 endpoint", info.s3_endpoint),
        ("SQS endpoint", info.sqs_endpoint),
        ("PostgreSQL", info.database_url),
        ("data dir", info.data_dir),
        ("functions", ", ".join(info.functions)),
    ):
        table.add_row(name, value)
    console.print(table)
    console.print("Press Ctrl-C to stop.")
    try:
        _wait_for_signal(stopping)
    finally:
        console.print("stopping ...")
        stack.stop()


@app.command()
def down(
    data_dir: DataDir = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a clean stop")] = 180,
) -> None:
    """Stop the embedded stack running on the data dir."""
    from pitchlens.runtime.stack import StackInfo

    settings = _settings(data_dir)
    info = StackInfo.read(settings.data_dir.expanduser().resolve())
    if info is None:
        console.print("no stack is running")
        return
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        (settings.data_dir / "stack.json").unlink(missing_ok=True)
        console.print("no stack is running (removed a stale stack.json)")
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            console.print(f"stopped the stack (pid {info.pid})")
            return
        time.sleep(0.2)
    raise _fail(f"the stack (pid {info.pid}) did not stop within {timeout:.0f} s")


@app.command()
def status(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """Show the running stack's endpoints (exit code 1 when none runs)."""
    from dataclasses import asdict

    from pitchlens.runtime.stack import StackInfo

    settings = _settings(data_dir)
    info = StackInfo.read(settings.data_dir.expanduser().resolve())
    running = info is not None and info.alive()
    document: dict[str, Any] = {"running": running, "data_dir": str(settings.data_dir.expanduser().resolve())}
    if info is not None and running:
        document.update(asdict(info))
    if as_json:
        out.print_json(json.dumps(document))
    else:
        for key, value in document.items():
            out.print(f"{key:14} {value}")
    if not running:
        raise typer.Exit(1)


@app.command()
def api(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Serve the HTTP API only (compose, containers); endpoints come from the settings."""
    import uvicorn

    from pitchlens.infrastructure.http.app import create_app

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(create_app(), host=host, port=port, log_config=None, access_log=False)


@app.command()
def worker(
    functions: Annotated[
        str,
        typer.Option(
            help="Comma-separated functions to poll: ingest,persist,render (CPU) or detect,track (GPU)"
        ),
    ],
    metrics_port: Annotated[int, typer.Option(help="Port for /metrics (0 = none)")] = 9100,
) -> None:
    """Poll the given functions' queues and run their handlers (compose, ECS workers)."""
    from prometheus_client import start_http_server

    from pitchlens.infrastructure import aws_clients
    from pitchlens.runtime.function_runtime import FunctionRuntime

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if metrics_port:
        start_http_server(metrics_port)
    runtime = FunctionRuntime(settings, aws_clients.sqs_client(settings), functions.split(","))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    runtime.start()
    try:
        _wait_for_signal(stopping)
    finally:
        runtime.stop()


@app.command()
def migrate() -> None:
    """Apply the database migrations to PITCHLENS_DATABASE_URL."""
    from pitchlens.infrastructure.postgres.migrate import migrate as run_migrations

    settings = Settings()
    if not settings.database_url:
        raise _fail("PITCHLENS_DATABASE_URL is not set")
    run_migrations(settings.database_url)
    console.print("migrations applied")


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
    from pitchlens.infrastructure.providers.statsbomb import StatsBombOpenDataSource

    files: Mapping[str, bytes] | None = None
    if open_data is not None:
        try:
            files = StatsBombOpenDataSource(open_data).fetch("statsbomb", match_id, None).files
        except Exception as error:
            raise _fail(str(error)) from error
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
        raise _fail(f"{game_dir} is not a folder")
    files = {
        path.name: path.read_bytes()
        for path in sorted(game_dir.iterdir())
        if path.is_file() and path.suffix.lower() in (".csv", ".json", ".xml", ".txt")
    }
    if not files:
        raise _fail(f"{game_dir} holds no .csv, .json, .xml or .txt files")
    _ingest("metrica", match_id, files, data_dir, as_json, timeout)


def _ingest(
    source: str,
    match_id: str,
    files: Mapping[str, bytes] | None,
    data_dir: Path | None,
    as_json: bool,
    timeout: float,
) -> None:
    from pitchlens.infrastructure import bootstrap

    info, client = _stack_and_client(data_dir)
    correlation_id = str(uuid.uuid4())
    started = time.perf_counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
    ) as progress:
        try:
            if files is not None:
                task = progress.add_task(
                    f"uploading {len(files)} file(s)", total=sum(len(b) for b in files.values())
                )
                storage = bootstrap.container().storage
                bucket = bootstrap.container().settings.bucket_raw_data
                # Main files last: the ingestion starts when the whole batch is there.
                for name in sorted(files, key=lambda n: ("event" in n.lower(), n)):
                    storage.put(
                        bucket,
                        f"{source}/{match_id}/{name}",
                        files[name],
                        metadata={"correlation-id": correlation_id, "batch-size": str(len(files))},
                    )
                    progress.advance(task, len(files[name]))
                job_ref: dict[str, Any] = {"correlation_id": correlation_id}
            else:
                accepted = client.request(
                    "POST",
                    "/api/v1/ingest",
                    json={"source": source, "match_id": match_id},
                    headers={"X-Correlation-ID": correlation_id},
                )
                job_ref = {"job_id": accepted["job_id"]}
            task = progress.add_task("queued", total=1.0)

            def show(job: Mapping[str, Any]) -> None:
                progress.update(
                    task, completed=job["progress"], description=f"{job['stage']} ({job['status']})"
                )

            job = client.wait_for_job(**job_ref, timeout_s=timeout, on_update=show)
        except (RuntimeError, TimeoutError) as error:
            raise _fail(str(error)) from error
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


# --- Video -------------------------------------------------------------------------------------
STAGES = ("uploading", "detecting", "tracking", "persisting")


@app.command()
def process(
    video: Annotated[Path, typer.Argument(help="A match video (mp4, mov, mkv ...)")],
    match_id: Annotated[
        str, typer.Option("--match-id", help="The match this clip belongs to")
    ] = "unassigned",
    frame: Annotated[int, typer.Option("--frame", help="Frame to detect players on")] = 0,
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where a local copy of the detection frame, boxes drawn, goes")
    ] = Path("outputs"),
    data_dir: DataDir = None,
    as_json: AsJson = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the job")] = 1800,
) -> None:
    """Process a video through the stack: detect players, track them, store trajectories."""
    from pitchlens.infrastructure import bootstrap

    if not video.is_file():
        raise _fail(f"{video} is not a file")
    info, client = _stack_and_client(data_dir)
    correlation_id = str(uuid.uuid4())
    started = time.perf_counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<11}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
    ) as progress:
        bars = {stage: progress.add_task(stage, total=1.0, detail="") for stage in STAGES}
        container = bootstrap.container()
        key = f"{match_id}/{video.name}"
        container.storage.put(
            container.settings.bucket_videos,
            key,
            video.read_bytes(),
            metadata={"correlation-id": correlation_id, "detection-frame": str(frame)},
        )
        progress.update(
            bars["uploading"], completed=1.0, detail=f"s3://{container.settings.bucket_videos}/{key}"
        )

        def show(job: Mapping[str, Any]) -> None:
            stage = job["stage"]
            reached = STAGES.index(stage) if stage in STAGES else len(STAGES)
            for done in STAGES[1:reached]:
                progress.update(bars[done], completed=1.0)
            counts = job.get("counts", {})
            # Also after tracking: the final count arrives with the next stage, not as progress.
            if counts.get("frames") and "frames_done" in counts:
                progress.update(
                    bars["tracking"],
                    completed=counts.get("frames_done", 0) / counts["frames"],
                    detail=f"{counts.get('frames_done', 0)}/{counts['frames']} frames",
                )
            if job["status"] == "SUCCEEDED":
                for bar in bars.values():
                    progress.update(bar, completed=1.0)

        try:
            job = client.wait_for_job(correlation_id=correlation_id, timeout_s=timeout, on_update=show)
            clip_id = job.get("outputs", {}).get("clip_id")
            clip = client.request("GET", f"/api/v1/clips/{clip_id}") if clip_id else {}
        except (RuntimeError, TimeoutError) as error:
            raise _fail(str(error)) from error
    elapsed = time.perf_counter() - started
    outputs, counts = job.get("outputs", {}), job.get("counts", {})
    fps = (clip.get("info") or {}).get("fps")
    summary = {
        "status": job["status"],
        "job_id": job["job_id"],
        "clip_id": clip_id,
        "match_id": match_id,
        "frame_uri": outputs.get("frame_uri"),
        "detections_uri": outputs.get("detections_uri"),
        "trajectories_uri": outputs.get("trajectories_uri"),
        "frames": counts.get("frames"),
        "tracks": counts.get("tracks"),
        "detections": counts.get("detections"),
        "fps": fps,
        "processing_fps": round(counts.get("frames", 0) / elapsed, 2) if counts.get("frames") else None,
        "elapsed_s": round(elapsed, 2),
        "reason": job.get("reason"),
        "api_url": info.api_url,
        "detections_preview": None,
    }
    if outputs.get("frame_uri") and outputs.get("detections_uri"):
        summary["detections_preview"] = str(
            _save_detections_preview(outputs["frame_uri"], outputs["detections_uri"], out_dir / str(clip_id))
        )
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        ok = job["status"] == "SUCCEEDED"
        out.print(
            f"[bold {'green' if ok else 'red'}]{job['status']}[/] {video.name} "
            f"(clip {clip_id}) in {elapsed:.1f} s"
        )
        for name in ("frame_uri", "detections_uri", "trajectories_uri", "detections_preview", "reason"):
            if summary[name]:
                out.print(f"  {name:17} {summary[name]}", soft_wrap=True)
        if ok:
            out.print(
                f"  {summary['frames']} frames at {fps} fps, {summary['detections']} people on frame "
                f"{frame}, {summary['tracks']} tracks, {summary['processing_fps']} frames/s end to end",
                soft_wrap=True,
            )
            out.print(
                f"  next: pitchlens players --clip-id {clip_id}, then pitchlens render --clip-id {clip_id} "
                f"--player N; or open {info.api_url}/ for the web page",
                soft_wrap=True,
            )
    if job["status"] != "SUCCEEDED":
        raise typer.Exit(1)


@app.command()
def detect(
    source: Annotated[Path, typer.Argument(help="An image or a video")],
    frame: Annotated[int, typer.Option("--frame", help="Video frame to detect on")] = 0,
    as_json: AsJson = False,
) -> None:
    """Detect people on one image or video frame, locally (no stack needed)."""
    import cv2

    from pitchlens.domain.errors import PitchLensError
    from pitchlens.infrastructure.bootstrap import Container
    from pitchlens.infrastructure.storage.video_store import detections_document

    settings = Settings()
    configure_logging("WARNING", settings.log_format)
    if not source.is_file():
        raise _fail(f"{source} is not a file")
    wired = Container(settings)
    try:
        image = cv2.imread(str(source)) if source.suffix.lower() in IMAGE_SUFFIXES else None
        if image is None:
            image = wired.video_reader.frame(str(source), frame)
        [found] = wired.detection_model.detect([image], first_index=frame)
    except PitchLensError as error:
        raise _fail(str(error)) from error
    document = detections_document(found)
    if as_json:
        out.print_json(json.dumps(document))
        return
    table = Table(
        "#", "x1", "y1", "x2", "y2", "confidence", "class", title=f"{len(document)} people in {source.name}"
    )
    for number, box in enumerate(document):
        table.add_row(str(number), *(str(box[k]) for k in ("x1", "y1", "x2", "y2", "confidence", "class")))
    out.print(table)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _save_numbered_frame(frame_uri: str, boxes: list[tuple[str, list[float]]], path: Path) -> Path:
    """The frame at `frame_uri` with each (label, [x1, y1, x2, y2]) box drawn, as a local JPEG anyone
    can open. ValueError when the object is not an image."""
    import cv2
    import numpy as np

    from pitchlens.infrastructure import bootstrap
    from pitchlens.infrastructure.storage.s3 import split_uri

    data = bootstrap.container().storage.get(*split_uri(frame_uri))
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{frame_uri} is not a readable image")
    for label, box in boxes:
        x1, y1, x2, y2 = (round(value) for value in box)
        cv2.rectangle(image, (x1, y1), (x2, y2), (0, 214, 255), 2)
        cv2.putText(image, label, (x1, max(14, y1 - 5)), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3)
        cv2.putText(image, label, (x1, max(14, y1 - 5)), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 214, 255), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path.resolve()


def _save_detections_preview(frame_uri: str, detections_uri: str, folder: Path) -> Path:
    """The detection frame with its boxes numbered as in detections.json."""
    from pitchlens.infrastructure import bootstrap
    from pitchlens.infrastructure.storage.s3 import split_uri

    found = orjson.loads(bootstrap.container().storage.get(*split_uri(detections_uri)))["detections"]
    boxes = [
        (str(number), [box[side] for side in ("x1", "y1", "x2", "y2")]) for number, box in enumerate(found)
    ]
    return _save_numbered_frame(frame_uri, boxes, folder / "detections.jpg")


@app.command()
def cut(
    game_video: Annotated[Path, typer.Argument(help="The whole game's video")],
    intervals: Annotated[
        Path, typer.Argument(help="CSV with start,end columns (seconds, mm:ss or hh:mm:ss)")
    ],
    game: Annotated[str, typer.Option("--game", help="Game name, used in file names")],
    player: Annotated[str, typer.Option("--player", help="Player name, used in file names")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where clips/{game}_{player}.mp4 goes")] = Path(
        "clips"
    ),
    padding: Annotated[float, typer.Option(help="Seconds added before and after each interval")] = 0.0,
    min_gap: Annotated[float, typer.Option(help="Join intervals closer than this many seconds")] = 0.0,
    copy: Annotated[bool, typer.Option("--copy", help="Keyframe stream copy (fast, starts early)")] = False,
    upload: Annotated[
        bool, typer.Option(help="Upload each clip to videos/<game>/ for the vision pipeline")
    ] = True,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Cut highlight clips from a game video with a CSV of intervals, and join them into one video."""
    from pitchlens.application.highlight_cutter import HighlightCutter
    from pitchlens.domain.errors import PitchLensError
    from pitchlens.domain.highlights import CutMode
    from pitchlens.infrastructure.intervals_csv import CsvIntervalReader
    from pitchlens.infrastructure.video_editing import FfmpegVideoEditor

    settings = _settings(data_dir)
    configure_logging("WARNING", settings.log_format)
    if not intervals.is_file():
        raise _fail(f"{intervals} is not a file")
    cutter = HighlightCutter(
        CsvIntervalReader(), FfmpegVideoEditor(), padding, min_gap, CutMode.COPY if copy else CutMode.ACCURATE
    )
    with console.status("cutting and joining clips ..."):
        try:
            result = cutter.execute(str(game_video), intervals.read_text(), game, player, out_dir)
        except PitchLensError as error:
            raise _fail(str(error)) from error
    uploaded: list[str] = []
    if upload:
        from pitchlens.infrastructure import bootstrap
        from pitchlens.runtime.stack_client import StackUnavailable, connect

        try:
            connect(
                settings,
                start=True,
                on_start=lambda d: console.print(f"starting the embedded stack in {d} ..."),
            )
        except StackUnavailable as error:
            raise _fail(f"clips are cut, but could not be uploaded: {error}") from error
        container = bootstrap.container()
        for clip in result.clips:
            stored = container.storage.put(
                container.settings.bucket_videos, f"{game}/{clip.name}", clip.read_bytes()
            )
            uploaded.append(stored.uri)
    summary = {
        "output": str(result.output),
        "clips": [str(c) for c in result.clips],
        "intervals": [[i.start_s, i.end_s] for i in result.intervals],
        "stream_copied": result.stream_copied,
        "uploaded": uploaded,
    }
    if as_json:
        out.print_json(json.dumps(summary))
        return
    out.print(f"[bold green]{result.output}[/] from {len(result.clips)} clip(s)")
    for interval, clip in zip(result.intervals, result.clips, strict=True):
        out.print(f"  {interval.start_s:8.2f} - {interval.end_s:8.2f} s  {clip}")
    for uri in uploaded:
        out.print(f"  uploaded {uri} (the vision pipeline processes it)")


# --- Highlights: render and concatenate ---------------------------------------------------------
def _parse_box(text: str) -> list[float]:
    try:
        box = [float(part) for part in text.split(",")]
    except ValueError:
        raise _fail(f"--bbox takes four numbers X1,Y1,X2,Y2, not {text!r}") from None
    if len(box) != 4:
        raise _fail(f"--bbox takes four numbers X1,Y1,X2,Y2, got {len(box)}")
    return box


def _save_players_preview(clip: Mapping[str, Any], players: Mapping[str, Any], folder: Path) -> Path | None:
    """The clip's detection frame with the followable players' numbered boxes."""
    if not clip.get("frame_uri"):
        return None
    boxes = [(str(player["number"]), player["box"]) for player in players["players"]]
    try:
        return _save_numbered_frame(clip["frame_uri"], boxes, folder / "players.jpg")
    except ValueError:
        return None


@app.command()
def players(
    clip_id: Annotated[str, typer.Option("--clip-id", help="A processed clip (see `pitchlens process`)")],
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where the numbered picture goes (<out-dir>/<clip>/players.jpg)")
    ] = Path("outputs"),
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """List the players that can be followed in a processed clip, numbered left to right, and save the
    detection frame with their numbered boxes; render one with `pitchlens render --player N`."""
    _, client = _stack_and_client(data_dir)
    try:
        clip = client.request("GET", f"/api/v1/clips/{clip_id}")
        found = client.request("GET", f"/api/v1/clips/{clip_id}/players")
    except RuntimeError as error:
        raise _fail(str(error)) from error
    picture = _save_players_preview(clip, found, out_dir / clip_id)
    if as_json:
        out.print_json(json.dumps({**found, "picture": str(picture) if picture else None}))
        return
    table = Table("player", "box x1,y1,x2,y2", "confidence", "track")
    for player in found["players"]:
        box = ",".join(f"{value:.0f}" for value in player["box"])
        table.add_row(str(player["number"]), box, f"{player['confidence']:.2f}", str(player["track_id"]))
    out.print(table)
    out.print(
        f"{len(found['players'])} players on frame {found['frame_index']}; picture: {picture}", soft_wrap=True
    )
    out.print(f"render one: pitchlens render --clip-id {clip_id} --player N", soft_wrap=True)


def _download(uri: str, folder: Path) -> Path:
    from pitchlens.infrastructure import bootstrap
    from pitchlens.infrastructure.storage.s3 import split_uri

    bucket, key = split_uri(uri)
    path = folder / key
    path.parent.mkdir(parents=True, exist_ok=True)
    bootstrap.container().s3.download_file(bucket, key, str(path))
    return path.resolve()


@app.command()
def render(
    clip_id: Annotated[str, typer.Option("--clip-id", help="A processed clip (see `pitchlens process`)")],
    bbox: Annotated[
        str | None, typer.Option("--bbox", help="The player to follow: X1,Y1,X2,Y2 on the detection frame")
    ] = None,
    player: Annotated[
        int | None,
        typer.Option("--player", help="Or: the player numbered N by `pitchlens players`"),
    ] = None,
    frame: Annotated[
        int | None, typer.Option("--frame", help="Frame the box is on (default: the detection frame)")
    ] = None,
    preset: Annotated[str, typer.Option(help="preview (720p, fast) or final (source quality)")] = "preview",
    indicator: Annotated[str, typer.Option(help="dot, circle or glow")] = "circle",
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where a local copy of the video goes")] = Path(
        "outputs"
    ),
    download: Annotated[bool, typer.Option(help="Keep a local copy of the rendered video")] = True,
    data_dir: DataDir = None,
    as_json: AsJson = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the render")] = 3600,
) -> None:
    """Follow one player through a processed clip and render them with an indicator (through the
    render queue), showing progress; prints the video's URI."""
    if (bbox is None) == (player is None):
        raise _fail(
            "give the player to follow with --bbox X1,Y1,X2,Y2 or --player N (see `pitchlens players`)"
        )
    info, client = _stack_and_client(data_dir)
    started = time.perf_counter()
    try:
        if bbox is not None:
            box = _parse_box(bbox)
        else:
            found = client.request("GET", f"/api/v1/clips/{clip_id}/players")
            chosen = [p for p in found["players"] if p["number"] == player]
            if not chosen:
                raise _fail(f"no player {player} in clip {clip_id}: there are 1..{len(found['players'])}")
            box, frame = chosen[0]["box"], found["frame_index"]
        body = {"box": box, "frame_index": frame, "preset": preset, "indicator": indicator}
        accepted = client.request("POST", f"/api/v1/clips/{clip_id}/renders", json=body)
    except RuntimeError as error:
        raise _fail(str(error)) from error
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
    ) as progress:
        bar = progress.add_task(f"{preset}", total=1.0, detail="queued")

        def show(job: Mapping[str, Any]) -> None:
            counts = job.get("counts", {})
            detail = job["stage"]
            if job["stage"] == "rendering" and counts.get("frames"):
                detail = f"{counts.get('frames_done', 0)}/{counts['frames']} frames"
            progress.update(bar, completed=job["progress"], detail=detail)

        try:
            job = client.wait_for_job(job_id=accepted["job_id"], timeout_s=timeout, on_update=show)
        except (RuntimeError, TimeoutError) as error:
            raise _fail(str(error)) from error
    elapsed = time.perf_counter() - started
    output_uri = job.get("outputs", {}).get("output_uri")
    local = _download(output_uri, out_dir) if output_uri and download else None
    counts = job.get("counts", {})
    summary = {
        "status": job["status"],
        "job_id": job["job_id"],
        "clip_id": clip_id,
        "preset": preset,
        "indicator": indicator,
        "box": box,
        "output_uri": output_uri,
        "local_path": str(local) if local else None,
        "frames": counts.get("frames"),
        "marked_frames": counts.get("marked_frames"),
        "lost_frames": counts.get("lost_frames"),
        "elapsed_s": round(elapsed, 2),
        "reason": job.get("reason"),
        "api_url": info.api_url,
    }
    if as_json:
        out.print_json(json.dumps(summary))
    elif job["status"] == "SUCCEEDED":
        out.print(f"[bold green]SUCCEEDED[/] {preset} render of clip {clip_id} in {elapsed:.1f} s")
        out.print(f"  output_uri   {output_uri}", soft_wrap=True)
        if local:
            out.print(f"  local copy   {local}", soft_wrap=True)
        out.print(f"  player marked on {summary['marked_frames']} of {summary['frames']} frames")
    else:
        out.print(f"[bold red]{job['status']}[/] {job.get('reason')}")
    if job["status"] != "SUCCEEDED":
        raise typer.Exit(1)


@app.command()
def concat(
    videos: Annotated[
        list[str], typer.Argument(help="Rendered clips, in order: s3:// URIs or render job ids")
    ],
    game: Annotated[str, typer.Option("--game", help="Game name, used in the file name")],
    player: Annotated[str, typer.Option("--player", help="Player name, used in the file name")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where a local copy of the video goes")] = Path(
        "outputs"
    ),
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Join rendered clips into outputs/final/{game}_{player}_tracked.mp4 (concat_tracked_clips)."""
    from pitchlens.domain.errors import PitchLensError
    from pitchlens.infrastructure import bootstrap

    _, client = _stack_and_client(data_dir)
    uris: list[str] = []
    for video in videos:
        if video.startswith("s3://"):
            uris.append(video)
            continue
        try:
            job = client.request("GET", f"/api/v1/jobs/{video}")
        except RuntimeError as error:
            raise _fail(f"{video} is neither an s3:// URI nor a known render job: {error}") from error
        if not job.get("outputs", {}).get("output_uri"):
            raise _fail(f"job {video} has no rendered video ({job['status']}: {job.get('reason')})")
        uris.append(job["outputs"]["output_uri"])
    with console.status(f"joining {len(uris)} clip(s) ..."):
        try:
            final = bootstrap.container().tracked_clip_concatenator.execute(game, player, uris)
        except PitchLensError as error:
            raise _fail(str(error)) from error
    local = _download(final.uri, out_dir)
    summary = {
        "output_uri": final.uri,
        "local_path": str(local),
        "clips": final.clips,
        "stream_copied": final.stream_copied,
    }
    if as_json:
        out.print_json(json.dumps(summary))
        return
    how = "stream copy" if final.stream_copied else "re-encoded to one format"
    out.print(f"[bold green]{final.uri}[/] from {final.clips} clip(s) ({how})", soft_wrap=True)
    out.print(f"  local copy   {local}", soft_wrap=True)


@app.command()
def indicators(
    video: Annotated[Path, typer.Argument(help="A video file")],
    bbox: Annotated[str, typer.Option("--bbox", help="A player's box X1,Y1,X2,Y2 on that frame")],
    frame: Annotated[int, typer.Option("--frame", help="Frame index")] = 0,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where the PNGs go")] = Path(
        "outputs/indicators"
    ),
) -> None:
    """Draw each indicator (dot, circle, glow) on one frame and save them as PNGs (no stack needed)."""
    from pitchlens.domain.errors import PitchLensError
    from pitchlens.infrastructure.rendering import indicator_samples
    from pitchlens.infrastructure.vision.video import PyAVVideoReader

    box = _parse_box(bbox)
    try:
        paths = indicator_samples(PyAVVideoReader(), str(video), frame, box, out_dir)
    except (PitchLensError, ValueError) as error:
        raise _fail(str(error)) from error
    for path in paths:
        out.print(str(path))


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
    from pitchlens.runtime.replay import ReplayError
    from pitchlens.runtime.replay import replay as run_replay
    from pitchlens.runtime.stack_client import StackUnavailable, connect

    settings = _settings(data_dir)
    configure_logging(settings.log_level, settings.log_format)
    try:
        document = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise _fail(f"{file}: {error}") from error
    try:
        connect(settings, start=False)
        name, result = run_replay(document, Settings(), function)
    except (ReplayError, StackUnavailable, LookupError) as error:
        raise _fail(str(error)) from error
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
    from pitchlens.runtime.dead_letters import DeadLetterOffice
    from pitchlens.runtime.stack_client import StackUnavailable, connect

    settings = _settings(data_dir)
    try:
        connect(settings, start=False)
    except StackUnavailable as error:
        raise _fail(str(error)) from error
    settings = Settings()
    return DeadLetterOffice(aws_clients.sqs_client(settings), settings), settings


def main() -> None:
    app()


if __name__ == "__main__":
    main()
