"""Reading customers back: the names and possible duplicates a summary shows, the paged search of
`/accounts customers`, and CSV files with cells that would run as formulas neutralised. Streams in batches,
so a list of any length is written with flat memory."""

from __future__ import annotations

import csv
import functools
import io
import itertools
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any, Protocol

from sqlalchemy import ColumnElement, Text, bindparam, cast, exists, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from bot.customers.csv_lines import (
    CSV_COLUMNS,
    NewCustomers,
    address_cell,
    cells,
    phones_cell,
    safe_cell,
    stored_cells,
)
from storage.bulk import ids_in_order
from storage.models import Connection, Customer, CustomerReference, ImportRunSkip


@dataclass(frozen=True)
class Duplicate:
    name: str
    similar_to: str


def new_customer_names(session: Session, *, run_id: int, limit: int) -> list[str]:
    return list(
        session.scalars(
            select(Customer.name)
            .where(Customer.first_import_run_id == run_id)
            .order_by(func.lower(Customer.name), Customer.id)
            .limit(limit)
        )
    )


def possible_duplicates(session: Session, *, run_id: int, limit: int) -> list[Duplicate]:
    other = aliased(Customer)
    rows = session.execute(
        select(Customer.name, other.name)
        .join(other, other.id == Customer.possible_duplicate_of_id)
        .where(Customer.first_import_run_id == run_id)
        .order_by(func.lower(Customer.name), Customer.id)
        .limit(limit)
    )
    return [Duplicate(name, similar) for name, similar in rows]


class Scope(StrEnum):
    """Which of the workspace's customers a list shows: the connected organisation's, or those kept from
    organisations no longer connected (replaced or disconnected) and not at the connected one."""

    CONNECTED = "connected"
    EARLIER = "earlier"


# One alias for every query: building an alias's columns anew for each query was most of the CPU of
# `/accounts status` (its two customer counts), and the statements are the same each time.
_REF = aliased(CustomerReference, name="ref_at")


def _at(connection_id: int | None) -> ColumnElement[bool]:
    """The customer has a reference at the connection (an alias, so a query over references may use it too)."""
    return exists().where(_REF.customer_id == Customer.id, _REF.connection_id == connection_id)


def in_scope(scope: Scope, connection_id: int | None) -> ColumnElement[bool]:
    if scope == Scope.CONNECTED:
        return _at(connection_id) if connection_id is not None else false()
    return ~_at(connection_id) if connection_id is not None else true()


@dataclass(frozen=True)
class KeptFrom:
    """Customers kept from an organisation no longer connected, counted under the one each came from first."""

    provider: str
    organisation_name: str
    customers: int


def kept_from_earlier(session: Session, *, workspace_id: int, connection_id: int | None) -> list[KeptFrom]:
    """Customers not at the connected organisation, by the organisation each was first imported from."""
    first = (
        select(CustomerReference.customer_id, func.min(CustomerReference.connection_id).label("connection_id"))
        .join(Customer, Customer.id == CustomerReference.customer_id)
        .where(Customer.workspace_id == workspace_id, in_scope(Scope.EARLIER, connection_id))
        .group_by(CustomerReference.customer_id)
        .subquery()
    )
    rows = session.execute(
        select(Connection.provider, Connection.organisation_name, func.count())
        .join(first, first.c.connection_id == Connection.id)
        .group_by(Connection.id, Connection.provider, Connection.organisation_name)
        .order_by(Connection.id)
    )
    return [KeptFrom(provider, name, count) for provider, name, count in rows]


def customer_count(session: Session, *, workspace_id: int, connection_id: int | None) -> int:
    """How many customers the connected organisation has here."""
    where = [Customer.workspace_id == workspace_id, in_scope(Scope.CONNECTED, connection_id)]
    return session.scalar(select(func.count()).select_from(Customer).where(*where)) or 0


