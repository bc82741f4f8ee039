"""What the MYOB fake's sales check and work out, as pure functions: its refusals (a 400 with MYOB's `Errors`),
amounts to the cent, dates, and an invoice's terms with the due date they give."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from tests.fakes.myob.errors import myob_errors

CENT = Decimal("0.01")
SALES_TERMS: dict[str, Any] = {"PaymentIsDue": "InAGivenNumberOfDays", "DiscountDate": 0, "BalanceDueDate": 30}


class Refused(Exception):
    def __init__(self, message: str, details: str, name: str = "ValidationError") -> None:
        super().__init__(message)
        self.body = myob_errors(name, message, details=details, code=400)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def uid_of(link: Any) -> str:
    uid = link.get("UID") if isinstance(link, dict) else None
    return uid.lower() if isinstance(uid, str) else ""


def day_of(value: Any, field: str) -> date:
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        raise Refused("The date is not valid", field) from None


def amount_of(value: Any, field: str) -> Decimal:
    try:
        ok = isinstance(value, Decimal | int | float | str) and not isinstance(value, bool)
        amount = Decimal(str(value)) if ok else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0:
        raise Refused("The amount is not valid", field)
    if -amount.as_tuple().exponent > 2:  # type: ignore[operator]
        raise Refused("Amounts can have at most 2 decimal places", field)
    return amount


def counted(line: dict[str, Any], where: str, total: Decimal) -> tuple[Decimal | None, Decimal | None]:
    """A service line's `UnitCount` and `UnitPrice` (the SDK's contracts: decimals with no scale, both optional).
    Neither the contracts nor PROVIDERS.md say more, so the fake keeps them as sent (a unit price of 33.335 stays
    33.335), takes them together or not at all, and holds the line to what AccountRight's own form works out: the
    `Total` it posts is count × price to the cent, half away from zero (3 × 33.335 = 100.005: 100.01)."""
    raw_count, raw_price = line.get("UnitCount"), line.get("UnitPrice")
    if raw_count is None and raw_price is None:
        return None, None
    if raw_count is None or raw_price is None:
        raise Refused(
            "UnitCount and UnitPrice go together", f"{where}.{'UnitCount' if raw_count is None else 'UnitPrice'}"
        )
    count, price = _decimal(raw_count, f"{where}.UnitCount"), _decimal(raw_price, f"{where}.UnitPrice")
    if cents(count * price) != total:
        raise Refused(
            f"The line total must be the unit count times the unit price ({cents(count * price)})", f"{where}.Total"
        )
    return count, price


def _decimal(value: Any, field: str) -> Decimal:
    try:
        ok = isinstance(value, Decimal | int | float | str) and not isinstance(value, bool)
        number = Decimal(str(value)) if ok else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0:
        raise Refused("The number is not valid", field)
    return number


def terms_of(raw: Any, day: date) -> dict[str, Any]:
    """The invoice's terms as sent (the company's when none), with the due date they give."""
    terms = dict(SALES_TERMS) | (raw if isinstance(raw, dict) else {})
    days = int(str(terms.get("BalanceDueDate") or 0))
    due = {
        "InAGivenNumberOfDays": lambda: day + timedelta(days=days),
        "CashOnDelivery": lambda: day,
        "Prepaid": lambda: day,
    }.get(str(terms.get("PaymentIsDue")), lambda: day + timedelta(days=days))()
    return {
        "PaymentIsDue": terms.get("PaymentIsDue"),
        "DiscountDate": int(str(terms.get("DiscountDate") or 0)),
        "BalanceDueDate": days,
        "DiscountForEarlyPayment": 0.0,
        "MonthlyChargeForLatePayment": 0.0,
        "DiscountExpiryDate": f"{day.isoformat()}T00:00:00",
        "Discount": 0.0,
        "DueDate": f"{due.isoformat()}T00:00:00",
        "FinanceCharge": 0.0,
    }
