"""Bulk writes for hot paths: one `executemany` through the database driver, with values already in the form the
driver takes, and ids for new rows taken ahead, so no RETURNING is needed (SQLite cannot return rows from an
executemany, and SQLAlchemy then inserts one row per statement).

SQLAlchemy's statements cost some 10 µs a row in parameter processing; a page of a thousand contacts written
this way costs the driver's time and little else. The caller's transaction is used, never committed.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.models.base import UTCDateTime


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


def ids_in_order(
    session: Session, ids: InstrumentedAttribute[int], where: Sequence[ColumnElement[bool]], order: Sequence[Any]
) -> array[int]:
    """The `ids` of the rows `where` holds, in `order`, read as one value rather than a row each: the database joins
    them into one text in that order (SQLite's `group_concat` over the ordered rows, whose order SQLite keeps for an
    aggregate other than count, min and max; PostgreSQL's `string_agg` with the order inside it, as its manual
    says to), one step of the driver where a row each was one step each. On SQLite each step lets go of the
    interpreter and takes it back: beside a thread running Python, thousands of steps waited their turn each, and
    the ids of a run's 8,000 new customers took 27-33 ms at the end of an import where they took 13 ms alone (a
    server-side cursor on PostgreSQL was a round trip each thousand). The text is read a slice at a time, so its
    pieces never stand at once for every id (64 KiB of text at a time: some 9,000 ids)."""
    if session.get_bind().dialect.name == "postgresql":
        joined = func.string_agg(cast(ids, Text), aggregate_order_by(literal(","), *order))
        statement = select(joined).where(*where)
    else:
        ordered = select(ids.label("id")).where(*where).order_by(*order).subquery()
        statement = select(func.group_concat(ordered.c.id, ","))
    listed: str = session.connection().execute(statement).scalar_one() or ""  # NULL where no row holds
    found: array[int] = array("q")
    start, size = 0, len(listed)
    while start < size:
        end = listed.find(",", start + _IDS_SLICE)
        end = size if end < 0 else end
        found.extend(map(int, listed[start:end].split(",")))
        start = end + 1
    return found


_IDS_SLICE = 65_536  # characters of `ids_in_order`'s text read at a time


def padded(keys: Iterable[str]) -> list[str]:
    """`keys` for an `IN (...)`, padded with repeats to a power of two: one SQL text per size class instead of one
    per page, so the database's statement cache holds a dozen statements, not one for every page of an import."""
    unique = sorted(set(keys))
    if not unique:
        return unique
    size = 1 << (len(unique) - 1).bit_length()
    return unique + [unique[-1]] * (size - len(unique))


def utc_datetime(value: datetime | None) -> datetime | None:
    """A value of a `UTCDateTime` column as its processor hands it to the driver: in UTC, a naive one refused."""
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given where a UTC one is required")
    return value.astimezone(UTC)


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


def utc_datetime_text(value: datetime | None) -> str | None:
    """The same for SQLite: the text SQLAlchemy's SQLite dialect writes for it (microseconds always present). Made
    from the two-digit texts of the numbers, not by formatting them: a record's `provider_updated_at` each, 7,900
    instructions under callgrind against 13,100 for %-formatting (itself a third cheaper than format specifiers)."""
    utc = utc_datetime(value)
    if utc is None:
        return None
    year = utc.year
    if year < 1000:  # written with its leading zeros
        return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031
            *(year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond),
        )
    two = _TWO_DIGITS
    micro = str(utc.microsecond + 1_000_000)[1:]  # six digits
    return f"{year}-{two[utc.month]}-{two[utc.day]} {two[utc.hour]}:{two[utc.minute]}:{two[utc.second]}.{micro}"


