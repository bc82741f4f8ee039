"""The PostgreSQL database of one test process (TEST_DATABASE_URL): created and migrated once, then emptied before
each test, which costs a few milliseconds where dropping the schema and running every migration again cost 0.2 s.

Emptying deletes the rows of the tables that have any and restarts every sequence that was used, so ids start at 1
again; a table PostgreSQL has analysed, or one grown large, is truncated instead, so that it looks never analysed
(`pg_class.reltuples` -1) as a new table does and keeps no dead rows. When the schema is not the migrated one (a test
downgraded it, or added a table) it is dropped and migrated again. A test that needs an empty, unmigrated database
gets a second database of the process's own (`empty_schema`), never this one.
"""

from __future__ import annotations

import uuid

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from storage import migrate
from storage.crypto import SecretBox
from storage.db import Database
from storage.models import Base

# How long emptying waits for a table that a connection still open from an earlier test holds, before failing
# with that connection named (the old way, dropping the schema, waited until pytest-timeout stopped the run).
LOCK_TIMEOUT = "10s"
LARGE_TABLE_BYTES = 1 << 20


class LeftOpen(Exception):
    """A connection left open by an earlier test holds a table of this database."""


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class TestDatabases:
    """This process's databases on the server of `server_url`: `url` (migrated) and `empty_url` (made on first use),
    both dropped by `drop()`."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, server_url: str, key: str) -> None:
        self.server_url, self.key = server_url, key
        self.name = f"accounts_bot_test_{uuid.uuid4().hex[:12]}"
        self.url = make_url(server_url).set(database=self.name).render_as_string(hide_password=False)
        self.empty_url: str | None = None
        self._admin = psycopg.connect(_conninfo(server_url), autocommit=True)
        self._admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self._conn = psycopg.connect(_conninfo(self.url), autocommit=True, options=f"-c lock_timeout={LOCK_TIMEOUT}")
        self._migrate()
        self._tables = self._table_names()
        # Children before parents, so that no row is deleted while another still points at it.
        self._order = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name in self._tables]
        self._order += sorted(self._tables - set(self._order) - {"alembic_version"})
        self._head = migrate.head_revision()
        self._rows_query = sql.SQL("SELECT {}").format(
            sql.SQL(", ").join(sql.SQL("EXISTS (SELECT FROM {})").format(sql.Identifier(t)) for t in self._order)
        )

    def _migrate(self) -> None:
        database = Database(self.url, SecretBox(self.key))
        try:
            migrate.upgrade(database.engine)
        finally:
            database.dispose()

    def _table_names(self) -> set[str]:
        rows = self._conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
        )
        return {name for (name,) in rows}

    def _migrated(self) -> bool:
        if self._table_names() != self._tables:
            return False
        versions = self._conn.execute("SELECT version_num FROM alembic_version").fetchall()
        return versions == [(self._head,)]

    def reset(self) -> None:
        """Leave the migrated database as it was just after migrating: no rows, sequences at their start."""
        try:
            if not self._migrated():
                self._rebuild()
                return
            with self._conn.transaction():
                self._empty()
                self._reset_sequences()
        except psycopg.errors.LockNotAvailable as exc:
            raise LeftOpen(
                f"A connection left open by an earlier test still holds a table of {self.name} "
                f"(after {LOCK_TIMEOUT}): {self._others()}. That test must stop what it started."
            ) from exc

    def _empty(self) -> None:
        # Again if need be: a deletion can log rows into another table through a trigger (`status_changes`).
        for _ in range(3):
            (has_rows,) = self._conn.execute(self._rows_query).fetchall()
            used = [table for table, rows in zip(self._order, has_rows, strict=True) if rows]
            if not used:
                break
            self._empty_tables(used)
        else:
            raise AssertionError(f"{self.name} still has rows after emptying it three times")

    def _empty_tables(self, used: list[str]) -> None:
        truncate = {
            name
            for (name,) in self._conn.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND relname = ANY(%s) AND (reltuples >= 0 OR pg_relation_size(oid) > %s)",
                (used, LARGE_TABLE_BYTES),
            )
        }
        if truncate:
            names = sql.SQL(", ").join(sql.Identifier(t) for t in self._order if t in truncate)
            self._conn.execute(sql.SQL("TRUNCATE {} CASCADE").format(names))
        for table in used:
            if table not in truncate:
                self._conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))

    def _reset_sequences(self) -> None:
        self._conn.execute(
            "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
            "FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL"
        )

    def _rebuild(self) -> None:
        self._conn.execute("DROP SCHEMA public CASCADE")
        self._conn.execute("CREATE SCHEMA public")
        self._migrate()
        self._tables = self._table_names()

    def _others(self) -> str:
        rows = self._conn.execute(
            "SELECT pid, state, left(query, 120) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return "; ".join(f"pid {pid} {state}: {query}" for pid, state, query in rows) or "none now"

    def empty_schema(self) -> str:
        """The URL of this process's second database, with nothing in it: not even the migrations' table."""
        if self.empty_url is None:
            name = self.name + "_empty"
            self._admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            self.empty_url = make_url(self.url).set(database=name).render_as_string(hide_password=False)
        with psycopg.connect(_conninfo(self.empty_url), autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        return self.empty_url

    def drop(self) -> None:
        self._conn.close()
        for name in (self.name, self.name + "_empty"):
            self._admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self._admin.close()
