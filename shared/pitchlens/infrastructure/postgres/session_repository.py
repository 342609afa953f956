"""Highlight sessions in PostgreSQL (`sessions`, `session_clips`, migration 0003). Works on the
connection, and so inside the transaction, of the unit of work that created it; never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select
from sqlalchemy.dialects.postgresql import insert

from pitchlens.domain.sessions import (
    HighlightSession,
    Selection,
    SessionClip,
    SessionNotFound,
    SessionRepository,
    SessionStatus,
)
from pitchlens.infrastructure.postgres.engine import connection_errors_as_unavailable
from pitchlens.infrastructure.postgres.repositories import as_utc
from pitchlens.infrastructure.postgres.tables import session_clips, sessions


def _session_values(session: HighlightSession) -> dict[str, object]:
    return {
        "session_id": session.session_id,
        "game": session.game,
        "player": session.player,
        "status": session.status.value,
        "source": session.source,
        "video_names": list(session.video_names),
        "cut_job_id": session.cut_job_id,
        "final_job_id": session.final_job_id,
        "final_uri": session.final_uri,
        "reason": session.reason,
        "created_at": as_utc(session.created_at),
        "updated_at": as_utc(session.updated_at),
    }


def _session_from_row(row: Row[Any]) -> HighlightSession:
    return HighlightSession(
        session_id=row.session_id,
        game=row.game,
        player=row.player,
        status=SessionStatus(row.status),
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
        video_names=tuple(row.video_names or ()),
        cut_job_id=row.cut_job_id,
        final_job_id=row.final_job_id,
        final_uri=row.final_uri,
        reason=row.reason,
    )


def _clip_from_row(row: Row[Any]) -> SessionClip:
    selection = None
    if row.box is not None:
        x1, y1, x2, y2 = (float(value) for value in row.box)
        selection = Selection((x1, y1, x2, y2), int(row.frame_index), str(row.indicator), bool(row.minimap))
    return SessionClip(
        session_id=row.session_id,
        clip_id=row.clip_id,
        updated_at=row.updated_at,
        selection=selection,
        preview_job_id=row.preview_job_id,
        approved=bool(row.approved),
    )


class PostgresSessionRepository(SessionRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, session: HighlightSession) -> None:
        with connection_errors_as_unavailable():
            self._connection.execute(insert(sessions).values(_session_values(session)))

    def get(self, session_id: str) -> HighlightSession:
        with connection_errors_as_unavailable():
            row = self._connection.execute(
                select(sessions).where(sessions.c.session_id == session_id)
            ).first()
        if row is None:
            raise SessionNotFound(f"no session {session_id!r}")
        return _session_from_row(row)

    def update(self, session: HighlightSession) -> None:
        values = {k: v for k, v in _session_values(session).items() if k != "session_id"}
        with connection_errors_as_unavailable():
            result = self._connection.execute(
                sessions.update().where(sessions.c.session_id == session.session_id).values(values)
            )
        if result.rowcount == 0:
            raise SessionNotFound(f"no session {session.session_id!r}")

    def clips(self, session_id: str) -> list[SessionClip]:
        statement = select(session_clips).where(session_clips.c.session_id == session_id)
        with connection_errors_as_unavailable():
            return [_clip_from_row(row) for row in self._connection.execute(statement)]

    def save_clip(self, clip: SessionClip) -> None:
        selection = clip.selection
        values = {
            "session_id": clip.session_id,
            "clip_id": clip.clip_id,
            "box": list(selection.box) if selection else None,
            "frame_index": selection.frame_index if selection else None,
            "indicator": selection.indicator if selection else None,
            "minimap": bool(selection and selection.minimap),
            "preview_job_id": clip.preview_job_id,
            "approved": clip.approved,
            "updated_at": as_utc(clip.updated_at),
        }
        statement = insert(session_clips).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[session_clips.c.session_id, session_clips.c.clip_id],
            set_={k: statement.excluded[k] for k in values if k not in ("session_id", "clip_id")},
        )
        with connection_errors_as_unavailable():
            self._connection.execute(statement)
