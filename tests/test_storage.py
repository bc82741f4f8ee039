"""Migrations and the database basics, on SQLite and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import UniqueConstraint, create_engine, delete, event, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from storage import migrate
from storage.bulk import BulkWriter, ids_in_order
from storage.crypto import SecretBox
from storage.db import Database, WriterTurns
from storage.models import (
    Base,
    Connection,
    Customer,
    CustomerReference,
    ImportRun,
    Invoice,
    OAuthState,
    Workspace,
)
from tests.conftest import DATABASES, TEST_KEY


def _workspace_with_connection(s: Session) -> tuple[Workspace, Connection]:
    workspace = Workspace(team_id="T1")
    s.add(workspace)
    s.flush()
    connection = Connection(workspace_id=workspace.id, provider="xero", organisation_id="org", organisation_name="Org")
    s.add(connection)
    s.flush()
    return workspace, connection


def test_migrations_create_every_model_table(empty_database_url: str) -> None:
    db = Database(empty_database_url, SecretBox(TEST_KEY))
    assert migrate.current_revision(db.engine) is None
    with pytest.raises(migrate.SchemaOutOfDate, match="accounts-bot migrate"):
        migrate.check_schema(db.engine)
    migrate.upgrade(db.engine)
    migrate.check_schema(db.engine)
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    db.dispose()


def test_migrations_match_the_models(db: Database) -> None:
    """Autogenerate finds nothing to do: the migrations and the models describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_every_column_compares_text_as_its_model_says(db: Database) -> None:
    """Autogenerate does not compare collations (it found nothing with 0028 undone), so this does: each column's
    collation in the migrated database is what its model declares for the dialect (None: the database's own), and
    the matching keys and package ids are compared by their bytes on PostgreSQL (`storage.models.customers`)."""
    dialect = db.engine.dialect
    declared = {
        (table.name, column.name): getattr(column.type.dialect_impl(dialect), "collation", None)
        for table in Base.metadata.tables.values()
        for column in table.columns
    }
    with db.engine.connect() as c:
        if dialect.name == "postgresql":
            rows = c.exec_driver_sql(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            ).all()
            found = {(table, column): collation for table, column, collation in rows}
        else:  # SQLite keeps each table's statement: a column's own collation would be written there
            tables = c.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table'").scalars().all()
            assert not [sql for sql in tables if sql and "COLLATE" in sql.upper()]
            found = dict.fromkeys(declared)
    assert {key: found[key] for key in declared} == declared
    keys = {k for k, collation in declared.items() if collation == "C"}
    expected = {
        ("customers", "email_key"),
        ("customers", "name_key"),
        ("customer_references", "external_id"),
        ("customer_references", "merged_into_external_id"),
    }
    assert keys == (expected if dialect.name == "postgresql" else set())


def test_byte_order_keys_come_and_go_with_their_migration(db: Database) -> None:
    """0028 undone leaves the database's own collation (PostgreSQL), done again byte order, its indexes kept."""
    if db.engine.dialect.name != "postgresql":
        migrate.downgrade(db.engine, "0027")
        migrate.upgrade(db.engine)  # nothing to do on SQLite, either way
        return
    query = (
        "SELECT column_name, collation_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND column_name IN ('email_key', 'external_id')"
    )
    with db.engine.connect() as c:
        assert dict(c.exec_driver_sql(query).all()) == {"email_key": "C", "external_id": "C"}
    migrate.downgrade(db.engine, "0027")
    with db.engine.connect() as c:
        assert dict(c.exec_driver_sql(query).all()) == {"email_key": None, "external_id": None}
    migrate.upgrade(db.engine)
    with db.engine.connect() as c:
        assert dict(c.exec_driver_sql(query).all()) == {"email_key": "C", "external_id": "C"}
        indexes = {ix["name"] for ix in inspect(c).get_indexes("customers")}
    assert {"ix_customers_workspace_email", "ix_customers_workspace_name"} <= indexes


def test_downgrade_to_nothing_and_up_again(db: Database) -> None:
    migrate.downgrade(db.engine, "base")
    assert not set(Base.metadata.tables) & set(inspect(db.engine).get_table_names())
    migrate.upgrade(db.engine)
    migrate.check_schema(db.engine)


