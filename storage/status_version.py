"""How a process knows, with one indexed read, whether what `/accounts status` shows of a workspace changed.

The database itself logs every change (`status_changes`, triggers of migration 0024): each insert, update or delete
of the workspace's connections, their sync settings, account mappings and chart (accounts and tax rates) adds a
row in its own transaction, whichever process, session or bulk statement wrote it. Rows are only inserted, so
writers never wait on each other for it. The workspace's own column status shows (whether Slack was removed) is
read beside it. A table status comes to show needs triggers of its own (a new migration) before a cached answer may
rely on this.

The version is the newest id *and* how many rows there are: on PostgreSQL a transaction may commit after one that
took a later id, so a change can become visible without the newest id moving, but never without the count
growing. `prune_status_changes` folds a workspace's rows into one new row, whose id is newer than every id taken
before it, so the count falling never hides a change.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, Dialect, Integer, bindparam, delete, func, insert, select, text
from sqlalchemy.exc import OperationalError

from storage import commit_watch
from storage.db import Database
from storage.models import StatusChange, Workspace

_WORKSPACE: BindParameter[int] = bindparam("workspace_id", type_=Integer)
_READ = select(
    select(func.max(StatusChange.id)).where(StatusChange.workspace_id == _WORKSPACE).scalar_subquery(),
    select(func.count(StatusChange.id)).where(StatusChange.workspace_id == _WORKSPACE).scalar_subquery(),
    Workspace.uninstalled_at,
).where(Workspace.id == _WORKSPACE)

PRUNE_LOCK_WAIT_MS = 500  # how long the pruning waits for writers in flight; writers then wait for it as long


@cache
def _statement(dialect: Dialect) -> tuple[str, Sequence[str] | None]:
    """`_READ` in the driver's own words, and the order of its parameters when the driver takes them by position."""
    compiled = _READ.compile(dialect=dialect)
    return compiled.string, compiled.positiontup if compiled.positional else None


class StatusVersions:
    """`status_version`, read on every `/accounts status`, on a few connections kept for it alone in autocommit
    (one SELECT is its own transaction): taking one from the engine's pool and giving it back, with the pool's
    bookkeeping and, on PostgreSQL, its ping before and rollback after (two round trips more), cost more than the
    read. A kept connection that fails (the server closed it) is dropped and the read tried once on a new one.

    On SQLite a version read is given again, without a query, while nothing has committed to the database since
    the moment before it was read (`storage.commit_watch`): any commit, by any process, to any table, reads again.
    Thread-safe; `close()` closes them."""

    # Idle connections kept: as many as the bot's threads that serve Slack's requests read at once (the web side's
    # 20 workers, `bot.web.dispatch.WORKERS`); more are opened while more threads read at once, and closed after.
    # With 4 kept, under the ack bench's 50 connections the reads beyond them each opened a connection and closed
    # it (on SQLite its pragmas run again, on PostgreSQL a server process starts): status cost 0.02-0.17 ms more
    # CPU a request than with 20 (four paired 5-second loads on SQLite). On PostgreSQL a kept connection is a server
    # process and counts against `max_connections`, which several bot processes share: 4 there.
    KEEP_SQLITE, KEEP_POSTGRESQL = 20, 4

    def __init__(self, db: Database) -> None:
        self.db = db
        self._keep = self.KEEP_SQLITE if db.is_sqlite else self.KEEP_POSTGRESQL
        self._idle: list[Any] = []  # pool connections detached from the pool (`PoolProxiedConnection`)
        self._closed = False
        # Closed as well when this is dropped unclosed (psycopg warns of a connection deleted while open).
        weakref.finalize(self, _close_all, self._idle)
        self._watch = commit_watch.watch(self._connect()) if db.is_sqlite else None
        if self._watch is not None:
            weakref.finalize(self, self._watch.close)
        # The versions read since the commit marker read before them (each read after it): given again while the
        # marker is the same. Replaced whole, never changed but by adding, so a reader sees a marker with its own.
        self._since: tuple[bytes, dict[int, Hashable | None]] = (b"", {})

    def read(self, *, workspace_id: int) -> Hashable | None:
        """A value that differs whenever what status shows of the workspace changed since it was read (None: no
        such workspace). Read it before reading what it stands for, so what was read is at least as new as the
        value. Read through the driver: one SELECT is consistent on its own."""
        marker = self._watch.marker() if self._watch is not None else None
        if marker is not None:
            read_after, versions = self._since
            if read_after == marker and workspace_id in versions:
                return versions[workspace_id]
        dialect = self.db.engine.dialect
        try:
            connection = self._idle.pop()  # atomic: no two threads get the same one
        except IndexError:
            connection = self._connect()
        try:
            version = _read(connection.dbapi_connection, dialect, workspace_id)
        except dialect.loaded_dbapi.Error:
            connection.close()
            connection = self._connect()
            try:
                version = _read(connection.dbapi_connection, dialect, workspace_id)
            except BaseException:
                connection.close()
                raise
        if len(self._idle) < self._keep and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()
        if marker is not None:
            since = self._since
            if since[0] != marker:
                since = self._since = (marker, {})
            since[1][workspace_id] = version
        return version

    def close(self) -> None:
        self._closed = True
        _close_all(self._idle)
        if self._watch is not None:
            self._watch.close()

    def _connect(self) -> Any:
        connection = self.db.engine.raw_connection()
        connection.detach()  # closed when closed, not returned to the pool
        driver: Any = connection.dbapi_connection
        if self.db.is_sqlite:
            driver.isolation_level = None  # as the engine sets it: no implicit BEGIN
        else:
            driver.autocommit = True
        return connection


def _close_all(connections: list[Any]) -> None:
    while True:
        try:
            connection = connections.pop()
        except IndexError:
            return
        connection.close()


def _read(dbapi_connection: Any, dialect: Dialect, workspace_id: int) -> Hashable | None:
    sql, order = _statement(dialect)
    values: dict[str, Any] = {"workspace_id": workspace_id}
    parameters: Any = values if order is None else tuple(values[name] for name in order)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, parameters)
        rows = cursor.fetchall()  # to the end: SQLite's read ends with the statement
    finally:
        cursor.close()
    return tuple(rows[0]) if rows else None


def prune_status_changes(db: Database) -> int | None:
    """Fold the rows of each workspace that has several into one new row; returns how many rows fewer there are, or
    None when writers kept the log busy (tried again next time).

    On PostgreSQL it first waits, briefly, until no transaction that logged a change is in flight and keeps new
    ones out until it commits: then the new row's id is newer than every id already taken (see the module's
    docstring), and no row logged but not yet visible is left behind under an older id."""
    try:
        with db.session(write_lock=True) as s:
            if not db.is_sqlite:
                s.execute(text(f"SET LOCAL lock_timeout = '{PRUNE_LOCK_WAIT_MS}ms'"))
                s.execute(text("LOCK TABLE status_changes IN SHARE ROW EXCLUSIVE MODE"))
            folded = select(StatusChange.workspace_id).group_by(StatusChange.workspace_id).having(func.count() > 1)
            several = list(s.scalars(folded))
            if not several:
                return 0
            gone = s.scalars(
                delete(StatusChange).where(StatusChange.workspace_id.in_(folded)).returning(StatusChange.id)
            ).all()
            s.execute(insert(StatusChange), [{"workspace_id": workspace_id} for workspace_id in several])
            return len(gone) - len(several)
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available: writers in flight all along
            return None
        raise
