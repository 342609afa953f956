"""Clips in PostgreSQL (`clips`, migration 0002). Works on the connection, and so inside the
transaction, of the unit of work that created it; never commits."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, select
from sqlalchemy.dialects.postgresql import insert

from pitchlens.domain.errors import ClipNotFound
from pitchlens.domain.segments import Segment, SegmentPlan, SegmentStatus
from pitchlens.domain.vision import Clip, ClipRepository, ClipStatus, VideoInfo
from pitchlens.infrastructure.postgres.engine import connection_errors_as_unavailable
from pitchlens.infrastructure.postgres.repositories import as_utc
from pitchlens.infrastructure.postgres.tables import clip_segments, clips

_NO_INFO: Mapping[str, object] = dict.fromkeys(
    ("width", "height", "fps", "frames", "duration_s", "codec", "has_audio", "variable_frame_rate")
)


def _info_values(info: VideoInfo | None) -> Mapping[str, object]:
    if info is None:
        return _NO_INFO
    return {
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "frames": info.frames,
        "duration_s": info.duration_s,
        "codec": info.codec,
        "has_audio": info.has_audio,
        "variable_frame_rate": info.variable_frame_rate,
    }


def clip_values(clip: Clip) -> dict[str, object]:
    """The clip as a `clips` row."""
    return {
        "clip_id": clip.clip_id,
        "match_id": clip.match_id,
        "video_uri": clip.video_uri,
        "status": clip.status.value,
        "reason": clip.reason,
        **_info_values(clip.info),
        "detection_frame": clip.detection_frame,
        "frame_uri": clip.frame_uri,
        "detections_uri": clip.detections_uri,
        "tracks_uri": clip.tracks_uri,
        "trajectories_uri": clip.trajectories_uri,
        "trajectory_rows": clip.trajectory_rows,
        "schema_version": clip.schema_version,
        "counts": dict(clip.counts),
        "created_at": as_utc(clip.created_at),
        "updated_at": as_utc(clip.updated_at),
    }


def clip_from_row(row: Row[Any]) -> Clip:
    """The domain Clip of a `clips` row; `info` is None until the video has been probed."""
    info = None
    if row.width is not None:
        info = VideoInfo(
            width=row.width,
            height=row.height,
            fps=row.fps,
            frames=row.frames,
            duration_s=row.duration_s,
            codec=row.codec or "",
            has_audio=bool(row.has_audio),
            variable_frame_rate=bool(row.variable_frame_rate),
        )
    return Clip(
        clip_id=row.clip_id,
        match_id=row.match_id,
        video_uri=row.video_uri,
        status=ClipStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        info=info,
        detection_frame=row.detection_frame,
        frame_uri=row.frame_uri,
        detections_uri=row.detections_uri,
        tracks_uri=row.tracks_uri,
        trajectories_uri=row.trajectories_uri,
        trajectory_rows=row.trajectory_rows,
        schema_version=row.schema_version,
        reason=row.reason,
        counts=dict(row.counts or {}),
    )


class PostgresClipRepository(ClipRepository):
    """Clips by id; `add` is idempotent (an existing id is left untouched and reported as False).
    Connection failures raise ServiceUnavailable."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, clip: Clip) -> bool:
        statement = (
            insert(clips)
            .values(clip_values(clip))
            .on_conflict_do_nothing(index_elements=[clips.c.clip_id])
            .returning(clips.c.clip_id)
        )
        with connection_errors_as_unavailable():
            return self._connection.execute(statement).first() is not None

    def get(self, clip_id: str, *, lock: bool = False) -> Clip:
        """Raises ClipNotFound; `lock` takes the row (SELECT ... FOR UPDATE) until the transaction ends."""
        statement = select(clips).where(clips.c.clip_id == clip_id)
        if lock:
            statement = statement.with_for_update()
        with connection_errors_as_unavailable():
            row = self._connection.execute(statement).first()
        if row is None:
            raise ClipNotFound(f"no clip {clip_id!r}")
        return clip_from_row(row)

    def update(self, clip: Clip) -> None:
        """Overwrites the stored clip. Raises ClipNotFound when it was never added."""
        values = {name: value for name, value in clip_values(clip).items() if name != "clip_id"}
        with connection_errors_as_unavailable():
            result = self._connection.execute(
                clips.update().where(clips.c.clip_id == clip.clip_id).values(values)
            )
        if result.rowcount == 0:
            raise ClipNotFound(f"no clip {clip.clip_id!r}")

    def list(self, match_id: str) -> builtins.list[Clip]:
        """The match's clips, oldest first (an unknown match has none)."""
        statement = (
            select(clips).where(clips.c.match_id == match_id).order_by(clips.c.created_at, clips.c.clip_id)
        )
        with connection_errors_as_unavailable():
            return [clip_from_row(row) for row in self._connection.execute(statement)]

    def add_segments(self, segments: Sequence[Segment]) -> None:
        if not segments:
            return
        rows = [_segment_values(segment) for segment in segments]
        statement = (
            insert(clip_segments)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=[clip_segments.c.clip_id, clip_segments.c.job_id, clip_segments.c.segment]
            )
        )
        with connection_errors_as_unavailable():
            self._connection.execute(statement)

    def segments(self, clip_id: str, job_id: str) -> builtins.list[Segment]:
        statement = (
            select(clip_segments)
            .where(clip_segments.c.clip_id == clip_id, clip_segments.c.job_id == job_id)
            .order_by(clip_segments.c.segment)
        )
        with connection_errors_as_unavailable():
            return [_segment_from_row(row) for row in self._connection.execute(statement)]

    def update_segment(self, segment: Segment) -> None:
        values = _segment_values(segment)
        with connection_errors_as_unavailable():
            result = self._connection.execute(
                clip_segments.update()
                .where(
                    clip_segments.c.clip_id == segment.clip_id,
                    clip_segments.c.job_id == segment.job_id,
                    clip_segments.c.segment == segment.index,
                )
                .values(values)
            )
        if result.rowcount == 0:
            raise ClipNotFound(f"no segment {segment.index} of clip {segment.clip_id!r}")


def _segment_values(segment: Segment) -> dict[str, object]:
    plan = segment.plan
    return {
        "clip_id": segment.clip_id,
        "job_id": segment.job_id,
        "segment": plan.index,
        "start_frame": plan.start,
        "stop_frame": plan.stop,
        "track_from": plan.track_from,
        "status": segment.status.value,
        "frames_done": segment.frames_done,
        "tracks_uri": segment.tracks_uri,
        "reason": segment.reason,
        "updated_at": as_utc(segment.updated_at),
    }


def _segment_from_row(row: Row[Any]) -> Segment:
    return Segment(
        clip_id=row.clip_id,
        job_id=row.job_id,
        plan=SegmentPlan(row.segment, row.start_frame, row.stop_frame, row.track_from),
        status=SegmentStatus(row.status),
        updated_at=row.updated_at,
        frames_done=row.frames_done,
        tracks_uri=row.tracks_uri,
        reason=row.reason,
    )