_TALLIED = select(Customer.id).where(Customer.workspace_id == bindparam("workspace_id")).subquery()
_AT_CONNECTED = (
    exists()
    .where(_REF.customer_id == _TALLIED.c.id, _REF.connection_id == bindparam("connection_id"))
    .label("at_connected")
)
_FIRST_AT = (
    select(func.min(CustomerReference.connection_id))
    .where(CustomerReference.customer_id == _TALLIED.c.id)
    .scalar_subquery()
    .label("first_at")
)
_EACH = select(_AT_CONNECTED, _FIRST_AT).select_from(_TALLIED).subquery()
# Every customer of the workspace once: at the connected organisation or not, and where it was first imported from.
_TALLY = (
    select(_EACH.c.at_connected, Connection.id, Connection.provider, Connection.organisation_name, func.count())
    .select_from(_EACH)
    .outerjoin(Connection, Connection.id == _EACH.c.first_at)
    .group_by(_EACH.c.at_connected, Connection.id, Connection.provider, Connection.organisation_name)
    .order_by(Connection.id)
)


def customer_tally(session: Session, *, workspace_id: int, connection_id: int) -> tuple[int, list[KeptFrom]]:
    """`customer_count` and `kept_from_earlier` in one statement (built once), for `/accounts status`."""
    count, kept = 0, []
    rows = session.execute(_TALLY, {"workspace_id": workspace_id, "connection_id": connection_id})
    for at_connected, first, provider, name, customers in rows:
        if at_connected:
            count += customers
        elif first is not None:
            kept.append(KeptFrom(provider, name, customers))
    return count, kept


