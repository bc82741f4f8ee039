"""invoicing: the package's tax codes beside the chart, and a default tax code per mapped category

Revision ID: 0017
Revises: 0010
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0017"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chart_tax_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("rate", sa.Numeric(precision=9, scale=4), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("suits", sa.String(length=255), nullable=False),
        sa.Column("fetched_at", storage.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_chart_tax_rates_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chart_tax_rates")),
        sa.UniqueConstraint("connection_id", "code", name=op.f("uq_chart_tax_rates_connection_id")),
    )
    with op.batch_alter_table("account_mappings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax_code", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account_mappings", schema=None) as batch_op:
        batch_op.drop_column("tax_code")

    op.drop_table("chart_tax_rates")
