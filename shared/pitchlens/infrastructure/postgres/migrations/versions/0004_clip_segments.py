"""Segments of long clips, tracked in parallel and stitched (one row per segment).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

IDENTIFIER = sa.Text(collation="C")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clip_segments",
        sa.Column("clip_id", IDENTIFIER, nullable=False),
        sa.Column("job_id", IDENTIFIER, nullable=False),
        sa.Column("segment", sa.Integer(), nullable=False),
        sa.Column("start_frame", sa.Integer(), nullable=False),
        sa.Column("stop_frame", sa.Integer(), nullable=False),
        sa.Column("track_from", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("frames_done", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("tracks_uri", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("clip_id", "job_id", "segment", name="pk_clip_segments"),
        sa.ForeignKeyConstraint(
            ["clip_id"], ["clips.clip_id"], name="fk_clip_segments_clip", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("clip_segments")
