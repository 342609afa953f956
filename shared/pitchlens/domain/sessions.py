"""Highlight sessions: one reel of one player in one game, built interactively from clips.
Standard library only.

A session's clips are the videos uploaded under `videos/<session_id>/` (the vision pipeline makes
each a Clip with `match_id == session_id`). For each clip a person picks the player (a box on the
detection frame) and an indicator, watches a preview render, approves it; finalizing renders every
approved clip at source quality and joins them into one video.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from pitchlens.domain.errors import PermanentError, StateConflict
from pitchlens.domain.vision import VIDEO_SUFFIXES, is_video_name


class SessionNotFound(PermanentError):
    """No session has this id."""


class UnsupportedUpload(PermanentError):
    """An uploaded file is not a video (or not a CSV where a table was expected)."""


class UploadTooLarge(PermanentError):
    """An upload is larger than the configured limit."""


class NothingApproved(StateConflict):
    """Finalizing needs at least one approved clip."""


class SessionStatus(StrEnum):
    CUTTING = "CUTTING"
    """Highlight clips are being cut from a game video; they appear as the session's clips."""
    READY = "READY"
    FINALIZING = "FINALIZING"
    DONE = "DONE"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class HighlightSession:
    session_id: str
    game: str
    player: str
    status: SessionStatus
    source: str
    """`upload` (videos uploaded as they are) or `cut` (cut from a game video with intervals)."""
    created_at: datetime
    updated_at: datetime
    video_names: tuple[str, ...] = ()
    """File names under videos/<session_id>/, in order: the session's clips."""
    cut_job_id: str | None = None
    final_job_id: str | None = None
    final_uri: str | None = None
    reason: str | None = None

    def with_status(
        self, status: SessionStatus, now: datetime, reason: str | None = None
    ) -> HighlightSession:
        return replace(self, status=status, reason=reason, updated_at=now)


@dataclass(frozen=True, slots=True)
class Selection:
    """The player chosen on a clip: a box on a frame, and how to mark them (an indicator, and
    whether the render shows the minimap)."""

    box: tuple[float, float, float, float]
    frame_index: int
    indicator: str
    minimap: bool = False


@dataclass(frozen=True, slots=True)
class SessionClip:
    """What a person decided about one clip of a session."""

    session_id: str
    clip_id: str
    updated_at: datetime
    selection: Selection | None = None
    preview_job_id: str | None = None
    approved: bool = False


def safe_file_name(name: str) -> str:
    """An uploaded file's name (its last path part) made safe as one object-key segment: letters,
    digits and `._-`, at most 80 of them before the lower-cased suffix."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "file"
    return f"{safe[:80]}.{suffix.lower()}" if suffix else safe[:80]


def session_file_name(name: str) -> str:
    """An uploaded video's name made safe (`safe_file_name`); UnsupportedUpload when it is not a
    video file name."""
    if not is_video_name(name.replace("\\", "/").rsplit("/", 1)[-1].strip()):
        raise UnsupportedUpload(
            f"{name!r} is not a video file name (expected {', '.join(sorted(VIDEO_SUFFIXES))})"
        )
    return safe_file_name(name)


class SessionRepository(ABC):
    @abstractmethod
    def add(self, session: HighlightSession) -> None: ...

    @abstractmethod
    def get(self, session_id: str) -> HighlightSession:
        """Raises SessionNotFound."""

    @abstractmethod
    def update(self, session: HighlightSession) -> None: ...

    @abstractmethod
    def clips(self, session_id: str) -> list[SessionClip]:
        """The decisions recorded for the session's clips."""

    @abstractmethod
    def save_clip(self, clip: SessionClip) -> None:
        """Inserts or replaces the decisions about one clip."""
