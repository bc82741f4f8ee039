"""Money for invoices (issue 15): Decimal end to end, lines and their tax rounded to the cent half away from zero
line by line as Xero does, amounts typed by people read strictly; and the invoice views and form reading kept
within Slack's limits and safe with hostile input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.categories import load_categories
from bot.invoices import money
from bot.invoices.raising import MAX_LINES, InvoicingSetup, LineCategory
from bot.mapping.account_mapping import ChartEntry
from bot.mapping.tax_codes import TaxEntry
from bot.views import invoices as views
from providers.invoicing import cents
from tests.fakes.blockkit import check_message, check_view

D = Decimal


@pytest.mark.parametrize(
    ("quantity", "price", "rate", "inclusive", "amount", "tax"),
    [
        ("3", "33.335", "15", False, "100.01", "15.00"),  # 100.005 rounds up; 15.0015 down
        ("1", "0.005", "15", False, "0.01", "0.00"),  # half a cent rounds away from zero
        ("2", "10.125", "15", False, "20.25", "3.04"),  # 3.0375 → 3.04
        ("1", "100", "15", True, "100.00", "13.04"),  # 100 × 15/115 = 13.043…
        ("7", "1.4285", "12.5", True, "10.00", "1.11"),  # 9.9995 → 10.00; 10 × 12.5/112.5 = 1.111…
        ("0.3333", "3", "15", False, "1.00", "0.15"),  # 0.9999 → 1.00
        ("1", "0.0049", "15", False, "0.00", "0.00"),
        ("1", "1.15", "15", True, "1.15", "0.15"),
    ],
)
def test_a_line_and_its_tax_round_to_the_cent_as_xero_does(
    quantity: str, price: str, rate: str, inclusive: bool, amount: str, tax: str
) -> None:
    worked = money.line_amounts(D(quantity), D(price), D(rate), inclusive=inclusive)
    assert (worked.amount, worked.tax) == (D(amount), D(tax))
    assert str(worked.amount) == amount  # always to the cent, never 100.005 or 1E+2


def test_totals_add_up_line_by_line_not_from_a_rounded_sum() -> None:
    # three lines each with a half-cent of tax: rounding each line gives 0.03, the sum rounded once 0.02
    totals = money.totals([(D(1), D("0.10"), D("15"))] * 3, inclusive=False)
    assert [line.tax for line in totals.lines] == [D("0.02")] * 3  # 0.015 → 0.02 each
    assert (totals.subtotal, totals.tax, totals.total) == (D("0.30"), D("0.06"), D("0.36"))


def _cents(value: Fraction) -> Fraction:
    """Half away from zero to the cent, with exact fractions (an independent reckoning of `money.cents`)."""
    scaled = value * 100
    whole = int(scaled)
    if abs(scaled - whole) >= Fraction(1, 2):
        whole += 1 if scaled > 0 else -1
    return Fraction(whole, 100)


amounts = st.decimals(min_value=D("0"), max_value=D("99999.9999"), places=4)
quantities = st.decimals(min_value=D("0.0001"), max_value=D("9999"), places=4)
rates = st.sampled_from([D("0"), D("15"), D("12.5"), D("10"), D("20"), D("7.75")])


@settings(max_examples=300)
@given(lines=st.lists(st.tuples(quantities, amounts, rates), min_size=1, max_size=MAX_LINES), inclusive=st.booleans())
def test_totals_match_an_exact_reckoning(lines: list[tuple[Decimal, Decimal, Decimal]], inclusive: bool) -> None:
    totals = money.totals(lines, inclusive=inclusive)
    expected_tax = Fraction(0)
    expected_amounts = Fraction(0)
    for (quantity, price, rate), line in zip(lines, totals.lines, strict=True):
        amount = _cents(Fraction(quantity) * Fraction(price))
        share = Fraction(rate) / (100 + Fraction(rate)) if inclusive else Fraction(rate) / 100
        tax = _cents(amount * share)
        assert (Fraction(line.amount), Fraction(line.tax)) == (amount, tax)
        expected_tax += tax
        expected_amounts += amount
    assert Fraction(totals.tax) == expected_tax
    assert Fraction(totals.total) == (expected_amounts if inclusive else expected_amounts + expected_tax)
    assert totals.total == totals.subtotal + totals.tax
    assert all(isinstance(v, Decimal) for v in (totals.subtotal, totals.tax, totals.total))


@pytest.mark.parametrize(
    ("typed", "read"),
    [("1,250.5", "1250.5"), ("$85", "85"), (" 12.345 ", "12.345"), (".5", "0.5"), ("1,000.0001", "1000.0001")],
)
def test_amounts_people_type_are_read(typed: str, read: str) -> None:
    assert money.parse_amount(typed, places=4, what="unit price") == D(read)


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "Type the unit price as a number, like 12.50."),
        ("NaN", "Type the unit price as a number"),
        ("1e9", "Type the unit price as a number"),
        ("Infinity", "Type the unit price as a number"),
        ("١٢", "Type the unit price as a number"),  # Arabic-Indic digits, which Decimal would take
        ("1,2,3", "Type the unit price as a number"),
        ("-1", "The unit price cannot be negative."),
        ("0.12345", "The unit price can have at most 4 decimals."),
        ("1000000000", "The unit price is too large."),
    ],
)
def test_amounts_that_are_not_ones_are_refused_in_words(typed: str, words: str) -> None:
    with pytest.raises(money.AmountError, match=words.replace(".", r"\.").replace("(", r"\(")):
        money.parse_amount(typed, places=4, what="unit price")


@given(st.text(max_size=40))
def test_any_text_is_an_amount_or_refused_in_words(typed: str) -> None:
    try:
        value = money.parse_amount(typed, places=4, what="unit price")
    except money.AmountError as exc:
        assert str(exc).startswith(("Type the", "The unit price"))
        return
    assert value.is_finite() and D(0) <= value < money.MAX_AMOUNT
    assert set(typed.strip().removeprefix("$").strip()) <= set("0123456789.,+-")


# -- views ------------------------------------------------------------------------------------------


def _setup(name: str = "Acme <!channel> & Co") -> InvoicingSetup:
    categories = load_categories()
    gst = TaxEntry("OUTPUT2", "GST <on> Income", D("15"), suits=frozenset({"income"}))
    account = ChartEntry(id="a", code="200", name="Sales <b>", kind="income", type="REVENUE")
    return InvoicingSetup(
        connection_id=1,
        organisation_name=name,
        provider_title="Xero",
        categories=tuple(LineCategory(c, account, gst) for c in categories[:5]),
        tax_codes=(gst,),
    )


@pytest.mark.parametrize("lines", [1, MAX_LINES])
def test_the_form_keeps_to_slacks_limits_and_escapes_names(lines: int) -> None:
    view = views.invoice_form(
        _setup(), views.FormMetadata(1, "C0GENERAL1", lines), today=date(2026, 12, 2), approve=False
    )
    assert check_view(view) == []
    assert "<!channel>" not in str(view["blocks"][0]) and "&lt;!channel&gt;" in str(view["blocks"][0])
    assert len([b for b in view["blocks"] if b.get("block_id", "").endswith("_price")]) == lines
    assert ("invoice_lines" in str(view)) == (lines < MAX_LINES)  # "Add a line" until ten


def test_the_invoice_message_escapes_what_came_from_people() -> None:
    card = views.InvoiceCard(
        invoice_id=1,
        number="<!here>",
        customer_name="<!channel> & Sons",
        total=D("1552.51"),
        amount_due=D("1552.51"),
        currency="NZD",
        status="draft",
        due_on=date(2026, 12, 16),
        url="https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=x",
        provider_title="Xero",
        created_by="U0ADMIN01",
    )
    blocks = views.invoice_blocks(card)
    assert check_message(blocks) == []
    text = str(blocks)
    assert "<!channel>" not in text and "<!here>" not in text and "NZD 1,552.51" in text


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=12,
)
blocks_ids = st.sampled_from(
    ["invoice_customer", "date", "due_date", "reference", "amounts", "line_1_category", "line_1_price", "line_2_tax"]
)


@given(state=st.dictionaries(blocks_ids, st.dictionaries(blocks_ids, values, max_size=2), max_size=8))
def test_a_hostile_submission_gives_a_draft_or_errors_never_a_crash(state: dict[str, Any]) -> None:
    draft, errors = views.read_form(state, 2)
    assert (draft is None) == bool(errors)
    assert set(errors) <= {
        "invoice_customer",
        "date",
        "due_date",
        *(f"line_{n}_{f}" for n in (1, 2) for f in ("category", "description", "quantity", "price")),
    }
    assert views.FormMetadata.loads(state) is None


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.decimals(), st.text(max_size=30)))
def test_any_number_a_package_sends_reads_as_an_amount_or_zero_without_raising(value: object) -> None:
    """Every package's reader takes its amounts through `providers.invoicing.cents`: a total of 1e26 once crashed the
    MYOB reader (too many digits to quantise to the cent), and Xero's and QuickBooks' had the same code."""
    amount = cents(value)
    assert amount == amount.quantize(Decimal("0.01")) and abs(amount) < Decimal(10) ** 15


def test_a_huge_or_broken_amount_reads_as_zero() -> None:
    for value in (Decimal("1e26"), "1e400", "NaN", "Infinity", None, True, "ten"):
        assert cents(value) == Decimal("0.00"), value
    assert cents("115") == Decimal("115.00") and cents("0.005") == Decimal("0.01")
