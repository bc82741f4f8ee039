"""The CSV of an import's new customers, gathered as its pages are written (`bot.customers.csv_lines`): each
record's line is the line the CSV read back from the database has, the lines come in the order the database gives,
and they are written only while they still stand for the run's new customers. On SQLite and (with
TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.customers.csv_lines import READ_WHOLE_UP_TO, NewCustomers, csv_line, csv_lines
from bot.customers.lists import (
    CSV_CHUNK,
    iter_csv_rows,
    new_customer_lines,
    new_customer_lines_size,
    write_csv_lines,
    write_csv_rows,
)
from bot.customers.matching import apply_prepared
from bot.customers.rows import becomes_customer, prepare, prepare_page
from providers.base import Address, Phone
from providers.base import Customer as Record
from storage.db import Database
from storage.models import Customer, ImportRunSkip
from tests.conftest import RunningBot
from tests.imports import csv_rows, finished, quick
from tests.providers.packages import PackageDriver
from tests.test_import_keys import NOW, _connections, _run

# Text as a package may send it (no lone surrogates: no database stores those), with what a CSV quotes or guards
_ODD = st.sampled_from(
    [",", '"', "\n", "\r", "\r\n", "=", "+", "-", "@", "\t", " ", "é", "Ä", "ß", "İ", "\u2028", "a", "Z"]
)
_TEXT = st.lists(_ODD | st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6), max_size=6).map(
    "".join
)
_MAYBE = st.none() | _TEXT


@st.composite
def _records(draw: st.DrawFn) -> Record:
    phones = draw(st.lists(st.builds(Phone, _TEXT, _TEXT), max_size=3))
    address = st.builds(Address, _TEXT, st.lists(_TEXT, max_size=3).map(tuple), _MAYBE, _MAYBE, _MAYBE, _MAYBE)
    return Record(
        id=draw(st.uuids()).hex,
        name=draw(_TEXT.filter(lambda name: name.strip() != "")),
        first_name=draw(_MAYBE),
        last_name=draw(_MAYBE),
        company=draw(_MAYBE),
        email=draw(_MAYBE),
        number=draw(_MAYBE),
        active=draw(st.booleans()),
        phones=tuple(phones),
        addresses=tuple(draw(st.lists(address, max_size=2))),
    )


@given(st.lists(_TEXT, min_size=1, max_size=10))
@example(["", ""])
@example([""])
@example(['a "b"', "c,d", "e\r\nf", "=g"])
def test_a_line_is_the_line_the_csv_module_writes(row: list[str]) -> None:
    out = io.StringIO()
    csv.writer(out).writerow(row)
    assert csv_line(row) == out.getvalue()


@given(_records())
@example(Record(id="x", name="Acme, Ltd", addresses=(Address("street", ("1 Queen St",), city="Auckland"),)))
@example(Record(id="y", name='=He said "hi"', phones=(Phone("mobile", "+64 21"), Phone("fax", "09, ext 2"))))
@example(Record(id="z", name="One line", addresses=(Address("street", ("Unit 4\rLevel 2",)),)))  # quoted for \r
@example(Record(id="w", name="One line", addresses=(Address("street", ("Unit 4\nLevel 2",)),)))
def test_a_records_line_is_its_line_read_back_from_its_columns(record: Record) -> None:
    """The line the reading process makes from the record is the line the CSV makes from the stored columns (the
    phones' and addresses' JSON texts decoded), and a CSV reader gives back the cells."""
    prepared = prepare(record, line=True)
    [stored] = csv_lines([prepared.fields])
    assert prepared.line == stored.encode()  # in UTF-8, as the CSV's file holds it
    [cells] = list(csv.reader(io.StringIO(stored, newline="")))
    assert cells[0].lstrip("'") == prepared.name.lstrip("'") and cells[-1] in ("yes", "no")
    assert prepare(record).line is None  # made only where asked for


_ROLES = st.sampled_from([None, True, False])


@given(
    _records(),
    _ROLES,
    _ROLES,
    st.none() | st.just("c-0"),
    st.booleans(),
    st.sampled_from(["all", "customers_only", "all_but_suppliers"]),
)
@example(Record(id="s", name="Supplies Ltd"), False, True, None, False, "all_but_suppliers")  # a supplier: none
@example(Record(id="s", name="Supplies Ltd"), False, True, None, False, "all")  # ... unless all contacts are customers
def test_a_page_makes_the_lines_of_the_records_that_become_customers_alone(
    record: Record,
    is_customer: bool | None,
    is_supplier: bool | None,
    merged_into: str | None,
    erased: bool,
    customer_filter: str,
) -> None:
    """Only a record that becomes a customer under the run's filter can be among the customers it creates: the others
    (suppliers, archived, merged or erased contacts) are read without a line, which would never be written."""
    record = dataclasses.replace(
        record, is_customer=is_customer, is_supplier=is_supplier, merged_into=merged_into, erase_personal_data=erased
    )
    [prepared], _ = prepare_page([record], lines=customer_filter)
    assert (prepared.line is not None) == becomes_customer(prepared, customer_filter)
    assert prepared.line is None or prepared.line == prepare(record, line=True).line
    assert prepared._replace(line=None) == prepare(record) and prepare_page([record])[0][0].line is None


# the lines read back in one piece (the file as small as a run's lines of 1,500 customers), and a line at a time
_READS = pytest.mark.parametrize(
    "read_whole_up_to", [READ_WHOLE_UP_TO, 0], ids=["read-in-one-piece", "read-a-line-at-a-time"]
)


@_READS
@pytest.mark.parametrize("later", [5000, 10**6], ids=["ids-close-together", "ids-far-apart"])
def test_lines_are_kept_a_transaction_at_a_time_and_given_in_the_order_asked(later: int, read_whole_up_to: int) -> None:
    """Lines come back in the order asked for (the database's, by name), whatever order their ids were given in; a
    transaction rolled back (`discard`) leaves nothing; an order that does not name each line once gets none; a
    customer written again spoils the whole. Ids close together are looked up by index, ids far apart (another
    workspace's import took the ids between) by their runs."""
    made = NewCustomers(read_whole_up_to=read_whole_up_to)
    records = [prepare(Record(id=f"r{i}", name=f"Name {i:04d}"), line=True) for i in range(1500)]
    # a later block of ids first, as two connections may hand out
    ids = [*range(later + 1, later + 701), *range(1, 801)]
    made.created(ids[:700], records[:700])
    made.committed()
    made.created(list(range(9001, 9101)), records[700:800])
    made.discard()  # rolled back
    made.created(ids[700:], records[700:])
    made.committed()
    assert made.count == 1500 and made._pending == []  # nothing held in memory once committed
    order = sorted(ids, key=lambda customer_id: -customer_id)
    lines = made.lines(order)
    assert lines is not None
    by_id = dict(zip(ids, records, strict=True))
    assert list(lines) == [f"{by_id[customer_id].name},,,,,,,,yes\r\n".encode() for customer_id in order]
    assert made.lines(order[:-1]) is None and made.lines([*order[:-1], 9001]) is None
    assert made.lines([*order[:-1], order[0]]) is None
    made.changed([9050])  # not one of ours: the rolled-back transaction's
    assert not made.spoilt
    made.changed([2000, 800])
    assert made.spoilt and made.lines(order) is None


@_READS
def test_lines_of_ids_given_out_of_order_and_of_any_script_come_back_whole(read_whole_up_to: int) -> None:
    """A transaction's lines are written in one piece: each line's end is found whether or not its text is ASCII
    (a character may take up to four bytes), and its id whether or not the transaction's ids run in order."""
    made = NewCustomers(read_whole_up_to=read_whole_up_to)
    names = ["Ōtāhuhu Café", "Plain Ltd", "東京 Plumbing", "Zoë 🚰 Gasfitting", "Ngā Pukapuka", "Last One"]
    records = [prepare(Record(id=f"r{i}", name=name), line=True) for i, name in enumerate(names)]
    ids = [30, 10, 11, 12, 40, 7]
    made.created(ids[:5], records[:5])
    made.committed()
    made.created(ids[5:], records[5:])
    made.committed()
    order = sorted(ids)
    by_id = dict(zip(ids, records, strict=True))
    assert list(made.lines(order) or []) == [f"{by_id[i].name},,,,,,,,yes\r\n".encode() for i in order]
    made.changed([13])  # between two of ours, not one of them
    assert not made.spoilt
    made.changed([11])
    assert made.spoilt


def _write(db: Database, records: list[Record], made: NewCustomers | None, **ids: int) -> Counter[str]:
    with db.session(write_lock=True) as s:
        counts = apply_prepared(
            s,
            workspace_id=ids["workspace_id"],
            connection_id=ids["connection_id"],
            run_id=ids["run_id"],
            records=prepare_page(records, lines="all_but_suppliers")[0],
            customer_filter="all_but_suppliers",
            now=NOW + timedelta(seconds=len(records)),
            new=made,
        )
    if made is not None:
        made.committed()
    return counts


def _from_database(s: Session, workspace_id: int, run_id: int, unreadable: bool = False) -> str:
    out = io.StringIO()
    skips = s.scalars(select(ImportRunSkip).where(ImportRunSkip.run_id == run_id)) if unreadable else None
    write_csv_rows(iter_csv_rows(s, workspace_id=workspace_id, run_id=run_id), out, unreadable=skips)
    return out.getvalue()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_records(), min_size=1, max_size=40, unique_by=lambda r: r.id))
