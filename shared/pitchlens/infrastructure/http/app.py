"""The HTTP API. Routes parse input, call a use case from the container and format output;
domain errors map to HTTP statuses in one table (`ERROR_STATUS`)."""

from __future__ import annotations

import dataclasses
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote_plus

import orjson
from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

import pitchlens
from pitchlens.application import views
from pitchlens.application.followable_players import FollowablePlayers
from pitchlens.domain import errors
from pitchlens.domain.highlights import HighlightError
from pitchlens.domain.jobs import Job
from pitchlens.domain.messages import ObjectCreated
from pitchlens.domain.model import Event
from pitchlens.domain.ports import EventQuery, MatchSummary
from pitchlens.domain.rendering import PRESETS, Indicator, InvalidSelection
from pitchlens.domain.sessions import SessionNotFound, UnsupportedUpload, UploadTooLarge
from pitchlens.domain.vision import Clip
from pitchlens.infrastructure import metrics
from pitchlens.infrastructure.bootstrap import Container, container
from pitchlens.infrastructure.http import cv
from pitchlens.infrastructure.http.dependencies import Wired
from pitchlens.infrastructure.logging import get_logger, log_context
from pitchlens.infrastructure.messaging import notifications

log = get_logger("pitchlens.api")
STATIC_DIR = Path(__file__).with_name("static")

ERROR_STATUS: dict[type[Exception], int] = {
    errors.Unauthorized: 401,
    errors.JobNotFound: 404,
    errors.MatchNotFound: 404,
    errors.ClipNotFound: 404,
    SessionNotFound: 404,
    errors.StateConflict: 409,
    UploadTooLarge: 413,
    UnsupportedUpload: 415,
    HighlightError: 422,
    errors.InvalidTrackingData: 422,
    InvalidSelection: 422,
    errors.PlayerNotTracked: 422,
    errors.ObjectNotFound: 404,
    errors.UnsupportedSource: 422,
    errors.InvalidMatchData: 422,
    errors.InvalidMessage: 422,
    errors.InvalidInput: 422,
    errors.ServiceUnavailable: 503,
}


def status_for(error: Exception) -> int:
    for cls in type(error).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return 500


# --- Schemas ---------------------------------------------------------------------------------
class IngestRequest(BaseModel):
    source: str = Field(description="Provider: statsbomb or metrica", examples=["statsbomb"])
    match_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$", examples=["3788741"])
    location: str | None = Field(
        default=None,
        description="s3:// folder holding the provider files; omit to fetch from the provider",
        pattern=r"^s3://[^/]+/.*$",
    )

    model_config = {"coerce_numbers_to_str": True}


class JobView(BaseModel):
    job_id: str
    kind: str
    source: str
    match_id: str
    status: str
    stage: str
    progress: float
    reason: str | None
    counts: dict[str, int]
    outputs: dict[str, str]
    correlation_id: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(
            job_id=job.job_id,
            kind=job.kind,
            source=job.source,
            match_id=job.match_id,
            status=job.status.value,
            stage=job.stage.value,
            progress=job.progress,
            reason=job.reason,
            counts=job.counts,
            outputs=job.outputs,
            correlation_id=job.correlation_id,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )


class Accepted(BaseModel):
    job_id: str
    status: str
    correlation_id: str
    status_url: str


class RenderRequest(BaseModel):
    box: list[float] = Field(
        min_length=4,
        max_length=4,
        description="The player to follow: x1, y1, x2, y2 in pixels of the clip's frames",
        examples=[[598.0, 301.5, 631.0, 380.0]],
    )
    frame_index: int | None = Field(
        default=None, ge=0, description="The frame the box is on; the clip's detection frame if omitted"
    )
    preset: Literal["preview", "final"] = Field(default="preview", description=", ".join(PRESETS))
    indicator: Indicator = Field(default=Indicator.CIRCLE)


class PlayersView(BaseModel):
    clip_id: str
    frame_index: int = Field(description="The frame the boxes are on: pass it with a box to render")
    width: int
    height: int
    players: list[cv.PlayerView]

    @classmethod
    def of(cls, found: FollowablePlayers) -> PlayersView:
        return cls(
            clip_id=found.clip_id,
            frame_index=found.frame_index,
            width=found.width,
            height=found.height,
            players=[cv.PlayerView.of(player) for player in found.players],
        )


class MatchView(BaseModel):
    match_id: str
    source: str
    home_team: str
    away_team: str
    competition: str | None
    kickoff: datetime | None
    event_count: int
    player_count: int
    ingested_at: datetime

    @classmethod
    def of(cls, summary: MatchSummary) -> MatchView:
        return cls(**{name: getattr(summary, name) for name in cls.model_fields})


class Point(BaseModel):
    x: float
    y: float


class EventView(BaseModel):
    event_id: str
    type: str
    raw_type: str
    period: int
    timestamp: float
    team_id: str | None
    player_id: str | None
    outcome: str | None
    start: Point | None
    end: Point | None
    attributes: dict[str, Any]

    @classmethod
    def of(cls, event: Event) -> EventView:
        return cls(
            event_id=event.event_id,
            type=event.type.value,
            raw_type=event.raw_type,
            period=event.period,
            timestamp=event.timestamp,
            team_id=event.team_id,
            player_id=event.player_id,
            outcome=event.outcome,
            start=Point(x=event.start.x, y=event.start.y) if event.start else None,
            end=Point(x=event.end.x, y=event.end.y) if event.end else None,
            attributes=event.attributes,
        )


