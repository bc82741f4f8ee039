"""A refused invoice told back on its form: the package's words by the form's block they concern (a line's
field, the customer, the dates), and the rest as a notice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from storage.models import Invoice as InvoiceRow
from storage.models import InvoiceStatus


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


# An amount refused for no line in particular concerns the whole invoice's prices: the "Unit prices" choice (tax
# included or not), e.g. a package that takes only prices before tax refusing prices that include it.
_FIELD_BLOCKS = {
    "customer": "invoice_customer",
    "date": "date",
    "due_date": "due_date",
    "reference": "reference",
    "amount": "amounts",
}
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