def test_the_lines_gathered_are_the_csv_read_back(db: Database, records: list[Record]) -> None:
    """Pages of any records written with their lines gathered: the CSV written from the lines is the CSV read back
    from the database, byte for byte, in its order (the collation's, on PostgreSQL), with the column of unreadable
    records too."""
    with db.session() as s:
        workspace_id, (connection_id,) = _connections(s, "xero")
        run_id = _run(s, workspace_id, connection_id)
    ids = {"workspace_id": workspace_id, "connection_id": connection_id, "run_id": run_id}
    made = NewCustomers()
    half = len(records) // 2
    _write(db, records[:half], made, **ids)
    _write(db, records[half:], made, **ids)
    with db.session() as s:
        s.add(ImportRunSkip(run_id=run_id, external_id="bad-1", name="=Broken, Ltd", reason="it could not be read"))
    with db.session() as s:
        lines = new_customer_lines(s, made, workspace_id=workspace_id, run_id=run_id)
        assert lines is not None
        assert made.count == s.scalar(select(func.count()).where(Customer.first_import_run_id == run_id))
        written = io.BytesIO()
        assert write_csv_lines(lines, written) == made.count
        assert written.getvalue().decode() == _from_database(s, workspace_id, run_id)
        assert new_customer_lines_size(made) == len(written.getvalue())  # known before the order was read
        with_skips = io.BytesIO()
        skips = s.scalars(select(ImportRunSkip).where(ImportRunSkip.run_id == run_id))
        again = new_customer_lines(s, made, workspace_id=workspace_id, run_id=run_id)
        assert again is not None
        write_csv_lines(again, with_skips, unreadable=skips)
        assert with_skips.getvalue().decode() == _from_database(s, workspace_id, run_id, unreadable=True)
    made.close()


