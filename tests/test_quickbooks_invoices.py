"""Invoices and payments from Slack with QuickBooks Online (issue 15), end to end over real HTTP through the Slack
fake, the QuickBooks fake and the bot: mapped with tax codes, an invoice raised from the modal made at QuickBooks
through one service Item per mapped income account (QuickBooks has no drafts: it is open at once), one invoice
whatever is retried, a refusal shown by its field, a payment recorded, and a payment made in QuickBooks told in
the invoice's thread by the next tracking."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.invoices import tracking
from storage.models import InvoiceStatus
from tests.conftest import ADMIN, CHANNEL, RunningBot
from tests.fakes.oauth2 import FakeClock
from tests.flows import all_text, log_in, login_url, shown
from tests.imports import finished
from tests.packages_e2e import served, start_with
from tests.providers.packages import QuickBooksDriver, Resource
from tests.test_invoices import customer, line, open_form, posted, preview, rows, thread
from tests.test_mapping import checked, choices, keys, open_modal
from tests.test_tax_codes import tax_block, tax_values


@pytest.fixture
def quickbooks() -> Iterator[QuickBooksDriver]:
    with served(QuickBooksDriver(FakeClock(time.time()))) as driver:
        yield driver


@pytest.fixture
def bot(start_bot: Any, quickbooks: QuickBooksDriver) -> Iterator[RunningBot]:
    yield from checked(start_with(start_bot, quickbooks))


def ready(bot: RunningBot, quickbooks: QuickBooksDriver) -> str:
    """Connected to a US company, mapped with tax codes, its customers imported: the realm id."""
    realm = quickbooks.add_organisation("Acme Plumbing Ltd")
    quickbooks.fake.add_customer(realm, "Jo Bloggs", PrimaryEmailAddr={"Address": "jo@example.com"})
    log_in(bot, login_url(bot, package="quickbooks"))
    view = open_modal(bot)
    sales = tax_block(view, "sales")
    assert sales is not None
    assert {o["value"]: o["text"]["text"] for o in sales["element"]["options"]} == {
        "NON": "Not taxable (0%)",
        "TAX:2": "Taxable, California (8%)",  # not the inactive Old county
    }
    values = choices(quickbooks.account_ids(realm), keys(quickbooks.chart_picks))
    values |= tax_values({"sales": "TAX:2", "services": "NON"})
    assert bot.slack.send_view_submission(view["id"], values).problems == ()
    bot.slack.send_command("/accounts import", user_id=ADMIN, channel_id=CHANNEL)
    finished(bot)
    return realm


def create(bot: RunningBot) -> None:
    top = bot.slack.last_view(ADMIN)
    assert top is not None and top["callback_id"] == "invoice_preview"
    delivery = bot.slack.send_view_submission(top["id"])
    assert delivery.problems == () and delivery.ack["response_action"] == "update"
    assert "Creating the invoice in QuickBooks" in str(bot.slack.view(top["id"])["blocks"])


def jo_invoice(bot: RunningBot, *lines: dict[str, Any]) -> dict[str, Any]:
    form = open_form(bot)
    view_id = form["id"]
    for number in range(2, len(lines) + 1):  # "Add a line" for each line after the first
        bot.slack.send_action("invoice_add_line", user_id=ADMIN, view_id=view_id)
        form = bot.slack.wait_for(lambda n=number: (v := bot.slack.view(view_id)) and f"line_{n}_price" in str(v) and v)
    values: dict[str, Any] = {"invoice_customer": {"invoice_customer": customer(bot, form, "jo")}}
    values["reference"] = {"reference": "Job 42"}
    for entry in lines:
        values |= entry
    return preview(bot, form, values)


def test_an_invoice_raised_from_slack_is_made_in_quickbooks_paid_and_told(
    bot: RunningBot, quickbooks: QuickBooksDriver
) -> None:
    realm = ready(bot, quickbooks)
    ids = quickbooks.account_ids(realm)
    shown_preview = jo_invoice(
        bot,
        line(1, "sales", "Hot water cylinder", "3", "33.335"),  # the category's tax code: Taxable, California
        line(2, "services", "Call-out", "1", "85"),  # Not taxable
    )
    # 3 × 33.335 = 100.005 → 100.01; 8% of it 8.00; the call-out 85.00 untaxed
    assert "Subtotal: 185.01" in str(shown_preview["blocks"]) and "Total: 193.01" in str(shown_preview["blocks"])
    create(bot)
    message = posted(bot, "1001")

    [made] = quickbooks.invoices_at_package(realm)
    items = {i["Id"]: i for i in quickbooks.fake.items(realm)}
    sold = [x["SalesItemLineDetail"] for x in made["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert [(items[d["ItemRef"]["value"]]["IncomeAccountRef"]["value"], d["TaxCodeRef"]["value"]) for d in sold] == [
        (ids["Sales of Product Income"], "TAX"),
        (ids["Services"], "NON"),
    ]
    assert (made["TotalAmt"], made["TxnTaxDetail"]["TotalTax"], made["PrivateNote"]) == (193.01, 8.0, "Job 42")
    [row] = rows(bot)
    assert (row.status, row.number, row.external_id) == (InvoiceStatus.APPROVED, "1001", made["Id"])
    assert (row.total, row.tax, row.currency) == (Decimal("193.01"), Decimal("8.00"), "USD")
    # no drafts in QuickBooks: open at once, so it takes payments
    assert "*USD 193.01* (approved)" in all_text(message) and "invoice_record_payment" in str(message["blocks"])
    link = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if e.get("url"))
    assert link["url"] == f"https://app.qbo.intuit.com/app/invoice?txnId={made['Id']}"

    bot.slack.send_action("invoice_record_payment", user_id=ADMIN, channel_id=CHANNEL, message_ts=message["ts"])
    [opened] = bot.slack.wait_for(
        lambda: [c for c in bot.slack.calls("views.open") if c.args["view"]["callback_id"] == "invoice_payment"]
    )
    assert "193.01" in str(opened.response["view"]["blocks"]) and "Checking" in str(opened.response["view"]["blocks"])
    assert bot.slack.send_view_submission(opened.response["view"]["id"], {"amount": {"amount": "50"}}).problems == ()
    [told] = thread(bot, message, 1)
    assert "recorded a payment of *USD 50.00*. USD 143.01 still due." in told
    [payment] = quickbooks.payments_at_package(realm)
    assert payment["DepositToAccountRef"]["value"] == ids["Checking"]
    assert payment["Line"][0]["LinkedTxn"] == [{"TxnId": made["Id"], "TxnType": "Invoice"}]

    quickbooks.pay_at_package(realm, made["Id"])  # the rest, in QuickBooks itself
    runtime = bot.server.runtime
    assert tracking.track(runtime, connection_id=row.connection_id) == 1
    assert thread(bot, message, 2)[-1] == ":white_check_mark: Paid in full in QuickBooks."
    assert rows(bot)[0].status == InvoiceStatus.PAID and rows(bot)[0].amount_due == 0


def test_an_answer_lost_after_quickbooks_made_the_invoice_still_makes_one(
    bot: RunningBot, quickbooks: QuickBooksDriver
) -> None:
    realm = ready(bot, quickbooks)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    quickbooks.lose_next_answer(Resource.INVOICES)
    create(bot)
    posted(bot, "1001")
    posts = quickbooks.calls(Resource.INVOICES)
    assert [c.status for c in posts] == [504, 200] and len({c.query["requestid"] for c in posts}) == 1
    assert len(quickbooks.invoices_at_package(realm)) == 1 and rows(bot)[0].status == InvoiceStatus.APPROVED


def test_a_send_that_never_got_its_answer_is_resumed_by_the_tracking_and_still_makes_one(
    bot: RunningBot, quickbooks: QuickBooksDriver
) -> None:
    realm = ready(bot, quickbooks)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    quickbooks.fake.lose_answers("invoice", times=quickbooks.tries)  # every try of the first send
    create(bot)
    assert "never raised twice" in all_text(shown(bot, "has not answered yet"))
    [row] = rows(bot)
    assert row.status == InvoiceStatus.PENDING and len(quickbooks.invoices_at_package(realm)) == 1

    runtime = bot.server.runtime
    later = runtime.clock() + timedelta(minutes=5)
    runtime.clock = lambda: later
    tracking.track(runtime, connection_id=row.connection_id)
    posted(bot, "1001")
    [row] = rows(bot)
    assert (row.status, row.number) == (InvoiceStatus.APPROVED, "1001")
    assert len(quickbooks.invoices_at_package(realm)) == 1
    assert len({c.query["requestid"] for c in quickbooks.calls(Resource.INVOICES)}) == 1


def test_quickbooks_refusing_the_invoice_is_shown_by_its_field(bot: RunningBot, quickbooks: QuickBooksDriver) -> None:
    realm = ready(bot, quickbooks)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    [jo] = [c for c in quickbooks.fake.customer_ids(realm)]
    quickbooks.fake.deactivate_customer(realm, jo)  # in QuickBooks, since the import
    create(bot)
    refused = shown(bot, "did not accept the invoice")
    assert "Customer" in all_text(refused) and "made inactive" in all_text(refused)
    before = len(bot.slack.calls("views.open"))
    bot.slack.send_action("invoice_change", user_id=ADMIN, channel_id=CHANNEL, message_ts=refused["ts"])
    [call] = bot.slack.wait_for(lambda: bot.slack.calls("views.open")[before:])
    form = {b.get("block_id"): b for b in call.response["view"]["blocks"]}
    assert form["invoice_customer"]["hint"]["text"].startswith("⚠ QuickBooks: Invalid Reference Id : Customer")
    assert quickbooks.invoices_at_package(realm) == [] and rows(bot)[0].status == InvoiceStatus.FAILED
