"""Highlight sessions (the interactive workflow) and the decisions about each of their clips.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

IDENTIFIER = sa.Text(collation="C")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_id", IDENTIFIER, nullable=False),
        sa.Column("game", sa.Text(), nullable=False),
        sa.Column("player", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "video_names",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
        sa.Column("cut_job_id", IDENTIFIER, nullable=True),
        sa.Column("final_job_id", IDENTIFIER, nullable=True),
        sa.Column("final_uri", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_sessions"),
    )
    op.create_table(
        "session_clips",
        sa.Column("session_id", IDENTIFIER, nullable=False),
        sa.Column("clip_id", IDENTIFIER, nullable=False),
        # The chosen player: box (x1, y1, x2, y2) on frame_index, and the indicator; null until chosen.
        sa.Column("box", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("frame_index", sa.Integer(), nullable=True),
        sa.Column("indicator", sa.Text(), nullable=True),
        sa.Column("preview_job_id", IDENTIFIER, nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "clip_id", name="pk_session_clips"),
    )


def downgrade() -> None:
    op.drop_table("session_clips")
    op.drop_table("sessions")
