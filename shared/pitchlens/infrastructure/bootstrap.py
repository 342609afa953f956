"""The composition root: builds wired use cases from `Settings`, lazily, once per process.

Handlers call `container()` on each invocation; the container (and every client it holds) is
created on first use and reused on warm starts. Nothing connects at import time. Tests build
a `Container` with their own settings, or call `reset()` after changing the environment.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pitchlens.application.clip_calibrator import CalibrationRequester, ClipCalibrator
from pitchlens.application.clip_detector import ClipDetector
from pitchlens.application.clip_registerer import ClipRegisterer
from pitchlens.application.clip_renderer import ClipRenderer, FollowRender
from pitchlens.application.clip_tracker import SegmentPlanner, SegmentTracker, TrackStitcher
from pitchlens.application.highlight_cut_worker import HighlightCutWorker
from pitchlens.application.highlight_sessions import (
    CutSessionCreator,
    FinalizeRequester,
    HighlightCutRequester,
    PreviewApprover,
    PreviewRequester,
    SessionCreator,
)
from pitchlens.application.ingestion_requester import IngestionRequester
from pitchlens.application.match_ingester import MatchIngester
from pitchlens.application.match_persister import MatchPersister
from pitchlens.application.message_pipeline import Consumer, MessagePipeline
from pitchlens.application.player_placer import PlayerPlacer
from pitchlens.application.render_requester import RenderRequester
from pitchlens.application.session_finalizer import FinalClipRenderer, SessionFinalizer
from pitchlens.application.tracked_clip_concatenator import ConcatRequester, TrackedClipConcatenator
from pitchlens.application.trajectory_persister import TrajectoryPersister
from pitchlens.application.upload_ingester import UploadIngester
from pitchlens.application.uploads import UploadCompleter, UploadStarter
from pitchlens.domain.appearance import AppearanceEncoder, BoxAppearance
from pitchlens.domain.camera import PitchArea, PitchCamera
from pitchlens.domain.highlights import IntervalReader, VideoEditor
from pitchlens.domain.messages import (
    CalibrationRequested,
    ConcatRequested,
    DetectionRequested,
    FinalClipRequested,
    FinalizeRequested,
    HighlightsRequested,
    IngestionRequested,
    MatchIngested,
    Message,
    ObjectCreated,
    PlayersDetected,
    RawDataUploaded,
    RenderRequested,
    SegmentTrackingRequested,
    TracksStitchRequested,
    VideoProcessed,
    VideoUploaded,
)
from pitchlens.domain.ports import MatchParser, MatchSource, UnitOfWork
from pitchlens.domain.rendering import IndicatorRenderer
from pitchlens.domain.vision import (
    DetectionModel,
    MultiObjectTracker,
    TrajectoryStore,
    VideoReader,
    VideoStore,
)
from pitchlens.infrastructure import aws_clients
from pitchlens.infrastructure.clock import SystemClock
from pitchlens.infrastructure.match_sources import RoutingMatchSource, S3FolderMatchSource
from pitchlens.infrastructure.messaging.dead_letters import DeadLetterOffice
from pitchlens.infrastructure.messaging.sqs import QueueDirectory, SqsMessagePublisher
from pitchlens.infrastructure.metrics import FunctionMetrics
from pitchlens.infrastructure.settings import Settings
from pitchlens.infrastructure.storage.match_staging import S3MatchStaging
from pitchlens.infrastructure.storage.s3 import S3ObjectStorage


class Container:
    """Adapters and use cases for one set of settings. Properties are built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = SystemClock()

    # Adapters -----------------------------------------------------------------------------
    @functools.cached_property
    def s3(self) -> Any:
        return aws_clients.s3_client(self.settings)

    @functools.cached_property
    def sqs(self) -> Any:
        return aws_clients.sqs_client(self.settings)

    @functools.cached_property
    def storage(self) -> S3ObjectStorage:
        return S3ObjectStorage(self.s3, aws_clients.public_s3_client(self.settings))

    @functools.cached_property
    def queues(self) -> QueueDirectory:
        return QueueDirectory(self.sqs, self.settings)

    @functools.cached_property
    def dead_letters(self) -> DeadLetterOffice:
        return DeadLetterOffice(self.sqs, self.settings)

    @functools.cached_property
    def publisher(self) -> SqsMessagePublisher:
        routes = {kind: consumer.function for kind, consumer in self.consumers.items()}
        return SqsMessagePublisher(self.sqs, self.queues, routes)

    # Messages ------------------------------------------------------------------------------
    @functools.cached_property
    def consumers(self) -> dict[type[Message], Consumer]:
        """The one table of who consumes what: message type -> the function whose queue receives
        it, the inbox its idempotency keys go in, and the use case (built on first use)."""
        return {
            IngestionRequested: Consumer("ingest", "ingest", lambda: self.match_ingester),
            RawDataUploaded: Consumer("ingest", "ingest", lambda: self.upload_ingester),
            MatchIngested: Consumer("persist", "persist", lambda: self.match_persister),
            VideoUploaded: Consumer("detect", "detect", lambda: self.clip_registerer),
            DetectionRequested: Consumer("detect", "detect", lambda: self.clip_detector),
            PlayersDetected: Consumer("track", "track", lambda: self.segment_planner),
            SegmentTrackingRequested: Consumer("track", "track-segment", lambda: self.segment_tracker),
            TracksStitchRequested: Consumer("track", "stitch", lambda: self.track_stitcher),
            VideoProcessed: Consumer("persist", "persist", lambda: self.trajectory_persister),
            RenderRequested: Consumer("render", "render", lambda: self.clip_renderer),
            FinalizeRequested: Consumer("render", "finalize", lambda: self.session_finalizer),
            FinalClipRequested: Consumer("render", "final-clip", lambda: self.final_clip_renderer),
            HighlightsRequested: Consumer("render", "cut", lambda: self.highlight_cut_worker),
            ConcatRequested: Consumer("render", "concat", lambda: self.tracked_clip_concatenator),
            CalibrationRequested: Consumer("track", "calibrate", lambda: self.clip_calibrator),
        }

    @functools.cached_property
    def upload_types(self) -> dict[str, type[ObjectCreated]]:
        """Bucket -> the message an object created in it becomes."""
        return {self.settings.bucket_raw_data: RawDataUploaded, self.settings.bucket_videos: VideoUploaded}

    @functools.cache  # noqa: B019 - one pipeline per function for the container's lifetime
    def pipeline(self, function: str) -> MessagePipeline:
        """The message pipeline of one queue-driven function."""
        from pitchlens.infrastructure.lambda_sqs import MetricsOutcomes

        observer = MetricsOutcomes(self.function_metrics)
        return MessagePipeline(function, self.consumers, self.unit_of_work, self.clock, observer)

    @functools.cached_property
    def function_metrics(self) -> FunctionMetrics:
        """Prometheus everywhere; CloudWatch EMF too on Lambda (settings.emf_namespace)."""
        return FunctionMetrics(self.settings.emf_namespace)

    @functools.cached_property
    def engine(self) -> Any:
        from pitchlens.infrastructure.postgres.engine import create_engine

        if not self.settings.database_url:
            raise RuntimeError("PITCHLENS_DATABASE_URL is not set (start the stack with `pitchlens up`)")
        return create_engine(
            self.settings.database_url,
            pool_size=self.settings.database_pool_size,
            max_overflow=self.settings.database_max_overflow,
            password=database_password(self.settings),
        )

    def unit_of_work(self) -> UnitOfWork:
        from pitchlens.infrastructure.postgres.unit_of_work import PostgresUnitOfWork

        return PostgresUnitOfWork(self.engine)

    @functools.cached_property
    def parsers(self) -> dict[str, MatchParser]:
        from pitchlens.infrastructure.providers.metrica import MetricaParser
        from pitchlens.infrastructure.providers.statsbomb import StatsBombParser

        return {"statsbomb": StatsBombParser(), "metrica": MetricaParser()}

    @functools.cached_property
    def match_sources(self) -> MatchSource:
        from pitchlens.infrastructure.providers.statsbomb import (
            StatsBombOnlineSource,
            StatsBombOpenDataSource,
        )

        providers: dict[str, MatchSource] = {}
        if self.settings.statsbomb_open_data_dir is not None:
            providers["statsbomb"] = StatsBombOpenDataSource(self.settings.statsbomb_open_data_dir)
        elif self.settings.statsbomb_online:
            providers["statsbomb"] = StatsBombOnlineSource()
        return RoutingMatchSource(S3FolderMatchSource(self.storage), providers)

    @functools.cached_property
    def staging(self) -> S3MatchStaging:
        return S3MatchStaging(
            self.storage, self.settings.bucket_artifacts, self.settings.bucket_tracking_data
        )

    # Vision adapters (heavy imports: only when a vision function runs) -------------------------
    @functools.cached_property
    def video_reader(self) -> VideoReader:
        from pitchlens.infrastructure.vision.video import PyAVVideoReader

        return PyAVVideoReader()

    @functools.cached_property
    def detection_model(self) -> DetectionModel:
        """For the detection frame: sliced inference for the small players of wide shots."""
        from pitchlens.infrastructure.vision.detection import (
            CountedDetectionModel,
            DeferredDetectionModel,
            YoloDetectionModel,
        )

        model = DeferredDetectionModel(
            lambda: YoloDetectionModel.from_settings(self.settings), self.settings.model
        )
        return CountedDetectionModel(model, "detect")

    @functools.cached_property
    def tracking_model(self) -> DetectionModel:
        """For every tracked frame of a clip: the whole frame at `tracking_input_size`, plus
        `tracking_tiles` tiles (those `tracking_tiles_where` keeps) where more than one."""
        from pitchlens.infrastructure.vision.detection import (
            CountedDetectionModel,
            DeferredDetectionModel,
            YoloDetectionModel,
        )

        settings = self.settings
        model = DeferredDetectionModel(lambda: YoloDetectionModel.for_tracking(settings), settings.model)
        return CountedDetectionModel(model, "track")

    def tracker(self, fps: float) -> MultiObjectTracker:
        from pitchlens.infrastructure.vision.tracking import create_tracker

        return create_tracker(self.settings.tracker, fps)

    @functools.cached_property
    def videos(self) -> VideoStore:
        from pitchlens.infrastructure.storage.video_store import S3VideoStore

        return S3VideoStore(
            self.s3,
            self.settings.bucket_artifacts,
            outputs_bucket=self.settings.bucket_outputs,
            pitch_area=self.pitch_area if self.settings.place_players else None,
        )

    @functools.cached_property
    def trajectories(self) -> TrajectoryStore:
        from pitchlens.infrastructure.storage.trajectories import S3TrajectoryStore

        return S3TrajectoryStore(
            self.s3, self.settings.bucket_tracking_data, staging_bucket=self.settings.bucket_artifacts
        )

    @functools.cached_property
    def indicator_renderer(self) -> IndicatorRenderer:
        from pitchlens.infrastructure.rendering import FfmpegIndicatorRenderer

        return FfmpegIndicatorRenderer(self.video_reader)

    @functools.cached_property
    def video_editor(self) -> VideoEditor:
        from pitchlens.infrastructure.video_editing import FfmpegVideoEditor

        return FfmpegVideoEditor()

    @functools.cached_property
    def box_appearance(self) -> BoxAppearance:
        from pitchlens.infrastructure.vision.appearance import KitColours

        return KitColours()

    def appearance(self, path: str) -> AppearanceEncoder:
        from pitchlens.infrastructure.vision.appearance import ColorHistogramAppearance

        return ColorHistogramAppearance(self.video_reader, path)

    # Use cases ----------------------------------------------------------------------------
    @functools.cached_property
    def ingestion_requester(self) -> IngestionRequester:
        return IngestionRequester(self.unit_of_work, self.publisher, self.parsers, self.clock)

    @functools.cached_property
    def match_ingester(self) -> MatchIngester:
        return MatchIngester(
            self.unit_of_work, self.match_sources, self.parsers, self.staging, self.publisher, self.clock
        )

    @functools.cached_property
    def upload_ingester(self) -> UploadIngester:
        return UploadIngester(self.storage, self.parsers)

    @functools.cached_property
    def match_persister(self) -> MatchPersister:
        return MatchPersister(self.unit_of_work, self.staging, self.clock)

    @functools.cached_property
    def clip_registerer(self) -> ClipRegisterer:
        return ClipRegisterer(self.unit_of_work, self.storage, self.clock)

    @functools.cached_property
    def clip_detector(self) -> ClipDetector:
        return ClipDetector(
            self.unit_of_work,
            self.videos,
            self.video_reader,
            self.detection_model,
            self.publisher,
            self.clock,
        )

    @functools.cached_property
    def segment_planner(self) -> SegmentPlanner:
        return SegmentPlanner(
            self.unit_of_work,
            self.videos,
            self.video_reader,
            self.publisher,
            self.clock,
            segment_seconds=self.settings.segment_seconds,
            overlap_seconds=self.settings.segment_overlap_seconds,
        )

    @functools.cached_property
    def segment_tracker(self) -> SegmentTracker:
        return SegmentTracker(
            self.unit_of_work,
            self.videos,
            self.video_reader,
            self.tracking_model,
            self.tracker,
            self.trajectories,
            self.storage,
            self.box_appearance,
            self.publisher,
            self.clock,
            batch_size=self.settings.detection_batch,
            placer=self.player_placer if self.settings.place_players else None,
            max_fps=self.settings.tracking_max_fps or None,
        )

    @functools.cached_property
    def player_placer(self) -> PlayerPlacer:
        """While tracking: on the pitch by the grass and its boundary lines, teams by kit colour,
        the camera's cuts (tracks split there), and metres where the pitch lines calibrate a shot
        (`automatic_calibration`; without it no lines are kept: metres need a manual calibration)."""
        from pitchlens.infrastructure.vision.camera import BroadcastPitchCamera
        from pitchlens.infrastructure.vision.teams import KitColourTeams

        automatic = self.settings.automatic_calibration
        camera = _line_fitting_camera() if automatic else functools.partial(BroadcastPitchCamera, lines=False)
        return PlayerPlacer(self.pitch_area, camera, KitColourTeams, automatic_calibration=automatic)

    @functools.cached_property
    def calibration_requester(self) -> CalibrationRequester:
        return CalibrationRequester(
            self.unit_of_work, self.publisher, self.clock, self.settings.calibration_max_frames
        )

    @functools.cached_property
    def clip_calibrator(self) -> ClipCalibrator:
        """A calibrated clip placed again with the pitch lines (re-anchoring): the manual anchor's
        shot from it; asked for automatic calibration, every shot from its own lines (the fit is
        there whatever `automatic_calibration` says: that setting is about tracking)."""
        from pitchlens.infrastructure.vision.teams import KitColourTeams

        placer = PlayerPlacer(
            self.pitch_area, _line_fitting_camera(), KitColourTeams, automatic_calibration=True
        )
        return ClipCalibrator(
            self.unit_of_work,
            self.videos,
            self.video_reader,
            self.trajectories,
            placer,
            self.clock,
            self.settings.calibration_max_frames,
        )

    @functools.cached_property
    def pitch_area(self) -> PitchArea:
        from pitchlens.infrastructure.vision.pitch_area import GrassPitchArea

        return GrassPitchArea()

    @functools.cached_property
    def track_stitcher(self) -> TrackStitcher:
        return TrackStitcher(
            self.unit_of_work,
            self.trajectories,
            self.storage,
            self.box_appearance,
            self.publisher,
            self.clock,
        )

    @functools.cached_property
    def trajectory_persister(self) -> TrajectoryPersister:
        return TrajectoryPersister(self.unit_of_work, self.trajectories, self.clock)

    @functools.cached_property
    def upload_starter(self) -> UploadStarter:
        settings = self.settings
        return UploadStarter(
            self.unit_of_work,
            self.storage,
            self.parsers,
            self.clock,
            videos_bucket=settings.bucket_videos,
            raw_data_bucket=settings.bucket_raw_data,
            max_bytes=settings.max_upload_mb * 1024 * 1024,
            part_size=settings.upload_part_mb * 1024 * 1024,
            expires_in_s=settings.presigned_url_s,
        )

    @functools.cached_property
    def upload_completer(self) -> UploadCompleter:
        return UploadCompleter(
            self.storage,
            videos_bucket=self.settings.bucket_videos,
            raw_data_bucket=self.settings.bucket_raw_data,
            artifacts_bucket=self.settings.bucket_artifacts,
        )

    @functools.cached_property
    def render_requester(self) -> RenderRequester:
        return RenderRequester(self.unit_of_work, self.publisher, self.clock)

    @functools.cached_property
    def clip_renderer(self) -> ClipRenderer:
        return ClipRenderer(
            self.unit_of_work,
            self.videos,
            self.video_reader,
            self.trajectories,
            self.appearance,
            self.indicator_renderer,
            self.clock,
        )

    @functools.cached_property
    def interval_reader(self) -> IntervalReader:
        from pitchlens.infrastructure.intervals_csv import CsvIntervalReader

        return CsvIntervalReader()

    @functools.cached_property
    def session_creator(self) -> SessionCreator:
        return SessionCreator(self.unit_of_work, self.upload_starter, self.clock)

    @functools.cached_property
    def cut_session_creator(self) -> CutSessionCreator:
        settings = self.settings
        return CutSessionCreator(
            self.unit_of_work,
            self.storage,
            self.interval_reader,
            self.clock,
            artifacts_bucket=settings.bucket_artifacts,
            max_bytes=settings.max_upload_mb * 1024 * 1024,
            part_size=settings.upload_part_mb * 1024 * 1024,
            expires_in_s=settings.presigned_url_s,
        )

    @functools.cached_property
    def highlight_cut_requester(self) -> HighlightCutRequester:
        return HighlightCutRequester(self.unit_of_work, self.storage, self.publisher, self.clock)

    @functools.cached_property
    def preview_requester(self) -> PreviewRequester:
        return PreviewRequester(self.unit_of_work, self.trajectories, self.render_requester, self.clock)

    @functools.cached_property
    def preview_approver(self) -> PreviewApprover:
        return PreviewApprover(self.unit_of_work, self.clock)

    @functools.cached_property
    def finalize_requester(self) -> FinalizeRequester:
        return FinalizeRequester(self.unit_of_work, self.publisher, self.clock)

    @functools.cached_property
    def session_finalizer(self) -> SessionFinalizer:
        return SessionFinalizer(self.unit_of_work, self.publisher, self.clock)

    @functools.cached_property
    def final_clip_renderer(self) -> FinalClipRenderer:
        follow_render = FollowRender(
            self.videos, self.video_reader, self.trajectories, self.appearance, self.indicator_renderer
        )
        return FinalClipRenderer(self.unit_of_work, follow_render, self.videos, self.publisher, self.clock)

    @functools.cached_property
    def highlight_cut_worker(self) -> HighlightCutWorker:
        return HighlightCutWorker(
            self.unit_of_work,
            self.storage,
            self.videos,
            self.interval_reader,
            self.video_editor,
            self.clock,
            videos_bucket=self.settings.bucket_videos,
        )

    @functools.cached_property
    def tracked_clip_concatenator(self) -> TrackedClipConcatenator:
        return TrackedClipConcatenator(self.unit_of_work, self.videos, self.video_editor, self.clock)

    @functools.cached_property
    def concat_requester(self) -> ConcatRequester:
        return ConcatRequester(self.unit_of_work, self.publisher, self.clock, self.settings.bucket_outputs)


def database_password(settings: Settings) -> Callable[[], str] | None:
    """The password of each new database connection, when a secret holds it (AWS)."""
    if not settings.database_secret_arn:
        return None
    from pitchlens.infrastructure.postgres.secrets import SecretsManagerPassword

    return SecretsManagerPassword(aws_clients.secretsmanager_client(settings), settings.database_secret_arn)


@functools.cache
def container() -> Container:
    """The process-wide container, from the environment's settings."""
    from pitchlens.infrastructure.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return Container(settings)


def reset() -> None:
    """Forget the process-wide container (after the environment changed)."""
    container.cache_clear()


def _line_fitting_camera() -> Callable[[], PitchCamera]:
    """A camera that keeps the pitch lines (re-anchoring on them) and fits the line model to them
    in a shot with no manual calibration."""
    from pitchlens.infrastructure.vision.auto_calibration import calibrate_from_lines
    from pitchlens.infrastructure.vision.camera import BroadcastPitchCamera

    return functools.partial(BroadcastPitchCamera, calibrator=calibrate_from_lines)
