"""The pieces of an import without Slack: matching records to customers, the CSV, the run's storage rules, and
the view builders (checked against Slack's Block Kit limits)."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from bot.customers.lists import (
    Duplicate,
    Scope,
    customer_count,
    customer_tally,
    first_source,
    iter_csv_rows,
    kept_from_earlier,
    safe_cell,
    search,
    write_csv,
    write_csv_rows,
)
from bot.customers.matching import apply_page
from bot.customers.rows import compatible_names, counts_as_customer, email_key, name_key
from bot.imports import runs as import_runs
from bot.imports.runs import RunView
from bot.views import customers as customer_views
from bot.views import importing as views
from providers.base import Address, Phone
from providers.base import Customer as Record
from storage.db import Database
from storage.models import Connection, Customer, CustomerReference, ImportRun, Workspace
from tests.fakes.blockkit import check_message

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b", "compatible"),
    [
        ("Acme Plumbing", "ACME Plumbing Ltd", True),
        ("Acme Plumbing Limited", "acme plumbing", True),
        ("Bob's Bakery", "Bob’s Bakery & Co", True),
        ("Café Kauri", "Cafe Kauri", True),
        ("Acme Plumbing", "Acme Gas", False),
        ("Ltd", "Limited", False),
        ("", "Acme", False),
    ],
)
def test_compatible_names(a: str, b: str, compatible: bool) -> None:
    assert compatible_names(a, b) is compatible


def test_match_keys() -> None:
    assert email_key("  Office@Acme.Example ") == "office@acme.example"
    assert email_key("") is None and email_key(None) is None
    assert name_key("The Acme Plumbing Co.") == name_key("acme plumbing") == "acme plumbing"


@pytest.mark.parametrize(
    ("is_customer", "is_supplier", "setting", "counts"),
    [
        (True, False, "all_but_suppliers", True),
        (None, None, "all_but_suppliers", True),  # not invoiced yet: still a customer by default
        (False, True, "all_but_suppliers", False),
        (True, True, "all_but_suppliers", True),
        (False, False, "customers_only", False),
        (False, True, "all", True),
    ],
)
def test_which_contacts_are_customers(
    is_customer: bool | None, is_supplier: bool | None, setting: str, counts: bool
) -> None:
    record = Record(id="c1", name="Someone", is_customer=is_customer, is_supplier=is_supplier)
    assert counts_as_customer(record, setting) is counts


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+64 9 555 0100", "'+64 9 555 0100"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("Acme = Best", "Acme = Best"),
        ("", ""),
    ],
)
def test_csv_cells_that_would_run_as_formulas_are_neutralised(cell: str, written: str) -> None:
    assert safe_cell(cell) == written


def test_csv_has_a_header_and_a_row_per_customer() -> None:
    customer = Customer(
        name='=HYPERLINK("x")',
        email="a@b.example",
        phones=[{"kind": "default", "number": "+64 9 555"}],
        addresses=[{"kind": "postal", "lines": ["1 Queen St"], "city": "Auckland", "postal_code": "1010"}],
        active=True,
    )
    out = io.StringIO()
    assert write_csv([customer], out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Name,First name,Last name,Company,Email,Phones,Address")
    assert lines[1].startswith('"\'=HYPERLINK(""x"")",,,,a@b.example,\'+64 9 555,"1 Queen St, Auckland, 1010"')


# --- apply_page and the run rules, on a real database -----------------------------------------------------------


def setup_connections(
    db: Database, n: int = 2, *, packages: tuple[str, ...] = ("xero", "myob"), team_id: str = "T0RECORDS1"
) -> tuple[int, list[int]]:
    """A workspace with `n` connections, the i-th at `packages[i % len(packages)]`."""
    with db.session() as s:
        workspace = Workspace(team_id=team_id)
        s.add(workspace)
        s.flush()
        connections = [
            Connection(
                workspace_id=workspace.id,
                provider=packages[i % len(packages)],
                organisation_id=f"org-{i}",
                organisation_name=f"Org {i}",
            )
            for i in range(n)
        ]
        s.add_all(connections)
        s.flush()
        return workspace.id, [c.id for c in connections]


def import_page(db: Database, workspace_id: int, connection_id: int, records: list[Record]) -> Counter[str]:
    with db.session() as s:
        run = ImportRun(workspace_id=workspace_id, connection_id=connection_id, trigger="command", status="succeeded")
        s.add(run)
        s.flush()
        return apply_page(
            s,
            workspace_id=workspace_id,
            connection_id=connection_id,
            run_id=run.id,
            records=records,
            customer_filter="all_but_suppliers",
            now=NOW,
        )


def test_the_csv_streamed_from_the_database_is_the_csv_of_the_customers(db: Database) -> None:
    """The import's CSV reads the phones and addresses columns as text and decodes only those it shows; its
    rows are the ones `write_csv` makes from the customers themselves, whatever those columns hold."""
    workspace_id, (connection_id,) = setup_connections(db, 1, packages=("xero",))
    odd = '\ufffd lone, \u00e9, \u2028, "quoted", \\'  # as the boundary leaves them
    records = [
        Record(id="c1", name="Bare"),
        Record(id="c2", name="=Phones only", phones=(Phone("default", "+64 3"), Phone("mobile", f"021 {odd}"))),
        Record(
            id="c3",
            name="Address only",
            email="-a@b.example",
            addresses=(Address("postal", ("1 Main St", odd), city="Nelson", country="NZ"), Address("street", ("2",))),
        ),
        Record(id="c4", name="Both", number="@7", phones=(Phone("fax", "9"),), addresses=(Address("street"),)),
    ]
    import_page(db, workspace_id, connection_id, records)
    with db.session() as s:  # shapes the import does not write: an escaped lone surrogate (the JSON encoder's
        bare = s.scalars(select(Customer).where(Customer.name == "Bare")).one()  # fallback), keys no CSV shows
        bare.phones = [{"kind": "default", "number": "\ud800 lone"}, {"number": "", "extension": "9"}]
        bare.addresses = [{"lines": [], "city": "", "country": "NZ", "floor": 2}, {"kind": "street"}]
    with db.session() as s:
        streamed, made = io.StringIO(), io.StringIO()
        assert write_csv_rows(iter_csv_rows(s, workspace_id=workspace_id), streamed) == 4
        customers = s.scalars(select(Customer).order_by(func.lower(Customer.name), Customer.id)).all()
        assert write_csv(customers, made) == 4
    assert streamed.getvalue() == made.getvalue()
    assert '\'+64 3; 021 \ufffd lone, \u00e9, \u2028, ""quoted"", \\' in streamed.getvalue()
    assert "1 Main St, " in streamed.getvalue() and ",'-a@b.example," in streamed.getvalue()
    assert "Bare,,,,,\ud800 lone; ,NZ," in streamed.getvalue()


def test_strong_evidence_needs_exactly_one_candidate(db: Database) -> None:
    workspace_id, (old, new) = setup_connections(db)
    counts = import_page(
        db,
        workspace_id,
        old,
        [
            Record(id="o1", name="Harbour Plumbing", email="accounts@harbour.example"),
            Record(id="o2", name="Harbour Plumbing North", email="accounts@harbour.example"),
            Record(id="o3", name="Kauri Cafe", email="hello@kauri.example", phones=(Phone("default", "09 555"),)),
        ],
    )
    assert counts["new"] == 3 and counts["possible_duplicates"] == 0  # one connection's own contacts never match
    counts = import_page(
        db,
        workspace_id,
        new,
        [
            Record(id="n1", name="Harbour Plumbing", email="ACCOUNTS@harbour.example"),  # two candidates: weak
            Record(id="n2", name="Kauri Cafe Ltd", email="hello@kauri.example"),  # one candidate: linked
            Record(id="n3", name="Kauri Cafe", email="hello@kauri.example"),  # the candidate is taken now
        ],
    )
    assert (counts["new"], counts["updated"], counts["linked"], counts["possible_duplicates"]) == (2, 1, 1, 2)
    assert counts["missing_phone"] == 3 and counts["missing_email"] == 0
    with db.session() as s:
        kauri = s.scalars(select(Customer).where(Customer.name == "Kauri Cafe Ltd")).one()
        refs = s.scalars(select(CustomerReference.external_id).where(CustomerReference.customer_id == kauri.id))
        assert sorted(refs) == ["n2", "o3"]
        harbour = s.scalars(select(Customer).where(Customer.name == "Harbour Plumbing")).all()
        assert len(harbour) == 2 and sum(c.possible_duplicate_of_id is not None for c in harbour) == 1


def test_a_record_with_only_its_name_in_common_is_a_possible_duplicate(db: Database) -> None:
    workspace_id, (old, new) = setup_connections(db)
    import_page(db, workspace_id, old, [Record(id="o1", name="Totara Builders", email="office@totara.example")])
    counts = import_page(
        db,
        workspace_id,
        new,
        [
            Record(id="n1", name="Totara Builders Ltd"),  # no email: the name alone, so not linked
            Record(id="n2", name="Rimu Joinery"),  # nothing in common with anyone
        ],
    )
    assert (counts["new"], counts["linked"], counts["possible_duplicates"]) == (2, 0, 1)
    with db.session() as s:
        first = s.scalars(select(Customer.id).where(Customer.name == "Totara Builders")).one()
        suspected = {name: of for name, of in s.execute(select(Customer.name, Customer.possible_duplicate_of_id))}
    assert suspected == {"Totara Builders": None, "Totara Builders Ltd": first, "Rimu Joinery": None}


def test_a_record_without_a_name_fails_and_creates_no_customer(db: Database) -> None:
    workspace_id, (old, _) = setup_connections(db)
    counts = import_page(
        db, workspace_id, old, [Record(id="o1", name="   ", email="who@nowhere.example"), Record(id="o2", name="Kea")]
    )
    assert (counts["new"], counts["failed"], counts["missing_email"]) == (1, 1, 1)
    with db.session() as s:
        assert s.scalars(select(Customer.name)).all() == ["Kea"]
        assert s.scalars(select(CustomerReference.external_id)).all() == ["o2"]


def matchable(db: Database) -> dict[str, bool]:
    with db.session() as s:
        return {name: bool(flag) for name, flag in s.execute(select(Customer.name, Customer.matchable))}


def test_a_workspaces_customers_become_matchable_when_a_second_package_comes(db: Database) -> None:
    """A workspace's first package writes its customers unmatchable (their keys out of the matching indexes: a
    page's inserts half the work on SQLite), as no other package's records are matched to them; the first page of
    a second package makes them matchable before it looks them up, and from then on both packages' new customers
    are matchable from the start."""
    workspace_id, (first, second) = setup_connections(db)
    import_page(
        db,
        workspace_id,
        first,
        [
            Record(id="o1", name="Kauri Cafe", email="hello@kauri.example"),
            Record(id="o2", name="Harbour Plumbing", email="accounts@harbour.example"),
        ],
    )
    assert matchable(db) == {"Kauri Cafe": False, "Harbour Plumbing": False}
    with db.session() as s:  # what was imported read as before: the keys are still kept
        kauri = s.scalars(select(Customer).where(Customer.name == "Kauri Cafe")).one()
        assert (kauri.email_key, kauri.name_key) == ("hello@kauri.example", "cafe kauri")

    kauri_ltd = Record(id="n1", name="Kauri Cafe Ltd", email="hello@kauri.example")
    counts = import_page(db, workspace_id, second, [kauri_ltd])
    assert (counts["linked"], counts["new"]) == (1, 0)  # found though written unmatchable
    assert matchable(db) == {"Kauri Cafe Ltd": True, "Harbour Plumbing": True}
    with db.session() as s:  # made matchable, not written: a run's CSV still takes its lines as they were made
        harbour = s.scalars(select(Customer).where(Customer.name == "Harbour Plumbing")).one()
        assert harbour.updated_at == harbour.created_at

    import_page(db, workspace_id, first, [Record(id="o3", name="Totara Builders", email="office@totara.example")])
    assert matchable(db)["Totara Builders"] is True  # the first package's next customer, with another's here
    totara = Record(id="n2", name="Totara Builders", email="office@totara.example")
    counts = import_page(db, workspace_id, second, [totara])
    assert (counts["linked"], counts["possible_duplicates"]) == (1, 0)


def test_another_workspaces_customers_stay_as_they_are(db: Database) -> None:
    """Making a workspace's customers matchable touches no other workspace's."""
    workspace_id, (first, second) = setup_connections(db)
    other_id, (elsewhere_id,) = setup_connections(db, 1, packages=("xero",), team_id="T0RECORDS2")
    import_page(db, other_id, elsewhere_id, [Record(id="x1", name="Elsewhere Ltd", email="hi@elsewhere.example")])
    import_page(db, workspace_id, first, [Record(id="o1", name="Kauri Cafe", email="hello@kauri.example")])
    import_page(db, workspace_id, second, [Record(id="n1", name="Rimu Joinery", email="rimu@joinery.example")])
    assert matchable(db) == {"Elsewhere Ltd": False, "Kauri Cafe": True, "Rimu Joinery": True}


@contextmanager
def statements_heard(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """The statements sent to the database meanwhile, with their parameters."""
    heard: list[tuple[str, Any]] = []

    def hear(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        heard.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", hear)
    try:
        yield heard
    finally:
        event.remove(db.engine, "before_cursor_execute", hear)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_lookups_by_key_and_by_workspace_are_index_searches(db: Database) -> None:
    """SQLite plans from the indexes alone: a second package's look-ups of candidates by email and by name search the
    keys' partial indexes (the query holds their condition as written), and a workspace's customers (the status's
    tally) are found by the workspace's index, which the keys' indexes served before they became partial."""
    workspace_id, (first, second) = setup_connections(db)
    import_page(db, workspace_id, first, [Record(id="o1", name="Kauri Cafe", email="hello@kauri.example")])
    with statements_heard(db) as matching:
        import_page(db, workspace_id, second, [Record(id="n1", name="Kauri Cafe Ltd", email="hello@kauri.example")])
    with statements_heard(db) as tallying, db.session() as s:
        assert customer_tally(s, workspace_id=workspace_id, connection_id=second) == (1, [])
    lookups = [(q, p) for q, p in matching if "json_each" in q and "_key IN" in q]
    with db.engine.connect() as c:

        def plan(statement: str, parameters: Any) -> str:
            return " ".join(row[3] for row in c.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))

        plans = [plan(q, p) for q, p in lookups]
        [tally] = [plan(q, p) for q, p in tallying if "count(" in q]
    assert len(plans) == 2, lookups
    assert any("USING INDEX ix_customers_workspace_email (workspace_id=? AND email_key=?)" in p for p in plans), plans
    assert any("USING INDEX ix_customers_workspace_name (workspace_id=? AND name_key=?)" in p for p in plans), plans
    assert "INDEX ix_customers_workspace (workspace_id=?)" in tally and "SCAN customers" not in tally, tally


def test_another_organisation_at_the_same_package_is_never_matched(db: Database) -> None:
    workspace_id, (old, new) = setup_connections(db, packages=("xero",))
    import_page(db, workspace_id, old, [Record(id="o1", name="Kauri Cafe", email="hello@kauri.example")])
    counts = import_page(
        db,
        workspace_id,
        new,
        [
            Record(id="n1", name="Kauri Cafe Ltd", email="hello@kauri.example"),  # would link across packages
            Record(id="n2", name="Kauri Cafe", email="other@kauri.example"),  # would be a possible duplicate
        ],
    )
    assert (counts["new"], counts["linked"], counts["possible_duplicates"]) == (2, 0, 0)
    with db.session() as s:
        assert customer_count(s, workspace_id=workspace_id, connection_id=new) == 2
        [kept] = kept_from_earlier(s, workspace_id=workspace_id, connection_id=new)
        assert (kept.organisation_name, kept.customers) == ("Org 0", 1)
        rows, total = search(s, workspace_id=workspace_id, connection_id=new, query="kauri", offset=0, limit=10)
        assert total == 2 and {c.email for c in rows} == {"hello@kauri.example", "other@kauri.example"}
        rows, total = search(
            s, workspace_id=workspace_id, connection_id=new, scope=Scope.EARLIER, query=None, offset=0, limit=10
        )
        assert (
            total == 1
            and rows[0].name == "Kauri Cafe"
            and first_source(s, customer_ids=[rows[0].id]) == {rows[0].id: "Org 0"}
        )


def test_an_unchanged_record_is_not_written(db: Database) -> None:
    workspace_id, (connection, _) = setup_connections(db)
    record = Record(id="x1", name="Steady Customer", email="steady@example.com", updated_at=NOW)
    assert import_page(db, workspace_id, connection, [record])["new"] == 1
    with db.session() as s:
        before = s.scalars(select(Customer)).one().updated_at
    counts = import_page(db, workspace_id, connection, [record, Record(id="s1", name="Supplier", is_supplier=True)])
    assert (counts["unchanged"], counts["skipped"], counts["updated"]) == (1, 1, 0)
    with db.session() as s:
        assert s.scalars(select(Customer)).one().updated_at == before
    moved = Record(id="x1", name="Steady Customer", email="steady@new.example", updated_at=NOW + timedelta(hours=1))
    assert import_page(db, workspace_id, connection, [moved])["updated"] == 1


def test_one_active_run_per_connection(db: Database) -> None:
    workspace_id, (connection, other) = setup_connections(db)
    first = import_runs.start_import(
        db, connection_id=connection, trigger="command", started_by="U1", channel_id="C1", now=NOW
    )
    second = import_runs.start_import(
        db, connection_id=connection, trigger="command", started_by="U2", channel_id="C2", now=NOW
    )
    assert first.created and not second.created and second.run.id == first.run.id
    assert import_runs.start_import(
        db, connection_id=other, trigger="home", started_by=None, channel_id=None, now=NOW
    ).created
    with pytest.raises(IntegrityError):  # the database itself refuses a second active run
        with db.session() as s:
            s.add(ImportRun(workspace_id=workspace_id, connection_id=connection, trigger="schedule", status="running"))
    cancelled = import_runs.request_cancel(db, run_id=first.run.id, user_id="U1", now=NOW)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert import_runs.start_import(
        db, connection_id=connection, trigger="command", started_by="U1", channel_id="C1", now=NOW
    ).created


# --- View builders --------------------------------------------------------------------------------------------


def run(**changes: object) -> RunView:
    values: dict[str, object] = {
        "id": 7,
        "team_id": "T1",
        "workspace_id": 1,
        "connection_id": 1,
        "provider": "xero",
        "organisation": "<!channel> & Co",
        "connected_by": "U1",
        "kind": "full",
        "trigger": "command",
        "started_by": "U1",
        "status": "running",
        "counts": {"new": 900, "updated": 50, "unchanged": 0, "skipped": 50},
        "total": 2500,
        "pages": 1,
        "channel_id": "C1",
        "parent_ts": "1.2",
        "created_at": NOW,
        "started_at": NOW,
        "finished_at": None,
        "not_before": None,
        "error": None,
        "cancelled_by": None,
        "cancel_requested": False,
        "attempts": 1,
    }
    return RunView(**(values | changes))  # type: ignore[arg-type]


def test_the_progress_message_has_a_bar_counts_and_cancel() -> None:
    blocks = views.progress_blocks(run(), provider_title="Xero")
    text = str(blocks)
    assert check_message(blocks) == []
    assert {"type": "text", "text": "Importing customers from Xero (<!channel> & Co)…", "style": {"bold": True}} in (
        blocks[0]["elements"][0]["elements"]
    )
    assert "████████░░░░░░░░░░░░` 40%" in text and "1,000 of 2,500 contacts read · 900 new · 50 updated" in text
    assert "import_cancel" in text and "<!channel>" not in str(blocks[1:])  # only as text in the rich text


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_the_result_is_one_line(status: str) -> None:
    finished = run(status=status, finished_at=NOW + timedelta(minutes=3, seconds=4), cancelled_by="U2")
    blocks = views.result_blocks(finished, provider_title="Xero")
    assert check_message(blocks) == [] and "\n" not in blocks[0]["text"]["text"]
    assert ("import_retry" in str(blocks)) is (status == "failed")
    if status == "succeeded":
        assert "900 new, 50 updated, 50 skipped in 3 min 4 s. Details in the thread." in blocks[0]["text"]["text"]


def test_a_fast_run_a_quiet_sync_and_the_threads_own_text_read_as_such() -> None:
    fast = run(status="succeeded", finished_at=NOW + timedelta(milliseconds=300))
    assert "in under a second. Details in the thread." in views.result_text(fast, provider_title="Xero")
    assert " 0 s" not in views.result_text(fast, provider_title="Xero")
    assert "Details" not in views.result_text(fast, provider_title="Xero", details=None)  # the thread itself
    quiet = run(status="succeeded", kind="incremental", counts={}, finished_at=NOW)
    text = views.result_text(quiet, provider_title="Xero", details=None)
    assert "Synced customers from Xero" in text and "nothing changed here (no contact changed there" in text
    assert "0 new" not in text and "0 updated" not in text
    steady = run(status="succeeded", counts={"unchanged": 200, "skipped": 50}, finished_at=NOW)
    assert "nothing changed here (250 contacts checked" in views.result_text(steady, provider_title="Xero")


def test_skipped_contacts_are_broken_down_and_a_changed_setting_is_explained() -> None:
    counts = {
        "unchanged": 200,
        "skipped": 50,
        "skipped_suppliers": 30,
        "skipped_archived": 18,
        "no_longer_customers": 40,
    }
    finished = run(status="succeeded", counts=counts, finished_at=NOW)
    summary = views.Summary(finished, "Xero", [], [], None, customer_filter="customers_only")
    text = str(views.summary_blocks(summary))
    assert "Skipped 50: 30 not customers under the setting (only contacts the package marks as customers" in text
    assert "18 archived, merged or erased in the accounting package" in text
    assert "2 erased here on a data-protection request" in text
    assert "40 customers imported earlier no longer count as customers under the current setting" in text
    assert check_message(views.summary_blocks(summary)) == []


def test_the_summary_lists_the_first_twenty_new_names_and_duplicates() -> None:
    done = run(
        status="succeeded",
        finished_at=NOW + timedelta(seconds=42),
        counts={"new": 30, "updated": 0, "unchanged": 0, "skipped": 0, "possible_duplicates": 12, "missing_email": 3},
    )
    names = [f"<@U{n:03d}> Ltd" for n in range(20)]
    duplicates = [Duplicate(f"Dup {n} & Sons", f"Dup {n} and Sons") for n in range(10)]
    summary = views.Summary(run=done, provider_title="Xero", new_names=names, duplicates=duplicates, csv_to="U1")
    blocks = views.summary_blocks(summary)
    text = str(blocks)
    assert check_message(blocks) == []
    assert "*New customers* (the first 20 of 30)" in text and "&lt;@U000&gt; Ltd" in text and "<@U000>" not in text
    assert "Possible duplicates to review* (12)" in text and "…and 2 more." in text
    assert "3 without an email" in text and "went to <@U1> by direct message" in text


def test_the_customer_list_pages() -> None:
    lines = [customer_views.CustomerLine(f"Customer {n}", f"c{n}@x.example", None, True, n == 3) for n in range(20)]
    listing = customer_views.CustomerListing
    first = customer_views.customers_blocks(listing(lines, total=45, query=None, page=0, page_size=20))
    assert check_message(first) == [] and "1–20 of 45" in str(first)
    assert "customers_next" in str(first) and "customers_previous" not in str(first)
    last = customer_views.customers_blocks(listing(lines[:5], total=45, query="<b>", page=2, page_size=20))
    assert "41–45 of 45" in str(last) and "customers_next" not in str(last) and "&lt;b&gt;" in str(last)
    none = customer_views.customers_blocks(listing([], total=0, query="zz", page=0, page_size=20))
    assert "No customers matching" in str(none)
    member = customer_views.customers_blocks(
        listing(lines, total=20, query=None, page=0, page_size=20, may_export=False)
    )
    assert "customers_export" not in str(member) and "CSV" not in str(member) and check_message(member) == []


def test_customers_kept_from_a_replaced_organisation_are_listed_apart() -> None:
    kept = [customer_views.Kept("Xero", "Acme *Old* Ltd", 3)]
    line = customer_views.CustomerLine("Kauri Cafe", None, None, True, False, source="Acme *Old* Ltd")
    listing = customer_views.CustomerListing
    current = customer_views.customers_blocks(
        listing([], total=0, query=None, page=0, page_size=20, organisation="Acme Group", kept=kept)
    )
    assert "3 customers from Acme *Old* Ltd (Xero)" in str(current) and "customers_earlier" in str(current)
    apart = customer_views.customers_blocks(
        listing([line], total=1, query=None, page=0, page_size=20, scope=Scope.EARLIER, organisation="Acme Group")
    )
    assert "kept from organisations no longer connected" in str(apart) and "_(from Acme *Old* Ltd)_" in str(apart)
    assert "'value': 'e0:'" in str(apart) and "customers_connected" in str(apart) and check_message(apart) == []
