"""customers: the matching keys indexed only for the customers another package's records may be matched to.

`email_key` and `name_key` are looked up only to match a record of one package to a customer that came through
another (a business moving from one package to another keeps one customer list). A workspace with one package, by
far the usual case, never looks them up, yet every customer an import created added an entry to both indexes, at a
place in each as random as the names and emails: half of SQLite's work for a page of new customers (a thousand
random inserts into each, and each index page they touched written again at the commit). Now each index holds the
`matchable` customers only, and a workspace's customers become matchable when a second package's first import
looks one up (`bot.customers.matching`, finding them by `ix_customers_unmatchable`).

The customers stored before stay matchable (the column's default), so nothing that matched before stops matching.
The two indexes are built again with their condition (a table's write lock for as long: seconds at a million
customers).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 22:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

_MATCHABLE: dict[str, Any] = {"sqlite_where": sa.text("matchable = 1"), "postgresql_where": sa.text("matchable")}
_NOT_MATCHABLE: dict[str, Any] = {
    "sqlite_where": sa.text("matchable = 0"),
    "postgresql_where": sa.text("NOT matchable"),
}
_KEYS = (("ix_customers_workspace_email", "email_key"), ("ix_customers_workspace_name", "name_key"))


def upgrade() -> None:
    # Outside a batch: SQLite's batch mode would rebuild the table and lose a partial index's WHERE.
    op.add_column("customers", sa.Column("matchable", sa.Boolean(), server_default=sa.true(), nullable=False))
    for name, column in _KEYS:
        op.drop_index(name, table_name="customers")
        op.create_index(name, "customers", ["workspace_id", column], unique=False, **_MATCHABLE)
    # a workspace's customers, which the two indexes above found by their first column before (its list, its counts,
    # `/accounts status`), and those still to be made matchable
    op.create_index("ix_customers_workspace", "customers", ["workspace_id"], unique=False)
    op.create_index("ix_customers_unmatchable", "customers", ["workspace_id"], unique=False, **_NOT_MATCHABLE)


def downgrade() -> None:
    op.drop_index("ix_customers_unmatchable", table_name="customers")
    op.drop_index("ix_customers_workspace", table_name="customers")
    for name, column in _KEYS:
        op.drop_index(name, table_name="customers")
        op.create_index(name, "customers", ["workspace_id", column], unique=False)
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("matchable")
