"""What a page of an import asks the database beyond its writes, and how often: new customers' ids taken from
PostgreSQL's sequence a block at a time (kept with the connection), and whether the workspace holds customers of
another package asked once a transaction. On SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from storage.bulk import ID_BLOCK, BulkWriter
from storage.db import Database
from storage.models import Customer, CustomerReference
from tests.test_import_keys import _connections, _page, _records, _run, _statements

PAGE = 1000  # Xero's largest page
_CUSTOMERS = cast(Table, Customer.__table__)
ASK_IDS = "pg_get_serial_sequence"  # in the statement that takes ids from a sequence
ASK_OTHERS = "SELECT EXISTS (SELECT *"  # whether the workspace holds customers of another package


def test_new_customers_ids_are_taken_a_block_at_a_time_and_never_twice(db: Database) -> None:
    """Four pages of a thousand new customers ask PostgreSQL's sequence once, and a page of ten takes forty (a
    connection closed keeps no thousands unused); ids a rolled-back page took are not given again, and two
    connections at once never share one. SQLite gives the largest id plus one, as before."""
    with db.session() as s:
        workspace_id, (connection_id,) = _connections(s, "xero")
        run_id = _run(s, workspace_id, connection_id)
    pages = ID_BLOCK // PAGE
    postgresql = db.engine.dialect.name == "postgresql"
    with _statements(db) as sent, db.session(write_lock=True) as s:
        for n in range(pages):
            _page(s, workspace_id, connection_id, run_id, _records(f"p{n}", PAGE))
    assert sum(ASK_IDS in q for q in sent) == (1 if postgresql else 0)
    assert sum(q.startswith("SELECT coalesce(max(id), 0)") for q in sent) == (0 if postgresql else pages)

    if postgresql:
        with _statements(db) as sent, db.engine.connect() as fresh, fresh.begin(), Session(bind=fresh) as session:
            bulk = BulkWriter(session)  # a connection with nothing kept on it yet
            first, rest = bulk.new_ids(_CUSTOMERS, 10), bulk.new_ids(_CUSTOMERS, 30)
            assert sum(ASK_IDS in q for q in sent) == 1  # forty taken, thirty kept
            assert first + rest == list(range(first[0], first[0] + 40))
            bulk.new_ids(_CUSTOMERS, 1)
            assert sum(ASK_IDS in q for q in sent) == 2

    class Undone(Exception):
        pass

    try:
        with db.session(write_lock=True) as s:
            _page(s, workspace_id, connection_id, run_id, _records("undone", 10))
            undone = set(s.scalars(select(Customer.id).where(Customer.name.like("Undone%"))))
            raise Undone
    except Undone:
        pass
    with db.session(write_lock=True) as a:  # PostgreSQL: two at once, each on a connection of its own
        _page(a, workspace_id, connection_id, run_id, _records("a", 10))
        if postgresql:
            with db.session() as b:
                _page(b, workspace_id, connection_id, run_id, _records("b", 10))
    if not postgresql:  # one writer at a time
        with db.session(write_lock=True) as b:
            _page(b, workspace_id, connection_id, run_id, _records("b", 10))
    with db.session() as s:
        ids = list(s.scalars(select(Customer.id)))
        assert len(ids) == len(set(ids)) == pages * PAGE + 20
        assert s.scalar(select(func.count()).select_from(CustomerReference)) == pages * PAGE + 20
    assert len(undone) == 10 and (not postgresql or not undone & set(ids))


def test_other_packages_customers_are_asked_about_once_a_transaction(db: Database) -> None:
    """Two pages in one transaction ask once whether the workspace holds another package's customers (none: no
    candidates are looked up); once another package's import brought one, the next transaction asks again and
    links the same email to it."""
    with db.session() as s:
        workspace_id, (xero, myob) = _connections(s, "xero", "myob")
        xero_run, myob_run = _run(s, workspace_id, xero), _run(s, workspace_id, myob)
    with _statements(db) as sent, db.session(write_lock=True) as s:
        for n in range(2):
            assert _page(s, workspace_id, xero, xero_run, _records(f"x{n}", 3))["new"] == 3
    assert sum(q.startswith(ASK_OTHERS) for q in sent) == 1
    with db.session(write_lock=True) as s:
        assert _page(s, workspace_id, myob, myob_run, _records("m", 1))["new"] == 1  # m0@ex.nz
    linked = dataclasses.replace(_records("m", 1)[0], id="x-m0")  # the same email at Xero
    with _statements(db) as sent, db.session(write_lock=True) as s:
        counts = _page(s, workspace_id, xero, xero_run, [linked])
    assert sum(q.startswith(ASK_OTHERS) for q in sent) == 1
    assert counts["linked"] == 1
