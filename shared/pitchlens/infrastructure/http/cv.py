"""The interactive workflow's routes (`/cv/...`, see docs/interactive-api.md): sessions of clips,
picking a player, previews, approval, finalizing and downloads. State lives in PostgreSQL through
`HighlightSessions`; long work goes through the render queue. Downloads stream from the outputs
bucket with HTTP range support and reach nothing else."""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from botocore.exceptions import ClientError
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from pitchlens.application import views
from pitchlens.application.followable_players import FollowablePlayer
from pitchlens.application.uploads import UploadKind
from pitchlens.application.views import SessionClipState
from pitchlens.domain import errors
from pitchlens.domain.jobs import Job
from pitchlens.domain.rendering import Indicator
from pitchlens.domain.sessions import (
    HighlightSession,
    SessionClip,
)
from pitchlens.domain.teams import kit_hex
from pitchlens.infrastructure.http.dependencies import Wired
from pitchlens.infrastructure.http.schemas import UploadPlanView
from pitchlens.infrastructure.storage.s3 import storage_errors

FILE_PREFIXES = ("previews/", "tracked/", "final/", "clips/")
"""What `/cv/files/...` may serve from the outputs bucket."""
_SAFE_KEY = re.compile(r"^[A-Za-z0-9._\-/]+$")
_CHUNK = 1 << 20


def cv_token(
    app_container: Wired,
    authorization: Annotated[str | None, Header()] = None,
    token: Annotated[str | None, Query(description="API token, for links that cannot send headers")] = None,
) -> None:
    expected = app_container.settings.api_token
    if not expected:
        return
    presented = token or (
        authorization[7:] if authorization and authorization.startswith("Bearer ") else None
    )
    if presented is None or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise errors.Unauthorized("missing or wrong API token (Authorization: Bearer <token>)")


# --- Schemas ---------------------------------------------------------------------------------
class SessionView(BaseModel):
    session_id: str
    game: str
    player: str
    status: str
    reason: str | None
    source: str
    expected_clips: int | None
    final_url: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, session: HighlightSession) -> SessionView:
        cutting = session.source == "cut" and not session.video_names
        return cls(
            session_id=session.session_id,
            game=session.game,
            player=session.player,
            status=session.status.value,
            reason=session.reason,
            source=session.source,
            expected_clips=None if cutting else len(session.video_names),
            final_url=file_url(session.final_uri),
            created_at=session.created_at,
            updated_at=session.updated_at,
        )


class SelectionView(BaseModel):
    box: list[float]
    frame_index: int
    indicator: str
    minimap: bool = False


class TaskStatus(BaseModel):
    task_id: str
    status: str
    progress: float
    reason: str | None

    @staticmethod
    def fields_of(job: Job) -> dict[str, Any]:
        """The fields every task status takes from its job."""
        return {
            "task_id": job.job_id,
            "status": job.status.value,
            "progress": round(job.progress, 4),
            "reason": job.reason,
        }


class PreviewStatus(TaskStatus):
    preview_url: str | None

    @classmethod
    def of(cls, job: Job) -> PreviewStatus:
        return cls(**cls.fields_of(job), preview_url=file_url(job.outputs.get("output_uri")))


class FinalizeStatus(TaskStatus):
    done: int
    total: int
    final_url: str | None

    @classmethod
    def of(cls, job: Job) -> FinalizeStatus:
        return cls(
            **cls.fields_of(job),
            done=job.counts.get("clips_done", 0),
            total=job.counts.get("clips", 0),
            final_url=file_url(job.outputs.get("final_uri")),
        )


class SessionClipView(BaseModel):
    clip_id: str | None
    name: str
    status: str
    progress: float
    reason: str | None
    width: int | None
    height: int | None
    fps: float | None
    duration_s: float | None
    selection: SelectionView | None
    preview: PreviewStatus | None
    approved: bool

    @classmethod
    def of(cls, state: SessionClipState) -> SessionClipView:
        clip, info = state.clip, state.clip.info if state.clip else None
        decision = state.decision
        selection = decision.selection if decision else None
        job = state.process_job
        return cls(
            clip_id=clip.clip_id if clip else None,
            name=state.name,
            status=clip.status.value if clip else "PENDING",
            progress=round(job.progress, 4) if job else 0.0,
            reason=(clip.reason if clip else None)
            or (job.reason if job and job.status.value == "FAILED" else None),
            width=info.width if info else None,
            height=info.height if info else None,
            fps=info.fps if info else None,
            duration_s=info.duration_s if info else None,
            selection=SelectionView(
                box=list(selection.box),
                frame_index=selection.frame_index,
                indicator=selection.indicator,
                minimap=selection.minimap,
            )
            if selection
            else None,
            preview=PreviewStatus.of(state.preview_job) if state.preview_job else None,
            approved=bool(decision and decision.approved),
        )


