"""status_changes: a log of the changes to what `/accounts status` shows, inserted by the database itself in the
transaction of every change to connections, their sync settings, account mappings and chart

Revision ID: 0024
Revises: 0020
Create Date: 2026-12-02 17:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

# The tables whose rows `/accounts status` shows, and how a row names its workspace. A new table status shows gets
# its triggers here (a later migration), and `storage.status_version` says what the log covers.
BY_WORKSPACE = ("connections",)
BY_CONNECTION = ("sync_settings", "account_mappings", "chart_accounts", "chart_tax_rates")
OPERATIONS = ("insert", "update", "delete")


def _workspaces(table: str, rows: str) -> str:
    """A SELECT of the workspaces of `rows` (a trigger's NEW or OLD row on SQLite, a transition table on
    PostgreSQL)."""
    if table in BY_WORKSPACE:
        return f"SELECT workspace_id FROM {rows}"
    return f"SELECT connections.workspace_id FROM {rows} JOIN connections ON connections.id = {rows}.connection_id"


def _sqlite_trigger(table: str, operation: str) -> str:
    """SQLite writes one transaction at a time, so a row-level trigger's inserts wait on nothing."""
    rows = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}[operation]
    if table in BY_WORKSPACE:
        workspaces = " UNION ".join(f"SELECT {row}.workspace_id" for row in rows)
    else:
        workspaces = " UNION ".join(
            f"SELECT workspace_id FROM connections WHERE id = {row}.connection_id" for row in rows
        )
    return (
        f"CREATE TRIGGER status_changes_{table}_{operation} AFTER {operation.upper()} ON {table} FOR EACH ROW "
        f"BEGIN INSERT INTO status_changes (workspace_id) {workspaces}; END"
    )


def _postgresql_function(table: str, operation: str) -> str:
    """One insert per statement, of each workspace the statement's rows belong to: an insert never waits on another
    (no row of anyone else's is locked), so writers touching these tables in any order do not deadlock."""
    rows = {"insert": ("new_rows",), "update": ("old_rows", "new_rows"), "delete": ("old_rows",)}[operation]
    workspaces = " UNION ".join(_workspaces(table, transition) for transition in rows)
    return f"""
CREATE FUNCTION status_changes_{table}_{operation}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_changes (workspace_id) {workspaces};
    RETURN NULL;
END
$$"""


def _postgresql_trigger(table: str, operation: str) -> str:
    referencing = {
        "insert": "NEW TABLE AS new_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
    }[operation]
    return (
        f"CREATE TRIGGER status_changes_{table}_{operation} AFTER {operation.upper()} ON {table} "
        f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION status_changes_{table}_{operation}()"
    )


def upgrade() -> None:
    op.create_table(
        "status_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_changes")),
    )
    op.create_index("ix_status_changes_workspace_id_id", "status_changes", ["workspace_id", "id"], unique=False)
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in BY_WORKSPACE + BY_CONNECTION:
        for operation in OPERATIONS:
            if postgresql:
                op.execute(_postgresql_function(table, operation))
                op.execute(_postgresql_trigger(table, operation))
            else:
                op.execute(_sqlite_trigger(table, operation))


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in BY_WORKSPACE + BY_CONNECTION:
        for operation in OPERATIONS:
            if postgresql:
                op.execute(f"DROP TRIGGER status_changes_{table}_{operation} ON {table}")
                op.execute(f"DROP FUNCTION status_changes_{table}_{operation}()")
            else:
                op.execute(f"DROP TRIGGER status_changes_{table}_{operation}")
    op.drop_index("ix_status_changes_workspace_id_id", table_name="status_changes")
    op.drop_table("status_changes")
