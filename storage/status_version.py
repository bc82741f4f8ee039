"""How a process knows, with one indexed read, whether what `/accounts status` shows of a workspace changed.

`workspaces.status_version` is bumped by the database itself (triggers, migration 0024) in the transaction of every
insert, update or delete of the rows status shows: the workspace's connections, their sync settings, account
mappings and chart (accounts and tax rates), whichever process, session or bulk statement writes them. The
workspace's own column status shows (whether Slack was removed) is read beside it. A table status comes to show
needs triggers of its own (a new migration) before a cached answer may rely on this.
"""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy import bindparam, select

from storage.db import Database
from storage.models import Workspace

_READ = select(Workspace.status_version, Workspace.uninstalled_at).where(Workspace.id == bindparam("workspace_id"))


def status_version(db: Database, *, workspace_id: int) -> Hashable | None:
    """A value that differs whenever what status shows of the workspace changed since it was read (None: no such
    workspace). Read it before reading what it stands for, so what was read is at least as new as the value."""
    with db.engine.connect() as connection:
        row = connection.execute(_READ, {"workspace_id": workspace_id}).one_or_none()
    return None if row is None else (row.status_version, row.uninstalled_at)
