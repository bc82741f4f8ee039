"""Invoices from Slack with MYOB (issue 15), end to end through the Slack fake and the MYOB fake served over HTTP:
MYOB's own corners. What every package does alike (the invoice made with the mapped accounts, tax codes and the
preview's totals, one invoice however its answer is lost or its process killed, refusals under their field in the
modal, payments, tracking) runs for MYOB in tests/test_invoicing_e2e*.py. Here: MYOB's withholding tax codes in the
mapping, an invoice open at once (no drafts) and numbered from its key, an answer lost found by that number without
a second create, and a company file connected before invoicing told to renew the connection."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from providers.myob.invoice_mappers import record_numbers
from storage.models import InvoiceStatus
from tests.conftest import ADMIN, CHANNEL, RunningBot
from tests.fakes.oauth2 import FakeClock
from tests.flows import all_text, log_in, login_url
from tests.imports import finished
from tests.invoicing_e2e import settled_form
from tests.packages_e2e import served, start_with
from tests.providers.myob_driver import MyobDriver
from tests.providers.packages import Resource
from tests.test_invoices import customer, line, posted, preview, rows
from tests.test_mapping import checked, choices, keys, open_modal
from tests.test_tax_codes import tax_block, tax_values

TAXES = {"sales": "GST", "services": "FRE", "labour": "GST", "materials": "GST"}
SCOPES_BEFORE_INVOICING = "sme-company-file sme-general-ledger sme-contacts-customer"  # no sme-sales


@pytest.fixture
def myob() -> Iterator[MyobDriver]:
    with served(MyobDriver(FakeClock(time.time()))) as driver:
        yield driver


@pytest.fixture
def bot(start_bot: Any, myob: MyobDriver) -> Iterator[RunningBot]:
    yield from checked(start_with(start_bot, myob))


def ready(bot: RunningBot, myob: MyobDriver) -> str:
    """Connected to Acme Plumbing's company file, mapped with tax codes, its customers imported: the file's id."""
    file_id = myob.add_organisation("Acme Plumbing Pty Ltd")
    myob.add_customer(file_id, "Jo Bloggs", email="jo@example.com")
    log_in(bot, login_url(bot, package="myob"))
    view = open_modal(bot)
    assert tax_block(view, "sales") is not None and "Goods & Services Tax" in str(tax_block(view, "sales"))
    values = dict(choices(myob.account_ids(file_id), keys(MyobDriver.chart_picks))) | tax_values(TAXES)
    assert bot.slack.send_view_submission(view["id"], values).problems == ()
    bot.slack.send_command("/accounts import", user_id=ADMIN, channel_id=CHANNEL)
    finished(bot)
    return file_id


def test_the_mapping_offers_myobs_tax_codes_and_refuses_a_purchase_only_one_for_sales(
    bot: RunningBot, myob: MyobDriver
) -> None:
    file_id = myob.add_organisation("Acme Plumbing Pty Ltd")
    log_in(bot, login_url(bot, package="myob"))
    view = open_modal(bot)
    sales = str(tax_block(view, "sales"))
    assert "GST Free (0%)" in sales and "No ABN Withholding" not in sales  # MYOB refuses it on a sale
    assert "No ABN Withholding" in str(tax_block(view, "expenses"))
    values = dict(choices(myob.account_ids(file_id), keys(MyobDriver.chart_picks)))
    delivery = bot.slack.send_view_submission(view["id"], values | tax_values(TAXES | {"sales": "ABN"}))
    assert delivery.ack["response_action"] == "errors"
    assert delivery.ack["errors"] == {
        "tax_sales": "No ABN Withholding (-47%) cannot be used with 4-1000 – Sales. "
        "Choose a tax code for that kind of account."
    }


def create(bot: RunningBot) -> None:
    top = bot.slack.last_view(ADMIN)
    assert top is not None and top["callback_id"] == "invoice_preview"
    delivery = bot.slack.send_view_submission(top["id"])
    assert delivery.problems == () and delivery.ack["response_action"] == "update"
    assert "Creating the invoice in MYOB" in str(bot.slack.view(top["id"])["blocks"])


def number(bot: RunningBot) -> str:
    """The number our provider gives the one invoice raised so far (worked out of its idempotency key)."""
    return record_numbers(rows(bot)[0].idempotency_key, "S")[0]


def test_an_invoice_is_made_open_at_myob_numbered_from_its_key_with_the_lines_totals(
    bot: RunningBot, myob: MyobDriver
) -> None:
    """MYOB's corners (the rest every package does is in tests/test_invoicing_e2e*.py): no draft sale invoice, so it
    is approved whatever the setting; its number worked out of our key; a service line carries its total to the
    cent beside its unit count and unit price; the reference as the customer's PO number."""
    file_id = ready(bot, myob)
    form = settled_form(bot)
    values: dict[str, Any] = {"invoice_customer": {"invoice_customer": customer(bot, form, "jo")}}
    values["reference"] = {"reference": "Job 42"}
    shown_preview = str(preview(bot, form, values | line(1, "sales", "Hot water cylinder", "3", "33.335"))["blocks"])
    assert "Subtotal: 100.01" in shown_preview and "Tax: 10.00" in shown_preview and "Total: 110.01" in shown_preview
    create(bot)
    message = posted(bot, number(bot))

    [made] = myob.invoices_at_package(file_id)
    accounts = myob.account_ids(file_id)
    assert [
        (li["Description"], li["Account"]["UID"], li["TaxCode"]["Code"], li["UnitCount"], li["UnitPrice"], li["Total"])
        for li in made["Lines"]
    ] == [("Hot water cylinder", accounts["4-1000"], "GST", 3.0, 33.335, 100.01)]
    assert made["CustomerPurchaseOrderNumber"] == "Job 42" and made["Number"] == number(bot)
    [row] = rows(bot)
    assert (row.status, row.external_id) == (InvoiceStatus.APPROVED, made["UID"])  # the bot's setting is drafts
    assert "*110.01* (approved)" in all_text(message) and "invoice_record_payment" in str(message["blocks"])
    link = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if e.get("url"))
    assert link["url"] == f"https://app.myob.com/#/au/{file_id}/invoice/{made['UID']}"


