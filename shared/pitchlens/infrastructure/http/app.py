"""The HTTP API. Routes parse input, call a use case from the container and format output;
domain errors map to HTTP statuses in one table (`ERROR_STATUS`)."""

from __future__ import annotations

import dataclasses
import hmac
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote_plus

import orjson
from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

import pitchlens
from pitchlens.application import views
from pitchlens.application.followable_players import FollowablePlayers
from pitchlens.application.uploads import UploadKind, UploadRequest
from pitchlens.domain import errors
from pitchlens.domain.highlights import HighlightError
from pitchlens.domain.jobs import Job
from pitchlens.domain.messages import ObjectCreated
from pitchlens.domain.model import Event, EventType, Provider
from pitchlens.domain.pitch import LANDMARKS, InvalidCalibration
from pitchlens.domain.ports import EventQuery, MatchSummary
from pitchlens.domain.rendering import PRESETS, Indicator, InvalidSelection, Preset
from pitchlens.domain.sessions import SessionNotFound, UnsupportedUpload, UploadTooLarge
from pitchlens.domain.vision import Clip
from pitchlens.infrastructure import metrics
from pitchlens.infrastructure.bootstrap import Container, container
from pitchlens.infrastructure.http import analysis, cv
from pitchlens.infrastructure.http.dependencies import Wired
from pitchlens.infrastructure.http.schemas import UploadPlanView
from pitchlens.infrastructure.logging import get_logger, log_context
from pitchlens.infrastructure.messaging import notifications
from pitchlens.infrastructure.messaging.sqs import queue_errors

log = get_logger("pitchlens.api")
STATIC_DIR = Path(__file__).with_name("static")

