"""Sending a previewed invoice to the package exactly once: claimed (preview → pending) in one statement, asked
with the row's idempotency key, and completed with what the package answered; a pending invoice whose answer never
came is found again (`pending_to_resume`) and asked with the same key."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from bot import workspaces
from bot.connections.links import link_for
from bot.runtime import Runtime
from providers.base import NeedsReconnect, ProviderError
from providers.invoicing import (
    AmountsAre,
    Invoice,
    InvoiceLine,
    InvoiceRefused,
    InvoiceState,
    Invoicing,
    NewInvoice,
    Refusal,
)
from storage.models import Connection, InvoiceStatus
from storage.models import Invoice as InvoiceRow

log = logging.getLogger(__name__)

RESUME_AFTER = timedelta(minutes=2)  # a pending invoice this old lost its answer: ask again with its key
STATUS_OF_STATE = {
    InvoiceState.DRAFT: InvoiceStatus.DRAFT,
    InvoiceState.SUBMITTED: InvoiceStatus.SUBMITTED,
    InvoiceState.APPROVED: InvoiceStatus.APPROVED,
    InvoiceState.PAID: InvoiceStatus.PAID,
    InvoiceState.VOIDED: InvoiceStatus.VOIDED,
    InvoiceState.DELETED: InvoiceStatus.DELETED,
}


def claim(session: Session, *, invoice_id: int, workspace_id: int, now: datetime) -> bool:
    """Move a previewed invoice to pending, in one statement: True for exactly one of any number of submissions."""
    claimed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(InvoiceRow)
        .where(
            InvoiceRow.id == invoice_id,
            InvoiceRow.workspace_id == workspace_id,
            InvoiceRow.status == InvoiceStatus.PREVIEW,
        )
        .values(status=InvoiceStatus.PENDING, updated_at=now)
    )
    return bool(claimed.rowcount)


@dataclass(frozen=True)
class Sent:
    """How sending went: `invoice` (done), `refusals` (the package refused it), or neither (no answer yet: the
    row stays pending and is resumed with the same key)."""

    row_id: int
    invoice: Invoice | None = None
    url: str | None = None
    refusals: tuple[Refusal, ...] = ()
    problem: str | None = None
    reconnect: bool = False  # no answer because the connection must be renewed first (`problem` says how)


def new_invoice(row: InvoiceRow) -> NewInvoice:
    return NewInvoice(
        customer_id=row.customer_external_id,
        date=row.issued_on,
        due_date=row.due_on,
        reference=row.reference,
        amounts_are=AmountsAre.INCLUSIVE if row.amounts_include_tax else AmountsAre.EXCLUSIVE,
        approve=row.approve,
        lines=tuple(
            InvoiceLine(
                description=line["description"],
                quantity=Decimal(line["quantity"]),
                unit_price=Decimal(line["unit_price"]),
                account_code=line["account_code"],
                tax_code=line.get("tax_code") or None,
            )
            for line in row.lines
        ),
    )


def send(runtime: Runtime, *, invoice_id: int) -> Sent:
    """Ask the package for the pending invoice, with its key, and store what it answered."""
    with runtime.db.session() as s:
        row = s.get(InvoiceRow, invoice_id)
        assert row is not None and row.status == InvoiceStatus.PENDING, "claimed first"
        connection = s.get(Connection, row.connection_id)
        assert connection is not None
        provider = runtime.providers[connection.provider]
        link = link_for(runtime, connection)
        request, key = new_invoice(row), row.idempotency_key
    assert isinstance(provider, Invoicing)
    try:
        made = provider.create_invoice(link, request, idempotency_key=key)
    except InvoiceRefused as exc:
        with runtime.db.session(write_lock=True) as s:
            row = s.get(InvoiceRow, invoice_id)
            assert row is not None
            row.status, row.error, row.updated_at = InvoiceStatus.FAILED, exc.message[:2000], runtime.clock()
            row.refusals = [[r.line, r.field, r.message[:1000]] for r in exc.refusals[:20]]
        return Sent(invoice_id, refusals=exc.refusals, problem=exc.format_message())
    except ProviderError as exc:
        log.warning("Invoice %s: no answer from the package yet (%s); kept pending", invoice_id, exc.message)
        with runtime.db.session(write_lock=True) as s:
            row = s.get(InvoiceRow, invoice_id)
            assert row is not None
            row.error = exc.message[:2000]
        return Sent(invoice_id, problem=exc.format_message(), reconnect=isinstance(exc, NeedsReconnect))
    with runtime.db.session(write_lock=True) as s:
        row = s.get(InvoiceRow, invoice_id)
        assert row is not None
        complete(row, made, now=runtime.clock())
        workspaces.record(
            s,
            workspace_id=row.workspace_id,
            actor=row.created_by,
            action="invoice.created",
            detail={"invoice": row.number, "customer": row.customer_name, "total": str(row.total)},
        )
    return Sent(invoice_id, invoice=made, url=provider.invoice_url(link, made.id))


def complete(row: InvoiceRow, made: Invoice, *, now: datetime) -> None:
    """Store the package's invoice on our row: its id, number, state and totals as the package rounded them."""
    row.external_id = made.id
    row.number = made.number
    row.status = STATUS_OF_STATE[made.state]
    row.currency = made.currency
    row.subtotal, row.tax, row.total = made.subtotal, made.tax, made.total
    row.amount_due, row.amount_paid = made.amount_due, made.amount_paid
    row.provider_updated_at = made.updated_at
    row.error = None
    row.updated_at = now


def pending_to_resume(session: Session, *, connection_id: int, now: datetime) -> list[int]:
    """Invoices sent whose answer never came back (a timeout, a killed process), old enough to ask again."""
    return list(
        session.scalars(
            select(InvoiceRow.id).where(
                InvoiceRow.connection_id == connection_id,
                InvoiceRow.status == InvoiceStatus.PENDING,
                InvoiceRow.updated_at < now - RESUME_AFTER,
            )
        )
    )
