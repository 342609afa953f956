"""Messages that travel between functions. Every message type has a `TYPE` and a `VERSION`;
an `Envelope` adds the correlation id and idempotency key. Payloads stay small: anything
larger than a few KB travels as a claim check (an `s3://bucket/key` pointer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Message:
    """Base class of message payloads."""

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    def describe(self) -> str:
        """What part of its job this message is, for failure reasons ("" when the whole job)."""
        return ""


@dataclass(frozen=True, slots=True)
class IngestionRequested(Message):
    """Fetch and normalise one match. `location` is an `s3://` folder of provider files,
    or None to fetch from the provider itself (statsbombpy online, or open-data files)."""

    TYPE: ClassVar[str] = "IngestionRequested"
    VERSION: ClassVar[int] = 1

    job_id: str
    source: str
    match_id: str
    location: str | None = None


@dataclass(frozen=True, slots=True)
class MatchIngested(Message):
    """A normalised match is staged at `match_uri` (claim check), ready to persist."""

    TYPE: ClassVar[str] = "MatchIngested"
    VERSION: ClassVar[int] = 1

    job_id: str
    source: str
    match_id: str
    match_uri: str
    ingested_at: datetime
    tracking_uri: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ObjectCreated(Message):
    """An object-created notification from S3 or MinIO, keys already URL-decoded. Which bucket it
    came from says what it means: `RawDataUploaded` or `VideoUploaded`."""

    TYPE: ClassVar[str] = "ObjectCreated"
    VERSION: ClassVar[int] = 1

    bucket: str
    key: str
    size: int = 0
    etag: str = ""
    sequencer: str = ""


@dataclass(frozen=True, slots=True)
class RawDataUploaded(ObjectCreated):
    """A provider file landed under `raw-data/<source>/<match_id>/`."""

    TYPE: ClassVar[str] = "RawDataUploaded"


@dataclass(frozen=True, slots=True)
class VideoUploaded(ObjectCreated):
    """A video landed under `videos/<match_id>/`."""

    TYPE: ClassVar[str] = "VideoUploaded"


@dataclass(frozen=True, slots=True)
class DetectionRequested(Message):
    """Detect the people on a registered clip's detection frame (the clip and its job exist)."""

    TYPE: ClassVar[str] = "DetectionRequested"
    VERSION: ClassVar[int] = 1

    job_id: str
    clip_id: str
    match_id: str
    video_uri: str
    frame_index: int = 0


@dataclass(frozen=True, slots=True)
class PlayersDetected(Message):
    """People were detected on a clip's detection frame; the clip is ready to track (in segments)."""

    TYPE: ClassVar[str] = "PlayersDetected"
    VERSION: ClassVar[int] = 1

    job_id: str
    clip_id: str
    match_id: str
    video_uri: str
    frame_index: int
    frame_uri: str
    detections_uri: str
    detections: int


@dataclass(frozen=True, slots=True)
class SegmentTrackingRequested(Message):
    """Track one segment of a clip (frames [track_from, stop), its own ones from `start`), reaching
    them by seeking (`seek_pts`, `start_pts`: see FrameSpan). `overlap`: the frames every later
    segment tracks before its start (where the stitch matches tracks). Any number of workers take
    segments."""

    TYPE: ClassVar[str] = "SegmentTrackingRequested"
    VERSION: ClassVar[int] = 1

    job_id: str
    clip_id: str
    match_id: str
    video_uri: str
    segment: int
    segments: int
    start: int
    stop: int
    track_from: int
    fps: float
    seek_pts: int | None = None
    start_pts: int | None = None
    overlap: int = 25

    def describe(self) -> str:
        return f"segment {self.segment + 1} of {self.segments} (frames {self.start}..{self.stop - 1})"


@dataclass(frozen=True, slots=True)
class TracksStitchRequested(Message):
    """Every segment of a clip is tracked: join their tracks into clip-wide ones."""

    TYPE: ClassVar[str] = "TracksStitchRequested"
    VERSION: ClassVar[int] = 1

    job_id: str
    clip_id: str
    match_id: str
    fps: float


