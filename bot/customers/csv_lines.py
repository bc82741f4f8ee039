"""Customers as CSV lines: the cells a spreadsheet shows (text that would run as a formula neutralised), and the CSV
of an import's new customers gathered while its pages are written (`NewCustomers`), so that the run's end writes the
file without reading its customers back.

Light on purpose: the reading process (`bot.imports.reading`) makes each record's line beside its other values, and
imports neither SQLAlchemy nor the models.
"""

from __future__ import annotations

import heapq
import json
import os
import re
import tempfile
from bisect import bisect_right
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import IO, Any

import msgspec
import orjson

CSV_COLUMNS = ("Name", "First name", "Last name", "Company", "Email", "Phones", "Address", "Number", "Active")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_CHARS = frozenset(_FORMULA_STARTS)


def safe_cell(value: str) -> str:
    """A cell a spreadsheet will show, not run: text starting like a formula gets a leading apostrophe."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def address_line(address: dict[str, Any]) -> str:
    parts = [
        *address.get("lines", []),
        address.get("city"),
        address.get("region"),
        address.get("postal_code"),
        address.get("country"),
    ]
    return ", ".join(filter(None, parts))


def phones_cell(phones: list[dict[str, Any]] | None) -> str:
    return "; ".join([p["number"] for p in phones]) if phones else ""


def address_cell(addresses: list[dict[str, Any]] | None) -> str:
    return address_line(addresses[0]) if addresses else ""


class _Phone(msgspec.Struct, gc=False):
    """What a CSV shows of a stored phone."""

    number: str


class _Address(msgspec.Struct, gc=False):
    """What a CSV shows of a stored address."""

    lines: list[str] = []
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


# Decoded straight into the fields shown, the other keys skipped: half the time of orjson's dicts and the
# lookups in them (80,000 customers: 0.08 s, 0.14 s).
_read_phones = msgspec.json.Decoder(list[_Phone]).decode
_read_addresses = msgspec.json.Decoder(list[_Address]).decode


def _json_value(text: str) -> Any:
    """A JSON column's value, as `storage.db.json_value` reads it (not imported: the reading process stays light)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # an escaped lone surrogate, an integer beyond 64 bits
        return json.loads(text)


def phones_text(text: str) -> str:
    """The phones cell from the column's JSON text; any shape the decoder does not expect (a lone surrogate's
    escape, a number that is not text) is read as `csv_row` reads the column, with what that does."""
    try:
        return "; ".join([phone.number for phone in _read_phones(text)])
    except msgspec.DecodeError:
        return phones_cell(_json_value(text))


def address_text(text: str) -> str:
    """The address cell from the column's JSON text, as `phones_text` does the phones."""
    try:
        addresses = _read_addresses(text)
    except msgspec.DecodeError:
        return address_cell(_json_value(text))
    if not addresses:
        return ""
    first = addresses[0]
    return ", ".join(filter(None, [*first.lines, first.city, first.region, first.postal_code, first.country]))


def cells(
    name: str,
    first_name: str | None,
    last_name: str | None,
    company: str | None,
    email: str | None,
    phones: str,
    address: str,
    number: str | None,
    active: bool,
) -> tuple[str, ...]:
    """A customer's cells, each guarded as `safe_cell` guards it, written out cell by cell: a call per cell was a
    third of a CSV's time, and a generator over the cells takes twice what these expressions take. `c[:1]` is ""
    for an empty cell."""
    first_name, last_name, company, email = first_name or "", last_name or "", company or "", email or ""
    number = number or ""
    formula = _FORMULA_CHARS
    return (
        "'" + name if name[:1] in formula else name,
        "'" + first_name if first_name[:1] in formula else first_name,
        "'" + last_name if last_name[:1] in formula else last_name,
        "'" + company if company[:1] in formula else company,
        "'" + email if email[:1] in formula else email,
        "'" + phones if phones[:1] in formula else phones,
        "'" + address if address[:1] in formula else address,
        "'" + number if number[:1] in formula else number,
        "yes" if active else "no",
    )


def stored_cells(rows: Iterable[Sequence[Any]]) -> list[tuple[str, ...]]:
    """The cells of customers' stored columns (name, first and last name, company, email, the phones' and the
    addresses' JSON texts, number, active: `bot.customers.rows.FIELDS`); most rows' phones or addresses are `[]`
    and need no decoding."""
    made: list[tuple[str, ...]] = []
    add = made.append
    for name, first, last, company, email, phones, addresses, number, active in rows:
        add(
            cells(
                name,
                first,
                last,
                company,
                email,
                phones_text(phones) if phones and phones != "[]" else "",
                address_text(addresses) if addresses and addresses != "[]" else "",
                number,
                active,
            )
        )
    return made


_QUOTED = re.compile('[,"\r\n]').search  # what the csv module's excel dialect quotes a cell for


def csv_line(row: Sequence[str]) -> str:
    """The line the csv module writes for `row` (`lists.write_csv_rows`: the excel dialect, a cell holding a comma,
    a quote or a line break quoted, its quotes doubled), made without a writer and a buffer a line. A row of one
    empty cell is written quoted, as the module does (an empty line would be no row at all)."""
    if len(row) == 1 and not row[0]:
        return '""\r\n'
    return ",".join(['"' + c.replace('"', '""') + '"' if _QUOTED(c) else c for c in row]) + "\r\n"


def csv_lines(rows: Iterable[Sequence[Any]]) -> list[str]:
    """Each customer's stored columns (as `stored_cells` takes them) as its line of the CSV, with its ending."""
    return [csv_line(row) for row in stored_cells(rows)]


