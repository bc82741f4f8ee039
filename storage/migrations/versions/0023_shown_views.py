"""shown views: the newest view of each modal the bot and a person change at once, and which process call is
changing it, shared by every process

Revision ID: 0023
Revises: 0020
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0023"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shown_views",
        sa.Column("view_id", sa.String(length=64), nullable=False),
        sa.Column("view_hash", sa.String(length=128), nullable=True),
        sa.Column("view", sa.JSON(), nullable=True),
        sa.Column("earlier_hashes", sa.JSON(), nullable=False),
        sa.Column("held_by", sa.String(length=32), nullable=True),
        sa.Column("held_until", storage.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", storage.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("view_id", name=op.f("pk_shown_views")),
    )
    with op.batch_alter_table("shown_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shown_views_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shown_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shown_views_updated_at"))
    op.drop_table("shown_views")
