"""Raising an invoice: what the form may offer (the mapped categories, their accounts and default tax codes),
checking a draft against the stored chart and tax codes and working out its totals, storing it with its
idempotency key before the package is asked, and completing it after.

A retry never raises a second invoice: the row and its key are stored at the preview; sending first claims
the row (preview → pending) in one statement, so a second submission finds nothing to claim; the package is
asked with the row's key, so a timeout, a Slack retry or a process killed mid-call is resumed with the same key
(`resume_pending`) and the package answers with the invoice it already made.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from bot import workspaces
from bot.categories import Category
from bot.connections import connect
from bot.connections.links import link_for
from bot.invoices import money
from bot.mapping import account_mapping, tax_codes
from bot.mapping.account_mapping import ChartEntry
from bot.mapping.tax_codes import TaxEntry
from bot.runtime import Runtime
from providers.base import ProviderError
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
from storage.models import Connection, Customer, CustomerReference, InvoiceStatus
from storage.models import Invoice as InvoiceRow

log = logging.getLogger(__name__)

MAX_LINES = 10
DEFAULT_TERMS = timedelta(days=14)
RESUME_AFTER = timedelta(minutes=2)  # a pending invoice this old lost its answer: ask again with its key
STATUS_OF_STATE = {
    InvoiceState.DRAFT: InvoiceStatus.DRAFT,
    InvoiceState.SUBMITTED: InvoiceStatus.SUBMITTED,
    InvoiceState.APPROVED: InvoiceStatus.APPROVED,
    InvoiceState.PAID: InvoiceStatus.PAID,
    InvoiceState.VOIDED: InvoiceStatus.VOIDED,
    InvoiceState.DELETED: InvoiceStatus.DELETED,
}


@dataclass(frozen=True)
class LineCategory:
    """A category invoice lines may use: its mapped account and default tax code."""

    category: Category
    account: ChartEntry
    tax: TaxEntry | None


@dataclass(frozen=True)
class InvoicingSetup:
    """What the invoice form needs of a workspace's connection."""

    connection_id: int
    organisation_name: str
    provider_title: str
    categories: tuple[LineCategory, ...]
    tax_codes: tuple[TaxEntry, ...]  # active ones


@dataclass(frozen=True)
class DraftLine:
    category: str  # the category's key
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_code: str | None  # None: the category's default


@dataclass(frozen=True)
class Draft:
    customer_id: int  # ours
    issued_on: date
    due_on: date
    reference: str | None
    inclusive: bool
    lines: tuple[DraftLine, ...]


@dataclass(frozen=True)
class PreparedLine:
    category: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    account_code: str
    account_label: str
    tax: TaxEntry
    amount: Decimal
    tax_amount: Decimal

    def stored(self) -> dict[str, str]:
        return {
            "category": self.category,
            "description": self.description,
            "quantity": str(self.quantity),
            "unit_price": str(self.unit_price),
            "account_code": self.account_code,
            "account": self.account_label,
            "tax_code": self.tax.code,
            "tax": self.tax.label,
            "amount": str(self.amount),
            "tax_amount": str(self.tax_amount),
        }


@dataclass(frozen=True)
class Prepared:
    """A draft checked and worked out, or `errors` (field → words) when it cannot be sent."""

    errors: dict[str, str]
    customer_name: str = ""
    customer_external_id: str = ""
    lines: tuple[PreparedLine, ...] = ()
    totals: money.Totals | None = None


class NoInvoicing(Exception):
    """Why this workspace cannot raise invoices now, in words for a person (`str()`)."""


