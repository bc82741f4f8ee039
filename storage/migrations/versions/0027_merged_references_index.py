"""customer_references: the few merged at the package indexed by connection (a partial index), so that the end of
every run, which points merged customers to their survivor, finds them without reading every reference of the
connection (0.1 s at 80,000 references, on the run's last step).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_MERGED = sa.text("merged_into_external_id IS NOT NULL")


def upgrade() -> None:
    # Outside a batch: SQLite's batch mode would rebuild the table and lose the partial index's WHERE.
    op.create_index(
        "ix_customer_references_merged",
        "customer_references",
        ["connection_id"],
        unique=False,
        sqlite_where=_MERGED,
        postgresql_where=_MERGED,
    )


def downgrade() -> None:
    op.drop_index("ix_customer_references_merged", table_name="customer_references")