NONE: Mapping[str, Any] = MappingProxyType({})  # no values shared by every row
_KEPT_IDS = "accounts_bot.kept_ids"  # a connection's `info`: ids taken from a table's sequence, not yet used
ID_BLOCK = 4096  # ids taken from a sequence at a time at most (PostgreSQL): four pages of new customers
_MAY_LEAVE_CHECKS_OUT = "accounts_bot.may_leave_checks_out"  # a connection's `info`: `keys_checked_once` may
# PostgreSQL: `count` values of the table's id sequence, in one array. Its name is looked up once, in a CTE PostgreSQL
# must compute before the rows: written in the select list (or a plain subquery, which the planner folds in), the
# catalog look-up ran for every value, 11-14 ms a page of 1,000 against 1 ms. One array rather than a row a value:
# 4,096 rows read one by one through the result cost the importing thread 6.5-7 ms, the array 2.1-2.5 ms.
_NEXT_IDS = text(
    "WITH sequence AS MATERIALIZED (SELECT CAST(pg_get_serial_sequence(:table, 'id') AS regclass) AS id) "
    "SELECT array_agg(nextval(sequence.id)) FROM sequence CROSS JOIN generate_series(1, :count)"
)


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
        need it. A UTC datetime column's is done here in one step (`utc_datetime`): SQLAlchemy's, a type's
        processor around the dialect's, cost some 1.7 µs a value on SQLite (this one 0.7 µs), a record's
        `provider_updated_at` each."""
        if isinstance(column.type, UTCDateTime):
            return utc_datetime_text if self.is_sqlite else utc_datetime
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
        # PostgreSQL: taken for four such writes at a time (up to a block) and kept with the connection (a value a
        # sequence gave is never given again, whatever becomes of the transaction), so three pages of an import in
        # four ask for none: a round trip less a page. What a connection kept is lost when it closes: three times
        # what was asked at most (the ids are 32-bit; a sync of a few new customers on a new connection each time
        # must not spend thousands).
        kept: list[int] = self.connection.info.setdefault((_KEPT_IDS, table.name), [])
        if len(kept) < count:
            wanted = max(count - len(kept), min(ID_BLOCK, 4 * count))
            # in order (an aggregate keeps the order it is told, none here): a page's ids are consecutive as a rule
            kept.extend(sorted(self.connection.execute(_NEXT_IDS, {"table": table.name, "count": wanted}).scalar_one()))
        ids = kept[:count]
        del kept[:count]
        return ids

    def insert(
        self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]], shared: Mapping[str, Any] = NONE
    ) -> None:
        """Insert `rows` (values in the order of `columns`, already processed) into `table`, each with the values
        in `shared` (processed too: the run, the moment), which are the same for every row."""
        if not rows:
            return
        if self.is_sqlite:
            columns, rows, shared = _constants_shared(columns, rows, shared)
            names = ", ".join(self._quote(c) for c in (*columns, *shared))
            marks = ", ".join([self._mark] * len(columns) + [self._literal(v) for v in shared.values()])
            self._many(f"INSERT INTO {self._quote(table.name)} ({names}) VALUES ({marks})", rows)
            return
        names = ", ".join(self._quote(c) for c in (*columns, *shared))
        # PostgreSQL: COPY, in this transaction (psycopg's executemany sends a statement per row). What the
        # driver raises is translated as SQLAlchemy translates it (a value refused is a `DataError`).
        statement = f"COPY {self._quote(table.name)} ({names}) FROM STDIN (FORMAT BINARY)"
        dbapi = self.dialect.loaded_dbapi
        extra = tuple(shared.values())
        types = [_binary_type(table.c[name]) for name in (*columns, *shared)]
        try:
            with self.connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                with cursor.copy(statement) as copy:
                    copy.set_types(types)
                    for row in rows:
                        copy.write_row((*row, *extra) if extra else row)
        except dbapi.Error as exc:
            raise DBAPIError.instance(statement, None, exc, dbapi.Error, dialect=self.dialect) from exc

    @contextmanager
    def keys_checked_once(self, parents: Mapping[str, int]) -> Iterator[bool]:
        """Inserts in the block have their foreign keys checked once, not once a row, where the database lets us:
        PostgreSQL checks each row's keys with a query of its own at the end of each statement (its foreign keys'
        triggers: some 40 % of the server's work on a page of new customers and their references). Each parent row
        (`parents`: its table's name, its id) is locked here as those checks would lock it (FOR KEY SHARE: it cannot
        be deleted before the transaction ends), then the checks are left out until the block ends
        (`session_replication_role`, which a superuser, or a user granted SET on it, may set). Yields whether they
        were: not on SQLite (whose checks are cheap), not where the user may not, nor where a parent is missing
        (the rows' own checks then refuse them, as they would have). The caller vouches that its rows reference
        nothing but `parents` and rows written earlier in this transaction, which no one else can delete, and that
        their tables have no trigger of their own (the setting leaves out every trigger)."""
        if self.is_sqlite or not parents or not self._may_leave_checks_out():
            yield False
            return
        joined = " CROSS JOIN ".join(f"{self._quote(table)} AS p{i}" for i, table in enumerate(parents))
        where = " AND ".join(f"p{i}.id = {self._mark}" for i in range(len(parents)))
        # one round trip: the setting is made (as SET LOCAL makes it) only once every parent is found and locked
        found = self.connection.exec_driver_sql(
            "SELECT set_config('session_replication_role', 'replica', true) "
            f"FROM (SELECT 1 FROM {joined} WHERE {where} FOR KEY SHARE) AS locked",
            tuple(parents.values()),
        ).first()
        if found is None:
            yield False
            return
        yield True
        # not reached when the block raised: rolling back the statement's transaction or savepoint undoes the SET
        self.connection.exec_driver_sql("SET LOCAL session_replication_role = DEFAULT")

    def _may_leave_checks_out(self) -> bool:
        """Whether this connection's user may set `session_replication_role` (asked once a connection)."""
        info = self.connection.info
        if (may := info.get(_MAY_LEAVE_CHECKS_OUT)) is None:
            statement = "SELECT current_setting('is_superuser') = 'on'"
            if (self.dialect.server_version_info or (0,)) >= (15,):  # `GRANT SET ON PARAMETER` came with 15
                statement += " OR has_parameter_privilege('session_replication_role', 'SET')"
            may = info[_MAY_LEAVE_CHECKS_OUT] = bool(self.connection.exec_driver_sql(statement).scalar())
        return bool(may)

    def update(
        self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]], shared: Mapping[str, Any] = NONE
    ) -> None:
        """Set `columns` of the rows whose id is each row's last value, and `shared`'s columns to its values."""
        if not rows:
            return
        assignments = [f"{self._quote(c)} = {self._mark}" for c in columns]
        if self.is_sqlite:
            assignments += [f"{self._quote(c)} = {self._literal(v)}" for c, v in shared.items()]
        elif shared:  # PostgreSQL: bound with each row, before its id
            assignments += [f"{self._quote(c)} = {self._mark}" for c in shared]
            extra = tuple(shared.values())
            rows = [(*row[:-1], *extra, row[-1]) for row in rows]
        self._many(f"UPDATE {self._quote(table.name)} SET {', '.join(assignments)} WHERE id = {self._mark}", rows)

    @staticmethod
    def _literal(value: Any) -> str:
        """SQLite: a value every row shares, written into the statement: `executemany` then binds only each row's
        own values (a bound parameter costs the driver per row; a page's new customers had a quarter of theirs the
        same for every row)."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int):
            return str(int(value))
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        raise TypeError(f"no literal for a {type(value).__name__}")

    def _many(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        self.connection.exec_driver_sql(statement, rows)


def _constants_shared(
    columns: Sequence[str], rows: list[tuple[Any, ...]], shared: Mapping[str, Any]
) -> tuple[Sequence[str], list[tuple[Any, ...]], Mapping[str, Any]]:
    """SQLite: the columns that hold the same `None` or boolean in every row (a page's customers without a
    company or a number, all active, none a possible duplicate), moved to `shared`, so they are written into the
    statement once instead of bound with every row. CPython's sqlite3 adapts a `None` or a boolean through its
    adapter look-up, some 2,700 instructions a value against 500 for text: a fifth of a page's binding. One
    column stays bound whatever the rows hold (an insert must give SQLite a value to bind per row)."""
    by_column = list(zip(*rows, strict=True))
    # `count` compares by identity, then `==`: a 1 among `True`s is the same value to SQLite
    constant = {
        i
        for i, values in enumerate(by_column)
        if (values[0] is None or values[0] is True or values[0] is False) and values.count(values[0]) == len(values)
    }
    if not constant:
        return columns, rows, shared
    kept = [i for i in range(len(columns)) if i not in constant] or [min(constant)]
    constant.difference_update(kept)
    moved = {columns[i]: by_column[i][0] for i in sorted(constant)}
    return [columns[i] for i in kept], list(zip(*(by_column[i] for i in kept), strict=True)), {**shared, **moved}


def _binary_type(column: Column[Any]) -> str:
    """The PostgreSQL type psycopg writes a value of `column` as in a binary COPY, where each value must come in its
    column's own binary form: JSON columns are handed over as their text already (the server reads a `json` field's
    binary form as that text). A type not here is refused at once rather than sent in a form the server misreads."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return "timestamptz"
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, BigInteger | SmallInteger):
        return "int8" if isinstance(kind, BigInteger) else "int2"
    if isinstance(kind, Integer):
        return "int4"
    if isinstance(kind, String | JSON):  # Text is a String
        return "text"
    raise TypeError(f"no binary COPY type for {column.table.name}.{column.name} ({kind})")
