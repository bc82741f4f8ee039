"""An invoice before it is sent: the draft a form holds, checked against the stored chart and tax codes with its
totals worked out as the package will (`prepare`), and stored as a preview with the idempotency key its one send
will use (`store_preview`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.invoices import money
from bot.invoices.choices import InvoicingSetup
from bot.mapping import tax_codes
from bot.mapping.tax_codes import TaxEntry
from storage.models import Customer, CustomerReference, InvoiceStatus
from storage.models import Invoice as InvoiceRow

MAX_LINES = 10
DEFAULT_TERMS = timedelta(days=14)


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
