"""`/accounts invoices [unpaid|overdue]`: the invoices raised from Slack in a workspace, with their state."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.views.invoices import ListedInvoice
from storage.models import Invoice, InvoiceStatus

UNPAID = (InvoiceStatus.DRAFT, InvoiceStatus.SUBMITTED, InvoiceStatus.APPROVED)
SHOWN = (*UNPAID, InvoiceStatus.PAID, InvoiceStatus.VOIDED, InvoiceStatus.PENDING)
LIMIT = 50
WHICH = ("all", "unpaid", "overdue")


def invoices(session: Session, *, workspace_id: int, which: str, today: date) -> list[ListedInvoice]:
    """Newest first; `unpaid`: not yet paid, `overdue`: unpaid and past the due date."""
    statement = select(Invoice).where(Invoice.workspace_id == workspace_id)
    if which in ("unpaid", "overdue"):
        statement = statement.where(Invoice.status.in_(UNPAID))
    else:
        statement = statement.where(Invoice.status.in_(SHOWN))
    if which == "overdue":
        statement = statement.where(Invoice.due_on < today)
    rows = session.scalars(statement.order_by(Invoice.created_at.desc(), Invoice.id.desc()).limit(LIMIT))
    return [
        ListedInvoice(
            number=row.number,
            customer_name=row.customer_name,
            total=row.total,
            amount_due=row.amount_due,
            currency=row.currency,
            status=str(row.status),
            due_on=row.due_on,
            overdue=row.status in UNPAID and row.due_on < today,
        )
        for row in rows
    ]
