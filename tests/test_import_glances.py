"""A large import leaves unread the contacts it read before (`bot.imports.reading`): each page is glanced at (every
contact's id and a digest of its bytes, its source), and only the contacts not stored with that source (nor passed
over, and to be again) are read. What the import counts and stores is what reading every contact gives; a contact
left unread that the import's own look-up does not find as it was judged makes the page read whole. End to end over
the Xero fake's HTTP on both databases, and the parts alone."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from bot.customers.matching import KNOWN, Lacks, Stale, apply_prepared, may_leave_unread
from bot.customers.rows import READING_KEY, Prepared, prepare_page
from bot.imports import reading
from bot.imports.reading import (
    HOLD,
    PageReader,
    ReadPage,
    forget_apart,
    glance_apart,
    read_ahead,
    read_encoded,
    read_rest_apart,
)
from providers.base import Encoded, Glance, Page, Unavailable
from providers.records import code_digest
from providers.xero.contacts import decode_contacts, glance_contacts, read_records
from storage.db import Database
from storage.models import Customer, CustomerReference, ImportRun
from tests.conftest import RunningBot
from tests.fakes.xero import XeroFake
from tests.flows import command, connected
from tests.imports import customer_count, finished, quick
from tests.test_import_hostile_records import seed_hostile
from tests.test_import_reading import ready_reader
from tests.test_import_records import setup_connections

DETAILS = ("missing_email", "missing_phone", "missing_address", "skipped_suppliers", "skipped_archived")


def with_sources(bot: RunningBot) -> int:
    with bot.db.session() as s:
        return int(s.scalar(select(func.count()).where(CustomerReference.source_digest.is_not(None))) or 0)


def import_once(bot: RunningBot) -> object:
    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)
    assert run.status == "succeeded", run.error
    return run


def reading_apart(
    bot: RunningBot, xero: XeroFake, seed: Callable[[str], object], **quicker: Any
) -> tuple[PageReader, str]:
    """Connected to Xero's organisation (its id returned) with the contacts `seed` gives it, every page after the
    first read in the reading process, which is up."""
    _, tenant = connected(bot, xero)
    seed(tenant)
    quick(bot, read_apart_from=1, **quicker)
    return ready_reader(bot)[0], tenant


def test_a_reimport_reads_only_what_changed(connect_bot: RunningBot, xero: XeroFake) -> None:
    bot = connect_bot
    reader, tenant = reading_apart(bot, xero, lambda tenant: xero.seed_contacts(tenant, 60), page_size=5)
    first = import_once(bot)
    # every stored contact with its source, the first page's too: only its numbers are read before it is handed over
    assert customer_count(bot) == with_sources(bot) > 0
    glanced = 60

    left = reader.left
    again = import_once(bot)

    assert reader.left - left == glanced  # stored with their sources, or passed over (suppliers, archived) again
    assert again.count("skipped") == first.count("skipped") > 0
    assert (again.count("new"), again.count("updated"), again.count("unchanged")) == (0, 0, first.count("new"))
    assert {d: again.count(d) for d in DETAILS[:3]} == {d: first.count(d) for d in DETAILS[:3]}

    # one contact renamed, another changed only where we store nothing (its bytes, not its row)
    with bot.db.session() as s:
        renamed, touched = s.scalars(
            select(CustomerReference.external_id).where(CustomerReference.source_digest.is_not(None)).limit(2)
        ).all()
    xero.update_contact(tenant, renamed, Name="Renamed Plumbing Ltd")
    xero.update_contact(tenant, touched, Website="https://example.com")
    left = reader.left
    third = import_once(bot)

    assert reader.left - left == glanced - 2
    assert (third.count("updated"), third.count("unchanged")) == (1, first.count("new") - 1)
    with bot.db.session() as s:
        names = s.scalars(
            select(Customer.name)
            .join(CustomerReference, CustomerReference.customer_id == Customer.id)
            .where(CustomerReference.external_id == renamed)
        ).all()
    assert names == ["Renamed Plumbing Ltd"]

    left = reader.left
    import_once(bot)
    assert reader.left - left == glanced  # the touched contact's new source was kept: left unread again


def test_a_reimport_looks_up_in_its_transaction_only_the_contacts_it_read(
    connect_bot: RunningBot, xero: XeroFake
) -> None:
    """The contacts left unread are taken as judged (from what was committed, beside the thread that hands the pages
    over): nothing but the run writes a connection's references while it goes on, so the importing thread looks up
    again only the ids the run read, and may have written, since. Unchanged, no page is looked up (the first is
    glanced at as the others are); with one contact renamed, its page."""
    bot = connect_bot
    reader, tenant = reading_apart(bot, xero, lambda tenant: xero.seed_contacts(tenant, 60), page_size=5)
    first = import_once(bot)
    looked_up: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement in KNOWN:
            looked_up.append(statement)

    event.listen(bot.db.engine, "before_cursor_execute", seen)
    try:
        again = import_once(bot)
        assert looked_up == []
        with bot.db.session() as s:
            renamed = s.scalars(
                select(CustomerReference.external_id).where(CustomerReference.source_digest.is_not(None)).limit(1)
            ).one()
        xero.update_contact(tenant, renamed, Name="Renamed Plumbing Ltd")
        looked_up.clear()
        third = import_once(bot)
        assert len(looked_up) == 1
    finally:
        event.remove(bot.db.engine, "before_cursor_execute", seen)
    assert (again.count("new"), again.count("updated"), again.count("unchanged")) == (0, 0, first.count("new"))
    assert {d: again.count(d) for d in DETAILS} == {d: first.count(d) for d in DETAILS}
    assert (third.count("updated"), third.count("unchanged")) == (1, first.count("new") - 1)
    assert reader.left > 0


def test_hostile_contacts_count_the_same_left_unread(connect_bot: RunningBot, xero: XeroFake) -> None:
    """Every odd shape of contact imported, then imported again with what is stored left unread: the same
    customers, nothing new or changed, and the same details counted (what customers lack, suppliers and archived
    contacts passed over)."""
    bot = connect_bot
    reader, _ = reading_apart(bot, xero, lambda tenant: seed_hostile(xero, tenant), page_size=4)
    first = import_once(bot)
    customers = customer_count(bot)

    left = reader.left
    again = import_once(bot)

    assert reader.left > left
    assert customer_count(bot) == customers
    assert (again.count("new"), again.count("updated"), again.count("unchanged")) == (0, 0, first.count("new"))
    assert {d: again.count(d) for d in DETAILS} == {d: first.count(d) for d in DETAILS}
    assert again.count("unreadable") == first.count("unreadable")


NOW = datetime(2026, 12, 3, tzinfo=UTC)


def test_a_record_left_unread_that_is_not_as_judged_writes_nothing(db: Database) -> None:
    """The import's own look-up decides: a record left unread with a source other than the stored one, or not held
    though it would become a customer, or of a customer erased since, raises `Stale` before anything is written. What
    may be left unread: records held with their source, and those not held that would not become customers."""
    workspace_id, [connection_id, _] = setup_connections(db)
    body = (
        b'{"Contacts":[{"ContactID":"c-1","Name":"Acme Ltd"},{"ContactID":"c-2","Name":"Beta Ltd"},'
        b'{"ContactID":"s-1","Name":"Supplies Ltd","IsSupplier":true},'
        b'{"ContactID":"a-1","Name":"Archived Ltd","ContactStatus":"ARCHIVED"},{"ContactID":"n-1","Name":"New Ltd"}]}'
    )
    glanced = glance_contacts(body, READING_KEY)
    assert glanced is not None
    first, second, supplier, archived, new = glanced.glances() or []
    prepared, _ = read_encoded(Encoded(body, read_records, glance_contacts))
    prepared = [p for p in prepared if p.id in ("c-1", "c-2")]
    with db.session() as s:
        run = ImportRun(workspace_id=workspace_id, connection_id=connection_id, trigger="command", status="running")
        s.add(run)
        s.flush()
        run_id = run.id

    def apply(records: list[Prepared], left: list[Glance], customer_filter: str = "all_but_suppliers") -> Counter[str]:
        with db.session() as s:
            return apply_prepared(
                s,
                workspace_id=workspace_id,
                connection_id=connection_id,
                run_id=run_id,
                records=records,
                customer_filter=customer_filter,
                now=NOW,
                left=left,
            )

    assert apply(prepared, [])["new"] == 2

    def may_leave(customer_filter: str = "all_but_suppliers") -> dict[str, Lacks | None]:
        with db.session() as s:
            glances = glanced.glances() or []
            return may_leave_unread(s, connection_id=connection_id, glances=glances, customer_filter=customer_filter)

    lacks = Lacks(no_email=True, no_phone=True, no_address=True)  # the two customers have a name and nothing else
    assert may_leave() == {"c-1": lacks, "c-2": lacks, "s-1": None, "a-1": None}
    assert set(may_leave("all")) == {"c-1", "c-2", "a-1"}
    assert +apply([], [first, second, supplier, archived]) == {
        "unchanged": 2,
        "missing_email": 2,
        "missing_phone": 2,
        "missing_address": 2,
        "skipped": 2,
        "skipped_suppliers": 1,
        "skipped_archived": 1,
    }
    # held and unchanged, and no longer customers under a narrower setting (Xero does not mark them customers)
    assert +apply([], [first, second], customer_filter="customers_only") == {
        "unchanged": 2,
        "no_longer_customers": 2,
        "missing_email": 2,
        "missing_phone": 2,
        "missing_address": 2,
    }
    for stale in (first._replace(source="0" * 32), new, second._replace(id="n-1")):
        with pytest.raises(Stale):
            apply([], [archived, stale])
    with db.session() as s:
        customer = s.scalar(select(Customer).join(CustomerReference).where(CustomerReference.external_id == "c-2"))
        assert customer is not None
        customer.erased_at = NOW
    assert set(may_leave()) == {"c-1", "s-1", "a-1"}
    with pytest.raises(Stale):
        apply([], [second])
    with db.session() as s:  # nothing written by the runs that raised: only the first page's two customers
        assert s.scalar(select(func.count()).select_from(CustomerReference)) == 2


PAGE = {
    "Contacts": [
        {"ContactID": "c-1", "Name": "Acme Ltd", "ContactStatus": "ACTIVE", "IsCustomer": True},
        {"ContactID": "c-2", "Name": "Beta Ltd", "ContactStatus": "ARCHIVED", "IsSupplier": True},
        {"ContactID": "c-3", "Name": "Gamma Ltd", "EmailAddress": "ops@gamma.example"},
    ]
}


def test_a_glance_is_the_contacts_bytes_and_the_code_that_reads_them() -> None:
    body = json.dumps(PAGE).encode()

    def glances(body: bytes, key: bytes = b"ours") -> list[Glance]:
        glanced = glance_contacts(body, key)
        assert glanced is not None
        return glanced.glances() or []

    assert [(g.id, g.active, g.gone, g.is_customer, g.is_supplier) for g in glances(body)] == [
        ("c-1", True, False, True, None),
        ("c-2", False, True, None, True),
        ("c-3", True, False, None, None),
    ]
    sources = [g.source for g in glances(body)]
    assert len(set(sources)) == 3 and all(len(s) == 32 for s in sources)
    assert [g.source for g in glances(json.dumps(PAGE).encode())] == sources  # the same bytes, the same sources
    assert not {g.source for g in glances(body, b"other code")} & set(sources)
    assert [g.source for g in glances(json.dumps(PAGE, indent=1).encode())] != sources  # other bytes: read again

    customers, skipped = read_records(body)
    glanced = glance_contacts(body, b"ours")
    assert glanced is not None
    assert glanced.read(()) == (customers, skipped, {"c-1": sources[0], "c-2": sources[1], "c-3": sources[2]})
    assert glanced.read({"c-2"}) == (
        [c for c in customers if c.id != "c-2"],
        skipped,
        {"c-1": sources[0], "c-3": sources[2]},
    )


@pytest.mark.parametrize(
    "body",
    [
        b"<html>Service Unavailable</html>",
        b'{"Contacts": {"ContactID": "c-1"}}',
        b'{"Contacts": [{"ContactID": "c-1", "Name": "A"}, {"ContactID": "c-1", "Name": "B"}]}',
        b'{"Contacts": [{"Name": "No Id Ltd"}]}',
        b'{"Contacts": [{"ContactID": 7, "Name": "Number Id Ltd"}]}',
        b'{"Contacts": [{"ContactID": "c-1", "IsCustomer": "yes"}]}',
    ],
    ids=["not-json", "not-a-list", "an-id-twice", "no-id", "number-id", "odd-flag"],
)
def test_a_page_that_cannot_be_glanced_at_is_read_whole(body: bytes) -> None:
    glanced = glance_contacts(body, READING_KEY)
    assert glanced is None or glanced.glances() is None


def test_an_id_twice_on_a_page_is_stored_without_a_source() -> None:
    """Which of the two is kept depends on reading them (the later, unless it cannot be read): neither's bytes say
    what was stored, so the record is read again next time."""
    body = (
        b'{"Contacts":[{"ContactID":"c-1","Name":"Acme Ltd"},{"ContactID":"c-2","Name":"Beta Ltd"},'
        b'{"ContactID":"c-1","Name":"Acme Plumbing Ltd"}]}'
    )
    glanced = glance_contacts(body, READING_KEY)
    assert glanced is not None
    customers, _, sources = glanced.read(())
    assert [c.name for c in customers] == ["Beta Ltd", "Acme Plumbing Ltd"] and set(sources) == {"c-2"}


contact_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
contacts = st.lists(
    st.fixed_dictionaries(
        {"ContactID": st.uuids().map(str)},
        optional={
            "Name": contact_text | st.integers(),
            "EmailAddress": contact_text,
            "ContactStatus": st.sampled_from(["ACTIVE", "ARCHIVED", "GDPRREQUEST"]) | contact_text,
            "IsCustomer": st.booleans(),
            "IsSupplier": st.booleans(),
            "MergedToContactID": st.uuids().map(str) | st.just("00000000-0000-0000-0000-000000000000") | contact_text,
            "Phones": st.lists(st.fixed_dictionaries({"PhoneNumber": contact_text}), max_size=2),
            "Addresses": st.lists(st.fixed_dictionaries({"City": contact_text}) | st.none(), max_size=2),
        },
    ),
    max_size=6,
    unique_by=lambda c: c["ContactID"],
)


@given(contacts=contacts, leave=st.sets(st.integers(0, 5)))
def test_a_glanced_page_reads_as_the_page(contacts: list[dict[str, object]], leave: set[int]) -> None:
    """Generated pages: read through a glance (all of it, or but some), as read whole; with their sources."""
    body = json.dumps({"Contacts": contacts}).encode()
    glanced = glance_contacts(body, READING_KEY)
    assert glanced is not None
    glances = glanced.glances()
    assert glances is not None
    whole, skipped = read_records(body)
    left = {glances[i].id for i in leave if i < len(glances)}
    read = [c for c, g in zip(contacts, glances, strict=True) if g.id not in left]
    typed = decode_contacts(json.dumps({"Contacts": read}).encode()) is not None  # else field by field, no sources
    sources = {g.id: g.source for g in glances if g.id in {c.id for c in whole} - left} if typed else {}
    assert glanced.read(left) == ([c for c in whole if c.id not in left], skipped, sources)
    assert [
        (g.id, g.active, g.gone, g.is_customer, g.is_supplier) for g in glances if g.id in {c.id for c in whole}
    ] == [
        (c.id, c.active, not c.active or bool(c.merged_into) or c.erase_personal_data, c.is_customer, c.is_supplier)
        for c in whole
    ]
    prepared, refused = read_encoded(Encoded(body, read_records, glance_contacts))
    assert [p._replace(source=None) for p in prepared] == prepare_page(whole)[0]
    assert {p.id: p.source for p in prepared} == {
        g.id: g.source if decode_contacts(body) else None for g in glances if g.id in {p.id for p in prepared}
    }


def test_the_reading_code_is_in_the_source(tmp_path: Path) -> None:
    """Code that reads a contact otherwise makes other sources: every contact is read again once."""
    module = ModuleType("reader")
    module.__file__ = str(tmp_path / "reader.py")
    Path(module.__file__).write_text("def read(): return 1\n")
    before = code_digest(module)
    assert code_digest(module) == before and len(before) == 32
    Path(module.__file__).write_text("def read(): return 2\n")
    assert code_digest(module) != before


def test_the_reading_process_glances_and_reads_the_rest() -> None:
    body = json.dumps(PAGE).encode()
    encoded = Encoded(body, read_records, glance_contacts)
    glanced = glance_contacts(body, READING_KEY)
    assert glanced is not None
    reader = PageReader()
    try:
        reader.start(read_records)
        up = reader.submit(encoded)
        assert up is not None and up.result(timeout=60) and reader.ready()
        page = Page(customers=[], cursor=None, encoded=encoded)
        glancing = reader.glance(page)
        assert glancing is not None
        read = reader.judged(glancing, lambda glances: {g.id: None for g in glances if g.id == "c-1"})
        assert isinstance(read, ReadPage)
        records = read.records()
    finally:
        reader.close()
    assert [g.id for g in records.left] == ["c-1"] and reader.left == 1
    assert [p.id for p in records.prepared] == ["c-2", "c-3"]
    whole, _ = read_encoded(encoded)
    assert records.prepared == [p for p in whole if p.id != "c-1"]


def test_pages_glanced_at_come_in_order_and_then_what_the_walk_raised() -> None:
    """A page is glanced at while the one before is judged: each still comes in its turn, with its records, and an
    error of the walk after the last page that came."""
    bodies = [
        json.dumps({"Contacts": [{"ContactID": f"c-{n}-{i}", "Name": f"Customer {n} {i}"} for i in range(3)]}).encode()
        for n in range(4)
    ]

    def walk() -> Iterator[Page]:
        for body in bodies:
            yield Page(customers=[], cursor=None, encoded=Encoded(body, read_records, glance_contacts))
        raise Unavailable("Xero is not answering.")

    judged: list[list[str]] = []

    def leave(glances: list[Glance]) -> dict[str, Lacks | None]:
        judged.append([g.id for g in glances])
        return {g.id: None for g in glances if g.id.endswith("-0")}

    reader = PageReader()
    try:
        reader.start(read_records)
        up = reader.submit(Encoded(bodies[0], read_records))
        assert up is not None and up.result(timeout=60) and reader.ready()  # the walk's pages go to it
        pages = read_ahead(walk(), reader, from_records=1, leave=leave)
        got = []
        with pytest.raises(Unavailable):
            for read in pages:
                got.append(read.records())
    finally:
        reader.close()
    assert [[p.id for p in r.prepared] for r in got] == [[f"c-{n}-1", f"c-{n}-2"] for n in range(4)]
    assert [[g.id for g in r.left] for r in got] == [[f"c-{n}-0"] for n in range(4)]
    # each page judged once, in whatever order the judges took them (`JUDGES` at once)
    assert sorted(judged) == [[f"c-{n}-{i}" for i in range(3)] for n in range(4)]


def test_three_pages_are_judged_at_once_and_still_come_in_order() -> None:
    """A page's judgement (its glances awaited, then a look-up in the database, mostly waiting) does not hold up the
    next pages' (`JUDGES`, a re-import's pace): the first page's is made to wait until the two pages after it were
    judged, and all then come in the walk's order."""
    bodies = [
        json.dumps({"Contacts": [{"ContactID": f"c-{n}-{i}", "Name": f"Customer {n} {i}"} for i in range(2)]}).encode()
        for n in range(4)
    ]
    others_judged = threading.Semaphore(0)
    order: list[str] = []

    def leave(glances: list[Glance]) -> dict[str, Lacks | None]:
        first = glances[0].id
        if first == "c-0-0":
            for _ in range(2):
                assert others_judged.acquire(timeout=10), "the pages after the first were not judged meanwhile"
        else:
            others_judged.release()
        order.append(first)
        return {first: None}

    reader = PageReader()
    try:
        reader.start(read_records)
        up = reader.submit(Encoded(bodies[0], read_records))
        assert up is not None and up.result(timeout=60) and reader.ready()
        walk = (Page(customers=[], cursor=None, encoded=Encoded(b, read_records, glance_contacts)) for b in bodies)
        got = [read.records() for read in read_ahead(walk, reader, from_records=1, leave=leave)]
    finally:
        reader.close()
    # judged the other way round...
    assert order.index("c-0-0") == 2 and sorted(order[:2]) == ["c-1-0", "c-2-0"]
    assert [[p.id for p in r.prepared] for r in got] == [[f"c-{n}-1"] for n in range(4)]  # ...handed on in order
    assert [[g.id for g in r.left] for r in got] == [[f"c-{n}-0"] for n in range(4)]


class _AsSent(msgspec.Struct):
    Contacts: list[msgspec.Raw]
    pagination: msgspec.Raw  # Xero's pages say where they are


def _becomes_customer(contact: dict[str, Any]) -> bool:
    return contact.get("ContactStatus") == "ACTIVE" and not (
        contact.get("IsSupplier") and not contact.get("IsCustomer")
    )


class RepeatingAsSent:
    """Xero's provider, its encoded pages spliced byte for byte: a customer of the second page comes again on the
    third page renamed, and on the fourth as it was (its bytes, so its source, those stored)."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider
        self.contact: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    def customers(self, link: Any, **kw: Any) -> Iterator[Page]:
        kept = b""
        for n, page in enumerate(self._provider.customers(link, **kw)):
            if page.encoded is None or n < 1:
                yield page
                continue
            sent = msgspec.json.decode(page.encoded.body, type=_AsSent)
            raws = [bytes(raw) for raw in sent.Contacts]
            if n == 1:  # its first contact that becomes a customer
                kept = next(raw for raw in raws if _becomes_customer(json.loads(raw)))
                self.contact = json.loads(kept)
            elif n == 2:
                raws.append(json.dumps({**self.contact, "Name": "Renamed Midwalk Ltd"}).encode())
            elif n == 3:
                raws.append(kept)
            body = b'{"pagination":' + bytes(sent.pagination) + b',"Contacts":[' + b",".join(raws) + b"]}"
            yield dataclasses.replace(page, encoded=dataclasses.replace(page.encoded, body=body))


def test_a_contact_written_midwalk_is_not_left_unread_as_it_was(connect_bot: RunningBot, xero: XeroFake) -> None:
    """A re-import where a contact comes again later in the walk, renamed, then once more as it was stored: the
    record left unread on the last page (judged against what was committed, before the renaming) does not hold in
    the import's own transaction, so that page is read whole (or the renaming was committed and it was read): the
    contact ends as the last page has it, written each time it changed."""
    bot = connect_bot
    reading_apart(
        bot, xero, lambda tenant: xero.seed_contacts(tenant, 40), page_size=5, batch_records=10_000, batch_seconds=60
    )
    first = import_once(bot)
    providers = bot.server.runtime.providers
    providers["xero"] = repeating = RepeatingAsSent(providers["xero"])  # type: ignore[assignment]

    again = import_once(bot)

    contact = repeating.contact
    with bot.db.session() as s:
        names = s.scalars(
            select(Customer.name)
            .join(CustomerReference, CustomerReference.customer_id == Customer.id)
            .where(CustomerReference.external_id == contact["ContactID"])
        ).all()
    assert names == [contact["Name"]]
    assert again.count("new") == 0 and again.count("updated") == 2  # renamed, and back
    assert again.count("unchanged") == first.count("new")  # every other, and the contact's first coming


def test_the_reading_process_holds_a_glanced_page_only_until_told_what_to_read() -> None:
    """Run here as the reading process runs them: a page glanced at is held until its rest is read or it is let
    go, and no more than `HOLD` are held should the import stop between the two."""
    body = json.dumps(PAGE).encode()
    encoded = Encoded(body, read_records, glance_contacts)
    assert glance_apart(1, encoded) and glance_apart(2, encoded)
    assert set(reading._held) == {1, 2}
    forget_apart(1)
    assert read_rest_apart(2, {"c-1"})[0] and reading._held == {}
    for token in range(10, 10 + HOLD + 2):
        glance_apart(token, encoded)
    assert list(reading._held) == list(range(12, 12 + HOLD))
    for token in list(reading._held):
        forget_apart(token)
