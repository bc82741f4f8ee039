"""MYOB's invoicing mappers without HTTP (issue 15): a service line's total and description (three-decimal prices
rounded half away from zero, as the preview does), the numbers worked out of an idempotency key, MYOB's tax codes,
invoices, terms and refusals read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from bot.invoices import money
from providers.invoicing import InvoiceLine, InvoiceState, NewInvoice, PaymentTerms, TermsKind
from providers.myob.invoice_mappers import (
    NUMBER_ALPHABET,
    NUMBER_LIMIT,
    invoice_body,
    line_description,
    line_total,
    record_numbers,
    refusals,
    to_invoice,
    to_sales_terms,
    to_tax_rate,
)
from tests.fakes.myob.errors import myob_errors
from tests.test_myob_provider import SYDNEY

CALL_OUT = InvoiceLine("Call-out", Decimal("1"), Decimal("85"), "4-2000", "FRE")


@given(
    quantity=st.decimals(min_value=0, max_value=10000, places=4),
    price=st.decimals(min_value=0, max_value=100000, places=4),
)
def test_a_lines_total_is_the_previews_amount(quantity: Decimal, price: Decimal) -> None:
    line = InvoiceLine("x", quantity, price, "4-1000", "GST")
    assert line_total(line) == money.line_amounts(quantity, price, Decimal(10), inclusive=False).amount
    assert line_total(line).as_tuple().exponent == -2


def test_three_decimal_prices_round_half_away_from_zero() -> None:
    assert line_total(InvoiceLine("x", Decimal(1), Decimal("0.005"), "a", None)) == Decimal("0.01")
    assert line_total(InvoiceLine("x", Decimal(3), Decimal("0.335"), "a", None)) == Decimal("1.01")  # 1.005
    assert line_total(InvoiceLine("x", Decimal("0.5"), Decimal("0.125"), "a", None)) == Decimal("0.06")  # 0.0625
    assert line_description(InvoiceLine("Pipe", Decimal("2.50"), Decimal("4.000"), "a", None)) == "Pipe"
    assert len(line_description(InvoiceLine("x" * 300, Decimal(2), Decimal(1), "a", None))) == 255


@given(st.text(min_size=1, max_size=100))
def test_numbers_fit_myobs_field_and_are_the_same_every_time(key: str) -> None:
    numbers = record_numbers(key, "S")
    assert numbers == record_numbers(key, "S") and len(set(numbers)) == len(numbers)
    assert all(len(n) == NUMBER_LIMIT and n[0] == "S" and set(n[1:]) <= set(NUMBER_ALPHABET) for n in numbers)


def test_readers_take_myobs_records() -> None:
    assert to_tax_rate({"Code": "GST", "Rate": 10.0}) is not None and to_tax_rate({"Rate": 1}) is None
    raw = {"UID": "u", "Status": "Closed", "TotalAmount": 110, "BalanceDueAmount": 0, "TotalTax": 10}
    closed = to_invoice(raw, SYDNEY)
    assert (closed.state, closed.subtotal, closed.amount_paid, closed.number) == (InvoiceState.PAID, 100, 110, None)
    odd = to_invoice({"UID": "u", "Status": "Open", "TotalAmount": "x", "Terms": None, "Customer": None}, SYDNEY)
    assert (odd.total, odd.due_date, odd.customer_id) == (0, None, "")
    assert to_sales_terms({"PaymentIsDue": "CashOnDelivery"}) == PaymentTerms(0, TermsKind.DAYS_AFTER_DATE)
    assert to_sales_terms({"PaymentIsDue": "OnADayOfTheMonth", "BalanceDueDate": 40}) is None
    assert to_sales_terms(None) is None


def test_refusals_read_myobs_errors() -> None:
    body = myob_errors("ValidationError", "The account is inactive", details="Lines[2].Account")
    assert [(r.line, r.field) for r in refusals(body, line_uids=[("a", None)] * 3)] == [(2, "account")]
    named = myob_errors("ValidationError", "Tax code 9f1c-uid is not valid")
    lines = [("acc-1", None), ("acc-2", "9F1C-UID")]
    assert [(r.line, r.field) for r in refusals(named, line_uids=lines)] == [(1, "tax")]
    over = myob_errors("ValidationError", "Too much", details="Invoices[0].AmountApplied")
    assert [(r.line, r.field) for r in refusals(over)] == [(None, "amount")]
    assert refusals("not json") == [] and refusals({"Errors": [None, {"Name": "Odd"}]})[0].message == "Odd"


def test_a_due_date_before_the_invoice_date_is_due_at_once() -> None:
    early = NewInvoice("c", date(2026, 12, 2), date(2026, 12, 1), [CALL_OUT])
    body = invoice_body(early, number="S1", memo="m", accounts=["a"], taxes=[None])
    assert body["Terms"] == {"PaymentIsDue": "InAGivenNumberOfDays", "BalanceDueDate": 0}
    assert "TaxCode" not in body["Lines"][0] and body["Date"] == "2026-12-02T00:00:00"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=20,
)
_FIELDS = st.sampled_from(["Errors", "Status", "TotalAmount", "BalanceDueAmount", "TotalTax", "Terms", "Customer"])


@given(body=_JSON, raw=st.dictionaries(_FIELDS, _JSON, max_size=7))
@example(body=None, raw={"TotalAmount": 1e26})  # 29 digits to the cent: beyond Decimal's default precision
def test_any_answer_reads_as_refusals_or_an_invoice_without_raising(body: object, raw: dict[str, object]) -> None:
    assert all(r.message for r in refusals(body, line_uids=[("acc", "tax")]))
    invoice = to_invoice({"UID": "u", **raw}, SYDNEY)
    assert invoice.total == invoice.subtotal + invoice.tax and invoice.amount_due >= 0
