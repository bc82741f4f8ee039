"""customer_references gain `source_digest`: a digest of the record's bytes as the package sent them, so an
unchanged contact of a large re-import is known as unchanged without being read into a record
(`bot.imports.reading`): reading a page of a package's contacts into records and preparing their rows was what bound
a re-import. NULL where the record was read without one (a small run, another package): it is then read as before.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_references", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_digest", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_references", schema=None) as batch_op:
        batch_op.drop_column("source_digest")
