"""The default due date from the package's payment terms (Xero's `PaymentTerms.Sales` on the Organisation and on a
Contact): each kind of term, month ends and leap years, the customer's terms before the organisation's, 14 days
when neither has any; and Xero's JSON read into terms, refusing what does not hold."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.invoices.terms import due_on
from providers.invoicing import PaymentTerms, TermsKind
from providers.xero.invoice_mappers import to_sales_terms

AFTER_DATE, AFTER_MONTH, OF_MONTH, OF_NEXT = (
    TermsKind.DAYS_AFTER_DATE,
    TermsKind.DAYS_AFTER_MONTH_END,
    TermsKind.DAY_OF_MONTH,
    TermsKind.DAY_OF_NEXT_MONTH,
)


@pytest.mark.parametrize(
    ("issued", "day", "kind", "due"),
    [
        (date(2026, 1, 31), 30, AFTER_DATE, date(2026, 3, 2)),
        (date(2026, 12, 20), 20, AFTER_DATE, date(2027, 1, 9)),
        (date(2026, 3, 5), 0, AFTER_DATE, date(2026, 3, 5)),
        (date(2026, 1, 15), 10, AFTER_MONTH, date(2026, 2, 10)),
        (date(2026, 2, 1), 0, AFTER_MONTH, date(2026, 2, 28)),  # the month's last day itself
        (date(2028, 2, 29), 1, AFTER_MONTH, date(2028, 3, 1)),  # leap year
        (date(2026, 12, 31), 20, AFTER_MONTH, date(2027, 1, 20)),
        (date(2026, 4, 3), 20, OF_MONTH, date(2026, 4, 20)),
        (date(2026, 4, 25), 20, OF_MONTH, date(2026, 4, 25)),  # already past: never before the invoice date
        (date(2026, 4, 3), 31, OF_MONTH, date(2026, 4, 30)),  # April has 30 days
        (date(2026, 1, 31), 20, OF_NEXT, date(2026, 2, 20)),
        (date(2026, 1, 10), 31, OF_NEXT, date(2026, 2, 28)),  # the 31st of February is its last day
        (date(2028, 1, 10), 30, OF_NEXT, date(2028, 2, 29)),
        (date(2026, 12, 15), 20, OF_NEXT, date(2027, 1, 20)),  # across the year
    ],
)
def test_each_kind_of_terms_gives_the_due_date_xero_would(issued: date, day: int, kind: TermsKind, due: date) -> None:
    assert due_on(issued, PaymentTerms(day, kind)) == due


def test_the_customers_terms_come_before_the_organisations_and_14_days_before_none() -> None:
    customers, organisations = PaymentTerms(7, AFTER_DATE), PaymentTerms(20, OF_NEXT)
    issued = date(2026, 5, 4)
    assert due_on(issued, customers, organisations) == date(2026, 5, 11)
    assert due_on(issued, None, organisations) == date(2026, 6, 20)
    assert due_on(issued, None, None) == due_on(issued) == date(2026, 5, 18)


@given(
    issued=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    day=st.integers(min_value=0, max_value=366),
    kind=st.sampled_from(list(TermsKind)),
)
def test_a_due_date_is_never_before_the_invoice_and_within_the_terms(issued: date, day: int, kind: TermsKind) -> None:
    if kind in (OF_MONTH, OF_NEXT):
        day = min(max(day, 1), 31)
    due = due_on(issued, PaymentTerms(day, kind))
    assert issued <= due <= issued + timedelta(days=day + 62)
    if kind == OF_NEXT:
        assert (due.year * 12 + due.month) - (issued.year * 12 + issued.month) == 1


@pytest.mark.parametrize(
    ("raw", "terms"),
    [
        ({"PaymentTerms": {"Sales": {"Day": 10, "Type": "DAYSAFTERBILLMONTH"}}}, PaymentTerms(10, AFTER_MONTH)),
        ({"PaymentTerms": {"Sales": {"Day": 20, "Type": "OFFOLLOWINGMONTH"}}}, PaymentTerms(20, OF_NEXT)),
        ({"PaymentTerms": {"Sales": {"Day": 15, "Type": "OFCURRENTMONTH"}}}, PaymentTerms(15, OF_MONTH)),
        ({"PaymentTerms": {"Sales": {"Day": 30, "Type": "DAYSAFTERBILLDATE"}}}, PaymentTerms(30, AFTER_DATE)),
        ({"PaymentTerms": {"Bills": {"Day": 15, "Type": "OFCURRENTMONTH"}}}, None),  # bills are not sales
        ({}, None),
        ({"PaymentTerms": None}, None),
        ({"PaymentTerms": {"Sales": {"Day": "10", "Type": "DAYSAFTERBILLDATE"}}}, None),
        ({"PaymentTerms": {"Sales": {"Day": True, "Type": "DAYSAFTERBILLDATE"}}}, None),
        ({"PaymentTerms": {"Sales": {"Day": -3, "Type": "DAYSAFTERBILLDATE"}}}, None),
        ({"PaymentTerms": {"Sales": {"Day": 32, "Type": "OFFOLLOWINGMONTH"}}}, None),
        ({"PaymentTerms": {"Sales": {"Day": 0, "Type": "OFCURRENTMONTH"}}}, None),
        ({"PaymentTerms": {"Sales": {"Day": 10, "Type": "WEEKLY"}}}, None),
    ],
)
def test_xeros_sales_terms_are_read_and_what_does_not_hold_is_none(raw: dict[str, Any], terms: object) -> None:
    assert to_sales_terms(raw) == terms


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: st.dictionaries(st.sampled_from(["PaymentTerms", "Sales", "Day", "Type"]), c, max_size=4),
        max_leaves=8,
    )
)
def test_hostile_terms_never_break_the_reading(raw: object) -> None:
    terms = to_sales_terms(raw if isinstance(raw, dict) else {"PaymentTerms": raw})
    assert terms is None or isinstance(terms, PaymentTerms)