def test_an_answer_lost_after_myob_made_the_invoice_is_found_by_its_number(bot: RunningBot, myob: MyobDriver) -> None:
    file_id = ready(bot, myob)
    form = settled_form(bot)
    values: dict[str, Any] = {"invoice_customer": {"invoice_customer": customer(bot, form, "jo")}}
    preview(bot, form, values | line(1, "sales", "Hot water", "1", "100"))
    myob.lose_next_answer(Resource.INVOICES)
    create(bot)
    posted(bot, number(bot))
    # made, its answer lost, never sent again (a create MYOB's limit a second refused did nothing, and was resent)
    assert [c.status for c in myob.calls(Resource.INVOICES) if c.status != 403] == [504]
    assert len(myob.invoices_at_package(file_id)) == 1 and rows(bot)[0].status == InvoiceStatus.APPROVED


@pytest.fixture
def connected_before_invoicing(start_bot: Any, myob: MyobDriver) -> Iterator[RunningBot]:
    """The bot as it was before invoicing: it asked MYOB for the company file, its accounts and customers only."""
    yield from checked(start_with(start_bot, myob, myob_scopes=SCOPES_BEFORE_INVOICING))


def test_a_file_connected_before_invoicing_is_told_to_renew_the_connection(
    connected_before_invoicing: RunningBot, myob: MyobDriver
) -> None:
    bot = connected_before_invoicing
    file_id = ready(bot, myob)
    form = settled_form(bot)
    values: dict[str, Any] = {"invoice_customer": {"invoice_customer": customer(bot, form, "jo")}}
    preview(bot, form, values | line(1, "sales", "Hot water", "1", "100"))
    top = bot.slack.last_view(ADMIN)
    assert top is not None
    create(bot)

    told = bot.slack.wait_for(
        lambda: (v := bot.slack.view(top["id"])) and "Creating the invoice" not in str(v["blocks"]) and v,
        30,
        "the modal never showed how it went",
    )
    text = str(told["blocks"])
    assert "the connection needs to be renewed to allow invoicing" in text
    assert "run `/accounts connect myob` again" in text and "only an administrator" not in text
    sales = myob.fake.calls_to("/Sale/")  # looked up by number first, refused; nothing sent
    assert sales and all((c.method, c.status) == ("GET", 403) for c in sales)
    assert myob.invoices_at_package(file_id) == [] and rows(bot)[0].status == InvoiceStatus.PENDING