def test_the_lines_stand_only_while_nothing_wrote_the_new_customers_again(db: Database) -> None:
    """The lines are written as they are (a name changed behind the bot's back, its `updated_at` left alone, shows
    as it was created: the database is not read); a customer written again since (by another package's import, a
    later page), or gone, sends the CSV back to the database; so does a customer the run itself wrote again."""
    with db.session() as s:
        workspace_id, (connection_id, other_id) = _connections(s, "xero", "xero")
        run_id = _run(s, workspace_id, connection_id)
    ids = {"workspace_id": workspace_id, "connection_id": connection_id, "run_id": run_id}
    made = NewCustomers()
    _write(db, [Record(id=f"c{i}", name=f"Customer {i}", email=f"c{i}@ex.nz") for i in range(5)], made, **ids)

    def lines() -> list[bytes] | None:
        with db.session() as s:
            gathered = new_customer_lines(s, made, workspace_id=workspace_id, run_id=run_id)
            return None if gathered is None else list(gathered)

    with db.session() as s:
        s.execute(update(Customer).where(Customer.name == "Customer 1").values(name="Renamed quietly"))
    assert lines() is not None and b"Customer 1,,,,c1@ex.nz,,,,yes\r\n" in (lines() or [])
    with db.session() as s:
        written_again = NOW + timedelta(days=1)
        s.execute(update(Customer).where(Customer.name == "Customer 2").values(updated_at=written_again))
    assert lines() is None  # the CSV is read back, with what was written since
    with db.session() as s:
        s.execute(update(Customer).where(Customer.name == "Customer 2").values(updated_at=Customer.created_at))
    assert lines() is not None
    with db.session() as s:
        s.execute(Customer.__table__.delete().where(Customer.name == "Customer 3"))
    assert lines() is None  # one gone: four customers, five lines
    made.close()

    again = NewCustomers()
    ids["connection_id"], ids["run_id"] = other_id, _run_in(db, workspace_id, other_id)
    _write(db, [Record(id="d1", name="Dana"), Record(id="d2", name="Eli")], again, **ids)
    assert not again.spoilt
    counts = _write(db, [Record(id="d1", name="Dana Smith")], again, **ids)  # the same contact, changed, later
    assert counts["updated"] == 1 and again.spoilt
    assert new_customer_lines_size(again) is None and new_customer_lines_size(None) is None  # no lines to go by


