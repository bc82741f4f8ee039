"""Engines and sessions: SQLite (WAL, busy timeout, foreign keys) by default, PostgreSQL for several processes."""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from storage.crypto import SecretBox
from storage.json_columns import json_text, json_value

SQLITE_BUSY_TIMEOUT_MS = 10_000
# SQLite copies the write-ahead log into the database (and waits for the disk) once the log holds this many pages:
# SQLite's 1,000 (4 MiB) made an import of 100,000 customers checkpoint every few pages of them, each checkpoint
# rewriting the same index pages; 64 MiB is one checkpoint every few tens of pages, ~15 % of the import's time.
SQLITE_WAL_CHECKPOINT_PAGES = 16_384
SQLITE_WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes the log file is cut back to after a checkpoint


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs = {"json_serializer": json_text, "json_deserializer": json_value, **kwargs}
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling defers BEGIN; take it over so that
            # `BEGIN IMMEDIATE` can be issued where a writer must not be overtaken.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
            cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_SIZE_LIMIT}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock at once: the SQLite form of "lock this row for update".
            conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', '')}".strip())

        return engine
    # No automatic server-side prepared statements: psycopg keeps, per connection, the text of the last 100
    # statements it counted towards preparing, and an import's multi-row INSERTs (a different text for each
    # row count) made that tens of megabytes. Our statements are cheap to plan, and poolers such as
    # PgBouncer in transaction mode do not carry prepared statements across transactions anyway.
    connect_args = {"prepare_threshold": None, **kwargs.pop("connect_args", {})}
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    event.listen(engine, "checkin", _idle_from_now)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


# A pooled PostgreSQL connection is tried before it is handed out only if it sat unused this long: one that was in
# use a moment ago is alive, and trying it anyway (SQLAlchemy's `pool_pre_ping`) was a round trip every session, six
# a page of an import, each waiting for the importing threads to let go of the interpreter (2.5-5 ms apiece).
PING_AFTER_IDLE_SECONDS = 1.0


def _idle_from_now(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A connection idle for a while (the server may have closed it, or restarted) is tried first; a dead one is
    thrown away and the pool hands out another (SQLAlchemy's documented pessimistic check, raising
    `DisconnectionError` at checkout). A new connection has no `idle_since` and is not tried."""
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as exc:
        raise DisconnectionError(f"the connection was closed while idle: {exc}") from exc


class WriterTurns:
    """SQLite: this process's writers take the write lock in turn, first come first served (`turn`).

    SQLite's own wait for its write lock (the busy timeout) sleeps and tries again, a millisecond at first and 100 ms
    at a time after a while, and whoever asks at the right moment gets the lock. A thread writing transaction after
    transaction (an import's pages, each begun within a millisecond of the one before) got it every time, and another
    thread's write (a Slack action, a token's refresh, the lease's renewal) waited seconds for a gap, up to the busy
    timeout and its "database is locked". Here a writer waits in line and is handed its turn as the writer before it
    lets go. A thread's write inside its own goes on as before (to SQLite, which refuses it after the timeout), and so
    does a writer that waited out the timeout here. Writers in other processes still meet SQLite's busy timeout."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._guard = threading.Condition(threading.Lock())  # notified as a thread joins the line
        self._holder: int | None = None  # the thread whose turn it is
        self._depth = 0  # its turns inside its turn
        self._line: deque[tuple[int, threading.Lock]] = deque()  # the threads waiting, with the lock each waits on

    def waiting(self) -> int:
        """How many threads wait for their turn."""
        with self._guard:
            return len(self._line)

    def until_waiting(self, count: int, timeout: float) -> bool:
        """Wait until at least `count` threads wait for their turn; False if they did not within `timeout`."""
        with self._guard:
            return self._guard.wait_for(lambda: len(self._line) >= count, timeout)

    @contextmanager
    def turn(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._guard:
            if self._holder == me:
                self._depth += 1
                mine = True
            elif self._holder is None and not self._line:
                self._holder, mine = me, True
            else:
                ticket = threading.Lock()
                ticket.acquire()
                self._line.append((me, ticket))
                self._guard.notify_all()
                mine = False
        if not mine:
            ticket.acquire(timeout=self._timeout)
            with self._guard:
                mine = self._holder == me  # handed over, however late: the turn is this thread's
                if not mine:  # waited the busy timeout out: SQLite decides, as it did before the turns
                    self._line.remove((me, ticket))
        try:
            yield
        finally:
            if mine:
                self._pass_on()

    def _pass_on(self) -> None:
        with self._guard:
            if self._depth:
                self._depth -= 1
            elif self._line:
                self._holder, ticket = self._line.popleft()
                ticket.release()
            else:
                self._holder = None


class Database:
    """The engine, a session factory and the secret box used for columns that hold secrets."""

    def __init__(self, url: str, box: SecretBox, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.box = box
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writer_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        # Statements that stand alone (a read that needs no other, a write atomic by itself): on PostgreSQL sent
        # without a transaction around them (autocommit), one round trip each instead of three (BEGIN, the
        # statement, COMMIT or ROLLBACK); on SQLite the engine as it is (its BEGIN and COMMIT are no round trips).
        self.statements = self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._disposed = False
        event.listen(self.engine, "checkin", self._close_after_dispose)
        self.writers = WriterTurns(SQLITE_BUSY_TIMEOUT_MS / 1000) if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, *, write_lock: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises.

        `write_lock=True` makes SQLite take its database-wide write lock at BEGIN (other processes wait; this
        process's threads wait their turn: `WriterTurns`); on PostgreSQL pair it with `SELECT ... FOR UPDATE` on the
        rows to guard.
        """
        if write_lock and self.writers is not None:
            with self.writers.turn(), self._writer_sessions() as session, session.begin():
                yield session
            return
        factory = self._writer_sessions if write_lock else self._sessions
        with factory() as session, session.begin():
            yield session

    def refresh_statistics(self, tables: Mapping[str, Sequence[str]], *, sample: int | None = None) -> None:
        """Have PostgreSQL look at `tables` again after they grew a lot (a bulk import): the columns given for each
        (all of them for none), and its size. Its statistics come from autovacuum, which may run a minute later;
        until then the planner believes a table holds the few rows it had, and picks plans (a scan of every row of
        a connection for each page) that make a large import quadratic. `sample`: the statistics target of this
        look (ANALYZE reads 300 rows for each unit of it), for a quick one at tables still growing; the server's
        own (100 unless configured) for None. SQLite plans from its indexes alone, so there is nothing to do
        there."""
        if self.is_sqlite:
            return
        quote = self.engine.dialect.identifier_preparer.quote
        named = [quote(t) + (f" ({', '.join(map(quote, c))})" if c else "") for t, c in tables.items()]
        with self.engine.begin() as conn:  # a transaction of its own (ANALYZE may run in one), the target set for it
            if sample is not None:
                conn.exec_driver_sql(f"SET LOCAL default_statistics_target = {int(sample)}")
            conn.exec_driver_sql("ANALYZE " + ", ".join(named))

    def dispose(self) -> None:
        """Close the connections: those in the pool now, and those still in use (a thread finishing its work as the
        bot stops) when they come back, rather than leaving them open for the garbage collector to find."""
        self._disposed = True
        self.engine.dispose()

    def _close_after_dispose(self, dbapi_connection: Any, record: Any) -> None:
        if self._disposed and dbapi_connection is not None:
            record.invalidate()
