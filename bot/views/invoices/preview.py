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


def working_view(provider_title: str, *, external_id: str | None = None) -> View:
    """The modal while the package is asked; `external_id` lets the answer replace it once Slack shows it."""
    return modal(
        RESULT_CALLBACK,
        "Raise an invoice",
        [
            section(f":hourglass_flowing_sand: Creating the invoice in {escape(provider_title)}…"),
            context("This shows how it went in a moment, and the invoice is posted in the channel once it is there."),
        ],
        metadata="",
        submit=None,
        close="Close",
        external_id=external_id,
    )


def created_view(
    *,
    number: str | None,
    customer_name: str,
    total: Decimal,
    currency: str | None,
    state: str,
    provider_title: str,
    url: str | None,
    channel_id: str | None,
) -> View:
    """The modal once the package made the invoice."""
    where = f"It is posted in <#{channel_id}>." if channel_id and channel_id[0] in "CG" else "It is posted for you."
    blocks: Blocks = [
        section(
            f":white_check_mark: Invoice *{escape(number or 'without a number')}* for *{escape(customer_name)}*, "
            f"*{money.shown(total, currency)}*, is in {escape(provider_title)} ({state})."
        ),
        context(where),
    ]
    if url:
        blocks.append(
            {
                "type": "actions",
                "block_id": "invoice_created",
                "elements": [button(f"Open in {provider_title}", "invoice_open", url=url)],
            }
        )
    return modal(RESULT_CALLBACK, "Invoice created", blocks, metadata="", submit=None, close="Done")


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
            part
            for part in (
                f"Line {line + 1}" if line is not None else "",
                FIELD_WORDS.get(field or "", "") if line is not None or field != "amount" else "Unit prices",
            )
            if part
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


def not_answered_view(provider_title: str) -> View:
    return message_view(escape(not_answered_text(provider_title)))