class SessionClipsView(BaseModel):
    session_id: str
    status: str
    clips: list[SessionClipView]


class DetectRequest(BaseModel):
    session_id: str = Field(min_length=1, max_length=64)
    clip_id: str = Field(min_length=1, max_length=128)


class PlayerView(BaseModel):
    """A player that can be followed, on a clip's detection frame."""

    number: int = Field(description="1-based, left to right: what a person picks")
    track_id: int
    box: list[float] = Field(description="x1, y1, x2, y2 in pixels of the clip's frames")
    confidence: float
    on_pitch: bool | None = Field(
        description="Foot point on the playing area; null when the clip's people were not placed"
    )
    team: str | None = Field(
        description='Team by kit colour ("white", "green" ...), "other" (goalkeepers, referees), or null'
    )
    team_colour: str | None = Field(
        default=None,
        description="The colour the team's name stands for, as pictures and minimaps draw it (#rrggbb); "
        'null for "other" and unknown kits',
    )

    @classmethod
    def of(cls, player: FollowablePlayer) -> PlayerView:
        box = player.box
        return cls(
            number=player.number,
            track_id=player.track_id,
            box=[box.x1, box.y1, box.x2, box.y2],
            confidence=player.confidence,
            on_pitch=player.on_pitch,
            team=player.team,
            team_colour=kit_hex(player.team),
        )


Include = Annotated[
    Literal["pitch", "all"],
    Query(description="`pitch`: people on the playing area only; `all`: staff and spectators too"),
]


class DetectView(BaseModel):
    session_id: str
    clip_id: str
    frame_index: int = Field(description="The frame the boxes are on: pass it with a box to preview")
    image_frame_index: int = Field(
        description="The frame the image shows (the detection frame): mark calibration points on it"
    )
    width: int
    height: int
    image: str = Field(description="The detection frame as a data: URL (JPEG)")
    players: list[PlayerView]


class PreviewRequest(BaseModel):
    session_id: str = Field(min_length=1, max_length=64)
    clip_id: str = Field(min_length=1, max_length=128)
    box: list[float] = Field(min_length=4, max_length=4, description="x1, y1, x2, y2 in frame pixels")
    frame_index: int | None = Field(default=None, ge=0, le=10_000_000)
    indicator: Indicator = Indicator.CIRCLE
    minimap: bool = Field(
        default=False,
        description="Also show the small pitch with everybody in metres (kept for the final render)",
    )


class FinalizeRequest(BaseModel):
    session_id: str = Field(min_length=1, max_length=64)


class TaskAccepted(BaseModel):
    task_id: str
    status_url: str


class FileSpec(BaseModel):
    file_name: str = Field(min_length=1, max_length=255, examples=["first half.mp4"])
    size_bytes: int = Field(
        ge=0, description="Checked against PITCHLENS_MAX_UPLOAD_MB before anything is stored"
    )


class SessionCreate(BaseModel):
    game: str = Field(min_length=1, max_length=100)
    player: str = Field(min_length=1, max_length=100)
    videos: list[FileSpec] | None = Field(
        default=None, max_length=50, description="Clips to follow a player in"
    )
    game_video: FileSpec | None = Field(default=None, description="Or: a whole game video ...")
    intervals: str | None = Field(
        default=None, max_length=1_000_000, description="... and its CSV of start,end intervals (the text)"
    )
    padding: float = Field(default=0.0, ge=0, le=60)


class SessionCreated(BaseModel):
    session: SessionView
    uploads: list[UploadPlanView] = Field(description="One planned upload per file, in order")


class ConfigView(BaseModel):
    token_required: bool
    max_upload_mb: int
    indicators: list[str]


