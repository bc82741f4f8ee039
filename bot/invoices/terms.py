"""The default due date of an invoice: the customer's own payment terms where the package has them, else the
organisation's, else 14 days."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from providers.invoicing import PaymentTerms, TermsKind

FALLBACK = timedelta(days=14)


def due_on(issued_on: date, *terms: PaymentTerms | None) -> date:
    """The due date by the first of `terms` that is set (the customer's, then the organisation's), or 14 days.

    A day past a month's end is its last day (the 31st of February is the 28th or 29th), and a due date is never
    before the invoice's own date (the 10th "of the current month" on an invoice of the 20th is the 20th)."""
    chosen = next((t for t in terms if t is not None), None)
    if chosen is None:
        return issued_on + FALLBACK
    if chosen.kind == TermsKind.DAYS_AFTER_DATE:
        return issued_on + timedelta(days=chosen.day)
    month_end = issued_on.replace(day=calendar.monthrange(issued_on.year, issued_on.month)[1])
    if chosen.kind == TermsKind.DAYS_AFTER_MONTH_END:
        return month_end + timedelta(days=chosen.day)
    if chosen.kind == TermsKind.DAY_OF_MONTH:
        return max(issued_on, _day_of(issued_on.year, issued_on.month, chosen.day))
    following = month_end + timedelta(days=1)
    return _day_of(following.year, following.month, chosen.day)


def _day_of(year: int, month: int, day: int) -> date:
    return date(year, month, min(max(day, 1), calendar.monthrange(year, month)[1]))
