"""The invoice's preview with its totals, the modal while it is created, and what is said when the package refuses
it or has not answered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from bot.invoices import money
from bot.views.invoices.modal import (
    FIX_ACTION,
    PREVIEW_CALLBACK,
    RESULT_CALLBACK,
    Blocks,
    View,
    invoice_metadata,
    modal,
    plain_number,
)
from bot.views.text import button, context, escape, section


def _line_text(line: Mapping[str, str], currency: str | None) -> str:
    return (
        f"*{escape(line['description'][:200])}*\n"
        f"{plain_number(line['quantity'])} × {plain_number(line['unit_price'])} = "
        f"{money.shown(Decimal(line['amount']), currency)} · {escape(line['account'])} · "
        f"{escape(line['tax'])}: {money.shown(Decimal(line['tax_amount']), currency)}"
    )


def preview_view(
    *,
    invoice_id: int,
    customer_name: str,
    issued_on: date,
    due_on: date,
    reference: str | None,
    inclusive: bool,
    lines: Sequence[Mapping[str, str]],
    totals: money.Totals,
    provider_title: str,
    approve: bool,
) -> View:
    blocks: Blocks = [
        section(
            f"*{escape(customer_name)}*\nDated {issued_on:%d %b %Y}, due {due_on:%d %b %Y}"
            + (f" · Reference: {escape(reference)}" if reference else "")
        ),
        {"type": "divider"},
    ]
    blocks += [section(_line_text(line, None)) for line in lines]
    blocks += [
        {"type": "divider"},
        section(
            f"Subtotal: {money.shown(totals.subtotal)}\nTax: {money.shown(totals.tax)}\n"
            f"*Total: {money.shown(totals.total)}*"
        ),
        context(
            ("Prices include tax. " if inclusive else "Prices exclude tax. ")
            + f"Saved in {escape(provider_title)} as {'approved' if approve else 'a draft'}; "
            f"{escape(provider_title)} works out the final amounts the same way."
        ),
    ]
    return modal(
        PREVIEW_CALLBACK,
        "Check the invoice",
        blocks,
        metadata=invoice_metadata(invoice_id),
        submit="Create invoice",
        close="Back",
    )


def working_view(provider_title: str) -> View:
    return modal(
        RESULT_CALLBACK,
        "Raise an invoice",
        [
            section(f":hourglass_flowing_sand: Creating the invoice in {escape(provider_title)}…"),
            context("It is posted in the channel once it is there; you can close this."),
        ],
        metadata="",
        submit=None,
        close="Close",
    )


def message_view(text: str) -> View:
    """A modal that only says something (`text` is mrkdwn the caller escaped)."""
    return modal(RESULT_CALLBACK, "Raise an invoice", [section(text)], metadata="", submit=None, close="Close")


FIELD_WORDS = {
    "customer": "Customer",
    "date": "Invoice date",
    "due_date": "Due date",
    "reference": "Reference",
    "account": "Category's account",
    "tax": "Tax code",
    "amount": "Amount",
}


def refused_blocks(
    provider_title: str, refusals: Sequence[tuple[int | None, str | None, str]], *, invoice_id: int | None = None
) -> Blocks:
    """The package refused the invoice: each problem with the line and field it concerns, in its words."""
    blocks: Blocks = [section(f":warning: *{escape(provider_title)} did not accept the invoice.* Nothing was created.")]
    for line, field, message in refusals[:20]:
        where = " · ".join(
            part for part in (f"Line {line + 1}" if line is not None else "", FIELD_WORDS.get(field or "", "")) if part
        )
        blocks.append(section((f"*{where}*: " if where else "") + escape(message)))
    if invoice_id is not None:
        blocks.append(
            {
                "type": "actions",
                "block_id": "invoice_refused",
                "elements": [button("Change the invoice", FIX_ACTION, value=str(invoice_id), style="primary")],
            }
        )
    return blocks


def not_answered_text(provider_title: str) -> str:
    return (
        f":hourglass: {provider_title} has not answered yet. I will ask again with the same request, so the invoice "
        "is never raised twice, and post it here once it is there."
    )