def test_a_migration_that_copies_a_table_keeps_every_row_that_refers_to_it(empty_database_url: str) -> None:
    """0025 drops a column of customers, which SQLite does by copying the table and dropping the old one: with
    foreign keys on, that drop would run the ON DELETE actions of the rows referring to it (a customer's references
    deleted, an invoice's customer set to NULL). Migrations run with them off and checked before the commit."""
    db = Database(empty_database_url, SecretBox(TEST_KEY))
    migrate.upgrade(db.engine, "0024")
    with db.session() as s:
        workspace, connection = _workspace_with_connection(s)
        run = ImportRun(workspace_id=workspace.id, connection_id=connection.id, trigger="command")
        s.add(run)
        s.flush()
        customer_id = s.execute(  # the columns of 0024 only (the models have more)
            text(
                "INSERT INTO customers (workspace_id, name, phones, addresses, active, first_import_run_id, "
                "created_at, updated_at) VALUES (:workspace, 'Acme Plumbing', '[]', '[]', :active, :run, :now, :now) "
                "RETURNING id"
            ),
            {"workspace": workspace.id, "active": True, "run": run.id, "now": "2026-12-03 00:00:00.000000"},
        ).scalar_one()
        s.execute(
            insert(CustomerReference).values(
                customer_id=customer_id, connection_id=connection.id, external_id="x1", digest="d"
            )
        )
        s.add(
            Invoice(
                workspace_id=workspace.id,
                connection_id=connection.id,
                customer_id=customer_id,
                customer_external_id="x1",
                customer_name="Acme Plumbing",
                idempotency_key="k1",
                issued_on=date(2026, 12, 3),
                due_on=date(2026, 12, 17),
                created_by="U1",
            )
        )
        s.execute(text("UPDATE customers SET last_import_run_id = :run"), {"run": run.id})
    ids = (customer_id, run.id)

    migrate.upgrade(db.engine)
    with db.engine.connect() as c:
        assert "last_import_run_id" not in {col["name"] for col in inspect(c).get_columns("customers")}
        assert c.execute(text("SELECT customer_id FROM customer_references")).scalars().all() == [ids[0]]
        assert c.execute(text("SELECT customer_id FROM invoices")).scalars().all() == [ids[0]]
        assert c.execute(text("SELECT first_import_run_id FROM customers")).scalars().all() == [ids[1]]
    with pytest.raises(IntegrityError), db.session() as s:  # the foreign keys still hold
        s.add(CustomerReference(customer_id=ids[0] + 1, connection_id=connection.id, external_id="x2", digest="d"))

    migrate.downgrade(db.engine, "0024")  # and back, keeping them too
    with db.engine.connect() as c:
        assert c.execute(text("SELECT customer_id FROM customer_references")).scalars().all() == [ids[0]]
        assert c.execute(text("SELECT customer_id FROM invoices")).scalars().all() == [ids[0]]
    db.dispose()


