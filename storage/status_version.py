"""How a process knows, with one indexed read, whether what `/accounts status` shows of a workspace changed.

`workspaces.status_version` is bumped by the database itself (triggers, migration 0024) in the transaction of every
insert, update or delete of the rows status shows: the workspace's connections, their sync settings, account
mappings and chart (accounts and tax rates), whichever process, session or bulk statement writes them. The
workspace's own column status shows (whether Slack was removed) is read beside it. A table status comes to show
needs triggers of its own (a new migration) before a cached answer may rely on this.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Dialect, bindparam, select

from storage.db import Database
from storage.models import Workspace

_READ = select(Workspace.status_version, Workspace.uninstalled_at).where(Workspace.id == bindparam("workspace_id"))


@cache
def _statement(dialect: Dialect) -> tuple[str, Sequence[str] | None]:
    """`_READ` in the driver's own words, and the order of its parameters when the driver takes them by position."""
    compiled = _READ.compile(dialect=dialect)
    return compiled.string, compiled.positiontup if compiled.positional else None


def status_version(db: Database, *, workspace_id: int) -> Hashable | None:
    """A value that differs whenever what status shows of the workspace changed since it was read (None: no such
    workspace). Read it before reading what it stands for, so what was read is at least as new as the value.

    Read on every `/accounts status`, so through the driver: one SELECT is consistent on its own, and SQLAlchemy's
    transaction around it (on SQLite a BEGIN and a ROLLBACK of ours) cost more than the read."""
    sql, order = _statement(db.engine.dialect)
    values: dict[str, Any] = {"workspace_id": workspace_id}
    parameters: Any = values if order is None else tuple(values[name] for name in order)
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, parameters)
            row = cursor.fetchone()
        finally:
            cursor.close()
    finally:
        connection.close()  # back to the pool, which ends PostgreSQL's transaction
    return None if row is None else tuple(row)