ERROR_STATUS: dict[type[Exception], int] = {
    InvalidCalibration: 422,
    errors.Unauthorized: 401,
    errors.JobNotFound: 404,
    errors.MatchNotFound: 404,
    errors.ClipNotFound: 404,
    errors.TrackNotFound: 404,
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


# --- Errors: one shape for every 4xx/5xx, RFC 9457 problem details -----------------------------
PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldProblem(BaseModel):
    location: str = Field(description="Where: body.box, query.limit, path.job_id ...")
    message: str


class Problem(BaseModel):
    """An error (RFC 9457 problem details). `type` names the kind of error as a URN
    (`urn:pitchlens:error:<error>`); `detail` is a sentence for people; `errors` lists the fields
    that failed validation."""

    type: str = Field(examples=["urn:pitchlens:error:JobNotFound"])
    title: str = Field(examples=["Job not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["no job '0b8f7e1c'"])
    instance: str | None = Field(
        default=None, description="The request path", examples=["/api/v1/jobs/0b8f7e1c"]
    )
    error: str = Field(
        description="The error's short name (also the end of `type`)", examples=["JobNotFound"]
    )
    correlation_id: str | None = None
    errors: list[FieldProblem] | None = None


_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": Problem, "description": "Client error", "content": _PROBLEM_CONTENT},
    "5XX": {"model": Problem, "description": "Server error", "content": _PROBLEM_CONTENT},
}
"""Declared on every operation: its errors come as Problem documents."""

_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    422: "Invalid request",
    500: "Internal error",
}


def problem_response(
    request: Request,
    status: int,
    error: str,
    detail: str,
    errors_found: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The Problem document of an error, as a response."""
    title = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", error).capitalize() if error else _TITLES.get(status, "Error")
    body = Problem(
        type=f"urn:pitchlens:error:{error}",
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        error=error,
        correlation_id=getattr(request.state, "correlation_id", None),
        errors=errors_found,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def _validation_problems(error: RequestValidationError) -> list[FieldProblem]:
    return [
        FieldProblem(
            location=".".join(str(part) for part in item.get("loc", ())), message=str(item.get("msg", ""))
        )
        for item in error.errors()
    ]


# --- Schemas ---------------------------------------------------------------------------------
class IngestRequest(BaseModel):
    source: Provider = Field(description="The event-data provider", examples=["statsbomb"])
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


class MarkedPointView(BaseModel):
    name: str = Field(
        min_length=1, max_length=64, description="A landmark of the 105 x 68 pitch", examples=["centre_spot"]
    )
    x: float = Field(description="Pixels of the clip's frames, from the left")
    y: float = Field(description="Pixels of the clip's frames, from the top")


class CalibrationRequest(BaseModel):
    frame_index: int = Field(default=0, ge=0, le=10_000_000, description="The frame the points are marked on")
    points: list[MarkedPointView] = Field(
        default_factory=list,
        max_length=64,
        description="At least 4 landmarks, no 3 of them on one line (see /pitch/landmarks)",
    )
    automatic: bool = Field(
        default=False,
        description="No points: calibrate every shot of the clip from its pitch lines alone",
    )
    orientation: Literal["home_attacks_right", "home_attacks_left"] = Field(
        default="home_attacks_right",
        description="Which goal of the main camera's picture the home team attacks (the metres' +x)",
    )


class CalibrationAccepted(Accepted):
    homography: list[list[float]] | None = Field(
        default=None, description="Image pixels -> camera-frame metres (3 x 3); none when automatic"
    )
    residuals_m: dict[str, float] | None = Field(
        default=None, description="Per landmark: metres between where it was marked and the fit"
    )


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
    preset: Preset = Field(default=Preset.PREVIEW, description=", ".join(PRESETS))
    indicator: Indicator = Field(default=Indicator.CIRCLE)
    minimap: bool = Field(
        default=False,
        description="Also show a small pitch in the bottom-right corner with everybody on it in metres "
        "(team colours, the followed player highlighted); frames without metres say `not calibrated`",
    )


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
    source: Provider
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
    type: EventType
    raw_type: str
    period: int
    timestamp: float
    team_id: str | None
    team_name: str | None
    player_id: str | None
    player_name: str | None
    outcome: str | None
    start: Point | None
    end: Point | None
    attributes: dict[str, Any]

    @classmethod
    def of(cls, event: Event, names: views.NamedEvents | None = None) -> EventView:
        return cls(
            event_id=event.event_id,
            type=event.type,
            raw_type=event.raw_type,
            period=event.period,
            timestamp=event.timestamp,
            team_id=event.team_id,
            team_name=names.team_names.get(event.team_id) if names and event.team_id else None,
            player_id=event.player_id,
            player_name=names.player_names.get(event.player_id) if names and event.player_id else None,
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


class MatchPageView(BaseModel):
    total: int = Field(description="Matches stored")
    limit: int
    offset: int
    matches: list[MatchView]


class JobPageView(BaseModel):
    total: int = Field(description="Jobs that match the filters")
    limit: int
    offset: int
    jobs: list[JobView]


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


class ConcatRequest(BaseModel):
    clips: list[str] = Field(
        min_length=1,
        max_length=200,
        description="Rendered clips in order: render job ids or s3://outputs/... URIs",
        examples=[["0b8f7e1c-6a2d-4c1e-9f3a-2d7c5e8b1a44"]],
    )
    game: str = Field(min_length=1, max_length=100, examples=["gladbach-wolfsburg"])
    player: str = Field(min_length=1, max_length=100, examples=["no7"])


class DeadLetterView(BaseModel):
    message_id: str
    type: str
    correlation_id: str | None
    receive_count: int
    preview: str


class DeadLetterQueueView(BaseModel):
    queue: str
    source: str
    messages: int
    sample: list[DeadLetterView]


class RedriveRequest(BaseModel):
    queue: str | None = Field(default=None, description="A function or queue name; all when omitted")


class RedriveView(BaseModel):
    moved: dict[str, int]
    total: int


class UploadStart(BaseModel):
    kind: UploadKind = Field(description="video: a match video; raw-data: a provider file")
    file_name: str = Field(min_length=1, max_length=255, examples=["first half.mp4"])
    size_bytes: int = Field(ge=0, description="The file's size: it decides the parts")
    match_id: str = Field(min_length=1, max_length=128, examples=["dfl-08fd33"])
    source: str | None = Field(default=None, description="raw-data: the provider", examples=["statsbomb"])
    detection_frame: int = Field(default=0, ge=0, description="video: the frame players are detected on")
    batch_size: int | None = Field(
        default=None, ge=1, le=100, description="raw-data: files this upload sends (ingested once all are in)"
    )

    model_config = {"coerce_numbers_to_str": True}


class CompletedPart(BaseModel):
    number: int = Field(ge=1, le=10_000)
    etag: str = Field(min_length=1, max_length=200)


class UploadComplete(BaseModel):
    kind: UploadKind
    key: str = Field(min_length=1, max_length=1024)
    upload_id: str = Field(min_length=1, max_length=1024)
    parts: list[CompletedPart] = Field(min_length=1, max_length=10_000)


class UploadedView(BaseModel):
    uri: str
    size_bytes: int


# --- App -------------------------------------------------------------------------------------
def create_app(container_factory: Callable[[], Container] = container) -> FastAPI:
    """Builds the app; connects to nothing until the first request needs it."""
    app = FastAPI(
        title="PitchLens",
        version=pitchlens.__version__,
        description="Football match data and video into analytics. Every error is a Problem (RFC 9457).",
        responses=PROBLEM_RESPONSES,
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
            metrics.HTTP_REQUEST_DURATION.labels(request.method, path).observe(time.perf_counter() - started)
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
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem_response(request, status, type(error).__name__, str(error), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        found = _validation_problems(error)
        detail = "; ".join(f"{f.location}: {f.message}" for f in found) or "the request is not valid"
        return problem_response(request, 422, "InvalidRequest", detail, found)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        names = {404: "NotFound", 405: "MethodNotAllowed"}
        name = names.get(error.status_code, "HttpError")
        detail = str(error.detail) if error.status_code != 404 else f"no route {request.url.path}"
        return problem_response(
            request, error.status_code, name, detail, headers=getattr(error, "headers", None)
        )

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        log.error("request failed", error=str(error), exc_info=error)
        detail = "the server failed to answer; the error is logged under this correlation id"
        return problem_response(request, 500, "InternalError", detail)

    app.include_router(cv.create_router())
    app.include_router(analysis.create_router())
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
            body.source.value, body.match_id, body.location, request.state.correlation_id
        )
        return Accepted(
            job_id=job.job_id,
            status=job.status.value,
            correlation_id=job.correlation_id,
            status_url=f"{api}/jobs/{job.job_id}",
        )

    @app.post(
        f"{api}/uploads",
        status_code=201,
        response_model=UploadPlanView,
        tags=["uploads"],
        dependencies=guarded,
    )
    def start_upload(body: UploadStart, request: Request, app_container: Wired) -> UploadPlanView:
        """Plans an upload straight to the bucket (no bytes pass through the API): checks the name,
        size and match id at once, creates a video's processing job, returns presigned part URLs."""
        [started] = app_container.upload_starter.execute(
            [
                UploadRequest(
                    body.kind,
                    body.file_name,
                    body.size_bytes,
                    body.match_id,
                    request.state.correlation_id,
                    source=body.source,
                    detection_frame=body.detection_frame,
                    batch_size=body.batch_size,
                )
            ]
        )
        return UploadPlanView.of(body.kind, started.plan, started.job)

    @app.post(f"{api}/uploads/complete", response_model=UploadedView, tags=["uploads"], dependencies=guarded)
    def complete_upload(body: UploadComplete, app_container: Wired) -> UploadedView:
        """Completes an upload with its parts' ETags; the object appears whole and is processed."""
        stored = app_container.upload_completer.execute(
            body.kind, body.key, body.upload_id, [(part.number, part.etag) for part in body.parts]
        )
        return UploadedView(uri=f"s3://{stored.bucket}/{stored.key}", size_bytes=stored.size)

    @app.get(
        f"{api}/files",
        status_code=307,
        tags=["uploads"],
        dependencies=guarded,
        response_class=RedirectResponse,
        responses={307: {"description": "Redirect to a presigned download URL (supports Range)"}},
    )
    def download(
        app_container: Wired,
        uri: Annotated[
            str, Query(max_length=1100, pattern=r"^s3://[^/]+/.+$", examples=["s3://outputs/x.mp4"])
        ],
        download: Annotated[bool, Query(description="Save as a file instead of playing")] = False,
    ) -> RedirectResponse:
        """A stored result (video, frame, trajectories), through a short-lived presigned URL: the
        bytes never pass through the API."""
        settings = app_container.settings
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        readable = (
            settings.bucket_outputs,
            settings.bucket_artifacts,
            settings.bucket_tracking_data,
            settings.bucket_videos,
        )
        if bucket not in readable:
            raise errors.ObjectNotFound(f"no file {uri!r}")
        url = app_container.storage.download_url(
            bucket,
            key,
            expires_in_s=settings.presigned_url_s,
            file_name=key.rsplit("/", 1)[-1] if download else None,
        )
        return RedirectResponse(url, status_code=307)

    @app.post(
        f"{api}/concatenations",
        status_code=202,
        response_model=Accepted,
        tags=["video"],
        dependencies=guarded,
    )
    def concatenate(body: ConcatRequest, request: Request, app_container: Wired) -> Accepted:
        """Join rendered clips, in order, into `final/{game}_{player}_tracked.mp4` (a render-function
        job; `outputs.final_uri` when it succeeds)."""
        job = app_container.concat_requester.execute(
            body.game, body.player, body.clips, request.state.correlation_id
        )
        return Accepted(
            job_id=job.job_id,
            status=job.status.value,
            correlation_id=job.correlation_id,
            status_url=f"{api}/jobs/{job.job_id}",
        )

    @app.get(
        f"{api}/dead-letters", response_model=list[DeadLetterQueueView], tags=["ops"], dependencies=guarded
    )
    def dead_letters(
        app_container: Wired, queue: Annotated[str | None, Query(max_length=128)] = None
    ) -> list[DeadLetterQueueView]:
        """Messages that failed their last allowed attempt, per function (a sample of each)."""
        office = app_container.dead_letters
        with queue_errors():
            return [
                DeadLetterQueueView(
                    queue=dlq,
                    source=source,
                    messages=office.count(dlq),
                    sample=[DeadLetterView(**dataclasses.asdict(letter)) for letter in office.peek(dlq)],
                )
                for dlq, source in office.queues(queue)
            ]

    @app.post(f"{api}/dead-letters/redrive", response_model=RedriveView, tags=["ops"], dependencies=guarded)
    def redrive(body: RedriveRequest, app_container: Wired) -> RedriveView:
        """Moves dead letters back to their queues, to be processed again."""
        office = app_container.dead_letters
        with queue_errors():
            moved = {dlq: office.redrive(dlq, source) for dlq, source in office.queues(body.queue)}
        return RedriveView(moved=moved, total=sum(moved.values()))

    @app.get(f"{api}/jobs/{{job_id}}", response_model=JobView, tags=["ingest"], dependencies=guarded)
    def job(job_id: str, app_container: Wired) -> JobView:
        return JobView.of(views.job(app_container.unit_of_work, job_id))

    @app.get(f"{api}/jobs", response_model=JobPageView, tags=["ingest"], dependencies=guarded)
    def jobs(
        app_container: Wired,
        correlation_id: Annotated[str | None, Query(max_length=128)] = None,
        match_id: Annotated[str | None, Query(max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> JobPageView:
        """A page of the jobs of a correlation id and/or a match (all jobs without either), oldest
        first, with their `total`."""
        page = views.jobs(
            app_container.unit_of_work,
            correlation_id=correlation_id,
            match_id=match_id,
            limit=limit,
            offset=offset,
        )
        return JobPageView(
            total=page.total, limit=limit, offset=offset, jobs=[JobView.of(j) for j in page.items]
        )

    @app.get(f"{api}/matches", response_model=MatchPageView, tags=["matches"], dependencies=guarded)
    def matches(
        app_container: Wired,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> MatchPageView:
        """A page of the stored matches, newest first, with their `total`."""
        page = views.matches(app_container.unit_of_work, limit=limit, offset=offset)
        return MatchPageView(
            total=page.total, limit=limit, offset=offset, matches=[MatchView.of(m) for m in page.items]
        )

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
        type: Annotated[EventType | None, Query(description="normalised type, e.g. pass")] = None,
        player: Annotated[
            str | None, Query(max_length=128, description="player id or part of a name")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> EventPageView:
        query = EventQuery(match_id, type.value if type else None, player, limit, offset)
        page = views.events(app_container.unit_of_work, query)
        return EventPageView(
            match_id=match_id,
            total=page.total,
            limit=limit,
            offset=offset,
            events=[EventView.of(e, page) for e in page.events],
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
    def players(clip_id: str, app_container: Wired, include: cv.Include = "pitch") -> PlayersView:
        """The players that can be followed: tracked boxes on (or next to) the detection frame that
        stand on the pitch (`?include=all`: everybody tracked), with their team by kit."""
        found = views.players(
            app_container.unit_of_work, app_container.trajectories, clip_id, include == "all"
        )
        return PlayersView.of(found)

    @app.post(
        f"{api}/clips/{{clip_id}}/calibration",
        status_code=202,
        response_model=CalibrationAccepted,
        tags=["video"],
        dependencies=guarded,
        responses={
            404: {"description": "Unknown clip"},
            409: {"description": "Clip not processed yet"},
            422: {"description": "Points that cannot calibrate the frame (the detail names why)"},
        },
    )
    def calibration(
        clip_id: str, body: CalibrationRequest, request: Request, app_container: Wired
    ) -> CalibrationAccepted:
        """Calibrate a processed clip from 4 or more pitch landmarks marked on one frame: answered at
        once with the frame's homography (or 422 naming the problem: too few points, unknown name,
        off the frame, collinear, a fit that folds the pitch); a job then places the clip's people
        in metres (trajectories' pitch_x, pitch_y). `{"automatic": true}` instead of points: the
        job calibrates every shot from its pitch lines alone (where a fit is accepted)."""
        requester, correlation_id = app_container.calibration_requester, request.state.correlation_id
        if body.automatic:
            if body.points:
                raise InvalidCalibration("give points or automatic, not both")
            job = requester.automatic(clip_id, correlation_id, body.orientation)
            homography = residuals = None
        else:
            points = [(p.name, p.x, p.y) for p in body.points]
            job, found = requester.execute(
                clip_id, body.frame_index, points, correlation_id, body.orientation
            )
            homography = [list(row) for row in found.homography.rows]
            residuals = {p.name: round(r, 3) for p, r in zip(found.points, found.residuals_m, strict=True)}
        return CalibrationAccepted(
            job_id=job.job_id,
            status=job.status.value,
            correlation_id=job.correlation_id,
            status_url=f"{api}/jobs/{job.job_id}",
            homography=homography,
            residuals_m=residuals,
        )

    @app.get(f"{api}/pitch/landmarks", tags=["video"])
    def landmarks() -> dict[str, list[float]]:
        """The landmarks a calibration can name, in camera-frame metres (+x: the goal on the right of
        the main camera's picture, +y: the far touchline)."""
        return {name: list(point) for name, point in sorted(LANDMARKS.items())}

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
            preset=body.preset.value,
            indicator=body.indicator.value,
            minimap=body.minimap,
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
