"""QuickBooks Online's side of invoicing (issue 15): the provider against the QuickBooks fake in-process. Tax codes
(a US company's TAX/NON, TaxCode Ids elsewhere), one service Item per income account found or made once, invoices
with the right Item, tax code and amounts, one invoice per requestid whatever is retried, refusals by line and
field, payments linked to the invoice and never above its balance, the read-back (part-paid, paid, voided,
deleted), money rounded as QuickBooks rounds it, and every body checked against Intuit's schemas."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx2
import pytest

from providers.base import AccountKind, Link
from providers.invoicing import (
    AmountsAre,
    InvoiceLine,
    InvoiceRefused,
    InvoiceState,
    Invoicing,
    NewInvoice,
    NewPayment,
    PaymentTerms,
    SalesTerms,
    TermsKind,
)
from providers.quickbooks import QuickBooksProvider
from providers.quickbooks.invoice_mappers import REQUEST_ID_LIMIT, line_amount, refusals, request_id, to_invoice
from providers.registry import get_provider
from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.oauth2 import FakeClock, click_through_consent, redirect_params
from tests.fakes.quickbooks import QuickBooksFake
from tests.keepers import MemoryKeeper
from tests.providers.packages import Resource
from tests.providers.quickbooks_driver import QuickBooksDriver
from tests.quickbooks_schema import entity_errors, response_errors

URL = "http://quickbooks.fake"


class Company:
    """A company at the fake (`country`), connected through the provider in-process."""

    def __init__(self, country: str) -> None:
        self.clock = FakeClock()
        self.driver = QuickBooksDriver(self.clock)
        self.fake: QuickBooksFake = self.driver.fake
        self.realm = self.fake.add_company("Acme Plumbing", country=country)
        self.client = self.driver.register_client()
        self.transport = ASGISyncTransport(self.driver.app)
        self.provider = self.new_provider()
        self.provider.now = lambda: datetime.fromtimestamp(self.clock(), UTC)
        with httpx2.Client(transport=ASGISyncTransport(self.driver.app)) as browser:
            url = self.provider.authorization_url(state="s", redirect_uri=self.driver.redirect_uri, code_challenge=None)
            params = redirect_params(click_through_consent(browser, url))
        grant = self.provider.exchange_code(
            code=params["code"], redirect_uri=self.driver.redirect_uri, code_verifier=None, params=params
        )
        self.link = Link(self.realm, MemoryKeeper(self.provider, grant.tokens))
        self.jo = self.fake.add_customer(self.realm, "Jo Bloggs")

    def new_provider(self) -> QuickBooksProvider:
        """A provider of its own (another process, say): it remembers nothing of this one's Items."""
        settings = self.driver.settings(URL, self.client)
        provider = get_provider(
            "quickbooks", settings, transport=self.transport, sleep=self.clock.sleep, clock=self.clock
        )
        return cast(QuickBooksProvider, provider)

    def account_id(self, name: str) -> str:
        return next(a["Id"] for a in self.fake.accounts(self.realm) if a["Name"] == name)

    def posts(self, path: str) -> list[Any]:
        return [c for c in self.fake.calls_to(path) if c.method == "POST" and c.path.endswith(path)]

    def invoice(self, *lines: InvoiceLine, inclusive: bool = False, approve: bool = False) -> NewInvoice:
        amounts = AmountsAre.INCLUSIVE if inclusive else AmountsAre.EXCLUSIVE
        return NewInvoice(self.jo, date(2026, 12, 2), date(2026, 12, 16), lines, amounts, "Job 42", approve)


@pytest.fixture
def us() -> Iterator[Company]:
    company = Company("US")
    yield company
    company.provider.close()
    company.transport.close()


@pytest.fixture
def au() -> Iterator[Company]:
    company = Company("AU")
    yield company
    company.provider.close()
    company.transport.close()


HOT_WATER = InvoiceLine("Hot water cylinder", Decimal("3"), Decimal("33.335"), "Services", "TAX:2")
PARTS = InvoiceLine("Copper fittings", Decimal("2"), Decimal("12.50"), "Sales of Product Income", "NON")


