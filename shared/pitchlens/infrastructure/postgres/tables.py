"""The PostgreSQL schema as SQLAlchemy Core tables. Migrations create it (see `migrations/`);
this module describes it for queries and for checking that the migrations match it.

Every text and JSON column stores whatever text it is given: PostgreSQL refuses NUL (U+0000) in
`text` and `jsonb` (a job failed with such a reason would stay RUNNING: its update is refused, the
message retried and dead-lettered), and UTF-8 cannot encode a lone surrogate (a file name decoded
with `surrogateescape`, `"\\ud800"` in request JSON). `StorableText` and `StorableJson` replace
each with U+FFFD on the way in, in bound values of INSERT/UPDATE and of WHERE clauses alike, so a
lookup by such a value finds what was stored. The events COPY bypasses bound parameters and does
the same with `storable_text` / `storable_json` (see `repositories.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    TypeDecorator,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB

_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
"""What PostgreSQL text cannot hold: NUL, and lone surrogates (not encodable as UTF-8)."""


def storable_text(value: str) -> str:
    """`value` with NUL and lone surrogates replaced by U+FFFD (the replacement character)."""
    return _UNSTORABLE.sub("\ufffd", value)


def storable_json(value: Any) -> Any:
    """A JSON-shaped value with every string in it made storable, keys included (lists for tuples)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, Mapping):
        return {storable_json(key): storable_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return value


class StorableText(TypeDecorator[str]):
    """`text` that never refuses a string: see `storable_text`."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return storable_text(value) if isinstance(value, str) else value


class StorableJson(TypeDecorator[Any]):
    """`json` whose strings (keys included) never make PostgreSQL refuse it: see `storable_json`."""

    impl = JSON
    cache_ok = True
    should_evaluate_none = True  # as the impl's: None is stored as JSON null, not SQL NULL

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return storable_json(value)


class StorableJsonb(StorableJson):
    """`jsonb`, as `StorableJson`."""

    impl = JSONB
    cache_ok = True


# Identifiers (ids, keys, our normalised event type) compare bytewise: the "C" collation makes every
# btree comparison a memcmp instead of a locale-aware strcoll (strcoll showed among the top costs
# when profiling the events COPY, which maintains four indexes on these columns), and keeps index
# order independent of the host's C library. Human-readable names keep the default collation.
IDENTIFIER = StorableText(collation="C")


# Explicit constraint names, so migrations and the database agree on them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

matches = Table(
    "matches",
    metadata,
    Column("match_id", IDENTIFIER, primary_key=True),
    Column("source", StorableText, nullable=False),
    Column("home_team_id", IDENTIFIER, nullable=False),
    Column("home_team_name", StorableText, nullable=False),
    Column("away_team_id", IDENTIFIER, nullable=False),
    Column("away_team_name", StorableText, nullable=False),
    Column("competition", StorableText, nullable=True),
    Column("kickoff", DateTime(timezone=True), nullable=True),
    Column("event_count", Integer, nullable=False),
    Column("player_count", Integer, nullable=False),
    Column("tracking_uri", StorableText, nullable=True),
    Column("tracking_rows", Integer, nullable=True),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

match_players = Table(
    "match_players",
    metadata,
    Column("match_id", IDENTIFIER, ForeignKey("matches.match_id", ondelete="CASCADE"), nullable=False),
    Column("player_id", IDENTIFIER, nullable=False),
    Column("team_id", IDENTIFIER, nullable=False),
    Column("name", StorableText, nullable=False),
    Column("jersey_number", Integer, nullable=True),
    Column("position", StorableText, nullable=True),
    Column("starting", Boolean, nullable=False),
    PrimaryKeyConstraint("match_id", "player_id"),
)

# No foreign key to matches and json (not jsonb) attributes: see migration 0001 (COPY speed).
events = Table(
    "events",
    metadata,
    Column("match_id", IDENTIFIER, nullable=False),
    Column("event_id", IDENTIFIER, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("period", SmallInteger, nullable=False),
    Column("timestamp_s", Double, nullable=False),
    Column("type", IDENTIFIER, nullable=False),
    Column("raw_type", StorableText, nullable=False),
    Column("outcome", StorableText, nullable=True),
    Column("team_id", IDENTIFIER, nullable=True),
    Column("player_id", IDENTIFIER, nullable=True),
    Column("player_name", StorableText, nullable=True),
    Column("start_x", Double, nullable=True),
    Column("start_y", Double, nullable=True),
    Column("end_x", Double, nullable=True),
    Column("end_y", Double, nullable=True),
    Column("attributes", StorableJson, nullable=False, server_default=text("'{}'::json")),
    PrimaryKeyConstraint("match_id", "event_id"),
    Index(None, "match_id", "type"),
)

# The COPY column order of `events` (the repository writes rows in exactly this order).
EVENT_COPY_COLUMNS = tuple(column.name for column in events.columns)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", IDENTIFIER, primary_key=True),
    Column("kind", StorableText, nullable=False),
    Column("source", StorableText, nullable=False),
    Column("match_id", IDENTIFIER, nullable=False),
    Column("correlation_id", IDENTIFIER, nullable=False),
    Column("status", StorableText, nullable=False),
    Column("stage", StorableText, nullable=False),
    Column("reason", StorableText, nullable=True),
    Column("counts", StorableJsonb, nullable=False, server_default=text("'{}'::jsonb")),
    Column("outputs", StorableJsonb, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index(None, "correlation_id"),
    Index(None, "match_id"),
)

processed_messages = Table(
    "processed_messages",
    metadata,
    Column("consumer", IDENTIFIER, nullable=False),
    Column("idempotency_key", IDENTIFIER, nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "idempotency_key"),
)

# One row per uploaded video (see migration 0002). The VideoInfo columns are all null until the
# video has been probed; the trajectory columns until its tracks are persisted (Parquet in
# object storage, never rows here).
clips = Table(
    "clips",
    metadata,
    Column("clip_id", IDENTIFIER, primary_key=True),
    Column("match_id", IDENTIFIER, nullable=False),
    Column("video_uri", StorableText, nullable=False),
    Column("status", StorableText, nullable=False),
    Column("reason", StorableText, nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("fps", Double, nullable=True),
    Column("frames", Integer, nullable=True),
    Column("duration_s", Double, nullable=True),
    Column("codec", StorableText, nullable=True),
    Column("has_audio", Boolean, nullable=True),
    Column("variable_frame_rate", Boolean, nullable=True),
    Column("detection_frame", Integer, nullable=False, server_default=text("0")),
    Column("frame_uri", StorableText, nullable=True),
    Column("detections_uri", StorableText, nullable=True),
    Column("tracks_uri", StorableText, nullable=True),
    Column("trajectories_uri", StorableText, nullable=True),
    Column("trajectory_rows", Integer, nullable=True),
    Column("schema_version", Integer, nullable=True),
    Column("counts", StorableJsonb, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index(None, "match_id"),
)


# Segments of a clip tracked in parallel (migration 0004): one row each, the last one done fires
# the stitch (decided under a lock on the clip's row).
clip_segments = Table(
    "clip_segments",
    metadata,
    Column(
        "clip_id",
        IDENTIFIER,
        ForeignKey("clips.clip_id", ondelete="CASCADE", name="fk_clip_segments_clip"),
        primary_key=True,
    ),
    Column("job_id", IDENTIFIER, primary_key=True),
    Column("segment", Integer, primary_key=True),
    Column("start_frame", Integer, nullable=False),
    Column("stop_frame", Integer, nullable=False),
    Column("track_from", Integer, nullable=False),
    Column("status", StorableText, nullable=False),
    Column("frames_done", Integer, nullable=False, server_default=text("0")),
    Column("tracks_uri", StorableText, nullable=True),
    Column("reason", StorableText, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


# Highlight sessions (migration 0003): one reel of one player; its clips are the clips whose
# match_id is the session id. session_clips holds what a person decided about each clip.
sessions = Table(
    "sessions",
    metadata,
    Column("session_id", IDENTIFIER, primary_key=True),
    Column("game", StorableText, nullable=False),
    Column("player", StorableText, nullable=False),
    Column("status", StorableText, nullable=False),
    Column("source", StorableText, nullable=False),
    Column("video_names", StorableJsonb, nullable=False, server_default=text("'[]'::jsonb")),
    Column("cut_job_id", IDENTIFIER, nullable=True),
    Column("final_job_id", IDENTIFIER, nullable=True),
    Column("final_uri", StorableText, nullable=True),
    Column("reason", StorableText, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

session_clips = Table(
    "session_clips",
    metadata,
    Column("session_id", IDENTIFIER, primary_key=True),
    Column("clip_id", IDENTIFIER, primary_key=True),
    Column("box", StorableJsonb, nullable=True),
    Column("frame_index", Integer, nullable=True),
    Column("indicator", StorableText, nullable=True),
    Column("minimap", Boolean, nullable=False, server_default=text("false")),
    Column("preview_job_id", IDENTIFIER, nullable=True),
    Column("approved", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