def test_a_sqlite_migration_that_leaves_a_row_referring_to_nothing_is_rolled_back(tmp_path: Path) -> None:
    """With foreign keys off while the schema moves, SQLite's own check before the commit is what stops a migration
    leaving a row that refers to nothing: here one was there already (written with the keys off), and the move to
    0025 is refused whole; starting the bot at the schema it has (nothing to migrate) does not read every table."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db = Database(url, SecretBox(TEST_KEY))
    migrate.upgrade(db.engine, "0024")
    with sqlite3.connect(tmp_path / "x.db") as raw:  # foreign keys are off unless a connection turns them on
        raw.execute(
            "INSERT INTO customer_references (customer_id, connection_id, external_id, digest, created_at) "
            "VALUES (41, 42, 'x1', 'd', '2026-12-03 00:00:00.000000')"
        )
    with pytest.raises(RuntimeError, match="referring to rows that are not there"):
        migrate.upgrade(db.engine)
    assert migrate.current_revision(db.engine) == "0024"
    with db.engine.connect() as c:
        assert "last_import_run_id" in {col["name"] for col in inspect(c).get_columns("customers")}
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1  # on again for the pool's next user
    migrate.upgrade(db.engine, "0024")  # at its revision already: nothing moves, nothing is checked
    db.dispose()


def test_every_foreign_key_to_a_table_the_bot_deletes_from_is_indexed() -> None:
    """Deleting a row makes the database find the rows referring to it (to delete them or set them to NULL):
    without an index on the referring columns, a scan of the whole table for every row deleted. Ended runs are
    deleted hourly (`prune_ended`), a thousand at a time, beside tables of hundreds of thousands of customers."""
    deleted_from = {  # the tables whose rows the bot deletes (`delete(...)`, `session.delete`), and where
        "import_runs",  # bot.imports.runs.prune_ended
        "oauth_states",  # bot.connections.connect
        "pending_connections",  # bot.connections.connect
        "invoices",  # bot.invoices.tracking
        "call_budgets",  # bot.budget
        "shown_views",  # bot.slack.shown_views
        "handled_requests",  # bot.slack.replays
        "status_changes",  # storage.status_version
        "chart_accounts",  # bot.mapping.account_mapping
        "account_mappings",  # bot.mapping.account_mapping
        "chart_tax_rates",  # bot.mapping.tax_codes
        "slack_installations",  # bot.workspaces
        "workspace_admins",  # bot.workspaces.permissions
    }
    unindexed = []
    for table in Base.metadata.sorted_tables:
        leading = [tuple(c.name for c in index.columns) for index in table.indexes]
        leading += [tuple(c.name for c in u.columns) for u in table.constraints if isinstance(u, UniqueConstraint)]
        leading.append(tuple(c.name for c in table.primary_key.columns))
        for key in table.foreign_key_constraints:
            columns = tuple(c.name for c in key.columns)
            if key.referred_table.name in deleted_from and not any(lead[: len(columns)] == columns for lead in leading):
                unindexed.append(f"{table.name}{columns} -> {key.referred_table.name}")
    assert unindexed == []


def test_datetimes_come_back_in_utc(db: Database) -> None:
    when = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    with db.session() as s:
        s.add(OAuthState(state_digest="d" * 64, purpose="connect", expires_at=when))
    with db.session() as s:
        row = s.scalars(select(OAuthState)).one()
        assert row.expires_at == when and row.expires_at.tzinfo is not None


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        with db.session() as s:
            s.add(OAuthState(state_digest="e" * 64, purpose="connect", expires_at=datetime(2026, 1, 1)))


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=ZoneInfo("Pacific/Auckland")),
        datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
        None,
    ],
)
def test_bulk_writes_hand_the_driver_the_datetimes_sqlalchemy_would(db: Database, when: datetime | None) -> None:
    """The bulk writer formats a UTC datetime itself (`storage.bulk.utc_datetime`): what it hands the driver is
    what SQLAlchemy's own processing of the column would, so what the bulk writes and the ORM writes compare."""
    column = CustomerReference.__table__.c.provider_updated_at
    dialect = db.engine.dialect
    with db.session() as s:
        ours = BulkWriter(s).processor(column)
    theirs = column.type.dialect_impl(dialect).bind_processor(dialect)
    assert ours(when) == theirs(when)
    with pytest.raises(ValueError, match="naive datetime"):
        ours(datetime(2026, 1, 1))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, ZoneInfo("Pacific/Auckland"), ZoneInfo("America/St_Johns"), timezone(timedelta(hours=-3))]
        ),
    )
)
def test_bulk_writes_hand_the_driver_the_datetimes_sqlalchemy_would_whatever_the_moment(
    db: Database, when: datetime
) -> None:
    """Any moment, in any zone: years before 1000 (written with their leading zeros), whole seconds (their
    microseconds written all the same), the last microsecond of a year."""
    column = CustomerReference.__table__.c.provider_updated_at
    dialect = db.engine.dialect
    with db.session() as s:
        ours = BulkWriter(s).processor(column)
    assert ours(when) == column.type.dialect_impl(dialect).bind_processor(dialect)(when)


