"""customers and customer_references lose `last_import_run_id`: written on every import, read by nothing, and a
foreign key to import_runs without an index, so deleting an ended run (`prune_ended`, hourly) scanned both tables
whole for rows to set to NULL (at 200,000 customers 62-73 ms a run on PostgreSQL and 124-128 ms on SQLite: the
chore's batch of 1,000 runs one to two minutes in one write transaction), and every imported row checked the run
twice more (`bench/prune_bench.py`).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

TABLES = ("customers", "customer_references")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_last_import_run_id_import_runs", type_="foreignkey")
            batch_op.drop_column("last_import_run_id")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("last_import_run_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                f"fk_{table}_last_import_run_id_import_runs",
                "import_runs",
                ["last_import_run_id"],
                ["id"],
                ondelete="SET NULL",
            )
