"""call slots: a package's calls at once under a limit, held by every process together, each until let go or
its lease runs out

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-02 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0020"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_slots",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=True),
        sa.Column("expires_at", storage.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", "slot", name=op.f("pk_call_slots")),
    )


def downgrade() -> None:
    op.drop_table("call_slots")
