"""Customers as CSV lines: the cells a spreadsheet shows (text that would run as a formula neutralised), and the CSV
of an import's new customers gathered while its pages are written (`NewCustomers`), so that the run's end writes the
file without reading its customers back.

Light on purpose: the reading process (`bot.imports.reading`) makes each record's line beside its other values, and
imports neither SQLAlchemy nor the models.
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from array import array
from bisect import bisect_right
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import IO, Any

import msgspec

from storage.json_columns import json_value

CSV_COLUMNS = ("Name", "First name", "Last name", "Company", "Email", "Phones", "Address", "Number", "Active")
# Lines of a run's new customers read back in one piece up to this size (`NewCustomers._read`): some 50,000 lines;
# a larger file a line at a time, holding no more than a line
READ_WHOLE_UP_TO = 8 << 20
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


def _numbers(phones: Sequence[Any]) -> str:
    """The phones cell from the phones themselves (each with a `number`: stored, `_Phone`, `providers.base.Phone`)."""
    return "; ".join([phone.number for phone in phones])


def _address(first: Any) -> str:
    """The address cell from the first address itself (with `lines`, `city`, `region`, `postal_code` and `country`:
    `_Address`, `providers.base.Address`)."""
    parts = [*first.lines, first.city, first.region, first.postal_code, first.country]
    return ", ".join(filter(None, parts))


def phones_text(text: str) -> str:
    """The phones cell from the column's JSON text; any shape the decoder does not expect (a lone surrogate's
    escape, a number that is not text) is read as `csv_row` reads the column, with what that does."""
    try:
        return _numbers(_read_phones(text))
    except msgspec.DecodeError:
        return phones_cell(json_value(text))


def address_text(text: str) -> str:
    """The address cell from the column's JSON text, as `phones_text` does the phones."""
    try:
        addresses = _read_addresses(text)
    except msgspec.DecodeError:
        return address_cell(json_value(text))
    return _address(addresses[0]) if addresses else ""


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


def _quoted(text: str) -> bool:
    """Whether the csv module's excel dialect quotes a cell holding `text` (a comma, a quote or a line break): four
    scans in C, a fifth of a regular expression's search over a line's cells (the reading process makes a line a
    record)."""
    return "," in text or '"' in text or "\n" in text or "\r" in text


def csv_line(row: Sequence[str]) -> str:
    """The line the csv module writes for `row` (`lists.write_csv_rows`: the excel dialect, a cell holding a comma,
    a quote or a line break quoted, its quotes doubled), made without a writer and a buffer a line. A row of one
    empty cell is written quoted, as the module does (an empty line would be no row at all)."""
    if len(row) == 1 and not row[0]:
        return '""\r\n'
    return ",".join(['"' + c.replace('"', '""') + '"' if _quoted(c) else c for c in row]) + "\r\n"


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
    phone = _numbers(phones) if phones else ""
    row = cells(name, first, last, company, email, phone, _address(addresses[0]) if addresses else "", number, active)
    others = (*row[:6], row[7])  # the last cell is yes or no
    if _quoted("".join(others)):
        return csv_line(row)
    address = row[6]
    if _quoted(address):
        address = '"' + address.replace('"', '""') + '"'
    return f"{row[0]},{row[1]},{row[2]},{row[3]},{row[4]},{row[5]},{address},{row[7]},{row[8]}\r\n"


