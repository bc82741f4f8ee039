"""What the channel and the invoice's thread are told: the invoice's message, its payments and its changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.invoices import money
from bot.views.invoices.modal import (
    PAY_ACTION,
    STATE_WORDS,
    Blocks,
)
from bot.views.text import button, context, escape, mention, section


@dataclass(frozen=True)
class InvoiceCard:
    """What the channel is told about an invoice."""

    invoice_id: int
    number: str | None
    customer_name: str
    total: Decimal
    amount_due: Decimal | None
    currency: str | None
    status: str
    due_on: date
    url: str | None
    provider_title: str
    created_by: str


def invoice_blocks(card: InvoiceCard) -> Blocks:
    state = STATE_WORDS.get(card.status, card.status)
    due = (
        f" · {money.shown(card.amount_due, card.currency)} due {card.due_on:%d %b %Y}"
        if card.amount_due is not None and card.status not in ("paid", "voided", "deleted")
        else ""
    )
    elements = []
    if card.url:
        elements.append(button(f"Open in {card.provider_title}", "invoice_open", url=card.url))
    if card.status == "approved":  # the packages take payments only on approved invoices
        elements.append(button("Record payment", PAY_ACTION, value=str(card.invoice_id)))
    blocks: Blocks = [
        section(
            f":receipt: Invoice *{escape(card.number or 'without a number')}* for *{escape(card.customer_name)}*: "
            f"*{money.shown(card.total, card.currency)}* ({state}){due}"
        )
    ]
    if elements:
        blocks.append({"type": "actions", "block_id": f"invoice_{card.invoice_id}", "elements": elements})
    blocks.append(context(f"Raised by {mention(card.created_by)} from Slack."))
    return blocks


def invoice_text(card: InvoiceCard) -> str:
    return f"Invoice {card.number or ''} for {card.customer_name}: {money.shown(card.total, card.currency)}"


def payment_recorded_text(*, amount: Decimal, currency: str | None, user_id: str, amount_due: Decimal) -> str:
    rest = "Paid in full." if amount_due == 0 else f"{money.shown(amount_due, currency)} still due."
    return f":moneybag: {mention(user_id)} recorded a payment of *{money.shown(amount, currency)}*. {rest}"


def state_change_text(status: str, *, provider_title: str, amount_due: Decimal | None, currency: str | None) -> str:
    """What a thread is told when the package changed the invoice."""
    title = escape(provider_title)
    if status == "paid":
        return f":white_check_mark: Paid in full in {title}."
    if status == "approved" and amount_due is not None:
        return f":ballot_box_with_check: Approved in {title}; {money.shown(amount_due, currency)} due."
    if status == "part_paid" and amount_due is not None:
        return f":heavy_dollar_sign: Part-paid in {title}; {money.shown(amount_due, currency)} still due."
    if status == "voided":
        return f":no_entry_sign: Voided in {title}."
    if status == "deleted":
        return f":wastebasket: Deleted in {title}."
    return f"Now {STATE_WORDS.get(status, status)} in {title}."
