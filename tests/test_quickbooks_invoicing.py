"""QuickBooks Online's side of invoicing (issue 15): the provider against the QuickBooks fake in-process. Tax codes
(a US company's TAX/NON, TaxCode Ids elsewhere), one service Item per income account found or made once, invoices
with the right Item, tax code and amounts, one invoice per requestid whatever is retried, refusals by line and
field, and money rounded as QuickBooks rounds it (payments and the read-back: `test_quickbooks_payments`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest

from providers.base import AccountKind
from providers.invoicing import (
    InvoiceLine,
    InvoiceRefused,
    InvoiceState,
    Invoicing,
    SalesTerms,
)
from providers.quickbooks import QuickBooksProvider
from providers.quickbooks.invoice_mappers import REQUEST_ID_LIMIT, line_amount
from tests import quickbooks_companies
from tests.providers.packages import Resource
from tests.quickbooks_companies import HOT_WATER, PARTS, Company

# The fixtures, from the shared module.
companies, us, au = quickbooks_companies.companies, quickbooks_companies.us, quickbooks_companies.au


def test_quickbooks_offers_invoicing_and_sales_terms() -> None:
    assert issubclass(QuickBooksProvider, Invoicing) and issubclass(QuickBooksProvider, SalesTerms)


# -- tax codes ---------------------------------------------------------------------------------------


def test_a_us_company_gets_non_and_a_taxable_code_per_sales_tax(us: Company) -> None:
    rates = {r.code: r for r in us.provider.tax_rates(us.link)}
    assert set(rates) == {"NON", "TAX:2", "TAX:3"}
    assert rates["NON"].rate == 0 and rates["TAX:2"].rate == Decimal(8) and rates["TAX:2"].name == "Taxable, California"
    assert not rates["TAX:3"].active and rates["TAX:3"].rate == Decimal("9.5")
    assert all(r.suits_kind(AccountKind.INCOME) and r.suits_kind(AccountKind.COST_OF_SALES) for r in rates.values())
    assert sorted(str(c.entity) for c in us.fake.calls_to("/query")[-2:]) == ["TaxCode", "TaxRate"]  # at once


def test_the_tax_codes_their_rates_and_the_country_are_asked_for_at_once(us: Company) -> None:
    """Three round trips the mapping modal waits for, in the time of one: with each answer held back a while, the
    three calls are all in flight before the first is answered."""
    provider = us.new_provider()  # the company's country not known yet: asked for too
    before = len(us.fake.calls)
    in_flight: list[list[int | None]] = []

    def watch() -> None:
        with us.fake.arrived:
            us.fake.arrived.wait_for(lambda: len(us.fake.calls) >= before + 3, timeout=30)
            in_flight.append([c.status for c in us.fake.calls[before:]])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    us.fake.latency = 3.0  # far longer than the three calls take to be sent
    try:
        rates = provider.tax_rates(us.link)
    finally:
        us.fake.latency = 0.0
    watcher.join(timeout=30)
    asked = sorted(
        c.entity or ("company info" if "/companyinfo/" in c.path else c.path) for c in us.fake.calls[before:]
    )
    assert asked == ["TaxCode", "TaxRate", "company info"]
    assert in_flight == [[None, None, None]], in_flight  # none answered when the third arrived
    assert {r.code for r in rates} == {"NON", "TAX:2", "TAX:3"}


def test_elsewhere_tax_codes_are_taxcode_ids_rated_by_their_tax_rates(au: Company) -> None:
    rates = {r.code: r for r in au.provider.tax_rates(au.link)}
    assert set(rates) == {"10", "11", "13"}  # not 12, GST on non-capital purchases: no sales rate
    assert (rates["10"].name, rates["10"].rate, rates["11"].rate) == ("GST", Decimal(10), Decimal(0))
    assert rates["10"].suits_kind(AccountKind.INCOME) and rates["10"].suits_kind(AccountKind.EXPENSE)
    assert not rates["13"].active and rates["13"].rate == Decimal("12.5")


# -- invoices ----------------------------------------------------------------------------------------


def test_a_us_invoice_goes_through_items_with_tax_and_non_and_one_sales_tax_code(us: Company) -> None:
    made = us.provider.create_invoice(us.link, us.invoice(HOT_WATER, PARTS), idempotency_key="key-1")
    [invoice] = us.fake.invoices(us.realm)
    items = {i["Name"]: i for i in us.fake.items(us.realm)}
    assert {n: i["IncomeAccountRef"]["value"] for n, i in items.items()} == {
        "Services": us.account_id("Services"),
        "Sales of Product Income": us.account_id("Sales of Product Income"),
    }
    assert all(i["Type"] == "Service" for i in items.values())
    sold = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [
        (s["SalesItemLineDetail"]["ItemRef"]["value"], s["SalesItemLineDetail"]["TaxCodeRef"]["value"]) for s in sold
    ] == [
        (items["Services"]["Id"], "TAX"),
        (items["Sales of Product Income"]["Id"], "NON"),
    ]
    # 3 × 33.335 = 100.005 → 100.01 (half up; the unit price keeps its three decimals); 8% of the taxed 100.01 = 8.00
    assert [s["Amount"] for s in sold] == [100.01, 25.0] and sold[0]["SalesItemLineDetail"]["UnitPrice"] == 33.335
    assert invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == "2" and invoice["TxnTaxDetail"]["TotalTax"] == 8.0
    assert (invoice["PrivateNote"], invoice["CustomerMemo"]["value"], invoice["DueDate"]) == (
        "Job 42",
        "Job 42",
        "2026-12-16",
    )
    assert "GlobalTaxCalculation" not in invoice  # a US company's prices are always before sales tax
    assert (made.number, made.state, made.currency) == ("1001", InvoiceState.APPROVED, "USD")  # no drafts
    assert (made.subtotal, made.tax, made.total, made.amount_due) == (
        Decimal("125.01"),
        Decimal("8.00"),
        Decimal("133.01"),
        Decimal("133.01"),
    )
    assert us.provider.invoice_url(us.link, made.id) == f"https://app.qbo.intuit.com/app/invoice?txnId={made.id}"


def test_items_are_found_or_made_once_per_account(us: Company) -> None:
    us.provider.create_invoice(us.link, us.invoice(HOT_WATER), idempotency_key="key-1")
    queries = len(us.fake.calls_to("/query"))
    us.provider.create_invoice(us.link, us.invoice(HOT_WATER, HOT_WATER), idempotency_key="key-2")
    assert len(us.posts("/item")) == 1 and len(us.fake.items(us.realm)) == 1
    assert len(us.fake.calls_to("/query")) == queries  # remembered: no look-up for the second invoice

    # an Item made in QuickBooks itself for the account is found and used, not made again
    us.fake.add_item(us.realm, "Sales of Product Income", us.account_id("Sales of Product Income"))
    other = us.new_provider()
    other.create_invoice(us.link, us.invoice(PARTS, HOT_WATER), idempotency_key="key-3")
    other.close()
    assert len(us.posts("/item")) == 1 and len(us.fake.items(us.realm)) == 2


def test_an_item_made_meanwhile_answered_6240_is_looked_up(us: Company) -> None:
    us.fake.add_item(us.realm, "Services", us.account_id("Services"))
    us.fake.fail_next("/query", 200, {"QueryResponse": {}, "time": "2026-01-01T00:00:00.000-08:00"}, entity="Item")
    us.provider.create_invoice(us.link, us.invoice(HOT_WATER), idempotency_key="key-1")
    [post] = us.posts("/item")
    assert post.status == 400 and len(us.fake.items(us.realm)) == 1  # the duplicate name refused, then found
    assert len(us.fake.invoices(us.realm)) == 1


def test_an_item_of_that_name_posting_elsewhere_is_refused_on_its_line(us: Company) -> None:
    us.fake.add_item(us.realm, "Services", us.account_id("Sales of Product Income"))
    with pytest.raises(InvoiceRefused) as refused:
        us.provider.create_invoice(us.link, us.invoice(PARTS, HOT_WATER), idempotency_key="key-1")
    [refusal] = refused.value.refusals
    assert (refusal.line, refusal.field) == (1, "account") and "called 'Services'" in refusal.message
    assert us.fake.invoices(us.realm) == []


def test_an_item_made_inactive_in_quickbooks_is_refused_then_looked_for_again(us: Company) -> None:
    us.provider.create_invoice(us.link, us.invoice(HOT_WATER), idempotency_key="key-1")
    [item] = us.fake.items(us.realm)
    us.fake.update_item(us.realm, item["Id"], Active=False)
    with pytest.raises(InvoiceRefused) as refused:
        us.provider.create_invoice(us.link, us.invoice(PARTS, HOT_WATER), idempotency_key="key-2")
    assert [(r.line, r.field) for r in refused.value.refusals] == [(1, "account")]
    assert f"Item {item['Id']}" in refused.value.refusals[0].message
    with pytest.raises(InvoiceRefused) as again:  # remembered no more: found inactive, which a person must fix
        us.provider.create_invoice(us.link, us.invoice(HOT_WATER), idempotency_key="key-3")
    assert "called 'Services'" in again.value.refusals[0].message and len(us.fake.invoices(us.realm)) == 1


def test_a_repeated_requestid_makes_one_invoice(us: Company) -> None:
    first = us.provider.create_invoice(
        us.link, us.invoice(HOT_WATER), idempotency_key="accounts-bot-invoice-" + "x" * 40
    )
    again = us.provider.create_invoice(
        us.link, us.invoice(HOT_WATER), idempotency_key="accounts-bot-invoice-" + "x" * 40
    )
    assert again == first and len(us.fake.invoices(us.realm)) == 1
    posts = us.posts("/invoice")
    assert len(posts) == 2 and len({p.query["requestid"] for p in posts}) == 1
    assert len(posts[0].query["requestid"]) <= REQUEST_ID_LIMIT and posts[0].query["minorversion"] == "75"
    other = us.provider.create_invoice(us.link, us.invoice(HOT_WATER), idempotency_key="another")
    assert other.number == "1002"


def test_an_answer_lost_after_quickbooks_made_the_invoice_is_retried_into_the_same_one(us: Company) -> None:
    us.driver.lose_next_answer(Resource.INVOICES)
    made = us.provider.create_invoice(us.link, us.invoice(HOT_WATER), idempotency_key="key-1")
    posts = us.posts("/invoice")
    assert [p.status for p in posts] == [504, 200] and posts[0].query["requestid"] == posts[1].query["requestid"]
    [invoice] = us.fake.invoices(us.realm)
    assert invoice["Id"] == made.id


@pytest.mark.parametrize(
    ("change", "line", "field", "words"),
    [
        ("customer", None, "customer", "Customer"),
        ("tax", 1, "tax", "Tax code 99"),
        ("account", 0, "account", "no account 'Gone'"),
        ("us-tax", 1, "tax", "Tax code NOPE"),
    ],
)
def test_refusals_name_the_line_and_field(
    companies: Callable[[str], Company], change: str, line: int | None, field: str, words: str
) -> None:
    au = companies("US" if change == "us-tax" else "AU")
    lines = [
        InvoiceLine("Call-out", Decimal(1), Decimal(85), "Gone" if change == "account" else "Services", "10"),
        InvoiceLine("Parts", Decimal(1), Decimal(10), "Services", {"tax": "99", "us-tax": "NOPE"}.get(change, "11")),
    ]
    if change == "us-tax":
        lines[0] = InvoiceLine("Call-out", Decimal(1), Decimal(85), "Services", "NON")
    if change == "customer":
        au.fake.deactivate_customer(au.realm, au.jo)
    with pytest.raises(InvoiceRefused) as refused:
        au.provider.create_invoice(au.link, au.invoice(*lines), idempotency_key="key-1")
    [refusal] = refused.value.refusals
    assert (refusal.line, refusal.field) == (line, field) and words in refusal.message
    assert au.fake.invoices(au.realm) == []


def test_a_us_invoice_with_two_sales_taxes_or_tax_inclusive_prices_is_refused_before_sending(us: Company) -> None:
    other = InvoiceLine("Parts", Decimal(1), Decimal(10), "Services", "TAX:3")
    with pytest.raises(InvoiceRefused) as two:
        us.provider.create_invoice(us.link, us.invoice(HOT_WATER, other), idempotency_key="key-1")
    assert [(r.line, r.field) for r in two.value.refusals] == [(1, "tax")]
    with pytest.raises(InvoiceRefused) as inclusive:
        us.provider.create_invoice(us.link, us.invoice(HOT_WATER, inclusive=True), idempotency_key="key-2")
    assert [r.field for r in inclusive.value.refusals] == ["amount"]
    assert us.posts("/invoice") == []


def test_a_validation_fault_inside_a_200_is_a_refusal(us: Company) -> None:
    fault = {
        "Fault": {
            "Error": [
                {"Message": "Invalid Date", "Detail": "The due date is not valid", "code": "2040", "element": "DueDate"}
            ],
            "type": "ValidationFault",
        },
        "time": "2026-01-01T00:00:00.000-08:00",
    }
    us.driver.fail_next(Resource.INVOICES, 200, fault)
    with pytest.raises(InvoiceRefused) as refused:
        us.provider.create_invoice(us.link, us.invoice(HOT_WATER), idempotency_key="key-1")
    assert [(r.field, r.message) for r in refused.value.refusals] == [("due_date", "The due date is not valid")]


# -- money -------------------------------------------------------------------------------------------


def test_tax_inclusive_lines_work_the_tax_out_of_the_price(au: Company) -> None:
    line = InvoiceLine("Service visit", Decimal(1), Decimal(100), "Services", "10")
    made = au.provider.create_invoice(au.link, au.invoice(line, inclusive=True), idempotency_key="key-1")
    # 100 includes 10%: 100 × 10 / 110 = 9.0909… → 9.09; 90.91 before tax
    assert (made.subtotal, made.tax, made.total) == (Decimal("90.91"), Decimal("9.09"), Decimal("100.00"))
    [invoice] = au.fake.invoices(au.realm)
    assert invoice["GlobalTaxCalculation"] == "TaxInclusive" and invoice["CurrencyRef"]["value"] == "AUD"
    [sold] = [x for x in invoice["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert sold["SalesItemLineDetail"]["TaxInclusiveAmt"] == 100.0 and sold["Amount"] == 90.91


@pytest.mark.parametrize(
    ("quantity", "price", "amount"),
    [("3", "33.335", "100.01"), ("1", "0.005", "0.01"), ("7", "1.2345", "8.64"), ("0.5", "0.01", "0.01")],
)
def test_amounts_are_quantity_times_price_to_the_cent_half_up_as_quickbooks_checks(
    au: Company, quantity: str, price: str, amount: str
) -> None:
    assert line_amount(Decimal(quantity), Decimal(price)) == Decimal(amount)
    line = InvoiceLine("Line", Decimal(quantity), Decimal(price), "Services", "11")
    made = au.provider.create_invoice(au.link, au.invoice(line), idempotency_key=f"key-{quantity}-{price}")
    assert made.total == Decimal(amount)  # the fake refuses (6070) an Amount that is not Qty × UnitPrice
