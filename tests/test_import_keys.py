"""A page of new customers has its foreign keys checked once, not once a row (`storage.bulk.keys_checked_once`):
what the per-row checks guaranteed still holds, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.customers.matching import apply_page
from providers.base import Customer as Record
from storage.bulk import BulkWriter
from storage.crypto import SecretBox
from storage.db import Database
from storage.models import Connection, Customer, CustomerReference, ImportRun, Workspace
from tests.conftest import DATABASES, TEST_KEY

NOW = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
# what is sent to leave the checks out (with the parents' lock), and to put them back
LEFT_OUT = "SELECT set_config('session_replication_role', 'replica', true)"
BACK = "SET LOCAL session_replication_role = DEFAULT"


def _connections(s: Session, *packages: str) -> tuple[int, list[int]]:
    workspace = Workspace(team_id=f"T{uuid.uuid4().hex[:8].upper()}")
    s.add(workspace)
    s.flush()
    connections = [
        Connection(workspace_id=workspace.id, provider=p, organisation_id=f"org-{i}", organisation_name=f"Org {i}")
        for i, p in enumerate(packages)
    ]
    s.add_all(connections)
    s.flush()
    return workspace.id, [c.id for c in connections]


def _run(s: Session, workspace_id: int, connection_id: int) -> int:
    run = ImportRun(workspace_id=workspace_id, connection_id=connection_id, trigger="command", status="running")
    s.add(run)
    s.flush()
    return run.id


def _page(s: Session, workspace_id: int, connection_id: int, run_id: int, records: list[Record]) -> Counter[str]:
    return apply_page(
        s,
        workspace_id=workspace_id,
        connection_id=connection_id,
        run_id=run_id,
        records=records,
        customer_filter="all_but_suppliers",
        now=NOW,
    )


def _records(prefix: str, n: int) -> list[Record]:
    return [
        Record(id=f"{prefix}-{i}", name=f"{prefix.title()} Plumbing {i}", email=f"{prefix}{i}@ex.nz") for i in range(n)
    ]


def _settings(sent: list[str]) -> list[str]:
    """The statements that left the checks out and put them back, in order (the former without its lock)."""
    return [q.split(" FROM ")[0] for q in sent if q.startswith((LEFT_OUT, BACK))]


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


def test_a_page_that_refers_to_a_row_that_is_not_there_is_refused(db: Database) -> None:
    """The rows' own checks still refuse a page whose connection or run is missing: checked once, a key that does
    not hold is found by the look-up of the rows the page refers to, and the page is written with every check."""
    with db.session() as s:
        workspace_id, (connection_id,) = _connections(s, "xero")
        run_id = _run(s, workspace_id, connection_id)
    for connection, run in ((connection_id + 100, run_id), (connection_id, run_id + 100)):
        with pytest.raises(IntegrityError), db.session(write_lock=True) as s:
            _page(s, workspace_id, connection, run, _records("gone", 3))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
        assert s.scalar(select(func.count()).select_from(CustomerReference)) == 0


def test_a_page_of_new_customers_is_written_whole_with_its_keys(db: Database) -> None:
    with db.session() as s:
        workspace_id, (connection_id,) = _connections(s, "xero")
        run_id = _run(s, workspace_id, connection_id)
    with _statements(db) as sent, db.session(write_lock=True) as s:
        counts = _page(s, workspace_id, connection_id, run_id, _records("new", 50))
        # whatever was left out for the page's writes is back for the rest of the transaction
        sqlite = db.engine.dialect.name == "sqlite"
        after = None if sqlite else s.execute(text("SHOW session_replication_role")).scalar()
    assert counts["new"] == 50
    with db.session() as s:
        rows = s.execute(
            select(Customer.workspace_id, Customer.first_import_run_id, CustomerReference.connection_id).join(
                CustomerReference, CustomerReference.customer_id == Customer.id
            )
        ).all()
    assert sorted(set(rows)) == [(workspace_id, run_id, connection_id)] and len(rows) == 50
    if sqlite:  # SQLite's checks are cheap: nothing is left out
        assert not _settings(sent)
    else:  # the superuser the tests run as may leave the checks out
        assert _settings(sent) == [LEFT_OUT, BACK]
        assert any("FOR KEY SHARE" in q for q in sent if LEFT_OUT in q)
        assert after == "origin"


def test_a_page_that_refers_to_another_packages_customers_keeps_every_check(db: Database) -> None:
    """A new reference to a customer this page did not create (linked across packages by the same email), or a new
    customer marked a possible duplicate of one, refers to a row no lock of the page holds: its checks stay."""
    with db.session() as s:
        workspace_id, (xero, myob) = _connections(s, "xero", "myob")
        first = _run(s, workspace_id, myob)
    theirs = [
        Record(id="m-1", name="Kauri Plumbing", email="office@kauri.nz"),
        Record(id="m-2", name="Totara Drains", email="drains@totara.nz"),
    ]
    with db.session(write_lock=True) as s:
        _page(s, workspace_id, myob, first, theirs)
    with db.session() as s:
        second = _run(s, workspace_id, xero)
    linked = Record(id="x-1", name="Kauri Plumbing", email="office@kauri.nz")  # to m-1's customer
    duplicate = Record(id="x-2", name="Harbour Electrical", email="drains@totara.nz")  # new, maybe m-2's customer
    for page, outcome in (
        ([linked, *_records("a", 2)], "linked"),
        ([duplicate, *_records("b", 2)], "possible_duplicates"),
    ):
        with _statements(db) as sent, db.session(write_lock=True) as s:
            counts = _page(s, workspace_id, xero, second, page)
        assert counts[outcome] == 1 and counts["new"] == 2 + (outcome == "possible_duplicates")
        assert not _settings(sent)


if "postgresql" in DATABASES:

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_a_workspace_deleted_while_a_page_is_written_waits_and_takes_the_page_with_it(db: Database) -> None:
        """The rows a page refers to are locked as each row's check would have locked them: deleting the
        workspace (or the connection) waits for the page's transaction, then takes its customers with it. Without
        the lock the delete went first, and the page's customers were left referring to nothing."""
        with db.session() as s:
            workspace_id, (connection_id,) = _connections(s, "xero")
            run_id = _run(s, workspace_id, connection_id)
        url = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True) as other:
            other.execute("SET lock_timeout = '200ms'")
            with db.session(write_lock=True) as s:
                _page(s, workspace_id, connection_id, run_id, _records("held", 20))
                for table, row in (("connections", connection_id), ("workspaces", workspace_id)):
                    with pytest.raises(psycopg.errors.LockNotAvailable):
                        other.execute(f"DELETE FROM {table} WHERE id = %s", (row,))
            other.execute("DELETE FROM workspaces WHERE id = %s", (workspace_id,))
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Customer)) == 0
            assert s.scalar(select(func.count()).select_from(CustomerReference)) == 0

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_what_a_refused_page_left_out_is_checked_again_after_it(db: Database) -> None:
        """A page refused inside the block (here a primary key taken twice: uniqueness is an index, checked with
        the rest left out) rolls back to its savepoint, and with it the setting: the next rows are checked."""
        with db.session() as s:
            workspace_id, (connection_id,) = _connections(s, "xero")
            run_id = _run(s, workspace_id, connection_id)
        columns = ("id", "workspace_id", "name", "phones", "addresses", "active", "created_at", "updated_at")
        row = (7, workspace_id, "Twice", "[]", "[]", True, NOW, NOW)
        parents = {"workspaces": workspace_id, "import_runs": run_id, "connections": connection_id}
        with db.session(write_lock=True) as s:
            with pytest.raises(IntegrityError), s.begin_nested():
                bulk = BulkWriter(s)  # in the savepoint: the session sends SAVEPOINT as its connection is asked for
                with bulk.keys_checked_once(parents) as left_out:
                    assert left_out
                    bulk.insert(Customer.__table__, columns, [row, row])
            assert s.execute(text("SHOW session_replication_role")).scalar() == "origin"
            with pytest.raises(IntegrityError), s.begin_nested():
                BulkWriter(s).insert(Customer.__table__, columns, [(8, workspace_id + 100, *row[2:])])

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_the_tables_an_import_writes_with_the_checks_left_out_have_no_trigger_of_their_own(db: Database) -> None:
        """Leaving the checks out (`session_replication_role`) leaves out every trigger: one added to these tables
        would not fire for an import's new rows. Should one be wanted, `_Writes.flush` must stop leaving checks out."""
        with db.session() as s:
            own = s.execute(
                text(
                    "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                    "WHERE tgrelid IN ('customers'::regclass, 'customer_references'::regclass) AND NOT tgisinternal"
                )
            ).all()
        assert own == []

    @pytest.fixture
    def plain_user(db: Database) -> Iterator[tuple[Database, str]]:
        """The test database as a user of its own who may write the tables, and nothing more."""
        role = f"accounts_bot_plain_{uuid.uuid4().hex[:8]}"
        admin_url = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE ROLE "{role}" LOGIN')
            admin.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
            admin.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
            admin.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
            user_url = make_url(db.url).set(username=role).render_as_string(hide_password=False)
            user = Database(user_url, SecretBox(TEST_KEY))
            try:
                yield user, role
            finally:
                user.dispose()
                admin.execute(f'REVOKE ALL ON PARAMETER session_replication_role FROM "{role}"')
                admin.execute(f'DROP OWNED BY "{role}"')
                admin.execute(f'DROP ROLE "{role}"')

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_a_database_user_who_may_not_leave_the_checks_out_imports_with_them(
        db: Database, plain_user: tuple[Database, str]
    ) -> None:
        """Leaving the checks out takes a superuser, or a user granted SET on `session_replication_role`
        (PostgreSQL 15): a user without imports as before, every row checked; granted it, the checks are left out."""
        user, role = plain_user
        with db.session() as s:
            workspace_id, (connection_id,) = _connections(s, "xero")
            run_id = _run(s, workspace_id, connection_id)
        with _statements(user) as sent, user.session(write_lock=True) as s:
            assert _page(s, workspace_id, connection_id, run_id, _records("plain", 10))["new"] == 10
        assert not _settings(sent)
        admin_url = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'GRANT SET ON PARAMETER session_replication_role TO "{role}"')
        user.engine.dispose()  # what a connection may do is asked once a connection
        with _statements(user) as sent, user.session(write_lock=True) as s:
            assert _page(s, workspace_id, connection_id, run_id, _records("granted", 10))["new"] == 10
        assert _settings(sent) == [LEFT_OUT, BACK]
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(CustomerReference)) == 20
