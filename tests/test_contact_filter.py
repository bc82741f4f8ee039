"""`/accounts import contacts`: which contacts an import makes customers, end to end over real HTTP (the Slack fake,
the Xero fake and the bot): showing and changing the setting, who may, and what the next import then keeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import AuditEvent, Connection, SyncSettings
from tests.conftest import ADMIN, CHANNEL, STAFF, RunningBot
from tests.fakes.blockkit import check_message
from tests.fakes.xero import XeroFake
from tests.flows import all_text, becomes, click, command, connected
from tests.imports import customer_count, customers_by_external_id, finished, quick, sync_settings, thread_text

DEFAULT_WORDS = "every contact except those that are only suppliers"
CHOICES = ("import contacts not-suppliers", "import contacts customers", "import contacts all")

Contact = dict[str, Any]
KEEPS: dict[str, Callable[[Contact], bool]] = {
    "customers": lambda c: bool(c.get("IsCustomer")),
    "all": lambda c: True,
    "not-suppliers": lambda c: not (c.get("IsSupplier") and not c.get("IsCustomer")),
}


@pytest.fixture
def imports(connect_bot: RunningBot, xero: XeroFake) -> tuple[RunningBot, Connection, str]:
    row, tenant = connected(connect_bot, xero)
    quick(connect_bot)
    xero.seed_contacts(tenant, 60)  # customers, suppliers only, both, and neither; a few archived
    return connect_bot, row, tenant


def kept(xero: XeroFake, tenant: str, word: str) -> set[str]:
    """The ContactIDs a first import keeps under the setting `word`: active contacts it counts as customers."""
    contacts = [xero.contact(tenant, c) for c in xero.contact_ids(tenant)]
    return {c["ContactID"] for c in contacts if c["ContactStatus"] == "ACTIVE" and KEEPS[word](c)}


def audit(bot: RunningBot, action: str) -> list[AuditEvent]:
    with bot.db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


@pytest.mark.parametrize(("word", "setting"), [("customers", "customers_only"), ("all", "all")])
def test_an_admin_chooses_which_contacts_the_next_import_keeps(
    imports: tuple[RunningBot, Connection, str], xero: XeroFake, word: str, setting: str
) -> None:
    bot, _, tenant = imports
    expected, default = kept(xero, tenant, word), kept(xero, tenant, "not-suppliers")
    assert expected != default  # the seeded contacts tell the settings apart

    answer = command(bot, f"/accounts import contacts {word}", "Contacts imported as customers are now")
    assert check_message(answer["blocks"]) == []
    text = all_text(answer)
    assert f"(until now: {DEFAULT_WORDS})" in text and "applies from the next import" in text
    assert "customers already imported stay" in text and "/accounts import" in text
    saved = sync_settings(bot)
    assert saved.customer_filter == setting
    assert saved.updated_by is None  # who set the schedule: nobody did
    [event] = audit(bot, "import.contacts")
    assert (event.actor_user_id, event.detail) == (ADMIN, {"contacts": setting, "was": "all_but_suppliers"})

    click(bot, answer, "import_start")  # the answer's "Import now"
    becomes(bot, answer, "Starting the import")
    run = finished(bot)
    assert run.status == "succeeded"
    assert set(customers_by_external_id(bot)) == expected
    assert run.count("new") == len(expected) and run.count("skipped") == 60 - len(expected)


def test_narrowing_it_leaves_the_customers_already_imported(
    imports: tuple[RunningBot, Connection, str], xero: XeroFake
) -> None:
    bot, _, tenant = imports
    command(bot, "/accounts import", "Starting the import")
    assert finished(bot).status == "succeeded"
    before = set(customers_by_external_id(bot))
    assert before == kept(xero, tenant, "not-suppliers")

    command(bot, "/accounts import contacts customers", "Contacts imported as customers are now")
    xero.add_contact(tenant, "New Neighbour Ltd")  # neither customer nor supplier yet
    command(bot, "/accounts import", "Starting the import")
    run = finished(bot)
    assert set(customers_by_external_id(bot)) == before and run.count("new") == 0
    assert customer_count(bot) == len(before)
    # The summary says the setting took effect: who no longer counts (kept), and why the new one was skipped
    no_longer = len(before - kept(xero, tenant, "customers"))
    assert no_longer > 0 and run.count("no_longer_customers") == no_longer
    thread = thread_text(bot, run)
    assert f"{no_longer} customers imported earlier no longer count as customers under the current setting" in thread
    assert "not customers under the setting (only contacts the package marks as customers" in thread
    assert run.count("skipped_suppliers") >= 1 and run.count("skipped_archived") >= 1


def test_anyone_sees_the_setting_and_the_choices(imports: tuple[RunningBot, Connection, str]) -> None:
    bot, _, _ = imports
    text = all_text(command(bot, "/accounts import contacts", "Contacts imported as customers:", STAFF))
    assert f"*Contacts imported as customers:* {DEFAULT_WORDS}." in text
    for choice in CHOICES:
        assert f"/accounts {choice}" in text
    assert "not-suppliers`: every contact except those that are only suppliers _(the default, now)_" in text

    command(bot, "/accounts import contacts all", "Contacts imported as customers are now")
    text = all_text(command(bot, "/accounts import contacts", "Contacts imported as customers:", STAFF))
    assert "*Contacts imported as customers:* every contact." in text and "all`: every contact _(now)_" in text


def test_setting_it_again_changes_nothing(imports: tuple[RunningBot, Connection, str]) -> None:
    bot, _, _ = imports
    answer = command(bot, "/accounts import contacts not-suppliers", "nothing changed")
    assert "import_start" not in str(answer["blocks"])
    assert audit(bot, "import.contacts") == []


def test_someone_who_is_not_an_admin_is_refused(imports: tuple[RunningBot, Connection, str]) -> None:
    bot, _, _ = imports
    answer = command(bot, "/accounts import contacts all", "Only admins", STAFF)
    assert "change which contacts are imported" in all_text(answer)
    with bot.db.session() as s:
        assert s.scalars(select(SyncSettings)).all() == []  # nothing was set
    [refusal] = audit(bot, "refused")
    assert (refusal.actor_user_id, refusal.detail) == (STAFF, {"action": "import.contacts"})
    assert audit(bot, "import.contacts") == []


@pytest.mark.parametrize("word", ["suppliers", "<!channel>", "customers only"])
def test_a_choice_it_does_not_know_is_answered_with_the_choices(
    imports: tuple[RunningBot, Connection, str], word: str
) -> None:
    bot, _, _ = imports
    text = all_text(command(bot, f"/accounts import contacts {word}", "I don't know"))
    assert "<!channel>" not in text
    for choice in CHOICES:
        assert f"/accounts {choice}" in text
    assert audit(bot, "import.contacts") == []


@pytest.mark.parametrize("text", ["/accounts import contacts", "/accounts import contacts all"])
def test_without_a_connection_it_says_how_to_connect(connect_bot: RunningBot, text: str) -> None:
    answer = command(connect_bot, text, "Nothing is connected yet")
    assert "`/accounts connect`" in all_text(answer)


def test_help_and_status_show_the_setting(imports: tuple[RunningBot, Connection, str]) -> None:
    bot, _, _ = imports
    delivery = bot.slack.send_command("/accounts help", user_id=STAFF, channel_id=CHANNEL)
    assert "/accounts import contacts all|customers|not-suppliers" in str(delivery.ack["blocks"])

    status = all_text(command(bot, "/accounts status", "Accounting package connected", STAFF))
    assert f"*Contacts imported as customers:* {DEFAULT_WORDS} (" in status
    command(bot, "/accounts import contacts customers", "Contacts imported as customers are now")
    status = all_text(command(bot, "/accounts status", "Accounting package connected", STAFF))
    assert "*Contacts imported as customers:* only contacts the package marks as customers (" in status