_STORED_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)  # as cleaned
_MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)  # a day inside the range either way, so the zone never takes it out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            _STORED_TEXT.filter(bool),
            _STORED_TEXT,
            st.booleans(),
            st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1),
            st.none() | _MOMENTS,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_bulk_inserts_store_exactly_what_they_are_given(db: Database, rows: list[tuple[Any, ...]]) -> None:
    """What the import's bulk writer stores reads back as it was given, whatever the text (tabs, newlines,
    backslashes and quotes, which PostgreSQL's COPY would have to escape in its text form), numbers, flags and times,
    on both databases."""
    with db.session() as s:
        workspace = Workspace(team_id=f"T{len(rows)}")
        s.add(workspace)
        s.flush()
        bulk = BulkWriter(s)
        utc = bulk.processor(Customer.__table__.c.created_at)  # a UTC datetime as the driver takes it
        moment = utc(datetime(2026, 12, 3, tzinfo=UTC))
        ids = bulk.new_ids(Customer.__table__, len(rows))
        bulk.insert(
            Customer.__table__,
            ("id", "name", "first_name", "phones", "active", "number", "erased_at"),
            [
                (id_, name, text, json.dumps([text]), active, None if number is None else str(number), utc(when))
                for id_, (name, text, active, number, when) in zip(ids, rows, strict=True)
            ],
            {"workspace_id": workspace.id, "addresses": "[]", "created_at": moment, "updated_at": moment},
        )
    with db.session() as s:
        stored = s.execute(
            select(
                Customer.name,
                Customer.first_name,
                Customer.phones,
                Customer.active,
                Customer.number,
                Customer.erased_at,
            )
            .where(Customer.workspace_id == workspace.id)
            .order_by(Customer.id)
        ).all()
        assert [tuple(row) for row in stored] == [
            (name, text, [text], active, None if number is None else str(number), when)
            for name, text, active, number, when in rows
        ]
        s.execute(delete(Customer))
        s.execute(delete(Workspace))


_PAGE = ("id", "name", "first_name", "company", "active", "number")


@pytest.mark.parametrize(
    ("columns", "rows", "bound"),
    [
        # a page without a number or a company, all active: those three written once, not bound with each row
        (
            _PAGE,
            [(1, "Acme", None, None, True, None), (2, "Bolt", None, "Bolt Ltd", True, None)],
            _PAGE[:2] + ("company",),
        ),
        # a value that differs in one row keeps its column bound; an empty text is not a `None`
        (
            _PAGE,
            [(1, "Acme", "", None, True, None), (2, "Bolt", None, None, False, "")],
            (*_PAGE[:3], "active", "number"),
        ),
        # every column the same `None` or flag: one stays bound, as an insert needs a value per row
        (("first_name", "company", "active", "number"), [(None, None, False, None)], ("first_name",)),
    ],
)
def test_bulk_inserts_write_a_value_every_row_shares_once(
    db: Database, columns: tuple[str, ...], rows: list[tuple[Any, ...]], bound: tuple[str, ...]
) -> None:
    """SQLite: a column holding the same `None` or flag in every row is written into the statement rather than
    bound with each row (binding those costs CPython's driver five times what text does); the rows stored are the
    rows given, on both databases."""
    shared_extra = {} if "id" in columns else {"id": 1, "name": "Acme"}
    sent: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO customers"):
            sent.append((statement, parameters if many else [parameters]))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.session() as s:
            workspace = Workspace(team_id="T1")
            s.add(workspace)
            s.flush()
            moment = BulkWriter(s).processor(Customer.__table__.c.created_at)(datetime(2026, 12, 3, tzinfo=UTC))
            shared = {"workspace_id": workspace.id, "phones": "[]", "addresses": "[]", "created_at": moment}
            BulkWriter(s).insert(Customer.__table__, columns, rows, {**shared, **shared_extra, "updated_at": moment})
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    with db.session() as s:
        stored = s.execute(select(*(Customer.__table__.c[c] for c in columns)).order_by(Customer.id)).all()
    assert [tuple(row) for row in stored] == [
        tuple(bool(v) if c == "active" else v for c, v in zip(columns, row, strict=True)) for row in rows
    ]
    if db.engine.dialect.name == "sqlite":
        [(statement, parameters)] = sent
        assert statement.split(") VALUES")[0].split("(", 1)[1].split(", ")[: len(bound)] == list(bound)
        assert [len(p) for p in parameters] == [len(bound)] * len(rows)
        assert statement.count("?") == len(bound)


if "postgresql" in DATABASES:

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_a_column_the_binary_copy_has_no_form_for_is_refused_before_anything_is_sent(db: Database) -> None:
        """PostgreSQL reads each field of a binary COPY in its column's own binary form: a date sent as text would be
        misread, so a column type without a rule (`storage.bulk`) stops the insert at once, naming the column."""
        with db.session() as s, pytest.raises(TypeError, match=r"invoices\.issued_on"):
            BulkWriter(s).insert(Invoice.__table__, ("id", "issued_on"), [(1, date(2026, 12, 3))])


