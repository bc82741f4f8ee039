"""The invoice form (customer typeahead, dates, reference, lines) and the pure helpers reading what it holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bot.invoices import money
from bot.invoices.raising import DEFAULT_TERMS, MAX_LINES, Draft, DraftLine, InvoicingSetup, Resubmission
from bot.mapping.tax_codes import TaxEntry
from bot.views.invoices.modal import (
    ADD_LINE_ACTION,
    CUSTOMER_ACTION,
    FORM_CALLBACK,
    Blocks,
    FormMetadata,
    View,
    input_block,
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
        input_block(
            CUSTOMER_ACTION,
            "Customer",
            {"type": "external_select", "min_query_length": 0, "placeholder": plain("Type a customer's name", 150)},
            hint="Customers imported with /accounts import.",
        ),
        input_block("date", "Invoice date", {"type": "datepicker", "initial_date": today.isoformat()}),
        input_block(
            "due_date",
            "Due date",
            {"type": "datepicker", "initial_date": (due or today + DEFAULT_TERMS).isoformat()},
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
        _fill(blocks, again, setup.provider_title)
    if metadata.lines < MAX_LINES:
        blocks.append(
            {"type": "actions", "block_id": "invoice_lines", "elements": [button("Add a line", ADD_LINE_ACTION)]}
        )
    return modal(FORM_CALLBACK, "Raise an invoice", blocks, metadata=metadata.dumps(), submit="Preview", close="Cancel")


def _fill(blocks: Blocks, again: Resubmission, provider_title: str) -> None:
    """Fill the form in as the refused invoice was, and put the package's words in the hints of its fields."""
    initial: dict[str, dict[str, Any]] = {
        "date": {"initial_date": again.issued_on.isoformat()},
        "due_date": {"initial_date": again.due_on.isoformat()},
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
            block["hint"] = plain(f"⚠ {provider_title}: {words}", 2000)
    notice = " ".join(again.notice)
    heading = f":warning: {escape(provider_title)} did not accept this invoice"
    blocks[0] = section(f"{heading}: {escape(notice)}" if notice else f"{heading}; see the fields marked ⚠.")


_AMOUNTS = {
    "exclusive": {"text": plain("Exclude tax", 75), "value": "exclusive"},
    "inclusive": {"text": plain("Include tax", 75), "value": "inclusive"},
}


def customer_options(customers: Sequence[tuple[int, str, str | None]]) -> dict[str, Any]:
    """Typeahead answer: (our id, name, email) as options."""
    return {
        "options": [
            {"text": plain(name + (f" ({email})" if email else ""), 75), "value": str(customer_id)}
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