def record_line(fields: Sequence[Any], phones: Sequence[Any], addresses: Sequence[Any]) -> str:
    """A customer's line from its stored columns (`fields`, as `stored_cells` takes them) and the phones and
    addresses whose JSON texts two of them are (`providers.base.Phone`, `Address`: the cells read from them, as
    they would be read back from the texts): what the reading process makes for each record. The same line as
    `csv_line` of the cells, made in fewer steps: most lines quote the address alone (its parts are joined by
    commas), and the other cells are looked at in one search."""
    name, first, last, company, email, _, _, number, active = fields
    address = ""
    if addresses:
        first_address = addresses[0]
        parts = [*first_address.lines, first_address.city, first_address.region, first_address.postal_code]
        address = ", ".join(filter(None, [*parts, first_address.country]))
    phone = "; ".join([p.number for p in phones]) if phones else ""
    row = cells(name, first, last, company, email, phone, address, number, active)
    others = (*row[:6], row[7])  # the last cell is yes or no
    if _QUOTED("".join(others)) is not None:
        return csv_line(row)
    address = row[6]
    if _QUOTED(address) is not None:
        address = '"' + address.replace('"', '""') + '"'
    return f"{row[0]},{row[1]},{row[2]},{row[3]},{row[4]},{row[5]},{address},{row[7]},{row[8]}\r\n"


# SQLite's own `lower()` (without ICU, as Python's sqlite3 has it) lowers the ASCII letters only, and its texts
# compare as their UTF-8 bytes, in the order of their code points, as Python's strings do.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def sqlite_order(name: str) -> str:
    """`name` as SQLite orders it in `ORDER BY lower(name)`."""
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


_CHUNK = 128  # lines encoded together in the spill file; a merge holds one chunk of each transaction's
_Item = tuple[str, int, str]  # the name as ordered, the customer's id, its line
_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder(list[tuple[str, int, str]]).decode


class NewCustomers:
    """The CSV lines of the customers a run creates, gathered by the process writing its pages, in the order of the
    CSV of its new customers (`lists.iter_csv_rows` on SQLite: the name as `lower()` makes it, then the id).

    A transaction's lines are kept until it commits (`created`, then `committed`; `discard` when it does not),
    then sorted and written to a temporary file (memory stays flat whatever the import's size), and merged from
    there when the CSV is written (`lines`). The lines stand for the run's new customers only while no write of
    this run changed one of them after creating it (`changed`, which spoils the whole) and nothing else did (the
    reader checks: `lists.untouched_new_customers`)."""

    def __init__(self) -> None:
        self.count = 0  # lines committed
        self.spoilt = False
        self._pending: list[_Item] = []
        self._pending_ids: list[tuple[int, int]] = []  # (first, last) of each run of consecutive new ids
        self._ids: list[tuple[int, int]] = []  # the committed ones
        self._runs: list[list[tuple[int, int]]] = []  # each transaction's chunks: (offset, size) in the file
        self._file: IO[bytes] | None = None
        self._size = 0

    def created(self, ids: Sequence[int], records: Sequence[Any]) -> None:
        """Customers created in the open transaction, with the ids they were given; each record a
        `bot.customers.rows.Prepared`, whose `line` is made here where the reading process did not make it."""
        if self.spoilt or not ids:
            return
        lines = [record.line for record in records]
        if None in lines:
            missing = [i for i, line in enumerate(lines) if line is None]
            for i, line in zip(missing, csv_lines([records[i].fields for i in missing]), strict=True):
                lines[i] = line
        keys = [sqlite_order(record.fields[0]) for record in records]
        self._pending.extend(zip(keys, ids, lines, strict=True))
        spans = self._pending_ids
        low, high = min(ids), max(ids)
        if high - low == len(ids) - 1:  # as SQLite gives them (ids are never given twice): one span
            spans.append((low, high))
            return
        for customer_id in ids:
            if spans and spans[-1][1] + 1 == customer_id:
                spans[-1] = (spans[-1][0], customer_id)
            else:
                spans.append((customer_id, customer_id))

    def changed(self, ids: Collection[int]) -> None:
        """Customers the open transaction writes again: should one be among those created, the lines no longer
        stand for the run's customers as stored."""
        if self.spoilt or not ids:
            return
        spans = sorted(self._ids + self._pending_ids)
        firsts = [first for first, _ in spans]
        for customer_id in ids:
            at = bisect_right(firsts, customer_id) - 1
            if at >= 0 and spans[at][1] >= customer_id:
                self.spoil()
                return

    def committed(self) -> None:
        """The open transaction committed: its lines are sorted and written out."""
        if self.spoilt:
            return
        pending, self._pending = self._pending, []
        if pending:
            pending.sort()
            if self._file is None:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 (held until `close`)
            chunks = []
            for start in range(0, len(pending), _CHUNK):
                data = _ENCODE(pending[start : start + _CHUNK])
                self._file.write(data)
                chunks.append((self._size, len(data)))
                self._size += len(data)
            self._file.flush()
            self._runs.append(chunks)
            self.count += len(pending)
        self._ids += self._pending_ids
        self._pending_ids = []

    def discard(self) -> None:
        """The open transaction was rolled back: its lines go."""
        self._pending, self._pending_ids = [], []

    def spoil(self) -> None:
        self.spoilt = True
        self.close()

    def lines(self) -> Iterator[str]:
        """Every committed line, in the CSV's order."""
        if self.spoilt:
            raise RuntimeError("the new customers' lines were spoilt")
        for _, _, line in heapq.merge(*(self._read(chunks) for chunks in self._runs)):
            yield line

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._runs, self._pending, self._ids, self._pending_ids = None, [], [], [], []

    def _read(self, chunks: list[tuple[int, int]]) -> Iterator[_Item]:
        assert self._file is not None
        descriptor = self._file.fileno()
        for offset, size in chunks:
            yield from _DECODE(os.pread(descriptor, size, offset))