class EventPageView(BaseModel):
    match_id: str
    total: int
    limit: int
    offset: int
    events: list[EventView]


class VideoInfoView(BaseModel):
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    codec: str
    has_audio: bool
    variable_frame_rate: bool


class ClipView(BaseModel):
    clip_id: str
    match_id: str
    video_uri: str
    status: str
    reason: str | None
    info: VideoInfoView | None
    detection_frame: int
    frame_uri: str | None
    detections_uri: str | None
    trajectories_uri: str | None
    trajectory_rows: int | None
    schema_version: int | None
    counts: dict[str, int]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, clip: Clip) -> ClipView:
        return cls(
            clip_id=clip.clip_id,
            match_id=clip.match_id,
            video_uri=clip.video_uri,
            status=clip.status.value,
            reason=clip.reason,
            info=VideoInfoView(**dataclasses.asdict(clip.info)) if clip.info else None,
            detection_frame=clip.detection_frame,
            frame_uri=clip.frame_uri,
            detections_uri=clip.detections_uri,
            trajectories_uri=clip.trajectories_uri,
            trajectory_rows=clip.trajectory_rows,
            schema_version=clip.schema_version,
            counts=clip.counts,
            created_at=clip.created_at,
            updated_at=clip.updated_at,
        )


class Queued(BaseModel):
    queued: int