def first_source(session: Session, *, customer_ids: Sequence[int]) -> dict[int, str]:
    """Each customer's organisation name at the connection it was first imported from."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(CustomerReference.customer_id, Connection.organisation_name)
        .join(Connection, Connection.id == CustomerReference.connection_id)
        .where(CustomerReference.customer_id.in_(list(customer_ids)))
        .order_by(CustomerReference.customer_id, Connection.id)
    )
    found: dict[int, str] = {}
    for customer_id, name in rows:
        found.setdefault(customer_id, name)
    return found


def _where(
    *,
    workspace_id: int,
    query: str | None,
    run_id: int | None = None,
    connection_id: int | None = None,
    scope: Scope | None = None,
) -> list[Any]:
    """The workspace's customers (new ones of `run_id`; those in `scope` for the workspace's connection), whose
    name or email contains `query` when given."""
    where = [Customer.workspace_id == workspace_id]
    if scope is not None:
        where.append(in_scope(scope, connection_id))
    if run_id is not None:
        where.append(Customer.first_import_run_id == run_id)
    if query:
        words = query.casefold()  # `%` and `_` are matched as themselves: `a_b` finds `a_b`
        where.append(
            or_(
                func.lower(Customer.name).contains(words, autoescape=True),
                Customer.email_key.contains(words, autoescape=True),
            )
        )
    return where


def search(
    session: Session,
    *,
    workspace_id: int,
    connection_id: int | None,
    scope: Scope = Scope.CONNECTED,
    query: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Customer], int]:
    """One page of the customers in `scope` by name, and how many match in all."""
    where = _where(workspace_id=workspace_id, query=query, connection_id=connection_id, scope=scope)
    total = session.scalar(select(func.count()).select_from(Customer).where(*where)) or 0
    rows = session.scalars(
        select(Customer).where(*where).order_by(func.lower(Customer.name), Customer.id).offset(offset).limit(limit)
    )
    return list(rows), total


def unreadable_records(session: Session, *, run_id: int, limit: int | None = None) -> list[ImportRunSkip]:
    """The records a run could not import, in the order it met them."""
    statement = select(ImportRunSkip).where(ImportRunSkip.run_id == run_id).order_by(ImportRunSkip.id)
    return list(session.scalars(statement.limit(limit) if limit is not None else statement))


def iter_unreadable(session: Session, *, run_id: int) -> Iterator[ImportRunSkip]:
    statement = select(ImportRunSkip).where(ImportRunSkip.run_id == run_id).order_by(ImportRunSkip.id)
    yield from session.scalars(statement.execution_options(yield_per=500))


class CsvCustomer(Protocol):
    """What a CSV row shows of a customer (a `Customer`)."""

    @property
    def name(self) -> str: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def last_name(self) -> str | None: ...
    @property
    def company(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def phones(self) -> list[dict[str, Any]]: ...
    @property
    def addresses(self) -> list[dict[str, Any]]: ...
    @property
    def number(self) -> str | None: ...
    @property
    def active(self) -> bool: ...


# The JSON columns come back as their text: most rows' phones or addresses are `[]` and need no decoding, and the
# rest are decoded once (`csv_lines.stored_cells`) rather than by SQLAlchemy's JSON type for every row.
_CSV_FIELDS = (
    Customer.name,
    Customer.first_name,
    Customer.last_name,
    Customer.company,
    Customer.email,
    cast(Customer.phones, Text),
    cast(Customer.addresses, Text),
    Customer.number,
    Customer.active,
)
CSV_BATCH = 1000


def iter_csv_rows(
    session: Session,
    *,
    workspace_id: int,
    run_id: int | None = None,
    query: str | None = None,
    connection_id: int | None = None,
    scope: Scope | None = None,
) -> Iterator[tuple[str, ...]]:
    """Customers by name as CSV rows, streamed a batch at a time from just the columns a CSV shows: read through
    the session's connection as plain rows, not as the ORM's results (which wrap every row again), each batch
    made into cells in one loop (a CSV of 80,000 customers is written in about 0.6 s on SQLite)."""
    where = _where(workspace_id=workspace_id, query=query, run_id=run_id, connection_id=connection_id, scope=scope)
    statement = select(*_CSV_FIELDS).where(*where).order_by(func.lower(Customer.name), Customer.id)
    for rows in session.connection().execute(statement.execution_options(yield_per=CSV_BATCH)).partitions():
        yield from stored_cells(rows)


def csv_row(customer: CsvCustomer) -> tuple[str, ...]:
    return cells(
        customer.name,
        customer.first_name,
        customer.last_name,
        customer.company,
        customer.email,
        phones_cell(customer.phones),
        address_cell(customer.addresses),
        customer.number,
        customer.active,
    )


NOT_IMPORTED_COLUMN = "Not imported because"


def unreadable_row(record: ImportRunSkip) -> list[str]:
    """A record a run could not import: its name, its id at the package as its number, and why."""
    cells = ["", "", "", "", "", "", "", "", "", ""]
    cells[0], cells[7] = record.name or "", record.external_id or ""
    cells[-1] = record.reason
    return [safe_cell(c) for c in cells]


def write_csv(
    customers: Iterable[CsvCustomer], out: IO[str], *, unreadable: Iterable[ImportRunSkip] | None = None
) -> int:
    """Write the customers as CSV with formula cells neutralised; returns how many customers were written.
    With `unreadable` (an import's records it could not use), those follow, with a column saying why."""
    return write_csv_rows(map(csv_row, customers), out, unreadable=unreadable)


def write_csv_rows(
    rows: Iterable[tuple[str, ...]], out: IO[str], *, unreadable: Iterable[ImportRunSkip] | None = None
) -> int:
    """`write_csv` for rows already made (`csv_row`, `iter_csv_rows`)."""
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, NOT_IMPORTED_COLUMN] if unreadable is not None else CSV_COLUMNS)
    if unreadable is not None:
        rows = (row + ("",) for row in rows)
    counted = itertools.count()
    writer.writerows(row for row, _ in zip(rows, counted, strict=False))  # the csv module's own loop
    written = next(counted)
    for record in unreadable or ():
        writer.writerow(unreadable_row(record))
    return written