def setup(runtime: Runtime, session: Session, *, workspace_id: int) -> InvoicingSetup:
    """The workspace's connection ready for invoicing, or NoInvoicing saying what to do first."""
    connection = connect.active_connection(session, workspace_id=workspace_id)
    if connection is None:
        raise NoInvoicing(
            "Nothing is connected yet, so there is nowhere to raise invoices. Start with `/accounts connect`."
        )
    provider = runtime.providers.get(connection.provider)
    if provider is None:
        raise NoInvoicing(f"{connection.provider} is no longer set up on this bot.")
    if not tax_codes.offers_invoicing(provider):
        raise NoInvoicing(f"Raising invoices from Slack is not available for {provider.title} yet.")
    entries = account_mapping.chart(session, connection_id=connection.id)
    saved = account_mapping.saved_mapping(session, connection_id=connection.id)
    taxes = tax_codes.tax_codes(session, connection_id=connection.id)
    offered = []
    for category in runtime.settings.categories:
        row = saved.get(category.key)
        entry = entries.get(row.account_external_id) if row else None
        if row is None or entry is None or not entry.active or not tax_codes.taxable(category):
            continue
        if entry.kind == "bank":
            continue
        tax = taxes.get(row.tax_code) if row.tax_code else None
        offered.append(LineCategory(category, entry, tax if tax is not None and tax.active else None))
    if not offered:
        raise NoInvoicing(
            "No category is mapped to an account invoices can use. An admin can map them with `/accounts map`."
        )
    return InvoicingSetup(
        connection_id=connection.id,
        organisation_name=connection.organisation_name,
        provider_title=provider.title,
        categories=tuple(offered),
        tax_codes=tuple(t for t in taxes.values() if t.active),
    )


def chosen_customer(session: Session, *, connection_id: int, workspace_id: int, customer_id: int) -> Customer | None:
    """One customer the form may offer (as `customer_choices` would), or None."""
    statement = (
        select(Customer)
        .join(CustomerReference, CustomerReference.customer_id == Customer.id)
        .where(
            Customer.id == customer_id,
            CustomerReference.connection_id == connection_id,
            Customer.workspace_id == workspace_id,
            Customer.active.is_(True),
            Customer.erased_at.is_(None),
        )
    )
    return session.scalars(statement.limit(1)).first()


def customer_choices(
    session: Session, *, connection_id: int, workspace_id: int, query: str, limit: int = 100
) -> list[Customer]:
    """Imported customers of the connection whose name or email holds what was typed, by name."""
    statement = (
        select(Customer)
        .join(CustomerReference, CustomerReference.customer_id == Customer.id)
        .where(
            CustomerReference.connection_id == connection_id,
            Customer.workspace_id == workspace_id,
            Customer.active.is_(True),
            Customer.erased_at.is_(None),
        )
    )
    for word in query.casefold().split():
        statement = statement.where(
            Customer.name_key.contains(word, autoescape=True)
            | Customer.email_key.contains(word, autoescape=True)
            | Customer.name.ilike(f"%{word}%")
        )
    return list(session.scalars(statement.order_by(Customer.name, Customer.id).limit(limit)))


def default_due(issued_on: date) -> date:
    return issued_on + DEFAULT_TERMS


def prepare(session: Session, *, setup: InvoicingSetup, workspace_id: int, draft: Draft) -> Prepared:
    """Check the draft against the stored mapping and tax codes and work out its totals as the package will."""
    errors: dict[str, str] = {}
    reference = session.execute(
        select(Customer.name, CustomerReference.external_id)
        .join(CustomerReference, CustomerReference.customer_id == Customer.id)
        .where(
            Customer.id == draft.customer_id,
            Customer.workspace_id == workspace_id,
            CustomerReference.connection_id == setup.connection_id,
        )
    ).first()
    if reference is None:
        errors["customer"] = "Choose a customer imported from this organisation."
    if draft.due_on < draft.issued_on:
        errors["due_date"] = "The due date cannot be before the invoice date."
    if not draft.lines:
        errors["line_1_description"] = "Fill in at least one line."
    by_key = {c.category.key: c for c in setup.categories}
    taxes = {t.code: t for t in setup.tax_codes}
    lines: list[PreparedLine] = []
    for number, line in enumerate(draft.lines, start=1):
        category = by_key.get(line.category)
        if category is None:
            errors[f"line_{number}_category"] = "Choose a category mapped to an account."
            continue
        code = line.tax_code or (category.tax.code if category.tax else None) or category.account.tax_code
        tax = taxes.get(code) if code else None
        problem = (
            tax_codes.tax_problem(tax, account_kind=category.account.kind, account_label=category.account.label)
            if code
            else "Choose a tax code: the category has none by default."
        )
        if problem is not None or tax is None:
            errors[f"line_{number}_tax"] = problem or "Choose a tax code."
            continue
        worked = money.line_amounts(line.quantity, line.unit_price, tax.rate, inclusive=draft.inclusive)
        lines.append(
            PreparedLine(
                category=line.category,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                account_code=category.account.reference,
                account_label=category.account.label,
                tax=tax,
                amount=worked.amount,
                tax_amount=worked.tax,
            )
        )
    if errors or reference is None:
        return Prepared(errors=errors)
    totals = money.totals([(x.quantity, x.unit_price, x.tax.rate) for x in lines], inclusive=draft.inclusive)
    return Prepared(
        errors={}, customer_name=reference[0], customer_external_id=reference[1], lines=tuple(lines), totals=totals
    )


