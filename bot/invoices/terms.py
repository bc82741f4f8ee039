"""The default due date of an invoice: the customer's own payment terms where the package has them, else the
organisation's, else 14 days."""

from __future__ import annotations

import calendar
import logging
from datetime import date, timedelta

from sqlalchemy import select

from bot.connections.links import link_for
from bot.runtime import Runtime
from providers.base import ProviderError
from providers.invoicing import PaymentTerms, SalesTerms, TermsKind
from storage.models import Connection, CustomerReference

log = logging.getLogger(__name__)

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


def default_due(runtime: Runtime, *, connection_id: int, customer_id: int | None, issued_on: date) -> date:
    """The due date the package's terms give an invoice of `issued_on` (to `customer_id`, ours, when chosen),
    asked of the package; 14 days where it keeps no terms or does not answer (the person can change it)."""
    with runtime.db.session() as s:
        connection = s.get(Connection, connection_id)
        if connection is None:
            return due_on(issued_on)
        provider = runtime.providers.get(connection.provider)
        if not isinstance(provider, SalesTerms):
            return due_on(issued_on)
        link = link_for(runtime, connection)
        external_id = (
            s.scalar(
                select(CustomerReference.external_id).where(
                    CustomerReference.customer_id == customer_id, CustomerReference.connection_id == connection_id
                )
            )
            if customer_id is not None
            else None
        )
    try:
        customers, organisations = provider.sales_terms(link, customer_id=external_id)
    except ProviderError as exc:
        log.warning("No payment terms from the package (%s): 14 days", exc.message)
        return due_on(issued_on)
    return due_on(issued_on, customers, organisations)