def test_quickbooks_offers_invoicing_and_sales_terms() -> None:
    assert issubclass(QuickBooksProvider, Invoicing) and issubclass(QuickBooksProvider, SalesTerms)


# -- tax codes ---------------------------------------------------------------------------------------


def test_a_us_company_gets_non_and_a_taxable_code_per_sales_tax(us: Company) -> None:
    rates = {r.code: r for r in us.provider.tax_rates(us.link)}
    assert set(rates) == {"NON", "TAX:2", "TAX:3"}
    assert rates["NON"].rate == 0 and rates["TAX:2"].rate == Decimal(8) and rates["TAX:2"].name == "Taxable, California"
    assert not rates["TAX:3"].active and rates["TAX:3"].rate == Decimal("9.5")
    assert all(r.suits_kind(AccountKind.INCOME) and r.suits_kind(AccountKind.COST_OF_SALES) for r in rates.values())
    assert [c.entity for c in us.fake.calls_to("/query")][-2:] == ["TaxCode", "TaxRate"]


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
    ],
)
def test_refusals_name_the_line_and_field(au: Company, change: str, line: int | None, field: str, words: str) -> None:
    lines = [
        InvoiceLine("Call-out", Decimal(1), Decimal(85), "Gone" if change == "account" else "Services", "10"),
        InvoiceLine("Parts", Decimal(1), Decimal(10), "Services", "99" if change == "tax" else "11"),
    ]
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


# -- payments and tracking ---------------------------------------------------------------------------


def test_a_payment_is_linked_to_the_invoice_and_deposited_to_the_mapped_account(us: Company) -> None:
    made = us.provider.create_invoice(us.link, us.invoice(HOT_WATER), idempotency_key="key-1")
    payment = NewPayment(made.id, "Checking", date(2026, 12, 3), Decimal("50"))
    recorded = us.provider.record_payment(us.link, payment, idempotency_key="pay-1")
    again = us.provider.record_payment(us.link, payment, idempotency_key="pay-1")
    assert again == recorded and (recorded.invoice_id, recorded.amount) == (made.id, Decimal("50.00"))
    [stored] = us.fake.payments(us.realm)
    assert stored["DepositToAccountRef"]["value"] == us.account_id("Checking")
    assert stored["CustomerRef"]["value"] == us.jo and stored["TotalAmt"] == 50.0
    assert stored["Line"][0]["LinkedTxn"] == [{"TxnId": made.id, "TxnType": "Invoice"}]
    [read] = us.provider.invoices(us.link, ids=[made.id])
    assert (read.state, read.amount_paid, read.amount_due) == (
        InvoiceState.APPROVED,
        Decimal("50.00"),
        Decimal("58.01"),
    )

    with pytest.raises(InvoiceRefused) as refused:
        us.provider.record_payment(
            us.link, NewPayment(made.id, "Checking", date(2026, 12, 3), Decimal("60")), idempotency_key="pay-2"
        )
    [refusal] = refused.value.refusals
    assert refusal.field == "amount" and "more than its open balance" in refusal.message
    assert len(us.fake.payments(us.realm)) == 1


def test_the_read_back_sees_paid_voided_and_deleted_invoices(us: Company) -> None:
    made = [us.provider.create_invoice(us.link, us.invoice(HOT_WATER), idempotency_key=f"key-{n}") for n in range(3)]
    ids = [m.id for m in made]
    since = datetime.fromtimestamp(us.clock(), UTC)
    us.clock.advance(60)
    assert us.provider.invoices(us.link, ids=ids, since=since + timedelta(seconds=1)) == []  # nothing changed
    us.driver.pay_at_package(us.realm, ids[0])
    us.fake.void_invoice(us.realm, ids[1])
    us.fake.delete_invoice(us.realm, ids[2])
    changed = {i.id: i for i in us.provider.invoices(us.link, ids=ids, since=since + timedelta(seconds=1))}
    assert us.fake.calls_to("/cdc")[-1].query["entities"] == "Invoice"
    assert {i: c.state for i, c in changed.items()} == {
        ids[0]: InvoiceState.PAID,
        ids[1]: InvoiceState.VOIDED,
        ids[2]: InvoiceState.DELETED,
    }
    assert changed[ids[0]].amount_due == 0 and changed[ids[0]].amount_paid == Decimal("108.01")
    # all of them, or since longer ago than change data capture reaches: a query by Id (deleted ones are gone)
    everything = {i.id: i.state for i in us.provider.invoices(us.link, ids=ids)}
    assert everything == {ids[0]: InvoiceState.PAID, ids[1]: InvoiceState.VOIDED}
    us.clock.advance(40 * 86400)
    assert us.provider.invoices(us.link, ids=ids, since=since) and "Invoice where Id IN" in str(
        us.fake.calls_to("/query")[-1].statement
    )