def test_ids_in_order_are_the_ids_an_ordered_select_gives(db: Database) -> None:
    """`ids_in_order` reads the ids as one value: the same ids, in the same order, as the rows of the ordered select,
    for more ids than one slice of its text holds (ties on the name broken by the id), and none for no row."""
    rng = random.Random(7)
    names = ["Able", "able", "ABLE ltd", "Bee", "bee", "Ōtāhuhu", "zed", "Zed", "10 Ltd", "9 Ltd"]
    with db.session() as s:
        workspace, _ = _workspace_with_connection(s)
        s.execute(
            insert(Customer),
            [{"workspace_id": workspace.id, "name": rng.choice(names) + " " * rng.randrange(2)} for _ in range(15_000)],
        )
        order = (func.lower(Customer.name), Customer.id)
        where = [Customer.workspace_id == workspace.id]
        expected = list(s.scalars(select(Customer.id).where(*where).order_by(*order)))
        found = ids_in_order(s, Customer.id, where, order)
        assert len(expected) == 15_000 and len(",".join(map(str, expected))) > 65_536  # more than one slice
        assert found.typecode == "q" and list(found) == expected
        assert list(ids_in_order(s, Customer.id, [Customer.workspace_id == workspace.id + 1], order)) == []


def test_session_rolls_back_when_the_block_raises(db: Database) -> None:
    with pytest.raises(RuntimeError):
        with db.session() as s:
            s.add(Workspace(team_id="T1"))
            s.flush()
            raise RuntimeError("boom")
    with db.session() as s:
        assert s.scalars(select(Workspace)).all() == []