@dataclass(frozen=True, slots=True)
class VideoProcessed(Message):
    """A clip was tracked end to end; its staged tracks (claim check) are at `tracks_uri`."""

    TYPE: ClassVar[str] = "VideoProcessed"
    VERSION: ClassVar[int] = 1

    job_id: str
    clip_id: str
    match_id: str
    tracks_uri: str
    frames: int
    tracks: int
    fps: float


@dataclass(frozen=True, slots=True)
class RenderRequested(Message):
    """Render a processed clip with an indicator over the player chosen by `box` (x1, y1, x2, y2,
    pixels of the source) on frame `frame_index`, with a quality preset (`preview` or `final`), and
    with `minimap` a small pitch in a corner showing everybody in metres (messages from before the
    field decode as false)."""

    TYPE: ClassVar[str] = "RenderRequested"
    VERSION: ClassVar[int] = 1

    job_id: str
    clip_id: str
    match_id: str
    frame_index: int
    box: tuple[float, float, float, float]
    preset: str = "preview"
    indicator: str = "circle"
    minimap: bool = False


@dataclass(frozen=True, slots=True)
class CalibrationRequested(Message):
    """Place a processed clip's people on the pitch in metres from landmarks marked on one frame
    (`points`: landmark name, x, y pixels), or from its pitch lines alone (`automatic`);
    `orientation` says which goal the home team attacks."""

    TYPE: ClassVar[str] = "CalibrationRequested"
    VERSION: ClassVar[int] = 1

    job_id: str
    clip_id: str
    match_id: str
    frame_index: int
    points: tuple[tuple[str, float, float], ...]
    orientation: str = "home_attacks_right"
    automatic: bool = False
    """No points: the whole clip calibrated from its pitch lines alone."""


@dataclass(frozen=True, slots=True)
class HighlightsRequested(Message):
    """Cut a session's highlight clips out of a game video (`game_video_uri`) with a CSV of
    intervals (`intervals_uri`), and upload each clip as one of the session's videos."""

    TYPE: ClassVar[str] = "HighlightsRequested"
    VERSION: ClassVar[int] = 1

    job_id: str
    session_id: str
    game_video_uri: str
    intervals_uri: str
    padding_s: float = 0.0


@dataclass(frozen=True, slots=True)
class FinalizeRequested(Message):
    """Render every approved clip of a session at source quality and join them into one video:
    fans out as one `FinalClipRequested` per clip, joined by a `ConcatRequested` when all are done."""

    TYPE: ClassVar[str] = "FinalizeRequested"
    VERSION: ClassVar[int] = 1

    job_id: str
    session_id: str


@dataclass(frozen=True, slots=True)
class FinalClipRequested(Message):
    """Render approved clip `position` (from 1) of `clips` of a session's finalize at source quality."""

    TYPE: ClassVar[str] = "FinalClipRequested"
    VERSION: ClassVar[int] = 1

    job_id: str
    session_id: str
    clip_id: str
    position: int
    clips: int

    def describe(self) -> str:
        return f"clip {self.position} of {self.clips} ({self.clip_id})"


@dataclass(frozen=True, slots=True)
class ConcatRequested(Message):
    """Join rendered clips (`s3://` URIs in the outputs bucket, in order) into one video named
    after the game and the player; for a session's finalize (`session_id`), into the session's own
    folder, and the session is DONE with it."""

    TYPE: ClassVar[str] = "ConcatRequested"
    VERSION: ClassVar[int] = 1

    job_id: str
    clip_uris: tuple[str, ...]
    game: str
    player: str
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """What goes on the wire: the message plus its routing and tracing metadata."""

    type: str
    version: int
    message_id: str
    correlation_id: str
    idempotency_key: str
    occurred_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    """How a message reached a handler: used for idempotency and the last-attempt decision.
    `consumer` names the inbox the message's key is recorded in once its effect commits (the
    message pipeline sets it)."""

    correlation_id: str
    idempotency_key: str
    attempt: int = 1
    max_attempts: int = 3
    consumer: str = ""

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts
