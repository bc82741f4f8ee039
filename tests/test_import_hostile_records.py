"""An import never stops on one record, end to end over real HTTP: contacts of every bad shape served by the Xero
fake as they are; the good ones are imported, the bad ones repaired or named with their reason in the summary
and the CSV, and the run succeeds. A record the database still refuses is skipped alone, not its page."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from providers.base import Customer as Record
from providers.base import Page, Phone
from storage.models import Connection, Customer, CustomerReference, ImportRunSkip
from tests.conftest import RunningBot
from tests.fakes.xero import XeroFake
from tests.flows import command, connected
from tests.imports import csv_rows, customer_count, finished, quick, thread_text

# Contacts that cannot be imported at all: what the summary must say of each.
UNUSABLE = [
    ({"Name": "No Id Ltd", "ContactStatus": "ACTIVE"}, "No Id Ltd (it has no id)"),
    ({"ContactID": None, "Name": "Null Id Ltd"}, "Null Id Ltd (it has no id)"),
    ({"ContactID": None, "Name": "Second Null Id Ltd"}, "Second Null Id Ltd (it has no id)"),
    ({"ContactID": {"id": 7}, "Name": "Dict Id Ltd"}, "Dict Id Ltd (its id is not text)"),
    ({"ContactID": "x" * 65, "Name": "Long Id Ltd"}, "Long Id Ltd (its id is longer than 64 characters)"),
    ({"ContactID": "bad\u0000id"}, "id badid (its id has characters that cannot be stored)"),
    (None, "a contact without a name or id (it is not a contact)"),
    (42, "a contact without a name or id (it is not a contact)"),
]
# Contacts of the wrong shape that can be repaired: (raw fields, the name we keep).
REPAIRABLE = [
    ({"ContactID": "null-phone", "Name": "Null Phone Ltd", "Phones": [None]}, "Null Phone Ltd"),
    ({"ContactID": "dict-phones", "Name": "Dict Phones Ltd", "Phones": {"PhoneNumber": "555 0100"}}, "Dict Phones Ltd"),
    ({"ContactID": "string-addresses", "Name": "String Address Ltd", "Addresses": "1 Queen St"}, "String Address Ltd"),
    ({"ContactID": "number-name", "Name": 12345, "EmailAddress": {"a": 1}}, "12345"),
    ({"ContactID": "nul-name", "Name": "Nul\u0000 Byte Ltd"}, "Nul Byte Ltd"),
    ({"ContactID": "surrogate-name", "Name": "Lone \ud800 Surrogate Ltd"}, "Lone \ufffd Surrogate Ltd"),
    ({"ContactID": "long-name", "Name": "L" * 1000, "EmailAddress": "e" * 300 + "@example.com"}, "L" * 255),
    (
        {"ContactID": "odd-flags", "Name": "Odd Flags Ltd", "IsCustomer": "yes", "ContactStatus": {"x": 1}},
        "Odd Flags Ltd",
    ),
    (
        {"ContactID": "bad-date", "Name": "Bad Date Ltd", "UpdatedDateUTC": "/Date(99999999999999999999+0000)/"},
        "Bad Date Ltd",
    ),
    ({"ContactID": "dup", "Name": "Dup First Ltd"}, None),  # the same id twice: the later one is kept
    ({"ContactID": "dup", "Name": "Dup Second Ltd"}, "Dup Second Ltd"),
]


def seed_hostile(xero: XeroFake, tenant: str) -> list[str]:
    """20 ordinary contacts and every bad shape; the names of the ordinary ones the import keeps."""
    good = xero.seed_contacts(tenant, 20)
    for raw, _ in UNUSABLE:
        xero.add_raw_contact(tenant, raw)
    for raw, _ in REPAIRABLE:
        xero.add_raw_contact(tenant, {"ContactStatus": "ACTIVE", **raw})
    contacts = [xero.contact(tenant, c) for c in good]
    return [
        c["Name"]
        for c in contacts
        if c["ContactStatus"] == "ACTIVE" and not (c.get("IsSupplier") and not c.get("IsCustomer"))
    ]


def stored(bot: RunningBot) -> dict[str, str]:
    with bot.db.session() as s:
        rows = s.execute(
            select(CustomerReference.external_id, Customer.name).join(
                Customer, Customer.id == CustomerReference.customer_id
            )
        )
        return {external_id: name for external_id, name in rows}


@pytest.mark.parametrize("page_size", [1000, 4])
def test_an_import_with_every_bad_shape_imports_the_good_and_names_the_bad(
    connect_bot: RunningBot, xero: XeroFake, page_size: int
) -> None:
    bot = connect_bot
    _, tenant = connected(bot, xero)
    quick(bot, page_size=page_size)
    good = seed_hostile(xero, tenant)

    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)

    assert run.status == "succeeded", run.error
    assert run.count("unreadable") == len(UNUSABLE)
    names = stored(bot)
    repaired = {name for _, name in REPAIRABLE if name is not None}
    assert set(names.values()) == set(good) | repaired
    assert "None" not in names and names["dup"] == "Dup Second Ltd"
    assert customer_count(bot) == len(good) + len(repaired)

    thread = thread_text(bot, run)
    assert f"{len(UNUSABLE)} contacts could not be read from Xero:" in thread
    for _, said in UNUSABLE:
        assert said in thread
    assert "*Unreadable*" in thread
    assert f"{len(UNUSABLE)} unreadable" in bot.slack.message(run.channel_id or "", run.parent_ts or "")["text"]

    [upload] = bot.slack.uploaded_files
    rows = csv_rows(upload)
    unread = [r for r in rows if r["Not imported because"]]
    assert len(unread) == len(UNUSABLE) and len(rows) == len(good) + len(repaired) + len(UNUSABLE)
    said = {(r["Name"], r["Number"], r["Not imported because"]) for r in unread}
    assert ("Long Id Ltd", "x" * 65, "its id is longer than 64 characters") in said
    assert ("Null Id Ltd", "", "it has no id") in said and ("", "", "it is not a contact") in said


class RefusedRecord:
    """Xero's provider, with one record on the first page that passed no check at the boundary and that the
    database (or the JSON column's encoder) refuses: the belt and braces after the provider boundary."""

    def __init__(self, provider: Any, refused: Record, *, on_page: int = 0) -> None:
        self._provider, self._refused, self._on_page = provider, refused, on_page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    def customers(self, link: Any, **kw: Any) -> Iterator[Page]:
        for n, page in enumerate(self._provider.customers(link, **kw)):
            if n == self._on_page:
                customers, skipped = page.records()  # read here if it came encoded
                page = dataclasses.replace(page, customers=[*customers, self._refused], skipped=skipped, encoded=None)
            yield page


REFUSED = {
    "a phone the JSON column cannot encode": Record(id="refused-1", name="Refused Ltd", phones=(Phone("x", b"\x00"),)),  # type: ignore[arg-type]
    "a NUL byte (PostgreSQL)": Record(id="refused-1", name="Refused\x00 Ltd"),
    "an id longer than the column (PostgreSQL)": Record(id="refused-1" + "x" * 80, name="Refused Ltd"),
}


@pytest.mark.parametrize("on_page", [0, 2], ids=["on the first page", "on a page after others"])
@pytest.mark.parametrize("shape", list(REFUSED))
def test_a_record_the_database_refuses_is_skipped_alone(
    connect_bot: RunningBot, xero: XeroFake, database_url: str, shape: str, on_page: int
) -> None:
    """Only the record is skipped: not its page, nor the pages written before it in the same transaction (pages
    that are here already share one: a record refused on the third is undone to a savepoint after the first two)."""
    refused_here = "PostgreSQL" not in shape or database_url.startswith("postgresql")
    bot = connect_bot
    row, tenant = connected(bot, xero)
    quick(bot, page_size=5)
    providers = bot.server.runtime.providers
    providers["xero"] = RefusedRecord(providers["xero"], REFUSED[shape], on_page=on_page)  # type: ignore[assignment]
    good = seed_hostile(xero, tenant)

    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)

    assert run.status == "succeeded", run.error
    if not refused_here:  # SQLite holds what PostgreSQL refuses: the record is imported like the others
        assert run.count("unreadable") == len(UNUSABLE)
        assert [i for i in stored(bot) if i.startswith("refused-1")] and set(good) <= set(stored(bot).values())
        return
    assert run.count("unreadable") == len(UNUSABLE) + 1
    assert not [i for i in stored(bot) if i.startswith("refused-1")] and set(good) <= set(stored(bot).values())
    assert "Refused Ltd (the database refused it)" in thread_text(bot, run)
    with bot.db.session() as s:
        reasons = list(s.scalars(select(ImportRunSkip.reason).where(ImportRunSkip.external_id.startswith("refused-1"))))
    assert reasons == ["the database refused it"]
    assert isinstance(row, Connection)
