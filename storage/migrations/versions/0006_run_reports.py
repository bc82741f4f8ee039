"""import runs remember whether their end was reported in Slack

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UNTOLD = sa.text("status IN ('succeeded', 'failed', 'cancelled') AND reported_at IS NULL")  # ended, not yet told


def upgrade() -> None:
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_at", storage.models.base.UTCDateTime(timezone=True), nullable=True))
    # Runs that ended before this column existed were reported then.
    op.execute(
        "UPDATE import_runs SET reported_at = finished_at "
        "WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at IS NOT NULL"
    )
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_import_runs_untold", ["lease_expires_at"], unique=False, sqlite_where=UNTOLD, postgresql_where=UNTOLD
        )


def downgrade() -> None:
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_import_runs_untold", sqlite_where=UNTOLD, postgresql_where=UNTOLD)
        batch_op.drop_column("reported_at")
