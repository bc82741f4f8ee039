"""Invoices from Slack for every package that raises them (issue 15), end to end through the Slack fake and the
package's fake (`package`: its driver, `tests.providers.packages`): mapping with tax codes; an invoice raised from
the modal and found at the package with the mapped accounts, tax codes and the totals the preview showed (a
three-decimal unit price, a tax-inclusive line: QuickBooks' too, in a company outside the US). The rest of the
end-to-end flows by topic: tests/test_invoicing_e2e_retries.py (never twice), ..._refusals.py (the package
refusing), ..._payments.py (payments, tracking, who may). Xero's own corners stay in tests/test_invoices.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from bot.invoices import money
from bot.views.text import escape
from storage.models import AccountMapping, InvoiceStatus
from tests.conftest import RunningBot
from tests.fakes.oauth2 import FakeClock
from tests.flows import all_text, shown
from tests.invoicing_e2e import MADE, cents, create, created, held, invoice_of, ready, tax_entries, totals_shown
from tests.packages_e2e import served, start_with
from tests.providers.packages import PackageDriver
from tests.providers.quickbooks_driver import QuickBooksElsewhereDriver
from tests.test_invoices import line, rows
from tests.test_mapping import checked, open_modal
from tests.test_tax_codes import tax_block

pytestmark = pytest.mark.package_has("invoicing")


@pytest.fixture
def bot(package_bot: RunningBot) -> Iterator[RunningBot]:
    yield from checked(package_bot)


# -- mapping and raising -----------------------------------------------------------------------------------------


def test_the_mapping_keeps_a_tax_code_beside_each_categorys_account(bot: RunningBot, package: PackageDriver) -> None:
    ready(bot, package)

    with bot.db.session() as s:
        saved = {row.category: row.tax_code for row in s.scalars(select(AccountMapping))}
    assert saved == {key: package.tax_picks.get(key) for key in package.chart_picks}
    sales = tax_entries(bot)[package.tax_picks["sales"]]
    confirmation = all_text(shown(bot, "Account codes saved"))
    assert f"*Sales*: {escape(package.chart_picks['sales'].label)}, tax {escape(sales.label)}" in confirmation
    again = open_modal(bot)
    for key, code in package.tax_picks.items():
        block = tax_block(again, key)
        assert block is not None and block["element"]["initial_option"]["value"] == code, key
    assert tax_block(again, "payments_received") is None


def test_an_invoice_raised_from_the_modal_is_made_at_the_package_with_the_mapped_accounts_tax_and_totals(
    bot: RunningBot, package: PackageDriver
) -> None:
    organisation, name = ready(bot, package)
    picks, taxes = package.chart_picks, package.tax_picks
    rates = {key: tax_entries(bot)[taxes[key]].rate for key in ("sales", "services")}

    previewed = invoice_of(
        bot,
        name,
        line(1, "sales", "Hot water cylinder", "1", "1250.00"),
        line(2, "services", "Copper fittings", "3", "33.335"),
    )
    assert package.invoices_at_package(organisation) == [] and [r.status for r in rows(bot)] == [InvoiceStatus.PREVIEW]
    create(bot, package)
    row, message = created(bot)

    [there] = held(package, organisation)
    assert [(x.account_code, x.tax_code, x.quantity, x.unit_price) for x in there.lines] == [
        (picks["sales"].key, taxes["sales"], Decimal(1), Decimal("1250.00")),
        (picks["services"].key, taxes["services"], Decimal(3), Decimal("33.335")),
    ]
    assert there.subtotal == Decimal("1350.01")  # 3 × 33.335 = 100.005, to the cent half up: 100.01
    assert there.tax == cents(1250 * rates["sales"] / 100) + cents(Decimal("100.01") * rates["services"] / 100)
    assert there.total == there.subtotal + there.tax
    assert totals_shown(previewed, there)
    assert (row.status in MADE, row.external_id, row.number) == (True, there.id, there.number)
    assert there.customer_id.lower() == row.customer_external_id.lower() and row.customer_name == name
    assert (row.subtotal, row.tax, row.total, row.amount_due) == (there.subtotal, there.tax, there.total, there.total)
    text = all_text(message)
    assert f"*{escape(name)}*" in text and f"*{money.shown(there.total, row.currency)}*" in text
    assert there.number and there.number in text
    [url] = [e["url"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if e.get("url")]
    assert urlsplit(url).scheme == "https" and there.id in url


@pytest.mark.package_has("tax_inclusive_prices")
def test_a_tax_inclusive_line_has_its_tax_worked_out_of_the_price_as_the_package_does(
    bot: RunningBot, package: PackageDriver
) -> None:
    a_tax_inclusive_line(bot, package)


@pytest.fixture
def quickbooks_elsewhere() -> Iterator[QuickBooksElsewhereDriver]:
    with served(QuickBooksElsewhereDriver(FakeClock(time.time()))) as driver:
        yield driver


@pytest.fixture
def bot_elsewhere(start_bot: Any, quickbooks_elsewhere: QuickBooksElsewhereDriver) -> Iterator[RunningBot]:
    yield from checked(start_with(start_bot, quickbooks_elsewhere))


def test_a_tax_inclusive_line_in_a_quickbooks_company_outside_the_us(
    bot_elsewhere: RunningBot, quickbooks_elsewhere: QuickBooksElsewhereDriver
) -> None:
    """The US company the suites run for refuses prices that include tax; one elsewhere (Australia, GST 10%)
    takes them, with the tax worked out of each line (`GlobalTaxCalculation` TaxInclusive)."""
    organisation = a_tax_inclusive_line(bot_elsewhere, quickbooks_elsewhere)
    [made] = quickbooks_elsewhere.invoices_at_package(organisation)
    assert made["GlobalTaxCalculation"] == "TaxInclusive" and made["CurrencyRef"]["value"] == "AUD"
    [sold] = [x for x in made["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert sold["SalesItemLineDetail"]["TaxCodeRef"]["value"] == "10"


def a_tax_inclusive_line(bot: RunningBot, package: PackageDriver) -> str:
    """One line of 100 with tax included, raised from the modal: its tax worked out of the price (15% GST: 13.04),
    at the package as in the preview. The organisation's id."""
    organisation, name = ready(bot, package)
    rate = tax_entries(bot)[package.tax_picks["sales"]].rate

    previewed = invoice_of(bot, name, line(1, "sales", "Service visit", "1", "100"), inclusive=True)
    create(bot, package)
    row, _ = created(bot)

    [there] = held(package, organisation)
    assert there.total == Decimal("100.00") and there.tax == cents(100 * rate / (100 + rate)) > 0
    assert there.subtotal == there.total - there.tax and totals_shown(previewed, there)
    assert (row.subtotal, row.tax, row.total) == (there.subtotal, there.tax, there.total)
    return organisation
