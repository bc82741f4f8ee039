"""chart accounts keep their type in words, as the package's provider says it, for the mapping dropdown's groups

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chart_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("type_label", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chart_accounts", schema=None) as batch_op:
        batch_op.drop_column("type_label")