def test_a_connection_in_use_when_the_database_is_disposed_is_closed_when_it_comes_back(db: Database) -> None:
    """A thread still at work when the bot stops gives its connection back after `dispose`: it is closed then,
    not left open in a pool nobody uses until the garbage collector deletes it (psycopg warns of that)."""
    with db.session() as s:
        held = s.connection().connection.dbapi_connection
        db.dispose()
        assert s.execute(text("SELECT 1")).scalar() == 1  # the work in hand finishes
    with pytest.raises(Exception, match="(?i)closed"):
        held.cursor().execute("SELECT 1")
    with db.session() as s:  # a late caller still gets a connection, closed in turn when given back
        late = s.connection().connection.dbapi_connection
        assert s.execute(text("SELECT 2")).scalar() == 2
    with pytest.raises(Exception, match="(?i)closed"):
        late.cursor().execute("SELECT 1")


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_checkpoints_every_64_mib(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", SecretBox(TEST_KEY))
    with db.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert c.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 16_384  # 64 MiB between checkpoints
        assert c.execute(text("PRAGMA journal_size_limit")).scalar() == 64 * 1024 * 1024
    db.dispose()


def test_secret_box_round_trip_and_rotation() -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    sealed = SecretBox(old).encrypt("xoxb-secret")
    assert "xoxb-secret" not in sealed
    assert SecretBox(f"{new},{old}").decrypt(sealed) == "xoxb-secret"
    with pytest.raises(Exception, match="ENCRYPTION_KEY"):
        SecretBox(new).decrypt(sealed)


if "postgresql" in DATABASES:  # SQLite plans from its indexes alone: refresh_statistics does nothing there

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_postgresql_learns_how_big_the_customer_tables_grew(db: Database) -> None:
        """After a bulk load PostgreSQL believes a table is as small as it was, until autovacuum gets to it;
        an import refreshes the statistics itself so that its lookups keep using the whole index."""
        with db.session() as s:
            workspace, connection = _workspace_with_connection(s)
            customers = [Customer(workspace_id=workspace.id, name=f"Customer {n}") for n in range(5000)]
            s.add_all(customers)
            s.flush()
            s.add_all(
                CustomerReference(customer_id=c.id, connection_id=connection.id, external_id=f"x{n}", digest="d")
                for n, c in enumerate(customers)
            )

        def estimated_rows() -> float:
            with db.engine.connect() as c:
                return float(
                    c.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'customer_references'")).scalar()
                )

        assert estimated_rows() < 5000  # never analysed: PostgreSQL does not know
        db.refresh_statistics({"customers": (), "customer_references": ()})
        assert estimated_rows() == 5000
        assert external_id_bounds(db) == 101  # the server's target: 100 buckets of the 5,000 ids
        db.refresh_statistics({"customer_references": ("external_id",)}, sample=10)
        assert external_id_bounds(db) == 11  # a quick look: 3,000 rows read, 10 buckets
        assert estimated_rows() == 5000  # and the size counted all the same
        db.refresh_statistics({"customer_references": ("external_id",)})  # the target was this look's alone
        assert external_id_bounds(db) == 101

    def external_id_bounds(db: Database) -> int:
        """How many bounds PostgreSQL's histogram of the references' external ids has: one more than the statistics
        target it was made with (every id differs, so none is a most common value)."""
        with db.engine.connect() as c:
            return int(
                c.execute(
                    text(
                        "SELECT cardinality(histogram_bounds::text::text[]) FROM pg_stats "
                        "WHERE tablename = 'customer_references' AND attname = 'external_id'"
                    )
                ).scalar_one()
            )


if "postgresql" in DATABASES:

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_a_pooled_connection_is_tried_only_after_sitting_idle_and_a_dead_one_is_replaced(
        db: Database, monkeypatch: pytest.MonkeyPatch, mocker: Any
    ) -> None:
        pings = mocker.spy(db.engine.dialect, "do_ping")  # SQLAlchemy's, not ours: how often the pool asks
        for _ in range(5):  # back to back: the connection was in use a moment ago
            with db.session() as s:
                pid = s.execute(text("SELECT pg_backend_pid()")).scalar()
        assert pings.call_count == 0
        other = create_engine(db.engine.url, poolclass=NullPool)  # not from the pool: its one connection is `pid`
        with other.connect() as c:  # the server closes the idle connection (a restart, an idle timeout)
            assert c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        other.dispose()
        monkeypatch.setattr("storage.db.PING_AFTER_IDLE_SECONDS", 0.0)  # any time since its use counts as idle
        with db.session() as s:  # tried, found dead, replaced: the caller never sees it
            assert s.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        assert pings.call_count >= 1


def _sqlite(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'turns.db'}", SecretBox(TEST_KEY))
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE written (who TEXT)")
    return database


def test_a_writer_of_this_process_gets_the_next_turn_not_a_gap_between_transactions(tmp_path: Path) -> None:
    """An import writes transaction after transaction on SQLite; another thread's write (a Slack action, a token's
    refresh) is handed the write lock as the transaction it waits behind ends, instead of waiting for SQLite's busy
    loop to find a gap, which the writer's next transaction left none of (seconds, up to "database is locked")."""
    db = _sqlite(tmp_path)
    assert db.writers is not None
    begun = threading.Event()

    def importer() -> None:
        with db.session(write_lock=True) as s:
            s.execute(text("INSERT INTO written VALUES ('page 1')"))
            begun.set()
            assert db.writers is not None and db.writers.until_waiting(1, timeout=10)
        with db.session(write_lock=True) as s:  # at once, as the next page's transaction
            s.execute(text("INSERT INTO written VALUES ('page 2')"))

    def action() -> None:
        begun.wait(10)
        with db.session(write_lock=True) as s:
            s.execute(text("INSERT INTO written VALUES ('action')"))

    threads = [threading.Thread(target=importer), threading.Thread(target=action)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with db.session() as s:
        assert s.scalars(text("SELECT who FROM written ORDER BY rowid")).all() == ["page 1", "action", "page 2"]
    db.dispose()


def test_turns_are_first_come_first_served_and_a_thread_may_nest_its_own() -> None:
    turns = WriterTurns(timeout=10.0)
    order: list[str] = []
    with turns.turn():
        with turns.turn():  # a write inside this thread's own: not held up (SQLite decides, as before)
            order.append("nested")
        waiters = []
        for count, name in enumerate(("first", "second", "third"), start=1):
            thread = threading.Thread(target=_take, args=(turns, order, name))
            thread.start()
            assert turns.until_waiting(count, timeout=10)  # in line, in this order
            waiters.append(thread)
        order.append("holder")
    for thread in waiters:
        thread.join(10)
    assert order == ["nested", "holder", "first", "second", "third"] and turns.waiting() == 0


def test_a_writer_that_waited_out_the_timeout_goes_on_to_the_database() -> None:
    """As SQLite's busy timeout would have let it try, and fail there: the turns never wait longer than it."""
    turns = WriterTurns(timeout=0.05)
    order: list[str] = []
    with turns.turn():
        late = threading.Thread(target=_take, args=(turns, order, "late"))
        late.start()
        late.join(10)
        order.append("holder")
    assert order == ["late", "holder"] and turns.waiting() == 0
    with turns.turn():  # the turns are whole again: the next writer takes one at once
        order.append("next")
    assert order[-1] == "next"


def _take(turns: WriterTurns, order: list[str], name: str) -> None:
    with turns.turn():
        order.append(name)