def test_sales_terms_are_the_customers_then_the_companys(us: Company) -> None:
    assert us.provider.sales_terms(us.link, customer_id=us.jo) == (None, None)
    net_30 = us.fake.add_term(us.realm, "Net 30", DueDays=30)
    twentieth = us.fake.add_term(us.realm, "20th next month", Type="DATE_DRIVEN", DayOfMonthDue=20, DueNextMonthDays=5)
    us.fake.set_default_terms(us.realm, twentieth)
    us.fake.update_customer(us.realm, us.jo, SalesTermRef={"value": net_30})
    assert us.provider.sales_terms(us.link, customer_id=us.jo) == (
        PaymentTerms(30, TermsKind.DAYS_AFTER_DATE),
        PaymentTerms(20, TermsKind.DAY_OF_NEXT_MONTH),
    )


# -- the wire ----------------------------------------------------------------------------------------


def test_every_body_sent_and_served_keeps_to_intuits_schemas(us: Company, au: Company) -> None:
    for company, tax in ((us, "TAX:2"), (au, "10")):
        line = InvoiceLine("Call-out", Decimal(1), Decimal("85.5"), "Services", tax)
        made = company.provider.create_invoice(company.link, company.invoice(line), idempotency_key="key-1")
        payment = NewPayment(made.id, "Checking", date(2026, 12, 3), Decimal(10))
        company.provider.record_payment(company.link, payment, idempotency_key="pay-1")
        sent = company.fake.write_bodies(company.realm)
        assert [entity for entity, _ in sent] == ["Item", "Invoice", "Payment"]
        for entity, body in sent:
            assert entity_errors(entity, body) == [], (entity, body)
        time = "2026-01-01T00:00:00.000-08:00"
        for entity, rows in (
            ("Invoice", company.fake.invoices(company.realm)),
            ("Payment", company.fake.payments(company.realm)),
            ("Item", company.fake.items(company.realm)),
        ):
            for row in rows:
                assert response_errors({entity: row, "time": time}) == [], row


def test_mappers_read_refusals_and_states() -> None:
    assert request_id("invoice", "k") == request_id("invoice", "k") != request_id("payment", "k")
    assert len(request_id("invoice", "k" * 500)) == REQUEST_ID_LIMIT
    body = {
        "Fault": {
            "Error": [
                {
                    "Message": "Invalid Reference Id",
                    "Detail": "Invalid Reference Id : Customer 4",
                    "element": "CustomerRef",
                },
                {"Message": "Invalid", "Detail": "Bad tax", "element": "Line[1].SalesItemLineDetail.TaxCodeRef"},
            ],
            "type": "ValidationFault",
        }
    }
    lines = [InvoiceLine("a", Decimal(1), Decimal(1), "X", "10"), InvoiceLine("b", Decimal(1), Decimal(1), "X", "10")]
    invoice = NewInvoice("4", date(2026, 1, 1), date(2026, 1, 2), lines)
    assert [(r.line, r.field) for r in refusals(body, invoice)] == [(None, "customer"), (1, "tax")]
    zero = {"Id": "1", "TotalAmt": 0, "Balance": 0}
    assert to_invoice(zero | {"PrivateNote": "Voided"}).state is InvoiceState.VOIDED
    assert to_invoice(zero).state is InvoiceState.APPROVED  # nothing owed is not "paid" unless there was a total
    assert to_invoice({"Id": "1", "TotalAmt": "10.5", "Balance": 0}).state is InvoiceState.PAID