def _run_in(db: Database, workspace_id: int, connection_id: int) -> int:
    with db.session() as s:
        return _run(s, workspace_id, connection_id)


@pytest.mark.parametrize("read_apart", [False, True], ids=["read-here", "reading-process"])
def test_an_imports_csv_is_written_from_the_lines_gathered(
    package_bot: RunningBot, package: PackageDriver, read_apart: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A first import of several pages in several transactions, the pages read here or in the reading process
    (which makes the lines there): the CSV sent is the CSV read back from the database, byte for byte, written
    from the lines."""
    from tests.flows import command, connected

    _, organisation = connected(package_bot, package)
    quick(package_bot, batch_records=1500, read_apart_from=1 if read_apart else None)
    package.seed_customers(organisation, 3200)
    package.add_customer(organisation, 'Quote "and", comma Ltd', phone="+64 21 555 0100")
    package.add_customer(organisation, "=SUM(A1) Ltd", email="-x@example.com")
    caplog.set_level(logging.DEBUG, logger="bot.slack.import_reports")
    command(package_bot, "/accounts import", "Starting the import")
    run = finished(package_bot)
    assert run.status == "succeeded" and run.count("new") > 2000
    [upload] = package_bot.slack.uploaded_files
    assert upload.content is not None
    with package_bot.server.runtime.db.session() as s:
        expected = _from_database(s, run.workspace_id, run.id, unreadable=bool(run.count("unreadable")))
    assert upload.content.decode() == expected and len(csv_rows(upload)) == run.count("new")
    assert "its CSV sent from the lines gathered" in caplog.text  # as they are read, no file written first
    [reservation] = package_bot.slack.calls("files.getUploadURLExternal")  # reserved for the size the lines gave
    assert int(reservation.args["length"]) == upload.length == len(upload.content)


def test_many_unreadable_records_follow_the_lines_as_the_csv_module_writes_them() -> None:
    """The records an import could not read follow the lines a chunk at a time (as many as its contacts, at worst):
    2,000 of them, some 200 KB, are the same bytes as the csv module's."""
    skips = [
        ImportRunSkip(run_id=1, external_id=f"bad-{i}", name=f"=Broken, Ltd {i} {'x' * 60}", reason="it has no id")
        for i in range(2000)
    ]
    written = io.BytesIO()
    assert write_csv_lines([b"Ann,,,,,,,,yes\r\n"], written, unreadable=skips) == 1
    expected = io.StringIO()
    write_csv_rows([("Ann", "", "", "", "", "", "", "", "yes")], expected, unreadable=skips)
    assert written.getvalue().decode() == expected.getvalue() and len(written.getvalue()) > 3 * CSV_CHUNK
