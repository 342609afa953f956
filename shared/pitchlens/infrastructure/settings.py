"""All configuration, in one place. Every field can be set by a `PITCHLENS_<NAME>` env var;
the S3/SQS endpoints also honour the standard `AWS_ENDPOINT_URL`. Nothing here connects."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

FUNCTIONS = ("ingest", "persist", "detect", "track", "render")
"""Every deployable queue-driven function; each has a queue and a dead-letter queue."""
ONE_MESSAGE_AT_A_TIME = frozenset({"track", "render"})
"""Functions whose messages take minutes (a segment, a render): a worker receives one at a time, so
that the rest stay on the queue for other workers. Received ten at a time, one of two track workers
took 5 of a video's 6 segments and worked through them alone (2 workers: 0.67x the frames/s of one)."""

BUCKETS = ("videos", "raw-data", "artifacts", "tracking-data", "outputs")


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("pitchlens"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PITCHLENS_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)

    # Endpoints (None = AWS defaults, or the embedded stack's, discovered from data_dir).
    s3_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PITCHLENS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    )
    sqs_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PITCHLENS_SQS_ENDPOINT", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL"),
    )
    database_url: str | None = None
    """PostgreSQL URL. On AWS without the password: it comes from `database_secret_arn`."""
    database_secret_arn: str | None = None
    """A Secrets Manager secret (JSON with `password`, optionally `username`, as RDS writes them)
    whose password is used for each new database connection (fetched again after a rotation)."""
    database_pool_size: int = 5
    database_max_overflow: int = 10
    """Connections a process keeps open (pool size) and may add for bursts (overflow). Lambda
    handles one event at a time: template.yaml sets 1 + 1 per function (see its connection budget)."""
    api_url: str | None = None
    aws_region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("PITCHLENS_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    )

    # Names: buckets and queues. A queue's dead-letter queue is "<queue>-dlq".
    bucket_videos: str = "videos"
    bucket_raw_data: str = "raw-data"
    bucket_artifacts: str = "artifacts"
    bucket_tracking_data: str = "tracking-data"
    bucket_outputs: str = "outputs"
    queue_prefix: str = "pitchlens-"

    # Queue behaviour (Lambda event-source mapping equivalents).
    max_receive_count: int = 3
    visibility_timeout_s: int = 30
    poll_wait_s: int = 1
    batch_size: int = 10
    """Messages a worker receives at once (ONE_MESSAGE_AT_A_TIME's functions: 1); see `batch_size_for`."""

    # Providers.
    statsbomb_open_data_dir: Path | None = None
    statsbomb_online: bool = False

    # Vision.
    model: str = "yolo11n.pt"
    """YOLO weights: a name ultralytics downloads, a .pt / .onnx file or an OpenVINO folder."""
    device: str = "auto"
    """auto (GPU when there is one, else CPU with a warning), cpu, cuda, cuda:0 ..."""
    detection_confidence: float = 0.3
    detection_tiles: int = 2
    """Sliced inference on the detection frame: tiles along the frame's longer side (the shorter
    side gets as many as keep tiles about square), plus the whole frame, merged with NMS. 1 = the
    whole frame only. Measured on detection_gt: 2 -> recall 0.86 / precision 0.78."""
    tracking_tiles: int = 1
    """Tiles for every tracked frame of a clip, as `detection_tiles` (each tile costs a full
    inference). 1 by default: the whole frame in one view at `tracking_input_size` (1152 px), the
    scale at which two 640-px tiles see it, without tiles. 2 with `tracking_input_size=640` (and
    `tracking_max_fps=30`) is the previous default: 2 tiles + the whole frame at 640 px on every
    frame of a 25/30 fps video, 0.6x the frames/s of ultralytics `model.track` on 2 cores against
    the default's 1.5x; its tracks are longer (README "Speed of the track function on CPU")."""
    tracking_input_size: int = Field(default=1152, ge=32, multiple_of=32)
    """The network input's longer side for every tracked view (a multiple of 32; 640 is the
    model's own). 1152 with one tile sees the whole frame at the scale two 640-px tiles see it:
    detection_gt recall 0.855 against the tiles' 0.815 (unstretched to 1152 x 648), about 1.3x their
    frames/s. 640 with one tile tracks about 3x faster but misses most distant players (recall
    0.36)."""
    tracking_tiles_where: Literal["always", "small"] = "always"
    """Where the tracking tiles are inferred: on every frame ("always"), or only where the whole
    frame's view shows people shorter than 48 network px or nobody ("small": each batch's whole
    frames first, then the tiles needed). Measured: "small" used 1.19x less CPU on a broadcast shot
    zoomed 2x, but on the shared clips every tile is needed and the second pass per batch cost
    about 4 % more CPU and 15 % more wall time, so it is not the default."""
    tracking_max_fps: float = Field(default=15.0, ge=0)
    """Detection and tracking run on at most this many frames a second: a 25 or 30 fps video on
    every second frame (12.5 / 15 frames/s), a 50 or 60 fps one on every fourth, the boxes of the
    frames between interpolated (trajectories and renders keep every frame). 0 = every frame.
    Measured on the shared clips against every frame (one view at 1152 px): 1.9x the frames/s, the
    same follow success (0.98 under both instruction sets, split into segments too), 8-10 % fewer
    person-frames (a track is only interpolated between two frames it was seen on) and 7-20 %
    fewer track ids (README "Speed of the track function on CPU")."""
    detection_batch: int = 8
    tracker: str = "botsort"
    """botsort or bytetrack."""
    place_players: bool = True
    """Tracked people are placed on the pitch as they are tracked (on-pitch flag, team by kit,
    camera cuts; PITCHLENS_PLACE_PLAYERS=false leaves trajectories' version-2 columns null)."""
    automatic_calibration: bool = False
    """Shots without a manual calibration are calibrated from the pitch lines while they are
    tracked (the fit of the 105 x 68 line model), so trajectories get metres without marked points
    where the lines allow; a manual calibration (`pitchlens calibrate`) wins in its shot and also
    calibrates the clip's other shots automatically. Off by default: keeping the lines and
    re-fitting them every frame costs placing ~0.25 s more CPU per 720p frame (README "Players on
    the pitch")."""
    calibration_max_frames: int = Field(default=15_000, gt=0)
    """Most frames one manual calibration places: the marked frame's shot, at most this many frames
    around it (the pass keeps ~25 KB of pitch-line pixels per frame: 15,000 frames, 10 minutes at
    25 fps, is ~400 MB)."""
    segment_seconds: float = Field(default=60.0, gt=0)
    """A video longer than this is tracked as segments of about this length, in parallel."""
    segment_overlap_seconds: float = Field(default=1.0, gt=0)
    """Each segment after the first also tracks this long before its start: its tracker has the
    players by then, and the stitch matches tracks on frames both segments saw (and across gaps
    this long). Measured on the shared clips split into 2.5-3 s segments: 0.4 s left 4-9 % more
    track ids than the unsplit run, 1 s 0-4 %; it costs 1.7 % more frames at 60-s segments."""

    # Security.
    api_token: str | None = None
    max_upload_mb: int = 20480
    """Largest upload accepted (a 90-minute 4K match is ~10-20 GB): bigger ones get 413 at once."""
    upload_part_mb: int = 16
    """Part size of the multipart uploads the API plans for clients (memory per part in flight)."""
    presigned_url_s: int = 3600
    """How long upload and download URLs handed to clients stay valid."""
    s3_public_endpoint: str | None = None
    """The S3 endpoint browsers and the CLI reach, for presigned URLs (default: `s3_endpoint`)."""
    notification_token: str = "pitchlens-local-notification-token"

    # Embedded stack ports (0 = pick a free port).
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    aws_port: int = 4566

    lambda_function_name: str | None = Field(default=None, validation_alias="AWS_LAMBDA_FUNCTION_NAME")
    """Set by Lambda: function metrics then also go to CloudWatch as EMF (Prometheus cannot scrape)."""
    metrics_namespace: str = "PitchLens"
    """CloudWatch namespace of the EMF metrics."""

    log_level: str = "INFO"
    log_format: str = "json"

    def batch_size_for(self, function: str) -> int:
        return 1 if function in ONE_MESSAGE_AT_A_TIME else self.batch_size

    @property
    def emf_namespace(self) -> str | None:
        """Where function metrics go as CloudWatch EMF: on Lambda only."""
        return self.metrics_namespace if self.lambda_function_name else None

    def queue_name(self, function: str) -> str:
        return f"{self.queue_prefix}{function}"

    def dlq_name(self, function: str) -> str:
        return f"{self.queue_prefix}{function}-dlq"

    @property
    def buckets(self) -> dict[str, str]:
        """Logical bucket name -> configured bucket name."""
        return {
            "videos": self.bucket_videos,
            "raw-data": self.bucket_raw_data,
            "artifacts": self.bucket_artifacts,
            "tracking-data": self.bucket_tracking_data,
            "outputs": self.bucket_outputs,
        }

    @property
    def notification_routes(self) -> dict[str, str]:
        """Bucket -> function whose queue receives that bucket's object-created notifications."""
        return {self.bucket_raw_data: "ingest", self.bucket_videos: "detect"}
