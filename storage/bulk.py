"""Bulk writes for hot paths: one `executemany` through the database driver, with values already in the form the
driver takes, and ids for new rows taken ahead, so no RETURNING is needed (SQLite cannot return rows from an
executemany, and SQLAlchemy then inserts one row per statement).

SQLAlchemy's statements cost some 10 µs a row in parameter processing; a page of a thousand contacts written
this way costs the driver's time and little else. The caller's transaction is used, never committed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import ARRAY, Column, ColumnElement, String, Table, bindparam, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.selectable import TableValuedAlias


def among(
    session: Session, column: InstrumentedAttribute[str] | ColumnElement[str], values: Collection[str]
) -> ColumnElement[bool]:
    """`column IN values`. SQLite: the values bound as one parameter, a JSON array read by `json_each`, so the
    statement's text is the same whatever the number of values and a thousand bind parameters are not rendered
    into every page's statement (which cost more than running it); the column's index is used. PostgreSQL: the
    values as a literal list padded to a power of two (`padded`): bound as one array (`= ANY`, or `IN (SELECT
    unnest(...))`) its plans at 100,000 customers scanned whole tables each page in the bench."""
    if session.get_bind().dialect.name == "postgresql":
        return column.in_(padded(values))
    keys = func.json_each(bindparam(None, orjson.dumps(list(values)).decode(), type_=String)).table_valued("value")
    return column.in_(select(keys.c.value))


def keys_table(values: Collection[str]) -> TableValuedAlias:
    """PostgreSQL: `values` as a table of one column `value`, one array parameter unnested, to join to an index's
    column: the planner then probes the index once a key (it estimates an unnested parameter at a few rows), where
    an `IN` of a page's thousand keys, literal or bound, had it scan the whole table for each page (a parallel
    scan of every reference: 40-80 ms a page at 100,000, growing with the table)."""
    return func.unnest(bindparam(None, sorted(set(values)), type_=ARRAY(String))).table_valued("value").render_derived()


def padded(keys: Iterable[str]) -> list[str]:
    """`keys` for an `IN (...)`, padded with repeats to a power of two: one SQL text per size class instead of one
    per page, so the database's statement cache holds a dozen statements, not one for every page of an import."""
    unique = sorted(set(keys))
    if not unique:
        return unique
    size = 1 << (len(unique) - 1).bit_length()
    return unique + [unique[-1]] * (size - len(unique))


class BulkWriter:
    """Inserts and updates of many rows of one table at a time, in `session`'s transaction."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.dialect = self.connection.dialect
        self._mark = "?" if self.dialect.paramstyle == "qmark" else "%s"
        self._quote = self.dialect.identifier_preparer.quote

    @property
    def is_sqlite(self) -> bool:
        return self.dialect.name == "sqlite"

    def processor(self, column: Column[Any]) -> Callable[[Any], Any]:
        """What SQLAlchemy would do to a value of `column` before handing it to the driver (UTC datetimes as
        SQLite's text, for instance): applied once for a value every row shares, or per row for the few that
        need it."""
        process = column.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        return process or (lambda value: value)

    def new_ids(self, table: Table, count: int) -> list[int]:
        """`count` ids for rows about to be inserted into `table` (an integer primary key `id`). PostgreSQL
        hands them out from the column's sequence; SQLite gives a new row the largest id plus one, and while
        this transaction writes no other can (a writer that came between our read and our first write makes
        that write fail rather than collide), so the next `count` after the largest are ours."""
        if count == 0:
            return []
        name = self._quote(table.name)
        if self.is_sqlite:
            largest = self.connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {name}").scalar_one()
            return list(range(largest + 1, largest + 1 + count))
        rows = self.connection.execute(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
            {"table": table.name, "count": count},
        )
        return [row[0] for row in rows]

    def insert(self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Insert `rows` (values in the order of `columns`, already processed) into `table`."""
        if not rows:
            return
        names = ", ".join(self._quote(c) for c in columns)
        if self.is_sqlite:
            marks = ", ".join(self._mark for _ in columns)
            self._many(f"INSERT INTO {self._quote(table.name)} ({names}) VALUES ({marks})", rows)
            return
        # PostgreSQL: COPY, in this transaction (psycopg's executemany sends a statement per row). What the
        # driver raises is translated as SQLAlchemy translates it (a value refused is a `DataError`).
        statement = f"COPY {self._quote(table.name)} ({names}) FROM STDIN"
        dbapi = self.dialect.loaded_dbapi
        try:
            with self.connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                with cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
        except dbapi.Error as exc:
            raise DBAPIError.instance(statement, None, exc, dbapi.Error, dialect=self.dialect) from exc

    def update(self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Set `columns` of the rows whose id is each row's last value."""
        if not rows:
            return
        assignments = ", ".join(f"{self._quote(c)} = {self._mark}" for c in columns)
        self._many(f"UPDATE {self._quote(table.name)} SET {assignments} WHERE id = {self._mark}", rows)

    def _many(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        self.connection.exec_driver_sql(statement, rows)