def store_preview(
    session: Session,
    *,
    setup: InvoicingSetup,
    workspace_id: int,
    draft: Draft,
    prepared: Prepared,
    approve: bool,
    user_id: str,
    channel_id: str | None,
    now: datetime,
) -> InvoiceRow:
    """The invoice as previewed, with the idempotency key its one send will use."""
    assert prepared.totals is not None
    row = InvoiceRow(
        workspace_id=workspace_id,
        connection_id=setup.connection_id,
        customer_id=draft.customer_id,
        customer_external_id=prepared.customer_external_id,
        customer_name=prepared.customer_name[:255],
        idempotency_key=f"accounts-bot-invoice-{uuid.uuid4()}",
        status=InvoiceStatus.PREVIEW,
        issued_on=draft.issued_on,
        due_on=draft.due_on,
        reference=draft.reference,
        amounts_include_tax=draft.inclusive,
        approve=approve,
        lines=[line.stored() for line in prepared.lines],
        subtotal=prepared.totals.subtotal,
        tax=prepared.totals.tax,
        total=prepared.totals.total,
        channel_id=channel_id,
        created_by=user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


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
        with runtime.db.session() as s:
            row = s.get(InvoiceRow, invoice_id)
            assert row is not None
            row.status, row.error, row.updated_at = InvoiceStatus.FAILED, exc.message[:2000], runtime.clock()
            row.refusals = [[r.line, r.field, r.message[:1000]] for r in exc.refusals[:20]]
        return Sent(invoice_id, refusals=exc.refusals, problem=exc.format_message())
    except ProviderError as exc:
        log.warning("Invoice %s: no answer from the package yet (%s); kept pending", invoice_id, exc.message)
        with runtime.db.session() as s:
            row = s.get(InvoiceRow, invoice_id)
            assert row is not None
            row.error = exc.message[:2000]
        return Sent(invoice_id, problem=exc.format_message())
    with runtime.db.session() as s:
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


@dataclass(frozen=True)
class Resubmission:
    """A refused invoice, to open the form again filled in as it was, with the package's words by the fields."""

    invoice_id: int
    channel_id: str | None
    customer_id: int | None
    customer_name: str
    issued_on: date
    due_on: date
    reference: str | None
    inclusive: bool
    lines: tuple[dict[str, str], ...]
    problems: dict[str, str]  # the form's field (`line_2_tax`, `due_date`, ...) → the package's words
    notice: tuple[str, ...]  # what the package said of no particular field


_FIELD_BLOCKS = {"customer": "invoice_customer", "date": "date", "due_date": "due_date", "reference": "reference"}
_LINE_BLOCKS = {"tax": "tax", "account": "category", "amount": "price", None: "description"}


def resubmission(session: Session, *, invoice_id: int, workspace_id: int) -> Resubmission | None:
    row = session.get(InvoiceRow, invoice_id)
    if row is None or row.workspace_id != workspace_id or row.status != InvoiceStatus.FAILED:
        return None
    problems: dict[str, str] = {}
    notice: list[str] = []
    for line, field, words in row.refusals or []:
        if isinstance(line, int) and 0 <= line < len(row.lines):
            block = f"line_{line + 1}_{_LINE_BLOCKS.get(field, 'description')}"
        else:
            block = _FIELD_BLOCKS.get(field or "", "")
        if block:
            problems[block] = f"{problems[block]} {words}" if block in problems else str(words)
        else:
            notice.append(str(words))
    if not row.refusals and row.error:
        notice.append(row.error)
    return Resubmission(
        invoice_id=row.id,
        channel_id=row.channel_id,
        customer_id=row.customer_id,
        customer_name=row.customer_name,
        issued_on=row.issued_on,
        due_on=row.due_on,
        reference=row.reference,
        inclusive=row.amounts_include_tax,
        lines=tuple(dict(line) for line in row.lines),
        problems=problems,
        notice=tuple(notice),
    )


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
