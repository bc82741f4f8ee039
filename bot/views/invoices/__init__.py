"""The invoice views, by what they draw: the form (`form`), its preview and outcome (`preview`), the channel's
message and thread (`message`), the payment form (`payment`) and the list (`listing`); `modal` holds what they share.
Pure functions of plain data (`bot.invoices`); the names callers use are all here."""

from bot.views.invoices.form import customer_options, form_errors, form_with, invoice_form, read_form, shown_date
from bot.views.invoices.listing import ListedInvoice, invoice_list_blocks
from bot.views.invoices.message import (
    InvoiceCard,
    invoice_blocks,
    invoice_text,
    payment_recorded_text,
    state_change_text,
)
from bot.views.invoices.modal import (
    ADD_LINE_ACTION,
    CUSTOMER_ACTION,
    DUE_BLOCK,
    FIX_ACTION,
    FORM_CALLBACK,
    PAY_ACTION,
    PAYMENT_CALLBACK,
    PREVIEW_CALLBACK,
    RESULT_CALLBACK,
    ROW_ID_MAX,
    STATE_WORDS,
    FormMetadata,
    invoice_metadata,
    is_due_block,
    read_invoice_metadata,
)
from bot.views.invoices.payment import payment_form, read_payment
from bot.views.invoices.preview import (
    FIELD_WORDS,
    created_view,
    message_view,
    not_answered_text,
    not_answered_view,
    preview_view,
    refused_blocks,
    working_view,
)

__all__ = [
    "ADD_LINE_ACTION",
    "CUSTOMER_ACTION",
    "DUE_BLOCK",
    "FIELD_WORDS",
    "FIX_ACTION",
    "FORM_CALLBACK",
    "PAYMENT_CALLBACK",
    "PAY_ACTION",
    "PREVIEW_CALLBACK",
    "RESULT_CALLBACK",
    "ROW_ID_MAX",
    "STATE_WORDS",
    "FormMetadata",
    "InvoiceCard",
    "ListedInvoice",
    "created_view",
    "customer_options",
    "form_errors",
    "form_with",
    "invoice_blocks",
    "invoice_form",
    "invoice_list_blocks",
    "invoice_metadata",
    "is_due_block",
    "invoice_text",
    "message_view",
    "not_answered_text",
    "not_answered_view",
    "payment_form",
    "payment_recorded_text",
    "preview_view",
    "read_form",
    "read_invoice_metadata",
    "read_payment",
    "refused_blocks",
    "shown_date",
    "state_change_text",
    "working_view",
]
