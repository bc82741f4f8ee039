"""import runs keep the records they could not import, and which parts of their end were told

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_run_skips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["import_runs.id"], name=op.f("fk_import_run_skips_run_id_import_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_run_skips")),
    )
    with op.batch_alter_table("import_run_skips", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_run_skips_run_id"), ["run_id"], unique=False)
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_runs", schema=None) as batch_op:
        batch_op.drop_column("reported_parts")
    with op.batch_alter_table("import_run_skips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_run_skips_run_id"))
    op.drop_table("import_run_skips")
