"""Recording a payment against an invoice raised from Slack: into the mapped "Payments received" account, with
an idempotency key per payment form (a form submitted twice records one payment), then the invoice read back so
its message and thread show what is still due."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import workspaces
from bot.categories import Category
from bot.connections.links import link_for
from bot.invoices import raising
from bot.invoices.money import cents
from bot.mapping import account_mapping
from bot.runtime import Runtime
from providers.base import ProviderError
from providers.invoicing import InvoiceRefused, Invoicing, NewPayment
from storage.models import OPEN_STATUSES, Connection, Invoice, InvoicePayment, PaymentStatus

log = logging.getLogger(__name__)


class CannotPay(Exception):
    """Why no payment can be recorded against this invoice here, for a person (`str()`)."""


@dataclass(frozen=True)
class PaymentTarget:
    invoice_id: int
    number: str | None
    amount_due: Decimal
    currency: str | None
    account_code: str
    account_label: str


def payments_category(categories: Sequence[Category]) -> Category | None:
    """The category payments go to: "payments_received" when the categories have it, else the first bank one."""
    by_key = {c.key: c for c in categories}
    return by_key.get("payments_received") or next((c for c in categories if c.kinds == ("bank",)), None)


def target(session: Session, *, invoice_id: int, workspace_id: int, categories: Sequence[Category]) -> PaymentTarget:
    row = session.get(Invoice, invoice_id)
    if row is None or row.workspace_id != workspace_id or row.external_id is None:
        raise CannotPay("That invoice is not one raised from this workspace.")
    if row.status not in OPEN_STATUSES:
        raise CannotPay(f"Invoice {row.number} is {row.status}; it takes no more payments.")
    category = payments_category(categories)
    saved = account_mapping.saved_mapping(session, connection_id=row.connection_id)
    mapped = saved.get(category.key) if category else None
    entry = (
        account_mapping.chart(session, connection_id=row.connection_id).get(mapped.account_external_id)
        if mapped
        else None
    )
    if entry is None or not entry.active:
        raise CannotPay("No account is mapped for payments received. An admin can choose one with `/accounts map`.")
    return PaymentTarget(
        invoice_id=row.id,
        number=row.number,
        amount_due=row.amount_due if row.amount_due is not None else (row.total or Decimal(0)),
        currency=row.currency,
        account_code=entry.reference,
        account_label=entry.label,
    )


@dataclass(frozen=True)
class Recorded:
    """How recording went: `amount_due` after it, `problem` (words) when it did not happen, `repeated` for a form
    submitted again."""

    amount_due: Decimal | None = None
    problem: str | None = None
    repeated: bool = False


def record(
    runtime: Runtime,
    *,
    invoice_id: int,
    workspace_id: int,
    amount: Decimal,
    paid_on: date,
    user_id: str,
    key: str,
) -> Recorded:
    """Store the payment with its key, post it to the package with that key, then read the invoice back."""
    with runtime.db.session() as s:
        chosen = target(s, invoice_id=invoice_id, workspace_id=workspace_id, categories=runtime.settings.categories)
    if amount > chosen.amount_due:
        return Recorded(problem=f"That is more than the {chosen.amount_due:f} still due.")
    try:
        with runtime.db.session() as s:
            s.add(
                InvoicePayment(
                    invoice_id=invoice_id,
                    idempotency_key=key,
                    amount=amount,
                    paid_on=paid_on,
                    account_code=chosen.account_code,
                    recorded_by=user_id,
                    created_at=runtime.clock(),
                )
            )
    except IntegrityError:
        return Recorded(repeated=True)
    with runtime.db.session() as s:
        row = s.get(Invoice, invoice_id)
        assert row is not None
        connection = s.get(Connection, row.connection_id)
        assert connection is not None and row.external_id is not None
        provider = runtime.providers[connection.provider]
        link = link_for(runtime, connection)
        external_id = row.external_id
    assert isinstance(provider, Invoicing)
    request = NewPayment(invoice_id=external_id, account_code=chosen.account_code, date=paid_on, amount=amount)
    try:
        made = provider.record_payment(link, request, idempotency_key=key)
    except ProviderError as exc:
        refused = isinstance(exc, InvoiceRefused)
        with runtime.db.session(write_lock=True) as s:
            payment = _payment(s, key)
            payment.error = exc.message[:2000]
            if refused:
                payment.status = PaymentStatus.FAILED
        return Recorded(problem=exc.message if refused else exc.format_message())
    try:
        invoice = next(iter(provider.invoices(link, ids=[external_id])), None)
    except ProviderError as exc:  # recorded; the next tracking brings the amounts up to date
        log.warning("Read back of invoice %s failed after a payment: %s", invoice_id, exc.message)
        invoice = None
    with runtime.db.session(write_lock=True) as s:
        payment = _payment(s, key)
        payment.status, payment.external_id = PaymentStatus.RECORDED, made.id
        row = s.get(Invoice, invoice_id)
        assert row is not None
        if invoice is not None:
            raising.complete(row, invoice, now=runtime.clock())
            row.told_status = str(row.status)  # this payment is told by the listener, not again by the tracking
        workspaces.record(
            s,
            workspace_id=row.workspace_id,
            actor=user_id,
            action="invoice.payment",
            detail={"invoice": row.number, "amount": str(cents(amount)), "account": chosen.account_code},
        )
        return Recorded(amount_due=row.amount_due)


def _payment(session: Session, key: str) -> InvoicePayment:
    payment = session.scalar(select(InvoicePayment).where(InvoicePayment.idempotency_key == key))
    assert payment is not None
    return payment
