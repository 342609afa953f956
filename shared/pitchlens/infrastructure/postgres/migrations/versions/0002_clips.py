"""Clips: one row per uploaded match video and what the vision pipeline has made of it.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

IDENTIFIER = sa.Text(collation="C")  # ids and keys compare bytewise (see tables.py)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clips",
        sa.Column("clip_id", IDENTIFIER, nullable=False),
        sa.Column("match_id", IDENTIFIER, nullable=False),
        sa.Column("video_uri", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        # VideoInfo, once the video is probed: all of these are null before, none after.
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("fps", sa.Double(), nullable=True),
        sa.Column("frames", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.Column("codec", sa.Text(), nullable=True),
        sa.Column("has_audio", sa.Boolean(), nullable=True),
        sa.Column("variable_frame_rate", sa.Boolean(), nullable=True),
        sa.Column("detection_frame", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("frame_uri", sa.Text(), nullable=True),
        sa.Column("detections_uri", sa.Text(), nullable=True),
        sa.Column("tracks_uri", sa.Text(), nullable=True),
        # The trajectories themselves are Parquet in object storage (too many rows for a table);
        # the clip keeps where, how many rows and in which schema version.
        sa.Column("trajectories_uri", sa.Text(), nullable=True),
        sa.Column("trajectory_rows", sa.Integer(), nullable=True),
        sa.Column("schema_version", sa.Integer(), nullable=True),
        sa.Column(
            "counts",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("clip_id", name="pk_clips"),
    )
    op.create_index("ix_clips_match_id", "clips", ["match_id"])


def downgrade() -> None:
    op.drop_index("ix_clips_match_id", table_name="clips")
    op.drop_table("clips")
