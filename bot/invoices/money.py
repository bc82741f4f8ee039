"""Money as the packages count it: Decimal throughout, each line rounded to the cent (half away from zero) and
its tax worked out and rounded line by line, as the packages do; and amounts typed by people read strictly.

Pure functions: the preview's totals come from here and match what the package computes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000000")  # a billion: no trades invoice line comes near; the tables hold 15 digits
PRICE_PLACES = 4  # unit prices may have four decimals, as the packages allow
QUANTITY_PLACES = 4
_NUMBER = re.compile(r"^[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.[0-9]+)?$")


class AmountError(ValueError):
    """What someone typed is not an amount we take; the message says why, for a person."""


def parse_amount(text: str, *, places: int, what: str, allow_zero: bool = True) -> Decimal:
    """`1,250.5`, `$85`, ` 12.345 ` → Decimal; no more than `places` decimals, not negative, below a billion.
    Only ASCII digits: other scripts' digits (which Decimal would take) and `NaN`/`1e9` are refused."""
    cleaned = text.strip().removeprefix("$").strip()
    if not cleaned or not _NUMBER.fullmatch(cleaned) or cleaned in ("+", "-", "."):
        raise AmountError(f"Type the {what} as a number, like 12.50.")
    number = Decimal(cleaned.replace(",", ""))
    if number < 0:
        raise AmountError(f"The {what} cannot be negative.")
    if number == 0 and not allow_zero:
        raise AmountError(f"The {what} must be more than zero.")
    if number >= MAX_AMOUNT:
        raise AmountError(f"The {what} is too large.")
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent > places:
        raise AmountError(f"The {what} can have at most {places} decimals.")
    return number


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineAmounts:
    amount: Decimal  # quantity × unit price, to the cent (tax included when the prices include it)
    tax: Decimal


@dataclass(frozen=True)
class Totals:
    lines: tuple[LineAmounts, ...]
    subtotal: Decimal  # without tax
    tax: Decimal
    total: Decimal


def line_amounts(quantity: Decimal, unit_price: Decimal, rate: Decimal, *, inclusive: bool) -> LineAmounts:
    """One line: its amount to the cent, and its tax (`rate` percent) to the cent, worked out of the amount when
    prices include tax."""
    amount = cents(quantity * unit_price)
    tax = cents(amount * rate / (100 + rate)) if inclusive else cents(amount * rate / 100)
    return LineAmounts(amount, tax)


def totals(lines: Sequence[tuple[Decimal, Decimal, Decimal]], *, inclusive: bool) -> Totals:
    """The invoice's totals from (quantity, unit price, tax rate) per line."""
    worked = tuple(line_amounts(q, p, r, inclusive=inclusive) for q, p, r in lines)
    amounts = sum((line.amount for line in worked), Decimal(0))
    tax = sum((line.tax for line in worked), Decimal(0))
    subtotal = amounts - tax if inclusive else amounts
    return Totals(worked, subtotal, tax, subtotal + tax)


def shown(value: Decimal, currency: str | None = None) -> str:
    """`1,234.50`, or `NZD 1,234.50` with a currency."""
    text = f"{cents(value):,.2f}"
    return f"{currency} {text}" if currency else text
