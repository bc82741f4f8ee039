"""Raising an invoice, by what each part does: what the form may offer (`choices`), the draft checked and stored
as a preview with its idempotency key (`previews`), sending it once (`sending`), and a refusal told back on the
form (`refusals`). The names callers use are all here.

A retry never raises a second invoice: the row and its key are stored at the preview; sending first claims
the row (preview → pending) in one statement, so a second submission finds nothing to claim; the package is
asked with the row's key, so a timeout, a Slack retry or a process killed mid-call is resumed with the same key
(`pending_to_resume`) and the package answers with the invoice it already made.
"""

from __future__ import annotations

from bot.invoices.choices import (
    InvoicingSetup,
    LineCategory,
    NoInvoicing,
    chosen_customer,
    customer_choices,
    setup,
)
from bot.invoices.previews import (
    DEFAULT_TERMS,
    MAX_LINES,
    Draft,
    DraftLine,
    Prepared,
    PreparedLine,
    default_due,
    prepare,
    store_preview,
)
from bot.invoices.refusals import Resubmission, resubmission
from bot.invoices.sending import (
    RESUME_AFTER,
    STATUS_OF_STATE,
    Sent,
    claim,
    complete,
    new_invoice,
    pending_to_resume,
    send,
)

__all__ = [
    "DEFAULT_TERMS",
    "MAX_LINES",
    "RESUME_AFTER",
    "STATUS_OF_STATE",
    "Draft",
    "DraftLine",
    "InvoicingSetup",
    "LineCategory",
    "NoInvoicing",
    "Prepared",
    "PreparedLine",
    "Resubmission",
    "Sent",
    "chosen_customer",
    "claim",
    "complete",
    "customer_choices",
    "default_due",
    "new_invoice",
    "pending_to_resume",
    "prepare",
    "resubmission",
    "send",
    "setup",
    "store_preview",
]