# --- App -------------------------------------------------------------------------------------
def create_app(container_factory: Callable[[], Container] = container) -> FastAPI:
    """Builds the app; connects to nothing until the first request needs it."""
    app = FastAPI(
        title="PitchLens",
        version=pitchlens.__version__,
        description="Football match data and video into analytics.",
    )

    app.state.container_factory = container_factory

    def require_api_token(
        app_container: Wired, authorization: Annotated[str | None, Header()] = None
    ) -> None:
        expected = app_container.settings.api_token
        if expected and not _bearer_matches(authorization, expected):
            raise errors.Unauthorized("missing or wrong API token (Authorization: Bearer <token>)")

    @app.middleware("http")
    async def correlate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        correlation_id = request.headers.get("x-correlation-id") or str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        started = time.perf_counter()
        with log_context(function="api", correlation_id=correlation_id):
            response = await call_next(request)
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics.HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
            if path not in ("/healthz", "/metrics"):
                log.info(
                    "request",
                    method=request.method,
                    path=request.url.path,
                    status=response.status_code,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
        response.headers["X-Correlation-ID"] = correlation_id
        return response

    @app.exception_handler(errors.PitchLensError)
    async def domain_error(request: Request, error: errors.PitchLensError) -> JSONResponse:
        status = status_for(error)
        if status >= 500:
            log.error("request failed", error=str(error), exc_info=error)
        return JSONResponse(
            {"error": type(error).__name__, "message": str(error)},
            status_code=status,
            headers={"WWW-Authenticate": "Bearer"} if status == 401 else None,
        )

    app.include_router(cv.create_router())
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def web_page() -> FileResponse:
        """The interactive workflow's page (see shared/pitchlens/infrastructure/http/static/)."""
        page = STATIC_DIR / "index.html"
        if not page.is_file():
            raise errors.ObjectNotFound("the web page is not installed")
        return FileResponse(page, media_type="text/html")

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": pitchlens.__version__}

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    api = "/api/v1"
    guarded = [Depends(require_api_token)]

    @app.post(
        f"{api}/ingest", status_code=202, response_model=Accepted, tags=["ingest"], dependencies=guarded
    )
    def ingest(body: IngestRequest, request: Request, app_container: Wired) -> Accepted:
        job = app_container.ingestion_requester.execute(
            body.source, body.match_id, body.location, request.state.correlation_id
        )
        return Accepted(
            job_id=job.job_id,
            status=job.status.value,
            correlation_id=job.correlation_id,
            status_url=f"{api}/jobs/{job.job_id}",
        )

    @app.get(f"{api}/jobs/{{job_id}}", response_model=JobView, tags=["ingest"], dependencies=guarded)
    def job(job_id: str, app_container: Wired) -> JobView:
        return JobView.of(views.job(app_container.unit_of_work, job_id))

    @app.get(f"{api}/jobs", response_model=list[JobView], tags=["ingest"], dependencies=guarded)
    def jobs(
        app_container: Wired,
        correlation_id: Annotated[str | None, Query(max_length=128)] = None,
        match_id: Annotated[str | None, Query(max_length=128)] = None,
    ) -> list[JobView]:
        if correlation_id is None and match_id is None:
            raise errors.InvalidMessage("give correlation_id or match_id")
        found = views.jobs(app_container.unit_of_work, correlation_id=correlation_id, match_id=match_id)
        return [JobView.of(j) for j in found]

    @app.get(f"{api}/matches", response_model=list[MatchView], tags=["matches"], dependencies=guarded)
    def matches(
        app_container: Wired,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[MatchView]:
        return [
            MatchView.of(m) for m in views.matches(app_container.unit_of_work, limit=limit, offset=offset)
        ]

    @app.get(f"{api}/matches/{{match_id}}", response_model=MatchView, tags=["matches"], dependencies=guarded)
    def match(match_id: str, app_container: Wired) -> MatchView:
        return MatchView.of(views.match(app_container.unit_of_work, match_id))

    @app.get(
        f"{api}/matches/{{match_id}}/events",
        response_model=EventPageView,
        tags=["matches"],
        dependencies=guarded,
    )
    def events(
        match_id: str,
        app_container: Wired,
        type: Annotated[str | None, Query(max_length=64, description="normalised type, e.g. pass")] = None,
        player: Annotated[
            str | None, Query(max_length=128, description="player id or part of a name")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> EventPageView:
        page = views.events(app_container.unit_of_work, EventQuery(match_id, type, player, limit, offset))
        return EventPageView(
            match_id=match_id,
            total=page.total,
            limit=limit,
            offset=offset,
            events=[EventView.of(e) for e in page.events],
        )

    @app.get(f"{api}/clips/{{clip_id}}", response_model=ClipView, tags=["video"], dependencies=guarded)
    def clip(clip_id: str, app_container: Wired) -> ClipView:
        return ClipView.of(views.clip(app_container.unit_of_work, clip_id))

    @app.get(
        f"{api}/clips/{{clip_id}}/players",
        response_model=PlayersView,
        tags=["video"],
        dependencies=guarded,
        responses={404: {"description": "Unknown clip"}, 409: {"description": "Clip not processed yet"}},
    )
    def players(clip_id: str, app_container: Wired) -> PlayersView:
        """The players that can be followed: tracked boxes on (or next to) the detection frame."""
        return PlayersView.of(views.players(app_container.unit_of_work, app_container.trajectories, clip_id))

    @app.post(
        f"{api}/clips/{{clip_id}}/renders",
        status_code=202,
        response_model=Accepted,
        tags=["video"],
        dependencies=guarded,
        responses={404: {"description": "Unknown clip"}, 409: {"description": "Clip not processed yet"}},
    )
    def render(clip_id: str, body: RenderRequest, request: Request, app_container: Wired) -> Accepted:
        """Follow the player in `box` through a processed clip and render them with an indicator;
        poll the job for progress (fraction of frames) and `outputs.output_uri`."""
        job = app_container.render_requester.execute(
            clip_id,
            body.box,
            request.state.correlation_id,
            frame_index=body.frame_index,
            preset=body.preset,
            indicator=body.indicator.value,
        )
        return Accepted(
            job_id=job.job_id,
            status=job.status.value,
            correlation_id=job.correlation_id,
            status_url=f"{api}/jobs/{job.job_id}",
        )

    @app.get(
        f"{api}/matches/{{match_id}}/clips",
        response_model=list[ClipView],
        tags=["video"],
        dependencies=guarded,
    )
    def match_clips(match_id: str, app_container: Wired) -> list[ClipView]:
        return [ClipView.of(c) for c in views.match_clips(app_container.unit_of_work, match_id)]

    @app.post(f"{api}/notifications/minio", status_code=202, response_model=Queued, tags=["notifications"])
    async def minio_notification(
        request: Request, app_container: Wired, authorization: Annotated[str | None, Header()] = None
    ) -> Queued:
        """MinIO webhook target: queues object-created events for the bucket's function."""
        if not _bearer_matches(authorization, app_container.settings.notification_token):
            raise errors.Unauthorized("missing or wrong notification token")
        try:
            document = orjson.loads(await request.body())
        except orjson.JSONDecodeError as error:
            raise errors.InvalidMessage(f"notification is not JSON: {error}") from error
        if not isinstance(document, dict) or not notifications.is_notification(document):
            raise errors.InvalidMessage("not an S3/MinIO object notification")
        created = notifications.parse_object_created(document)
        routes = app_container.settings.notification_routes
        queued = 0
        for obj in created:
            function = routes.get(obj.bucket)
            if function is None:
                log.warning(
                    "notification for a bucket with no function ignored", bucket=obj.bucket, key=obj.key
                )
                continue
            single = {"Records": [_record_for(obj)]}
            app_container.publisher.send_raw(
                function, orjson.dumps(single).decode(), "ObjectCreated", request.state.correlation_id
            )
            queued += 1
        return Queued(queued=queued)

    return app


def _record_for(obj: ObjectCreated) -> dict[str, Any]:
    # Keys travel URL-encoded, as S3 sends them; the parser decodes them again.
    return {
        "eventSource": "minio:s3",
        "eventName": "s3:ObjectCreated:Put",
        "s3": {
            "bucket": {"name": obj.bucket},
            "object": {
                "key": quote_plus(obj.key, safe="/"),
                "size": obj.size,
                "eTag": obj.etag,
                "sequencer": obj.sequencer,
            },
        },
    }


def _bearer_matches(header: str | None, expected: str) -> bool:
    if not header or not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), expected.encode())
