"""The invoice form, its preview, what the channel is told about an invoice, the payment form and the list of
invoices: pure functions of plain data (`bot.invoices`), and the pure helpers reading their submitted state."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from bot.invoices import money
from bot.invoices.raising import DEFAULT_TERMS, MAX_LINES, Draft, DraftLine, InvoicingSetup, Resubmission
from bot.mapping.tax_codes import TaxEntry
from bot.views.text import SLACK_ID, button, context, escape, mention, section, truncate

View = dict[str, Any]
Blocks = list[dict[str, Any]]

FORM_CALLBACK = "invoice_form"
PREVIEW_CALLBACK = "invoice_preview"
RESULT_CALLBACK = "invoice_result"
PAYMENT_CALLBACK = "invoice_payment"
CUSTOMER_ACTION = "invoice_customer"
ADD_LINE_ACTION = "invoice_add_line"
PAY_ACTION = "invoice_record_payment"
FIX_ACTION = "invoice_change"
ROW_ID_MAX = 2**31 - 1
STATE_WORDS = {
    "preview": "not sent",
    "pending": "being created",
    "failed": "refused",
    "draft": "draft",
    "submitted": "awaiting approval",
    "approved": "approved",
    "paid": "paid",
    "voided": "voided",
    "deleted": "deleted",
}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def _modal(callback_id: str, title: str, blocks: Blocks, *, metadata: str, submit: str | None, close: str) -> View:
    view: View = {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title, 24),
        "close": _plain(close, 24),
        "blocks": blocks,
        "private_metadata": metadata,
    }
    if submit:
        view["submit"] = _plain(submit, 24)
    return view


# -- metadata --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormMetadata:
    connection_id: int
    channel_id: str | None
    lines: int = 1

    def dumps(self) -> str:
        return json.dumps({"c": self.connection_id, "ch": self.channel_id, "n": self.lines}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: object) -> FormMetadata | None:
        data = _json(text)
        if data is None:
            return None
        connection_id, channel_id, lines = data.get("c"), data.get("ch"), data.get("n", 1)
        if (
            type(connection_id) is not int
            or not _row_id(connection_id)
            or type(lines) is not int
            or not 1 <= lines <= MAX_LINES
        ):
            return None
        if channel_id is not None and not (isinstance(channel_id, str) and SLACK_ID.fullmatch(channel_id)):
            return None
        return cls(connection_id, channel_id or None, lines)


def invoice_metadata(invoice_id: int) -> str:
    return json.dumps({"i": invoice_id})


def read_invoice_metadata(text: object) -> int | None:
    data = _json(text)
    invoice_id = data.get("i") if data else None
    return invoice_id if _row_id(invoice_id) else None  # type: ignore[return-value]


def _json(text: object) -> dict[str, Any] | None:
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _row_id(value: object) -> bool:
    return type(value) is int and 1 <= value <= ROW_ID_MAX


# -- the form --------------------------------------------------------------------------------------


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str = "") -> dict:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": _plain(label, 2000),
        "element": element | {"action_id": block_id},
    }
    if hint:
        block["hint"] = _plain(hint, 2000)
    return block


def _text(
    *, initial: str | None = None, placeholder: str = "", max_length: int = 3000, multiline: bool = False
) -> dict:
    element: dict[str, Any] = {"type": "plain_text_input", "max_length": max_length, "multiline": multiline}
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = _plain(placeholder, 150)
    return element


def _tax_option(tax: TaxEntry) -> dict[str, Any]:
    return {"text": _plain(tax.label, 75), "value": tax.code}


def invoice_form(
    setup: InvoicingSetup,
    metadata: FormMetadata,
    *,
    today: date,
    approve: bool,
    again: Resubmission | None = None,
    customer: tuple[int, str] | None = None,
    due: date | None = None,
) -> View:
    """Customer (typeahead over imported customers), dates, reference, tax-inclusive or not, and the lines: a
    category, description, quantity, unit price and tax code (empty: the category's default from the mapping).
    `again`: a refused invoice, filled in as it was, with the package's words beside the fields they concern.
    `customer`: (our id, name) chosen already; `due`: the due date the package's terms give (else 14 days)."""
    kind = "approved" if approve else "a draft"
    blocks: Blocks = [
        section(
            f"Raise an invoice in *{escape(setup.organisation_name)}* ({escape(setup.provider_title)}). "
            f"It is saved as {kind}; you see the totals before it is."
        ),
        _input(
            CUSTOMER_ACTION,
            "Customer",
            {"type": "external_select", "min_query_length": 0, "placeholder": _plain("Type a customer's name", 150)},
            hint="Customers imported with /accounts import.",
        ),
        _input("date", "Invoice date", {"type": "datepicker", "initial_date": today.isoformat()}),
        _input(
            "due_date",
            "Due date",
            {"type": "datepicker", "initial_date": (due or today + DEFAULT_TERMS).isoformat()},
        ),
        _input("reference", "Reference", _text(max_length=255, placeholder="Job number or site"), optional=True),
        _input(
            "amounts",
            "Unit prices",
            {
                "type": "radio_buttons",
                "options": [_AMOUNTS["exclusive"], _AMOUNTS["inclusive"]],
                "initial_option": _AMOUNTS["exclusive"],
            },
        ),
    ]
    if customer is not None:
        blocks[1]["element"]["initial_option"] = {"text": _plain(customer[1], 75), "value": str(customer[0])}
    categories = [{"text": _plain(c.category.label, 75), "value": c.category.key} for c in setup.categories]
    taxes = [_tax_option(t) for t in setup.tax_codes[:100]]
    for number in range(1, metadata.lines + 1):
        optional = number > 1
        blocks.append(context(f"*Line {number}*"))
        blocks.append(
            _input(
                f"line_{number}_category",
                "Category",
                {"type": "static_select", "options": categories, "placeholder": _plain("Sales, Labour…", 150)},
                optional=optional,
            )
        )
        blocks.append(
            _input(
                f"line_{number}_description", "Description", _text(max_length=3000, multiline=True), optional=optional
            )
        )
        blocks.append(
            _input(
                f"line_{number}_quantity",
                "Quantity",
                _text(initial="1" if number == 1 else None, max_length=20, placeholder="1"),
                optional=optional,
            )
        )
        blocks.append(
            _input(f"line_{number}_price", "Unit price", _text(max_length=20, placeholder="85.00"), optional=optional)
        )
        if taxes:
            blocks.append(
                _input(
                    f"line_{number}_tax",
                    "Tax code",
                    {"type": "static_select", "options": taxes, "placeholder": _plain("The category's default", 150)},
                    optional=True,
                )
            )
    if again is not None:
        _fill(blocks, again, setup.provider_title)
    if metadata.lines < MAX_LINES:
        blocks.append(
            {"type": "actions", "block_id": "invoice_lines", "elements": [button("Add a line", ADD_LINE_ACTION)]}
        )
    return _modal(
        FORM_CALLBACK, "Raise an invoice", blocks, metadata=metadata.dumps(), submit="Preview", close="Cancel"
    )


def _fill(blocks: Blocks, again: Resubmission, provider_title: str) -> None:
    """Fill the form in as the refused invoice was, and put the package's words in the hints of its fields."""
    initial: dict[str, dict[str, Any]] = {
        "date": {"initial_date": again.issued_on.isoformat()},
        "due_date": {"initial_date": again.due_on.isoformat()},
        "amounts": {"initial_option": _AMOUNTS["inclusive" if again.inclusive else "exclusive"]},
    }
    if again.customer_id is not None:
        option = {"text": _plain(again.customer_name, 75), "value": str(again.customer_id)}
        initial[CUSTOMER_ACTION] = {"initial_option": option}
    if again.reference:
        initial["reference"] = {"initial_value": again.reference}
    for number, line in enumerate(again.lines, start=1):
        prefix = f"line_{number}_"
        initial[prefix + "category"] = {"initial_value_of": line.get("category")}
        initial[prefix + "description"] = {"initial_value": line.get("description", "")[:3000]}
        initial[prefix + "quantity"] = {"initial_value": _number(line.get("quantity", "1"))}
        initial[prefix + "price"] = {"initial_value": _number(line.get("unit_price", "0"))}
        initial[prefix + "tax"] = {"initial_value_of": line.get("tax_code")}
    for block in blocks:
        block_id, element = block.get("block_id"), block.get("element")
        if not isinstance(element, dict) or block_id not in initial:
            continue
        for key, value in initial[block_id].items():
            if key == "initial_value_of":  # a menu: the option whose value it is, if it is still offered
                chosen = next((o for o in element.get("options", []) if o["value"] == value), None)
                if chosen is not None:
                    element["initial_option"] = chosen
            elif value:
                element[key] = value
        if (words := again.problems.get(str(block_id))) is not None:
            block["hint"] = _plain(f"⚠ {provider_title}: {words}", 2000)
    notice = " ".join(again.notice)
    heading = f":warning: {escape(provider_title)} did not accept this invoice"
    blocks[0] = section(f"{heading}: {escape(notice)}" if notice else f"{heading}; see the fields marked ⚠.")


_AMOUNTS = {
    "exclusive": {"text": _plain("Exclude tax", 75), "value": "exclusive"},
    "inclusive": {"text": _plain("Include tax", 75), "value": "inclusive"},
}


def customer_options(customers: Sequence[tuple[int, str, str | None]]) -> dict[str, Any]:
    """Typeahead answer: (our id, name, email) as options."""
    return {
        "options": [
            {"text": _plain(name + (f" ({email})" if email else ""), 75), "value": str(customer_id)}
            for customer_id, name, email in customers[:100]
        ]
    }


def read_form(values: Mapping[str, Mapping[str, Any]], lines: int) -> tuple[Draft | None, dict[str, str]]:
    """The draft a submitted form holds, or the errors by block id (in words) when it holds none."""
    errors: dict[str, str] = {}

    def entry(block: str) -> Mapping[str, Any]:
        found = values.get(block, {}).get(block)
        return found if isinstance(found, Mapping) else {}

    def option(block: str) -> str | None:
        chosen = entry(block).get("selected_option")
        value = chosen.get("value") if isinstance(chosen, Mapping) else None
        return value if isinstance(value, str) and value and len(value) <= 150 else None

    def text(block: str) -> str:
        value = entry(block).get("value")
        return value.strip() if isinstance(value, str) else ""

    def day(block: str) -> date | None:
        value = entry(block).get("selected_date")
        try:
            return date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    customer = option(CUSTOMER_ACTION)
    customer_id = int(customer) if customer and customer.isdigit() and len(customer) < 10 else None
    if customer_id is None:
        errors[CUSTOMER_ACTION] = "Choose the customer."
    issued, due = day("date"), day("due_date")
    if issued is None:
        errors["date"] = "Choose the invoice date."
    if due is None:
        errors["due_date"] = "Choose the due date."
    reference = text("reference")[:255] or None
    inclusive = option("amounts") == "inclusive"
    drafted: list[DraftLine] = []
    for number in range(1, lines + 1):
        prefix = f"line_{number}_"
        category, description = option(prefix + "category"), _clean(text(prefix + "description"))
        quantity_text, price_text = text(prefix + "quantity"), text(prefix + "price")
        if number > 1 and not (category or description or price_text or quantity_text not in ("", "1")):
            continue  # an empty extra line
        if category is None:
            errors[prefix + "category"] = "Choose what this line is for."
        if not description:
            errors[prefix + "description"] = "Describe the work or goods."
        try:
            quantity = money.parse_amount(
                quantity_text or "1", places=money.QUANTITY_PLACES, what="quantity", allow_zero=False
            )
        except money.AmountError as exc:
            errors[prefix + "quantity"] = str(exc)
            quantity = None
        try:
            price = money.parse_amount(price_text, places=money.PRICE_PLACES, what="unit price")
        except money.AmountError as exc:
            errors[prefix + "price"] = str(exc)
            price = None
        if category and description and quantity is not None and price is not None:
            drafted.append(DraftLine(category, description, quantity, price, option(prefix + "tax")))
    if errors or customer_id is None or issued is None or due is None:
        return None, errors
    return Draft(customer_id, issued, due, reference, inclusive, tuple(drafted)), {}


def _clean(text: str) -> str:
    """Control characters out (NUL and the like never reach the package), at most 3,000 characters (Slack's limit)."""
    return "".join(ch for ch in text if ch == "\n" or ch >= " ")[:3000]


def form_errors(errors: Mapping[str, str], *, has_tax: bool = True) -> dict[str, str]:
    """Errors by field (`customer`, `line_2_tax`, ...) → by the form's block ids, for `response_action: errors`; a
    line's error on a field the form lacks (no tax codes offered) goes to that line's category."""
    blocks = {"customer": CUSTOMER_ACTION}
    found: dict[str, str] = {}
    for key, message in errors.items():
        block = blocks.get(key, key)
        if block.endswith("_tax") and not has_tax:
            block = block.removesuffix("_tax") + "_category"
        found[block] = truncate(message, 2000)
    return found


# -- preview and outcome ----------------------------------------------------------------------------


def _line_text(line: Mapping[str, str], currency: str | None) -> str:
    return (
        f"*{escape(line['description'][:200])}*\n"
        f"{_number(line['quantity'])} × {_number(line['unit_price'])} = "
        f"{money.shown(Decimal(line['amount']), currency)} · {escape(line['account'])} · "
        f"{escape(line['tax'])}: {money.shown(Decimal(line['tax_amount']), currency)}"
    )


def _number(text: str) -> str:
    value = Decimal(text)
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


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
    return _modal(
        PREVIEW_CALLBACK,
        "Check the invoice",
        blocks,
        metadata=invoice_metadata(invoice_id),
        submit="Create invoice",
        close="Back",
    )


def working_view(provider_title: str) -> View:
    return _modal(
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
    return _modal(RESULT_CALLBACK, "Raise an invoice", [section(text)], metadata="", submit=None, close="Close")


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


# -- the channel ------------------------------------------------------------------------------------


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


def payment_form(
    *, invoice_id: int, number: str | None, amount_due: Decimal, currency: str | None, account: str, today: date
) -> View:
    blocks: Blocks = [
        section(
            f"Record a payment against invoice *{escape(number or '')}* ({money.shown(amount_due, currency)} due)."
        ),
        _input("amount", "Amount received", _text(initial=f"{money.cents(amount_due):f}", max_length=20)),
        _input("paid_on", "Date received", {"type": "datepicker", "initial_date": today.isoformat()}),
        context(f"Paid into {escape(account)} (Payments received, from the mapping)."),
    ]
    return _modal(
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


# -- the list ---------------------------------------------------------------------------------------


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
