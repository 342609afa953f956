"""Commands on match video: process, detect, cut, players, render, concat, indicators."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pitchlens.infrastructure.logging import configure_logging
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.cli.app import (
    AsJson,
    DataDir,
    app,
    console,
    fail,
    out,
    settings_for,
    stack_and_client,
)

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
        raise fail(f"{video} is not a file")
    info, client = stack_and_client(data_dir)
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
            raise fail(str(error)) from error
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
        raise fail(f"{source} is not a file")
    wired = Container(settings)
    try:
        image = cv2.imread(str(source)) if source.suffix.lower() in IMAGE_SUFFIXES else None
        if image is None:
            image = wired.video_reader.frame(str(source), frame)
        [found] = wired.detection_model.detect([image], first_index=frame)
    except PitchLensError as error:
        raise fail(str(error)) from error
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

    settings = settings_for(data_dir)
    configure_logging("WARNING", settings.log_format)
    if not intervals.is_file():
        raise fail(f"{intervals} is not a file")
    cutter = HighlightCutter(
        CsvIntervalReader(), FfmpegVideoEditor(), padding, min_gap, CutMode.COPY if copy else CutMode.ACCURATE
    )
    with console.status("cutting and joining clips ..."):
        try:
            result = cutter.execute(str(game_video), intervals.read_text(), game, player, out_dir)
        except PitchLensError as error:
            raise fail(str(error)) from error
    uploaded: list[str] = []
    if upload:
        from pitchlens.infrastructure import bootstrap
        from pitchlens.runtime.embedded.client import StackUnavailable, connect

        try:
            connect(
                settings,
                start=True,
                on_start=lambda d: console.print(f"starting the embedded stack in {d} ..."),
            )
        except StackUnavailable as error:
            raise fail(f"clips are cut, but could not be uploaded: {error}") from error
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
        raise fail(f"--bbox takes four numbers X1,Y1,X2,Y2, not {text!r}") from None
    if len(box) != 4:
        raise fail(f"--bbox takes four numbers X1,Y1,X2,Y2, got {len(box)}")
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
    _, client = stack_and_client(data_dir)
    try:
        clip = client.request("GET", f"/api/v1/clips/{clip_id}")
        found = client.request("GET", f"/api/v1/clips/{clip_id}/players")
    except RuntimeError as error:
        raise fail(str(error)) from error
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
        raise fail(
            "give the player to follow with --bbox X1,Y1,X2,Y2 or --player N (see `pitchlens players`)"
        )
    info, client = stack_and_client(data_dir)
    started = time.perf_counter()
    try:
        if bbox is not None:
            box = _parse_box(bbox)
        else:
            found = client.request("GET", f"/api/v1/clips/{clip_id}/players")
            chosen = [p for p in found["players"] if p["number"] == player]
            if not chosen:
                raise fail(f"no player {player} in clip {clip_id}: there are 1..{len(found['players'])}")
            box, frame = chosen[0]["box"], found["frame_index"]
        body = {"box": box, "frame_index": frame, "preset": preset, "indicator": indicator}
        accepted = client.request("POST", f"/api/v1/clips/{clip_id}/renders", json=body)
    except RuntimeError as error:
        raise fail(str(error)) from error
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
            raise fail(str(error)) from error
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

    _, client = stack_and_client(data_dir)
    uris: list[str] = []
    for video in videos:
        if video.startswith("s3://"):
            uris.append(video)
            continue
        try:
            job = client.request("GET", f"/api/v1/jobs/{video}")
        except RuntimeError as error:
            raise fail(f"{video} is neither an s3:// URI nor a known render job: {error}") from error
        if not job.get("outputs", {}).get("output_uri"):
            raise fail(f"job {video} has no rendered video ({job['status']}: {job.get('reason')})")
        uris.append(job["outputs"]["output_uri"])
    with console.status(f"joining {len(uris)} clip(s) ..."):
        try:
            final = bootstrap.container().tracked_clip_concatenator.execute(game, player, uris)
        except PitchLensError as error:
            raise fail(str(error)) from error
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
        raise fail(str(error)) from error
    for path in paths:
        out.print(str(path))