def write_csv_lines(
    lines: Iterable[bytes], out: IO[bytes], *, unreadable: Iterable[ImportRunSkip] | None = None
) -> int:
    """`write_csv_rows` for lines already written (`csv_lines.NewCustomers.lines`, UTF-8), into a binary file: the
    same file's bytes (`csv_chunks`), the records of `unreadable` after them."""
    counted = itertools.count()
    for chunk in csv_chunks(map(_first, zip(lines, counted, strict=False)), unreadable=unreadable is not None):
        out.write(chunk)
    if unreadable is not None:
        _write_rows(map(unreadable_row, unreadable), out)
    return next(counted)  # `zip` takes a number only with a line


def csv_chunks(lines: Iterable[bytes], *, unreadable: bool = False) -> Iterator[bytes]:
    """The header and `lines` (`csv_lines.NewCustomers.lines`, UTF-8) as `write_csv_lines` writes them, some
    `CSV_CHUNK` bytes at a time (a write a line added a fifth to the loop). `unreadable`: each line with the empty
    cell of the reason column, as the csv module writes one (nothing before the line's ending, every line having cells
    before it)."""
    yield csv_header(unreadable=unreadable)
    chunk = bytearray()
    for line in lines:
        chunk += line if not unreadable else line[:-2] + b",\r\n"
        if len(chunk) >= CSV_CHUNK:
            yield bytes(chunk)
            chunk.clear()
    if chunk:
        yield bytes(chunk)


_first = operator.itemgetter(0)


CSV_CHUNK = 65_536  # bytes gathered before a write of `write_csv_lines`


@functools.cache
def csv_header(*, unreadable: bool = False) -> bytes:
    """The CSV's first line as `write_csv_rows` writes it, in UTF-8: the column names (and the reason's column, with
    an import's unreadable records)."""
    out = io.BytesIO()
    _write_rows([[*CSV_COLUMNS, NOT_IMPORTED_COLUMN] if unreadable else list(CSV_COLUMNS)], out)
    return out.getvalue()


def _write_rows(rows: Iterable[Sequence[str]], out: IO[bytes]) -> None:
    """`rows` as the csv module writes them (`write_csv_rows`), in UTF-8, a chunk at a time (an import's unreadable
    records may be as many as its contacts)."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    for row in rows:
        writer.writerow(row)
        if text.tell() >= CSV_CHUNK:
            out.write(text.getvalue().encode())
            text.seek(0)
            text.truncate()
    out.write(text.getvalue().encode())


def new_customer_lines_size(made: NewCustomers | None) -> int | None:
    """The size in bytes of the CSV of a run's new customers written from the lines it gathered (`new_customer_lines`,
    then `write_csv_lines` with no unreadable records), known before the lines are put in order: the file is the
    header and every line committed, once. None where there are no lines to write it from."""
    if made is None or made.spoilt:
        return None
    return len(csv_header()) + made.size


def new_customer_lines(
    session: Session, made: NewCustomers | None, *, workspace_id: int, run_id: int | None
) -> Iterator[bytes] | None:
    """The lines a run gathered as it wrote its pages (`made`, if any) in the order of the CSV of its new customers,
    where they are that CSV: kept whole, one for each customer the run created, and none of those written since;
    None where they are not (the CSV is then read from the database: `iter_csv_rows`). Only the ids are read back,
    as one value (`storage.bulk.ids_in_order`), in the CSV's order (by name as the database's collation orders
    it), of those not written since they were created (`updated_at` still their `created_at`: every write of a
    customer's columns sets it). The lines stand for them when these name each line once: no customer of the run
    was written again or is gone (the ids would be fewer), and none is missing from the lines
    (`NewCustomers.lines`). One query: a count of the changed ones before it was one more scan of the run's
    customers (32 ms at 80,000 on SQLite)."""
    if made is None or made.spoilt or run_id is None:
        return None
    where = [*_where(workspace_id=workspace_id, query=None, run_id=run_id), Customer.updated_at == Customer.created_at]
    return made.lines(ids_in_order(session, Customer.id, where, (func.lower(Customer.name), Customer.id)))