class NewCustomers:
    """The CSV lines of the customers a run creates, gathered by the process writing its pages, so that the CSV of
    its new customers is written from them in the order the database gives (`lists.new_customer_lines`: the ids
    alone read back, by name) instead of reading every customer back and making its cells again.

    A transaction's lines are kept until it commits (`created`, then `committed`; `discard` when it does not),
    then written to a temporary file (memory stays flat whatever the import's size: kept are 8 bytes a customer,
    where its line ends, and a span of each run of consecutive ids). The lines stand for the run's new customers
    only while no write of this run changed one of them after creating it (`changed`, which spoils the whole) and
    nothing else did (the reader checks: `lists.new_customer_lines`)."""

    def __init__(self, *, read_whole_up_to: int = READ_WHOLE_UP_TO) -> None:
        """`read_whole_up_to`: the size in bytes up to which the lines are read back in one piece (`_read`)."""
        self.read_whole_up_to = read_whole_up_to
        self.count = 0  # lines committed
        self.spoilt = False
        self._pending_ids: list[int] = []  # the open transaction's customers created, and their lines
        self._pending: list[bytes] = []
        self._ends = array("q")  # where each committed line ends in the file
        self._spans: list[tuple[int, int, int]] = []  # runs of consecutive ids: the first, its line's number, how many
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
                lines[i] = line.encode()
        if len(ids) != len(lines):
            raise ValueError(f"{len(ids)} ids for {len(lines)} customers")
        self._pending_ids += ids
        self._pending += lines

    def changed(self, ids: Collection[int]) -> None:
        """Customers the open transaction writes again: should one be among those created, the lines no longer
        stand for the run's customers as stored."""
        if self.spoilt or not ids:
            return
        if not set(self._pending_ids).isdisjoint(ids) or any(
            self._number(customer_id) is not None for customer_id in ids
        ):
            self.spoil()

    def committed(self) -> None:
        """The open transaction committed: its lines are written out, in one piece (a page's thousand lines a step
        each took 0.7 ms, a tenth of what the importing thread spends on a page besides SQLite), as the UTF-8 they
        came in (`Prepared.line`: neither decoded from the reading process's answer nor encoded again here)."""
        ids, lines = self._pending_ids, self._pending
        self._pending_ids, self._pending = [], []
        if self.spoilt or not ids:
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 (held until `close`)
        data = b"".join(lines)
        ends = self._ends
        first_line = len(ends)
        ends.extend(itertools.islice(itertools.accumulate(map(len, lines), initial=self._size), 1, None))
        if ids == list(range(ids[0], ids[0] + len(ids))):  # the usual: the ids a page's customers were given
            spans = [(ids[0], first_line, len(ids))]
        else:
            spans = []
            for number, customer_id in enumerate(ids, start=first_line):
                if spans and (last := spans[-1])[0] + last[2] == customer_id:
                    spans[-1] = (last[0], last[1], last[2] + 1)
                else:
                    spans.append((customer_id, number, 1))
        self._spans += spans
        self._spans.sort()  # ids a later transaction was given may come before an earlier one's
        self._file.write(data)
        self._file.flush()
        self._size += len(data)
        self.count += len(ids)

    @property
    def size(self) -> int:
        """The bytes of the lines committed."""
        return self._size

    def discard(self) -> None:
        """The open transaction was rolled back: its lines go."""
        self._pending_ids, self._pending = [], []

    def spoil(self) -> None:
        self.spoilt = True
        self.close()

    def lines(self, order: Sequence[int]) -> Iterator[bytes] | None:
        """The committed lines of the customers `order` names, in its order, as UTF-8; None unless it names each of
        them once (and nothing else)."""
        if self.spoilt or len(order) != self.count:
            return None
        found, seen = array("q"), bytearray(self.count)  # a byte a line, not a set of them
        if (numbers := self._dense()) is not None:  # the usual case: a line's number looked up by index
            base, size = self._spans[0][0], len(numbers)
            asked = (numbers[i - base] if 0 <= i - base < size else -1 for i in order)
        else:
            asked = (-1 if (number := self._number(i)) is None else number for i in order)
        for number in asked:
            if number < 0 or seen[number]:
                return None
            seen[number] = 1
            found.append(number)
        return self._read(found)

    def _dense(self) -> array[int] | None:
        """Each id's line number (-1 for none) from the smallest id on, where the ids are close enough together (8
        bytes an id between the smallest and the largest, at most 4 times 8 bytes a line), so that `lines` looks a
        number up by index rather than finding the id's run of ids (`_number`, a bisection); None where they are
        not (another workspace's import took most of the ids between)."""
        spans = self._spans
        if not spans:
            return None
        base = spans[0][0]
        size = max(first + count for first, _, count in spans) - base
        if size > 4 * self.count:
            return None
        numbers = array("q", [-1]) * size
        for first, number, count in spans:
            numbers[first - base : first - base + count] = array("q", range(number, number + count))
        return numbers

    def _number(self, customer_id: int) -> int | None:
        """Which committed line is `customer_id`'s, if any."""
        spans = self._spans
        at = bisect_right(spans, (customer_id, sys.maxsize)) - 1
        if at < 0:
            return None
        first, number, count = spans[at]
        return number + customer_id - first if customer_id - first < count else None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._pending_ids, self._pending, self._ends, self._spans = None, [], [], array("q"), []

    def _read(self, found: array[int]) -> Iterator[bytes]:
        """The lines at `found`, in its order, as the bytes they are, for the file they go to (decoded and encoded
        again, 0.5 µs more a line). Up to `read_whole_up_to` bytes, the file is read in one piece and the lines cut
        from it: a read a line cost 1.7-4 µs each (a system call: 14-31 ms for 8,000 lines at the end of an import
        of 10,000), the piece 0.3 µs. A larger file is read a line at a time, which holds no more than a line: not
        through a memory map either, whose pages count in the process's resident memory once touched, and lines
        asked by name touch them all (32 MiB at 200,000 customers)."""
        if self._file is None:  # no customer created
            return
        ends, descriptor = self._ends, self._file.fileno()
        starts = array("q", [0])
        starts.extend(ends[:-1])
        if self._size <= self.read_whole_up_to:
            whole = os.pread(descriptor, self._size, 0)
            for position in found:
                yield whole[starts[position] : ends[position]]
            return
        read = os.pread
        for position in found:
            start = starts[position]
            yield read(descriptor, ends[position] - start, start)
