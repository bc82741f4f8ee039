"""workspaces count the changes to what `/accounts status` shows (`status_version`), bumped by the database itself in
the transaction of every change: triggers on connections, their sync settings, account mappings and chart

Revision ID: 0024
Revises: 0020
Create Date: 2026-12-02 17:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0020"
branch_labels = None
depends_on = None

# The tables whose rows `/accounts status` shows, and how a row names its workspace. A new table status shows gets
# its triggers here (a later migration), and `storage.status_version` says what the counter covers.
BY_WORKSPACE = ("connections",)
BY_CONNECTION = ("sync_settings", "account_mappings", "chart_accounts", "chart_tax_rates")
OPERATIONS = ("insert", "update", "delete")


def _sqlite_workspace(table: str, row: str) -> str:
    if table in BY_WORKSPACE:
        return f"{row}.workspace_id"
    return f"(SELECT workspace_id FROM connections WHERE id = {row}.connection_id)"


def _sqlite_trigger(table: str, operation: str) -> str:
    rows = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}[operation]
    workspaces = ", ".join(_sqlite_workspace(table, row) for row in rows)
    return (
        f"CREATE TRIGGER status_version_{table}_{operation} AFTER {operation.upper()} ON {table} FOR EACH ROW "
        f"BEGIN UPDATE workspaces SET status_version = status_version + 1 WHERE id IN ({workspaces}); END"
    )


# PostgreSQL: one function for the tables that name their workspace, one for those that name their connection.
POSTGRESQL_FUNCTIONS = {
    "status_version_by_workspace": "workspace_id",
    "status_version_by_connection": "connection_id",
}


def _postgresql_function(name: str, column: str) -> str:
    if column == "workspace_id":
        bump = "UPDATE workspaces SET status_version = status_version + 1 WHERE id = {row}.workspace_id;"
    else:
        bump = (
            "UPDATE workspaces SET status_version = status_version + 1 "
            "WHERE id = (SELECT workspace_id FROM connections WHERE id = {row}.connection_id);"
        )
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {bump.format(row="NEW")}
    ELSIF TG_OP = 'DELETE' THEN
        {bump.format(row="OLD")}
    ELSE
        {bump.format(row="OLD")}
        IF NEW.{column} IS DISTINCT FROM OLD.{column} THEN
            {bump.format(row="NEW")}
        END IF;
    END IF;
    RETURN NULL;
END
$$"""


def upgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_version", sa.Integer(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        for name, column in POSTGRESQL_FUNCTIONS.items():
            op.execute(_postgresql_function(name, column))
        for table in BY_WORKSPACE + BY_CONNECTION:
            function = "status_version_by_workspace" if table in BY_WORKSPACE else "status_version_by_connection"
            op.execute(
                f"CREATE TRIGGER status_version_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
    else:
        for table in BY_WORKSPACE + BY_CONNECTION:
            for operation in OPERATIONS:
                op.execute(_sqlite_trigger(table, operation))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in BY_WORKSPACE + BY_CONNECTION:
            op.execute(f"DROP TRIGGER status_version_{table} ON {table}")
        for name in POSTGRESQL_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for table in BY_WORKSPACE + BY_CONNECTION:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER status_version_{table}_{operation}")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("status_version")