def file_url(uri: str | None) -> str | None:
    """`s3://outputs/<key>` -> `/cv/files/<key>` (what the page links to)."""
    if not uri:
        return None
    _, _, key = uri.removeprefix("s3://").partition("/")
    return f"/cv/files/{key}"


# --- Routes --------------------------------------------------------------------------------
def create_router() -> APIRouter:
    router = APIRouter(prefix="/cv", tags=["interactive"])
    guarded = [Depends(cv_token)]

    @router.get("/config", response_model=ConfigView)
    def config(app_container: Wired) -> ConfigView:
        """Open: what the page needs before it can call anything else."""
        settings = app_container.settings
        return ConfigView(
            token_required=bool(settings.api_token),
            max_upload_mb=settings.max_upload_mb,
            indicators=[i.value for i in Indicator],
        )

    @router.post("/sessions", status_code=201, response_model=SessionCreated, dependencies=guarded)
    def create_session(body: SessionCreate, request: Request, app_container: Wired) -> SessionCreated:
        """A session from clips, or from a whole game video and a CSV of intervals. Nothing is
        uploaded through the API: the answer plans each file's upload straight to the bucket (PUT
        every part, then POST /api/v1/uploads/complete); a cut session's cut then starts with
        POST /cv/sessions/{id}/cut. Names, sizes and the table are checked first."""
        correlation_id = request.state.correlation_id
        if body.videos and (body.game_video is not None or body.intervals is not None):
            raise errors.InvalidMessage("send either videos, or a game_video with intervals, not both")
        if body.videos:
            files = [(video.file_name, video.size_bytes) for video in body.videos]
            session, started = app_container.session_creator.execute(
                body.game, body.player, files, correlation_id
            )
            plans = [UploadPlanView.of(UploadKind.VIDEO, s.plan, s.job) for s in started]
            return SessionCreated(session=SessionView.of(session), uploads=plans)
        if body.game_video is None or body.intervals is None:
            raise errors.InvalidMessage("send one or more videos, or a game_video and the intervals CSV")
        session, plan = app_container.cut_session_creator.execute(
            body.game,
            body.player,
            (body.game_video.file_name, body.game_video.size_bytes),
            body.intervals,
            body.padding,
            correlation_id,
        )
        upload = UploadPlanView.of(UploadKind.GAME_VIDEO, plan, None)
        return SessionCreated(session=SessionView.of(session), uploads=[upload])

    @router.post(
        "/sessions/{session_id}/cut", status_code=202, response_model=TaskAccepted, dependencies=guarded
    )
    def start_cut(session_id: str, request: Request, app_container: Wired) -> TaskAccepted:
        """Starts cutting a cut session's game video (once its upload is complete)."""
        job = app_container.highlight_cut_requester.execute(session_id, request.state.correlation_id)
        return TaskAccepted(task_id=job.job_id, status_url=f"/cv/session/{session_id}")

    @router.get("/session/{session_id}", response_model=SessionView, dependencies=guarded)
    def session(session_id: str, app_container: Wired) -> SessionView:
        return SessionView.of(views.session(app_container.unit_of_work, session_id))

    @router.get("/session/{session_id}/clips", response_model=SessionClipsView, dependencies=guarded)
    def session_clips(session_id: str, app_container: Wired) -> SessionClipsView:
        found, states = views.session_clips(app_container.unit_of_work, session_id)
        return SessionClipsView(
            session_id=session_id, status=found.status.value, clips=[SessionClipView.of(s) for s in states]
        )

    @router.post("/detect", response_model=DetectView, dependencies=guarded)
    def detect(body: DetectRequest, app_container: Wired, include: Include = "pitch") -> DetectView:
        """The clip's detection frame and the players that can be followed on it: the people on
        the pitch (`?include=all`: everybody tracked, each box with its `on_pitch` flag)."""
        view = views.detection(
            app_container.unit_of_work,
            app_container.storage,
            app_container.trajectories,
            body.session_id,
            body.clip_id,
            include == "all",
        )
        found = view.players
        return DetectView(
            session_id=body.session_id,
            clip_id=body.clip_id,
            frame_index=found.frame_index,
            image_frame_index=view.clip.detection_frame,
            width=found.width,
            height=found.height,
            image="data:image/jpeg;base64," + base64.b64encode(view.frame_jpeg).decode(),
            players=[PlayerView.of(player) for player in found.players],
        )

    @router.post("/preview", status_code=202, response_model=TaskAccepted, dependencies=guarded)
    def preview(body: PreviewRequest, request: Request, app_container: Wired) -> TaskAccepted:
        job = app_container.preview_requester.execute(
            body.session_id,
            body.clip_id,
            body.box,
            body.frame_index,
            body.indicator.value,
            request.state.correlation_id,
            minimap=body.minimap,
        )
        return TaskAccepted(
            task_id=job.job_id, status_url=f"/cv/preview/{body.session_id}/{body.clip_id}/status"
        )

    @router.get("/preview/{session_id}/{clip_id}/status", response_model=PreviewStatus, dependencies=guarded)
    def preview_status(session_id: str, clip_id: str, app_container: Wired) -> PreviewStatus:
        return PreviewStatus.of(views.preview_job(app_container.unit_of_work, session_id, clip_id))

    @router.post(
        "/preview/{session_id}/{clip_id}/approve", response_model=SessionClipView, dependencies=guarded
    )
    def approve(session_id: str, clip_id: str, app_container: Wired) -> SessionClipView:
        approved: SessionClip = app_container.preview_approver.execute(session_id, clip_id)
        _, states = views.session_clips(app_container.unit_of_work, session_id)
        [state] = [s for s in states if s.clip is not None and s.clip.clip_id == approved.clip_id]
        return SessionClipView.of(state)

    @router.post("/finalize-all", status_code=202, response_model=TaskAccepted, dependencies=guarded)
    def finalize_all(body: FinalizeRequest, request: Request, app_container: Wired) -> TaskAccepted:
        job = app_container.finalize_requester.execute(body.session_id, request.state.correlation_id)
        return TaskAccepted(task_id=job.job_id, status_url=f"/cv/finalize/{body.session_id}/status")

    @router.get("/finalize/{session_id}/status", response_model=FinalizeStatus, dependencies=guarded)
    def finalize_status(session_id: str, app_container: Wired) -> FinalizeStatus:
        return FinalizeStatus.of(views.finalize_job(app_container.unit_of_work, session_id))

    @router.get(
        "/files/{key:path}",
        dependencies=guarded,
        response_class=StreamingResponse,
        responses={200: {"content": {"video/mp4": {}}}, 206: {"description": "Partial content"}},
    )
    def download(
        key: str,
        app_container: Wired,
        range_header: Annotated[str | None, Header(alias="range")] = None,
        download: Annotated[
            bool, Query(description="Save as a file (attachment) instead of playing")
        ] = False,
    ) -> StreamingResponse:
        """A rendered video from the outputs bucket (previews, tracked clips, finals, cuts), streamed;
        `Range: bytes=a-b` answers 206 so players can seek."""
        if not key.startswith(FILE_PREFIXES) or ".." in key.split("/") or not _SAFE_KEY.match(key):
            raise errors.ObjectNotFound(f"no file {key!r}")
        response = _stream(app_container.s3, app_container.settings.bucket_outputs, key, range_header)
        disposition = "attachment" if download else "inline"
        response.headers["Content-Disposition"] = f'{disposition}; filename="{key.rsplit("/", 1)[-1]}"'
        return response

    return router


def _stream(client: Any, bucket: str, key: str, range_header: str | None) -> StreamingResponse:
    arguments: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if (
        range_header
        and re.fullmatch(r"bytes=\d*-\d*", range_header.strip())
        and range_header.strip() != "bytes=-"
    ):
        arguments["Range"] = range_header.strip()
    with storage_errors(bucket, key):
        try:
            response = client.get_object(**arguments)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) == "InvalidRange":
                raise errors.InvalidInput(f"range {range_header!r} is outside the file") from error
            raise
    body = response["Body"]

    def chunks() -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(_CHUNK)
        finally:
            body.close()

    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(response["ContentLength"]),
        "Cache-Control": "private, max-age=3600",
    }
    status = 200
    if "ContentRange" in response:
        headers["Content-Range"] = response["ContentRange"]
        status = 206
    return StreamingResponse(
        chunks(), status_code=status, media_type=response.get("ContentType") or "video/mp4", headers=headers
    )
