"""Commands on match video: process, detect, cut, players, render, concat, indicators."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from pitchlens.domain.rendering import Indicator, Preset
from pitchlens.infrastructure.logging import configure_logging
from pitchlens.infrastructure.settings import Settings
from pitchlens.runtime.cli.api_client import ApiError
from pitchlens.runtime.cli.app import (
    AsJson,
    DataDir,
    app,
    fail,
    out,
    settings_for,
    stack_and_client,
    stage_bars,
    upload_bar,
    work_bar,
)

# --- Video -------------------------------------------------------------------------------------
STAGES = ("detecting", "tracking", "persisting")


def checked_video(video: Path) -> int:
    """The size of a local video file, or a clear error at once (before anything is sent)."""
    from pitchlens.domain.vision import VIDEO_SUFFIXES, is_video_name, looks_like_video

    if not video.is_file():
        raise fail(f"{video} is not a file")
    if not is_video_name(video.name):
        raise fail(f"{video.name} is not a video file name (expected {', '.join(sorted(VIDEO_SUFFIXES))})")
    size = video.stat().st_size
    if size == 0:
        raise fail(f"{video} is empty (0 bytes)")
    with video.open("rb") as file:
        if not looks_like_video(file.read(512)):
            raise fail(
                f"{video} is not a video: its first bytes are no video container's (MP4, MKV, AVI, TS ...)"
            )
    return size


def send(client: Any, video: Path, size: int, as_json: bool, **fields: Any) -> dict[str, Any]:
    """Uploads a video straight to the videos bucket with a progress bar in bytes."""
    with upload_bar(as_json) as progress:
        task = progress.add_task(f"uploading {video.name}", total=size)
        try:
            return dict(
                client.upload(video, kind="video", on_progress=lambda n: progress.advance(task, n), **fields)
            )
        except ApiError as error:
            raise fail(str(error)) from error


@app.command()
def process(
    video: Annotated[Path, typer.Argument(help="A match video (mp4, mov, mkv ...)")],
    match_id: Annotated[
        str, typer.Option("--match-id", help="The match this clip belongs to")
    ] = "unassigned",
    frame: Annotated[int, typer.Option("--frame", help="Frame to detect players on", min=0)] = 0,
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where a local copy of the detection frame, boxes drawn, goes")
    ] = Path("outputs"),
    data_dir: DataDir = None,
    as_json: AsJson = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the job")] = 1800,
) -> None:
    """Process a video through the stack: detect players, track them, store trajectories."""
    from pitchlens.application.uploads import checked_match_id
    from pitchlens.domain.errors import InvalidInput

    size = checked_video(video)
    try:
        checked_match_id(match_id)
    except InvalidInput as error:
        raise fail(str(error)) from error
    info, client = stack_and_client(data_dir)
    started = time.perf_counter()
    sent = send(client, video, size, as_json, match_id=match_id, detection_frame=frame)
    with stage_bars(as_json) as progress:
        bars = {stage: progress.add_task(stage, total=1.0, detail="") for stage in STAGES}

        def show(job: Mapping[str, Any]) -> None:
            stage = job["stage"]
            reached = (
                STAGES.index(stage) if stage in STAGES else len(STAGES) if job["status"] != "PENDING" else 0
            )
            for done in STAGES[:reached]:
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
            job = client.wait_for_job(job_id=sent["job_id"], timeout_s=timeout, on_update=show)
            clip_id = job.get("outputs", {}).get("clip_id")
            clip = client.request("GET", f"/api/v1/clips/{clip_id}") if clip_id else {}
        except (ApiError, TimeoutError) as error:
            raise fail(str(error)) from error
    elapsed = time.perf_counter() - started
    outputs, counts = job.get("outputs", {}), job.get("counts", {})
    fps = (clip.get("info") or {}).get("fps")
    summary = {
        "status": job["status"],
        "job_id": job["job_id"],
        "clip_id": clip_id,
        "match_id": match_id,
        "video_uri": sent["uri"],
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
            _save_detections_preview(
                client, outputs["frame_uri"], outputs["detections_uri"], out_dir / str(clip_id)
            )
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
            out.print(
                f"  metres: pitchlens calibrate --clip-id {clip_id} --auto (or --point NAME=x,y ...)",
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
    """Detect people on one image or video frame, locally (no stack needed); each box says whether
    its feet are on the pitch (the grass inside its boundary lines)."""
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
    document = detections_document(found, wired.pitch_area.on_pitch(image, found.boxes))
    if as_json:
        out.print_json(json.dumps(document))
        return
    columns = ("x1", "y1", "x2", "y2", "confidence", "class", "on_pitch")
    table = Table("#", *columns, title=f"{len(document)} people in {source.name}")
    for number, box in enumerate(document):
        table.add_row(str(number), *(str(box[k]) for k in columns))
    out.print(table)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _save_numbered_frame(
    client: Any, frame_uri: str, boxes: list[tuple[str, list[float]]], path: Path
) -> Path:
    """The frame at `frame_uri` with each (label, [x1, y1, x2, y2]) box drawn, as a local JPEG anyone
    can open. ValueError when the object is not an image."""
    import cv2
    import numpy as np

    data = client.read(frame_uri)
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


def _save_detections_preview(client: Any, frame_uri: str, detections_uri: str, folder: Path) -> Path:
    """The detection frame with its boxes numbered as in detections.json."""
    found = orjson.loads(client.read(detections_uri))["detections"]
    boxes = [
        (str(number), [box[side] for side in ("x1", "y1", "x2", "y2")]) for number, box in enumerate(found)
    ]
    return _save_numbered_frame(client, frame_uri, boxes, folder / "detections.jpg")


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
    with work_bar(as_json) as progress:
        bar = progress.add_task("cutting", total=1.0, detail="")

        def step(done: int, total: int, what: str) -> None:
            progress.update(bar, completed=done / max(total, 1), detail=what)

        try:
            result = cutter.execute(
                str(game_video), intervals.read_text(), game, player, out_dir, on_progress=step
            )
        except PitchLensError as error:
            raise fail(str(error)) from error
    uploaded: list[str] = []
    if upload:
        _, client = stack_and_client(data_dir)
        for clip in result.clips:
            sent = send(client, clip, clip.stat().st_size, as_json, match_id=_folder_name(game))
            uploaded.append(sent["uri"])
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


def _folder_name(game: str) -> str:
    """A game name as a match id (a storage folder): letters, digits, '.', '_' and '-'."""
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", game).strip("-.")[:128] or "game"


# --- Highlights: render and concatenate ---------------------------------------------------------
def _parse_box(text: str) -> list[float]:
    try:
        box = [float(part) for part in text.split(",")]
    except ValueError:
        raise fail(f"--bbox takes four numbers X1,Y1,X2,Y2, not {text!r}") from None
    if len(box) != 4:
        raise fail(f"--bbox takes four numbers X1,Y1,X2,Y2, got {len(box)}")
    return box


def _save_players_preview(
    client: Any, clip: Mapping[str, Any], players: Mapping[str, Any], folder: Path
) -> Path | None:
    """The clip's detection frame with the followable players' numbered boxes."""
    if not clip.get("frame_uri"):
        return None
    boxes = [(str(player["number"]), player["box"]) for player in players["players"]]
    try:
        return _save_numbered_frame(client, clip["frame_uri"], boxes, folder / "players.jpg")
    except ValueError:
        return None


@app.command()
def players(
    clip_id: Annotated[str, typer.Option("--clip-id", help="A processed clip (see `pitchlens process`)")],
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where the numbered picture goes (<out-dir>/<clip>/players.jpg)")
    ] = Path("outputs"),
    data_dir: DataDir = None,
    everybody: Annotated[
        bool, typer.Option("--all", help="Also people off the pitch (staff, benches, spectators)")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """List the players on the pitch that can be followed in a processed clip, numbered left to
    right, with their team, and save the detection frame with their numbered boxes; render one with
    `pitchlens render --player N`."""
    _, client = stack_and_client(data_dir)
    try:
        clip = client.request("GET", f"/api/v1/clips/{clip_id}")
        include = "all" if everybody else "pitch"
        found = client.request("GET", f"/api/v1/clips/{clip_id}/players?include={include}")
    except ApiError as error:
        raise fail(str(error)) from error
    picture = _save_players_preview(client, clip, found, out_dir / clip_id)
    if as_json:
        out.print_json(json.dumps({**found, "picture": str(picture) if picture else None}))
        return
    table = Table("player", "box x1,y1,x2,y2", "confidence", "track", "team", "on pitch")
    for player in found["players"]:
        box = ",".join(f"{value:.0f}" for value in player["box"])
        table.add_row(
            str(player["number"]),
            box,
            f"{player['confidence']:.2f}",
            str(player["track_id"]),
            str(player.get("team") or "-"),
            {True: "yes", False: "no", None: "-"}[player.get("on_pitch")],
        )
    out.print(table)
    out.print(
        f"{len(found['players'])} players on frame {found['frame_index']}; picture: {picture}", soft_wrap=True
    )
    out.print(f"render one: pitchlens render --clip-id {clip_id} --player N", soft_wrap=True)


def _succeeded(
    client: Any, job_id: str, timeout: float, bars: Any, label: str, detail: str
) -> dict[str, Any]:
    """The job followed on one bar of `bars` until it ends; exit 1 with its status and reason
    unless it SUCCEEDED."""
    with bars as progress:
        bar = progress.add_task(label, total=1.0, detail=detail)
        try:
            job: dict[str, Any] = client.wait_for_job(
                job_id=job_id,
                timeout_s=timeout,
                on_update=lambda job: progress.update(bar, completed=job["progress"], detail=job["stage"]),
            )
        except (ApiError, TimeoutError) as error:
            raise fail(str(error)) from error
    if job["status"] != "SUCCEEDED":
        out.print(f"[bold red]{job['status']}[/] {job.get('reason')}")
        raise typer.Exit(1)
    return job


def _download(client: Any, uri: str, folder: Path, as_json: bool = False) -> Path:
    """A stored result saved under `folder` at its key, with a progress bar in bytes."""
    key = uri.removeprefix("s3://").partition("/")[2]
    with upload_bar(as_json) as progress:
        task = progress.add_task(f"downloading {key.rsplit('/', 1)[-1]}", total=None)
        try:
            return client.download(uri, folder / key, on_progress=lambda n: progress.advance(task, n))
        except ApiError as error:
            raise fail(str(error)) from error


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
    everybody: Annotated[
        bool, typer.Option("--all", help="--player N numbers everybody, as `pitchlens players --all` does")
    ] = False,
    frame: Annotated[
        int | None, typer.Option("--frame", help="Frame the box is on (default: the detection frame)")
    ] = None,
    preset: Annotated[
        Preset, typer.Option(help="preview (720p, fast) or final (source quality)")
    ] = Preset.PREVIEW,
    indicator: Annotated[Indicator, typer.Option(help="What marks the player")] = Indicator.CIRCLE,
    minimap: Annotated[
        bool,
        typer.Option(
            "--minimap",
            help="Also show a small pitch (bottom right) with everybody in metres; calibrate the clip first",
        ),
    ] = False,
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
            include = "all" if everybody else "pitch"
            found = client.request("GET", f"/api/v1/clips/{clip_id}/players?include={include}")
            chosen = [p for p in found["players"] if p["number"] == player]
            if not chosen:
                raise fail(f"no player {player} in clip {clip_id}: there are 1..{len(found['players'])}")
            box, frame = chosen[0]["box"], found["frame_index"]
        body = {
            "box": box,
            "frame_index": frame,
            "preset": preset.value,
            "indicator": indicator.value,
            "minimap": minimap,
        }
        accepted = client.request("POST", f"/api/v1/clips/{clip_id}/renders", json=body)
    except ApiError as error:
        raise fail(str(error)) from error
    with stage_bars(as_json) as progress:
        bar = progress.add_task(preset.value, total=1.0, detail="queued")

        def show(job: Mapping[str, Any]) -> None:
            counts = job.get("counts", {})
            detail = job["stage"]
            if job["stage"] == "rendering" and counts.get("frames"):
                detail = f"{counts.get('frames_done', 0)}/{counts['frames']} frames"
            progress.update(bar, completed=job["progress"], detail=detail)

        try:
            job = client.wait_for_job(job_id=accepted["job_id"], timeout_s=timeout, on_update=show)
        except (ApiError, TimeoutError) as error:
            raise fail(str(error)) from error
    elapsed = time.perf_counter() - started
    output_uri = job.get("outputs", {}).get("output_uri")
    local = _download(client, output_uri, out_dir, as_json) if output_uri and download else None
    counts = job.get("counts", {})
    summary = {
        "status": job["status"],
        "job_id": job["job_id"],
        "clip_id": clip_id,
        "preset": preset.value,
        "indicator": indicator.value,
        "minimap": minimap,
        "box": box,
        "output_uri": output_uri,
        "local_path": str(local) if local else None,
        "frames": counts.get("frames"),
        "marked_frames": counts.get("marked_frames"),
        "lost_frames": counts.get("lost_frames"),
        "minimap_frames": counts.get("minimap_frames"),
        "elapsed_s": round(elapsed, 2),
        "reason": job.get("reason"),
        "api_url": info.api_url,
    }
    if as_json:
        out.print_json(json.dumps(summary))
    elif job["status"] == "SUCCEEDED":
        out.print(f"[bold green]SUCCEEDED[/] {preset.value} render of clip {clip_id} in {elapsed:.1f} s")
        out.print(f"  output_uri   {output_uri}", soft_wrap=True)
        if local:
            out.print(f"  local copy   {local}", soft_wrap=True)
        out.print(f"  player marked on {summary['marked_frames']} of {summary['frames']} frames")
        if minimap:
            out.print(f"  minimap in metres on {summary['minimap_frames']} of {summary['frames']} frames")
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
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the join")] = 1800,
) -> None:
    """Join rendered clips into outputs/final/{game}_{player}_tracked.mp4 (concat_tracked_clips),
    through the render queue, with a progress bar; keeps a local copy."""
    _, client = stack_and_client(data_dir)
    try:
        accepted = client.request(
            "POST", "/api/v1/concatenations", json={"clips": videos, "game": game, "player": player}
        )
    except ApiError as error:
        raise fail(str(error)) from error
    job = _succeeded(
        client, accepted["job_id"], timeout, work_bar(as_json), "joining", f"{len(videos)} clip(s)"
    )
    final_uri = job["outputs"]["final_uri"]
    local = _download(client, final_uri, out_dir, as_json)
    stream_copied = bool(job["counts"].get("stream_copied"))
    summary = {
        "output_uri": final_uri,
        "local_path": str(local),
        "clips": job["counts"].get("clips"),
        "stream_copied": stream_copied,
        "job_id": job["job_id"],
    }
    if as_json:
        out.print_json(json.dumps(summary))
        return
    how = "stream copy" if stream_copied else "re-encoded to one format"
    out.print(f"[bold green]{final_uri}[/] from {summary['clips']} clip(s) ({how})", soft_wrap=True)
    out.print(f"  local copy   {local}", soft_wrap=True)


def parse_point(text: str) -> tuple[str, float, float]:
    """`NAME=x,y` -> (name, x, y); BadParameter naming what is wrong."""
    name, equals, position = text.partition("=")
    values = position.split(",")
    try:
        if not equals or not name.strip() or len(values) != 2:
            raise ValueError
        x, y = (float(value) for value in values)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not NAME=x,y (e.g. centre_spot=424,260)") from None
    return name.strip(), x, y


@app.command()
def calibrate(
    clip_id: Annotated[str, typer.Option("--clip-id", help="A processed clip (see `pitchlens process`)")],
    points: Annotated[
        list[str] | None,
        typer.Option(
            "--point",
            help="A pitch landmark marked on the frame, NAME=x,y in pixels (4 or more; names: "
            "centre_spot, halfway_far, box_left_near, penalty_spot_right ... see /api/v1/pitch/landmarks)",
        ),
    ] = None,
    automatic: Annotated[
        bool, typer.Option("--auto", help="No points: calibrate every shot from its pitch lines alone")
    ] = False,
    frame: Annotated[int, typer.Option("--frame", help="The frame the points are marked on", min=0)] = 0,
    home_attacks: Annotated[
        str,
        typer.Option("--home-attacks", help="right or left: the goal the home team attacks in the picture"),
    ] = "right",
    data_dir: DataDir = None,
    as_json: AsJson = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the placement")] = 3600,
) -> None:
    """Calibrate a processed clip from pitch landmarks marked on one frame, then place its people in
    metres (trajectories' pitch_x, pitch_y): e.g. `--point centre_spot=424,260 --point
    halfway_far=430,120 ...`, or `--auto` to fit the pitch lines alone. Bad points (fewer than 4,
    collinear, off the frame, unknown names, a fit that folds the pitch) are refused with the reason."""
    if home_attacks not in ("right", "left"):
        raise fail(f"--home-attacks is right or left, not {home_attacks!r}")
    if automatic == bool(points):
        raise fail(
            "give the landmarks with --point NAME=x,y (4 or more), or --auto for the pitch lines alone"
        )
    marked = [parse_point(text) for text in points or []]
    _, client = stack_and_client(data_dir)
    body = {
        "frame_index": frame,
        "points": [{"name": name, "x": x, "y": y} for name, x, y in marked],
        "orientation": f"home_attacks_{home_attacks}",
        "automatic": automatic,
    }
    try:
        accepted = client.request("POST", f"/api/v1/clips/{clip_id}/calibration", json=body)
    except ApiError as error:
        raise fail(str(error)) from error
    job = _succeeded(client, accepted["job_id"], timeout, stage_bars(as_json), "placing", "queued")
    summary = {
        "clip_id": clip_id,
        "residuals_m": accepted["residuals_m"],
        "homography": accepted["homography"],
        "trajectories_uri": job["outputs"].get("trajectories_uri"),
        "rows_with_metres": job["counts"].get("rows_with_metres"),
        "rows": job["counts"].get("rows"),
        "placed_frames": job["outputs"].get("placed_frames"),
        "note": job.get("reason"),
        "job_id": job["job_id"],
    }
    if as_json:
        out.print_json(json.dumps(summary))
        return
    if automatic:
        found = summary["rows_with_metres"]
        out.print(
            "[bold green]calibrated[/] from the pitch lines" if found else "[bold yellow]no shot fitted[/]"
        )
    else:
        worst = max(accepted["residuals_m"].items(), key=lambda item: item[1])
        out.print(
            f"[bold green]calibrated[/] frame {frame}: worst landmark {worst[0]} off by {worst[1]:.2f} m"
        )
    out.print(
        f"  frames {summary['placed_frames']} placed: {summary['rows_with_metres']} of their "
        f"{summary['rows']} rows in metres",
        soft_wrap=True,
    )
    if summary["note"]:
        out.print(f"  {summary['note']}", soft_wrap=True)
    out.print(f"  trajectories {summary['trajectories_uri']}", soft_wrap=True)


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
