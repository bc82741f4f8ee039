"""The invoice form (customer typeahead, dates, reference, lines) and the pure helpers reading what it holds."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bot.invoices import money
from bot.invoices.choices import InvoicingSetup
from bot.invoices.previews import DEFAULT_TERMS, MAX_LINES, Draft, DraftLine
from bot.invoices.refusals import Resubmission
from bot.mapping.tax_codes import TaxEntry
from bot.views.invoices.modal import (
    ADD_LINE_ACTION,
    CUSTOMER_ACTION,
    DUE_BLOCK,
    FORM_CALLBACK,
    Blocks,
    FormMetadata,
    View,
    input_block,
    is_due_block,
    modal,
    plain,
    plain_number,
    text_input,
)
from bot.views.text import button, context, escape, section, truncate


def _tax_option(tax: TaxEntry) -> dict[str, Any]:
    return {"text": plain(tax.label, 75), "value": tax.code}


def invoice_form(
    setup: InvoicingSetup,
    metadata: FormMetadata,
    *,
    today: date,
    approve: bool,
    again: Resubmission | None = None,
    customer: tuple[int, str] | None = None,
    issued: date | None = None,
) -> View:
    """Customer (typeahead over imported customers), dates, reference, tax-inclusive or not, and the lines: a
    category, description, quantity, unit price and tax code (empty: the category's default from the mapping).
    `again`: a refused invoice, filled in as it was, with the package's words under the fields they concern.
    `customer`: (our id, name) chosen already; `issued`: the invoice date shown (else today). The due date is
    `metadata.due` (else 14 days), in the block `metadata.due_block`. Choosing a customer or a due date is sent
    to us at once, so the due date can follow the customer's terms until the person picks one."""
    kind = "approved" if approve else "a draft"
    blocks: Blocks = [
        section(
            f"Raise an invoice in *{escape(setup.organisation_name)}* ({escape(setup.provider_title)}). "
            f"It is saved as {kind}; you see the totals before it is."
        ),
        input_block(
            CUSTOMER_ACTION,
            "Customer",
            {"type": "external_select", "min_query_length": 0, "placeholder": plain("Type a customer's name", 150)},
            hint="Customers imported with /accounts import.",
            dispatch=True,
        ),
        input_block("date", "Invoice date", {"type": "datepicker", "initial_date": (issued or today).isoformat()}),
        input_block(
            metadata.due_block,
            "Due date",
            {"type": "datepicker", "initial_date": (metadata.due or today + DEFAULT_TERMS).isoformat()},
            dispatch=True,
        ),
        input_block(
            "reference", "Reference", text_input(max_length=255, placeholder="Job number or site"), optional=True
        ),
        input_block(
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
        blocks[1]["element"]["initial_option"] = {"text": plain(customer[1], 75), "value": str(customer[0])}
    categories = [{"text": plain(c.category.label, 75), "value": c.category.key} for c in setup.categories]
    taxes = [_tax_option(t) for t in setup.tax_codes[:100]]
    for number in range(1, metadata.lines + 1):
        optional = number > 1
        blocks.append(context(f"*Line {number}*"))
        blocks.append(
            input_block(
                f"line_{number}_category",
                "Category",
                {"type": "static_select", "options": categories, "placeholder": plain("Sales, Labour…", 150)},
                optional=optional,
            )
        )
        blocks.append(
            input_block(
                f"line_{number}_description",
                "Description",
                text_input(max_length=3000, multiline=True),
                optional=optional,
            )
        )
        blocks.append(
            input_block(
                f"line_{number}_quantity",
                "Quantity",
                text_input(initial="1" if number == 1 else None, max_length=20, placeholder="1"),
                optional=optional,
            )
        )
        blocks.append(
            input_block(
                f"line_{number}_price", "Unit price", text_input(max_length=20, placeholder="85.00"), optional=optional
            )
        )
        if taxes:
            blocks.append(
                input_block(
                    f"line_{number}_tax",
                    "Tax code",
                    {"type": "static_select", "options": taxes, "placeholder": plain("The category's default", 150)},
                    optional=True,
                )
            )
    if again is not None:
        _fill(blocks, again, setup.provider_title, due_block=metadata.due_block)
    if metadata.lines < MAX_LINES:
        blocks.append(
            {"type": "actions", "block_id": "invoice_lines", "elements": [button("Add a line", ADD_LINE_ACTION)]}
        )
    return modal(FORM_CALLBACK, "Raise an invoice", blocks, metadata=metadata.dumps(), submit="Preview", close="Cancel")


def _fill(blocks: Blocks, again: Resubmission, provider_title: str, *, due_block: str) -> None:
    """Fill the form in as the refused invoice was, and put the package's words, in a context block, under each
    field they concern (a view updated by us, not answering a submission, cannot use Slack's own errors)."""
    initial: dict[str, dict[str, Any]] = {
        "date": {"initial_date": again.issued_on.isoformat()},
        due_block: {"initial_date": again.due_on.isoformat()},
        "amounts": {"initial_option": _AMOUNTS["inclusive" if again.inclusive else "exclusive"]},
    }
    if again.customer_id is not None:
        option = {"text": plain(again.customer_name, 75), "value": str(again.customer_id)}
        initial[CUSTOMER_ACTION] = {"initial_option": option}
    if again.reference:
        initial["reference"] = {"initial_value": again.reference}
    for number, line in enumerate(again.lines, start=1):
        prefix = f"line_{number}_"
        initial[prefix + "category"] = {"initial_value_of": line.get("category")}
        initial[prefix + "description"] = {"initial_value": line.get("description", "")[:3000]}
        initial[prefix + "quantity"] = {"initial_value": plain_number(line.get("quantity", "1"))}
        initial[prefix + "price"] = {"initial_value": plain_number(line.get("unit_price", "0"))}
        initial[prefix + "tax"] = {"initial_value_of": line.get("tax_code")}
    problems = {due_block if k == DUE_BLOCK else k: v for k, v in again.problems.items()}
    room = MAX_BLOCKS - len(blocks) - 1  # and "Add a line"; words beyond Slack's hundred blocks: the heading
    filled: Blocks = []
    for block in blocks:
        filled.append(block)
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
        if (words := problems.get(str(block_id))) is not None and room > 0:
            filled.append(_problem(str(block_id), provider_title, words))
            room -= 1
    shown = {b.get("block_id") for b in filled}
    unplaced = [words for block_id, words in problems.items() if f"{block_id}{PROBLEM_SUFFIX}" not in shown]
    notice = " ".join([*again.notice, *unplaced])
    heading = f":warning: {escape(provider_title)} did not accept this invoice"
    filled[0] = section(f"{heading}: {escape(notice)}" if notice else f"{heading}; see the fields marked ⚠.")
    blocks[:] = filled


PROBLEM_SUFFIX = "_problem"
MAX_BLOCKS = 100  # in a modal


def _problem(block_id: str, provider_title: str, words: str) -> dict[str, Any]:
    """The package's words about one field, under it."""
    return context(f"⚠ {escape(provider_title)}: {escape(words)}") | {"block_id": f"{block_id}{PROBLEM_SUFFIX}"}


_AMOUNTS = {
    "exclusive": {"text": plain("Exclude tax", 75), "value": "exclusive"},
    "inclusive": {"text": plain("Include tax", 75), "value": "inclusive"},
}


def form_with(
    shown: Mapping[str, Any],
    metadata: FormMetadata,
    *,
    due: date | None = None,
    customer: tuple[int, str] | None = None,
) -> View:
    """The form as Slack shows it (`shown`, from a payload or `views.open`), to send back carrying `metadata`: the
    due date in the block `metadata.due_block` (a new block id shows a new date: Slack keeps what an input holds
    while its block id stays), showing `due` when given; `customer` (our id, name) as the one chosen. The rest, a
    refusal's words included, stays as it is shown."""
    blocks = copy.deepcopy(list(shown.get("blocks") or []))
    for block in blocks:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, dict):
            continue
        if is_due_block(block.get("block_id")):
            block["block_id"] = element["action_id"] = metadata.due_block
            if due is not None:
                element["initial_date"] = due.isoformat()
        elif block.get("block_id") == CUSTOMER_ACTION and customer is not None:
            element["initial_option"] = {"text": plain(customer[1], 75), "value": str(customer[0])}
    view: View = {key: shown[key] for key in ("type", "callback_id", "title", "submit", "close") if shown.get(key)}
    view |= {"blocks": blocks, "private_metadata": metadata.dumps()}
    for flag in ("clear_on_close", "notify_on_close"):
        if shown.get(flag):
            view[flag] = True
    return view


def shown_date(values: object, block_id: str) -> date | None:
    """The date a view's `state.values` holds in the datepicker `block_id` (its action id is the same)."""
    entry = values.get(block_id, {}) if isinstance(values, Mapping) else {}
    chosen = entry.get(block_id) if isinstance(entry, Mapping) else None
    raw = chosen.get("selected_date") if isinstance(chosen, Mapping) else None
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        return None


def customer_options(customers: Sequence[tuple[int, str, str | None]]) -> dict[str, Any]:
    """Typeahead answer: (our id, name, email) as options."""
    return {
        "options": [
            {"text": plain(name + (f" ({email})" if email else ""), 75), "value": str(customer_id)}
            for customer_id, name, email in customers[:100]
        ]
    }


def read_form(
    values: Mapping[str, Mapping[str, Any]], lines: int, *, due_block: str = DUE_BLOCK
) -> tuple[Draft | None, dict[str, str]]:
    """The draft a submitted form holds, or the errors by field (in words) when it holds none: a block id, but
    `due_date` for the due date whatever its block (`form_errors` names the block)."""
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
    issued, due = day("date"), day(due_block)
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


def form_errors(errors: Mapping[str, str], *, has_tax: bool = True, due_block: str = DUE_BLOCK) -> dict[str, str]:
    """Errors by field (`customer`, `due_date`, `line_2_tax`, ...) → by the form's block ids, for
    `response_action: errors`; a line's error on a field the form lacks (no tax codes offered) goes to that line's
    category."""
    blocks = {"customer": CUSTOMER_ACTION, DUE_BLOCK: due_block}
    found: dict[str, str] = {}
    for key, message in errors.items():
        block = blocks.get(key, key)
        if block.endswith("_tax") and not has_tax:
            block = block.removesuffix("_tax") + "_category"
        found[block] = truncate(message, 2000)
    return found
