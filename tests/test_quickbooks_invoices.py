"""QuickBooks Online's own corners of invoicing from Slack (issue 15), end to end over real HTTP through the Slack
fake, the QuickBooks fake and the bot: a US company's tax codes offered in the mapping (its sales tax codes as
`TAX:<Id>` and `NON`, not the inactive ones); an invoice made through one service Item per mapped income account,
its taxable lines taxed together at the invoice's one sales tax code, open at once (QuickBooks has no drafts) in
dollars, the reference in its note, linked to QuickBooks Online; a fault on the customer shown under the customer in
the modal. What every package does (accounts, tax codes and totals read back, never twice, a refusal by line and
field, payments, paid in the package, who may invoice) is tests/test_invoicing_e2e*.py's, which run for QuickBooks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from storage.models import InvoiceStatus
from tests.conftest import ADMIN, CHANNEL, RunningBot
from tests.fakes.oauth2 import FakeClock
from tests.flows import all_text, log_in, login_url
from tests.imports import finished
from tests.invoicing_e2e import create, refused_form
from tests.packages_e2e import served, start_with
from tests.providers.packages import QuickBooksDriver
from tests.test_invoices import customer, line, open_form, posted, preview, rows
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


def test_an_invoice_raised_from_slack_is_open_in_quickbooks_at_once_with_us_sales_tax_and_its_note(
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
    create(bot, quickbooks)
    message = posted(bot, "1001")

    [made] = quickbooks.invoices_at_package(realm)
    items = {i["Id"]: i for i in quickbooks.fake.items(realm)}
    sold = [x["SalesItemLineDetail"] for x in made["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert [(items[d["ItemRef"]["value"]]["IncomeAccountRef"]["value"], d["TaxCodeRef"]["value"]) for d in sold] == [
        (ids["Sales of Product Income"], "TAX"),
        (ids["Services"], "NON"),
    ]
    assert made["TxnTaxDetail"]["TxnTaxCodeRef"] == {"value": "2"}  # the invoice's one sales tax code
    assert (made["TotalAmt"], made["TxnTaxDetail"]["TotalTax"], made["PrivateNote"]) == (193.01, 8.0, "Job 42")
    [row] = rows(bot)
    assert (row.status, row.number, row.external_id) == (InvoiceStatus.APPROVED, "1001", made["Id"])
    assert (row.total, row.tax, row.currency) == (Decimal("193.01"), Decimal("8.00"), "USD")
    # no drafts in QuickBooks: open at once (approving is not turned on), so it takes payments
    assert "*USD 193.01* (approved)" in all_text(message) and "invoice_record_payment" in str(message["blocks"])
    link = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if e.get("url"))
    assert link["url"] == f"https://app.qbo.intuit.com/app/invoice?txnId={made['Id']}"


def test_a_customer_made_inactive_in_quickbooks_is_shown_under_the_customer_in_the_modal(
    bot: RunningBot, quickbooks: QuickBooksDriver
) -> None:
    realm = ready(bot, quickbooks)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    [jo] = [c for c in quickbooks.fake.customer_ids(realm)]
    quickbooks.fake.deactivate_customer(realm, jo)  # in QuickBooks, since the import
    top = bot.slack.last_view(ADMIN)
    assert top is not None
    create(bot, quickbooks)

    blocks = refused_form(bot, top["id"])["blocks"]
    under = {b["block_id"]: b["elements"][0]["text"] for b in blocks if str(b.get("block_id")).endswith("_problem")}
    assert list(under) == ["invoice_customer_problem"], under
    assert under["invoice_customer_problem"].startswith("⚠ QuickBooks: Invalid Reference Id : Customer")
    assert "made inactive" in under["invoice_customer_problem"]
    assert quickbooks.invoices_at_package(realm) == [] and rows(bot)[0].status == InvoiceStatus.FAILED
    assert not [m for m in bot.slack.messages(CHANNEL) if "did not accept" in all_text(m)]  # told in the modal only
