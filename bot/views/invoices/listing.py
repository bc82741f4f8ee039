"""`/accounts invoices [unpaid|overdue]`: the invoices raised from Slack, with their state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.invoices import money
from bot.views.invoices.modal import (
    STATE_WORDS,
    Blocks,
)
from bot.views.text import context, escape, section


@dataclass(frozen=True)
class ListedInvoice:
    number: str | None
    customer_name: str
    total: Decimal | None
    amount_due: Decimal | None
    currency: str | None
    status: str
    due_on: date
    overdue: bool


def invoice_list_blocks(invoices: Sequence[ListedInvoice], *, which: str, command: str) -> Blocks:
    title = {"unpaid": "Unpaid invoices", "overdue": "Overdue invoices"}.get(which, "Invoices raised from Slack")
    if not invoices:
        return [section(f"*{title}*: none."), context(f"Raise one with `{command} invoice`.")]
    lines = []
    for invoice in invoices:
        due = f"{money.shown(invoice.amount_due, invoice.currency)} due" if invoice.amount_due is not None else ""
        late = " :warning: overdue" if invoice.overdue else ""
        lines.append(
            f"• *{escape(invoice.number or '—')}* · {escape(invoice.customer_name)} · "
            f"{money.shown(invoice.total or Decimal(0), invoice.currency)} · "
            f"{STATE_WORDS.get(invoice.status, invoice.status)}"
            f" · due {invoice.due_on:%d %b %Y}" + (f" · {due}" if due and invoice.status != "paid" else "") + late
        )
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + len(line) < 2900:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    return [section(f"*{title}* ({len(invoices)})"), *[section(c) for c in chunks[:40]]]
