"""PostgreSQL: the customers' matching keys and the references' package ids compared byte by byte (COLLATE "C").

They are looked up by equality only (an import's look-ups of a page's ids, the matching of a record by email or
name) and never shown in their order, so the database's own collation (a language's rules, `en_US.UTF-8` on most
servers) bought nothing for them and cost every comparison in their indexes: a 100,000-customer import adds three
keys a customer to those B-trees, each insert some seventeen comparisons. Measured on rows like the import's, with
an `en-US` collation the inserts of 200,000 such keys took 31 % longer than byte order. For a deterministic
collation (every server's default) two texts are equal exactly when their bytes are, so no look-up finds anything
else. SQLite compares text by its bytes already (BINARY).

The indexes on these columns are built again in the same step (a table's write lock for as long: seconds at a
million customers).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("customers", "email_key", 255),
    ("customers", "name_key", 255),
    ("customer_references", "external_id", 64),
    ("customer_references", "merged_into_external_id", 64),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in _COLUMNS:
        op.alter_column(table, column, type_=sa.String(length, collation="C"), existing_type=sa.String(length))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length in _COLUMNS:
        op.alter_column(table, column, type_=sa.String(length), existing_type=sa.String(length, collation="C"))
