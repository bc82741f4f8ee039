"""scale: the due syncs and the claimable runs indexed, a run's priority, shared chores and call budgets

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_CLAIMABLE = sa.text("status IN ('queued', 'running')")


def upgrade() -> None:
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
    # Outside the batch: SQLite's batch mode would rebuild the table and lose the partial index's WHERE.
    op.create_index(
        "ix_import_runs_claimable",
        "import_runs",
        ["priority", "id"],
        unique=False,
        sqlite_where=_CLAIMABLE,
        postgresql_where=_CLAIMABLE,
    )
    with op.batch_alter_table("sync_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_settings_next_sync_at"), ["next_sync_at"], unique=False)
    op.create_table(
        "chores",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("due_at", storage.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_chores")),
    )
    op.create_table(
        "call_budgets",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", storage.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_call_budgets")),
    )
    with op.batch_alter_table("call_budgets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_budgets_window_start"), ["window_start"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_budgets_window_start"))
    op.drop_table("call_budgets")
    op.drop_table("chores")
    with op.batch_alter_table("sync_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_settings_next_sync_at"))
    op.drop_index("ix_import_runs_claimable", table_name="import_runs")
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_column("priority")
