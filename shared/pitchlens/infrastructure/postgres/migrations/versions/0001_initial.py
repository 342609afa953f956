"""Initial schema: matches, match_players, events, jobs, processed_messages, and `text = bigint`.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

IDENTIFIER = sa.Text(collation="C")  # ids and keys compare bytewise (see tables.py)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Match ids are text (Metrica's are "Sample_Game_1"), but StatsBomb's are numbers and people,
# scripts and the seed check write `WHERE match_id = 3788741`, which PostgreSQL rejects
# (no text = integer operator). These operators accept it by comparing with the number's
# decimal text. The functions are plain SQL, IMMUTABLE, one expression, not STRICT nor
# SECURITY DEFINER, so the planner inlines them: `match_id = 3788741` becomes
# `match_id = '3788741'::text` (the cast is constant-folded) and the btree indexes on match_id
# are still used. An integer literal resolves here through the implicit int4 -> int8 cast.
# One statement per string: psycopg 3 sends a statement with parameters (SQLAlchemy always passes
# some) through the extended protocol, which takes a single statement.
TEXT_BIGINT_EQUALITY = (
    """CREATE FUNCTION pitchlens_text_eq_bigint(text, bigint) RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT $1 = $2::text $$""",
    """CREATE FUNCTION pitchlens_bigint_eq_text(bigint, text) RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT $1::text = $2 $$""",
    # The first CREATE OPERATOR makes a shell for its commutator; the second fills it in.
    """CREATE OPERATOR = (
        LEFTARG = text, RIGHTARG = bigint, FUNCTION = pitchlens_text_eq_bigint,
        COMMUTATOR = =, RESTRICT = eqsel, JOIN = eqjoinsel
    )""",
    """CREATE OPERATOR = (
        LEFTARG = bigint, RIGHTARG = text, FUNCTION = pitchlens_bigint_eq_text,
        COMMUTATOR = =, RESTRICT = eqsel, JOIN = eqjoinsel
    )""",
)

DROP_TEXT_BIGINT_EQUALITY = (
    "DROP OPERATOR IF EXISTS = (text, bigint)",
    "DROP OPERATOR IF EXISTS = (bigint, text)",
    "DROP FUNCTION IF EXISTS pitchlens_text_eq_bigint(text, bigint)",
    "DROP FUNCTION IF EXISTS pitchlens_bigint_eq_text(bigint, text)",
)


def upgrade() -> None:
    op.create_table(
        "matches",
        sa.Column("match_id", IDENTIFIER, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("home_team_id", IDENTIFIER, nullable=False),
        sa.Column("home_team_name", sa.Text(), nullable=False),
        sa.Column("away_team_id", IDENTIFIER, nullable=False),
        sa.Column("away_team_name", sa.Text(), nullable=False),
        sa.Column("competition", sa.Text(), nullable=True),
        sa.Column("kickoff", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("player_count", sa.Integer(), nullable=False),
        sa.Column("tracking_uri", sa.Text(), nullable=True),
        sa.Column("tracking_rows", sa.Integer(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("match_id", name="pk_matches"),
    )
    op.create_table(
        "match_players",
        sa.Column("match_id", IDENTIFIER, nullable=False),
        sa.Column("player_id", IDENTIFIER, nullable=False),
        sa.Column("team_id", IDENTIFIER, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("jersey_number", sa.Integer(), nullable=True),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("starting", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["matches.match_id"],
            name="fk_match_players_match_id_matches",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("match_id", "player_id", name="pk_match_players"),
    )
    op.create_table(
        "events",
        sa.Column("match_id", IDENTIFIER, nullable=False),
        sa.Column("event_id", IDENTIFIER, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("period", sa.SmallInteger(), nullable=False),
        sa.Column("timestamp_s", sa.Double(), nullable=False),
        sa.Column("type", IDENTIFIER, nullable=False),
        sa.Column("raw_type", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("team_id", IDENTIFIER, nullable=True),
        sa.Column("player_id", IDENTIFIER, nullable=True),
        sa.Column("player_name", sa.Text(), nullable=True),
        sa.Column("start_x", sa.Double(), nullable=True),
        sa.Column("start_y", sa.Double(), nullable=True),
        sa.Column("end_x", sa.Double(), nullable=True),
        sa.Column("end_y", sa.Double(), nullable=True),
        # json, not jsonb, and no foreign key to matches: both cost a third of the COPY time
        # (measured). Events are only ever written by PostgresMatchRepository.save, in the same
        # transaction as their match row, which deletes them with the match.
        sa.Column(
            "attributes",
            postgresql.JSON(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'::json"),
        ),
        sa.PrimaryKeyConstraint("match_id", "event_id", name="pk_events"),
    )
    # Queries are per match (~4,000 rows): the primary key finds them, filtering and ordering
    # that many rows is sub-millisecond. Only the type filter, the common one, gets an index;
    # every index costs about a tenth of the persist time.
    op.create_index("ix_events_match_id_type", "events", ["match_id", "type"])
    op.create_table(
        "jobs",
        sa.Column("job_id", IDENTIFIER, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("match_id", IDENTIFIER, nullable=False),
        sa.Column("correlation_id", IDENTIFIER, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "counts",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
        sa.Column(
            "outputs",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_correlation_id", "jobs", ["correlation_id"])
    op.create_index("ix_jobs_match_id", "jobs", ["match_id"])
    op.create_table(
        "processed_messages",
        sa.Column("consumer", IDENTIFIER, nullable=False),
        sa.Column("idempotency_key", IDENTIFIER, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("consumer", "idempotency_key", name="pk_processed_messages"),
    )
    for statement in TEXT_BIGINT_EQUALITY:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_TEXT_BIGINT_EQUALITY:
        op.execute(statement)
    op.drop_table("processed_messages")
    op.drop_table("jobs")
    op.drop_table("events")
    op.drop_table("match_players")
    op.drop_table("matches")
