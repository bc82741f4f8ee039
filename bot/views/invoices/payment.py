"""The "Record payment" form and reading what it holds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from bot.invoices import money
from bot.views.invoices.modal import (
    PAYMENT_CALLBACK,
    Blocks,
    View,
    input_block,
    invoice_metadata,
    modal,
    text_input,
)
from bot.views.text import context, escape, section


def payment_form(
    *, invoice_id: int, number: str | None, amount_due: Decimal, currency: str | None, account: str, today: date
) -> View:
    blocks: Blocks = [
        section(
            f"Record a payment against invoice *{escape(number or '')}* ({money.shown(amount_due, currency)} due)."
        ),
        input_block("amount", "Amount received", text_input(initial=f"{money.cents(amount_due):f}", max_length=20)),
        input_block("paid_on", "Date received", {"type": "datepicker", "initial_date": today.isoformat()}),
        context(f"Paid into {escape(account)} (Payments received, from the mapping)."),
    ]
    return modal(
        PAYMENT_CALLBACK,
        "Record payment",
        blocks,
        metadata=invoice_metadata(invoice_id),
        submit="Record payment",
        close="Cancel",
    )


def read_payment(values: Mapping[str, Mapping[str, Any]]) -> tuple[Decimal | None, date | None, dict[str, str]]:
    amount_entry = values.get("amount", {}).get("amount")
    day_entry = values.get("paid_on", {}).get("paid_on")
    text = amount_entry.get("value") if isinstance(amount_entry, Mapping) else None
    errors: dict[str, str] = {}
    amount = None
    try:
        amount = money.parse_amount(text if isinstance(text, str) else "", places=2, what="amount", allow_zero=False)
    except money.AmountError as exc:
        errors["amount"] = str(exc)
    raw_day = day_entry.get("selected_date") if isinstance(day_entry, Mapping) else None
    try:
        paid_on = date.fromisoformat(raw_day) if isinstance(raw_day, str) else None
    except ValueError:
        paid_on = None
    if paid_on is None:
        errors["paid_on"] = "Choose the date the money came in."
    return amount, paid_on, errors
