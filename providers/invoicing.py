"""Invoicing: an optional capability of a provider, beside `providers.base.Provider`.

A package that can raise sales invoices and record payments implements `Invoicing` as well as `Provider`;
the bot checks `isinstance(provider, Invoicing)` and offers invoicing only where it holds, so a package
without it simply has no tax codes in its mapping and no `/accounts invoice`. Money is `Decimal` throughout.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from providers.base import AccountKind, BadRequest, Link

CENT = Decimal("0.01")
# Beyond any amount of a trade invoice, and beyond what Decimal's 28 digits hold to the cent: read as no amount.
AMOUNT_LIMIT = Decimal(10) ** 15


def money(value: Any) -> Decimal:
    """A number a package sent as a Decimal: 0 for what is missing, not a number, or too large to be an amount."""
    if value is None or isinstance(value, bool):
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() and abs(number) < AMOUNT_LIMIT else Decimal(0)


def cents(value: Any) -> Decimal:
    """An amount a package sent, to the cent, half away from zero (`115.0` → `115.00`)."""
    return money(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TaxRate:
    """One of the package's tax codes (Xero's TaxType): its rate in percent, and the kinds of account it suits
    (empty: the package does not say, so any)."""

    code: str
    name: str
    rate: Decimal
    active: bool = True
    suits: frozenset[AccountKind] = frozenset()

    def suits_kind(self, kind: str) -> bool:
        return not self.suits or kind in self.suits


class AmountsAre(StrEnum):
    """Whether the unit prices of an invoice's lines include tax."""

    EXCLUSIVE = "exclusive"
    INCLUSIVE = "inclusive"


class InvoiceState(StrEnum):
    """An invoice's state at the package, in one vocabulary."""

    DRAFT = "draft"
    SUBMITTED = "submitted"  # awaiting approval
    APPROVED = "approved"  # authorised, money owed
    PAID = "paid"
    VOIDED = "voided"
    DELETED = "deleted"


class TermsKind(StrEnum):
    """How a package's payment terms count from the invoice date."""

    DAYS_AFTER_DATE = "days_after_date"  # `day` days after the invoice date
    DAYS_AFTER_MONTH_END = "days_after_month_end"  # `day` days after the end of the invoice's month
    DAY_OF_MONTH = "day_of_month"  # the `day`th of the invoice's month
    DAY_OF_NEXT_MONTH = "day_of_next_month"  # the `day`th of the month after


@dataclass(frozen=True)
class PaymentTerms:
    """When a sales invoice falls due, as the organisation (or one customer) sets it at the package."""

    day: int
    kind: TermsKind


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    account_code: str
    tax_code: str | None  # None: the account's default


@dataclass(frozen=True)
class NewInvoice:
    """A sales invoice to create at the package."""

    customer_id: str  # the package's id of the customer
    date: dt.date
    due_date: dt.date
    lines: Sequence[InvoiceLine]
    amounts_are: AmountsAre = AmountsAre.EXCLUSIVE
    reference: str | None = None
    approve: bool = False  # False: a draft


@dataclass(frozen=True)
class Invoice:
    """An invoice as the package holds it, with its totals as the package computed and rounded them."""

    id: str
    number: str | None
    state: InvoiceState
    customer_id: str
    currency: str | None
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    amount_due: Decimal
    amount_paid: Decimal
    due_date: dt.date | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class NewPayment:
    invoice_id: str
    account_code: str
    date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class Payment:
    id: str
    invoice_id: str
    amount: Decimal


@dataclass(frozen=True)
class Refusal:
    """One thing the package refused, with the line it concerns (0-based) when it says."""

    message: str
    line: int | None = None
    field: str | None = None  # "customer", "date", "due_date", "reference", "account", "tax", "amount"


class InvoiceRefused(BadRequest):
    """The package refused an invoice or payment for reasons a person can fix; `refusals` say which."""

    what_to_do = "Change what it points out and try again."

    def __init__(self, message: str, *, refusals: Sequence[Refusal] = (), **kw: Any) -> None:
        super().__init__(message, **kw)
        self.refusals = tuple(refusals)


@runtime_checkable
class Invoicing(Protocol):
    """What a package that raises invoices does. Every write takes an idempotency key: a repeat with the same key
    makes nothing new (the package honours the key, or the provider looks the record up before creating)."""

    def tax_rates(self, link: Link) -> list[TaxRate]: ...

    def create_invoice(self, link: Link, invoice: NewInvoice, *, idempotency_key: str) -> Invoice: ...

    def record_payment(self, link: Link, payment: NewPayment, *, idempotency_key: str) -> Payment: ...

    def invoices(self, link: Link, *, ids: Sequence[str], since: dt.datetime | None = None) -> list[Invoice]:
        """Those of `ids` changed since `since` (all of them when None)."""
        ...

    def invoice_url(self, link: Link, invoice_id: str) -> str:
        """Where a person opens the invoice in the package."""
        ...


@runtime_checkable
class SalesTerms(Protocol):
    """A package that keeps default payment terms for sales, the organisation's and a customer's own."""

    def sales_terms(self, link: Link, *, customer_id: str | None) -> tuple[PaymentTerms | None, PaymentTerms | None]:
        """(the customer's, the organisation's); None where that one has none."""
        ...
