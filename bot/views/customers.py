"""The `/accounts customers` list: one page of the connected organisation's customers (or of those kept from
organisations no longer connected, each labelled with where it came from), with paging and the CSV export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.customers.lists import Scope
from bot.views.importing import Blocks, number, plural
from bot.views.text import button, context, escape, section, truncate


@dataclass(frozen=True)
class CustomerLine:
    name: str
    email: str | None
    phone: str | None
    active: bool
    possible_duplicate: bool
    source: str | None = None  # the organisation it came from, when listed apart
    customer_id: int | None = None  # ours, for its "Invoice" button


@dataclass(frozen=True)
class Kept:
    """Customers kept from an organisation no longer connected."""

    provider_title: str
    organisation_name: str
    customers: int


@dataclass(frozen=True)
class CustomerListing:
    lines: Sequence[CustomerLine]
    total: int
    query: str | None
    page: int
    page_size: int
    scope: Scope = Scope.CONNECTED
    organisation: str | None = None  # the connected one
    kept: Sequence[Kept] = field(default_factory=tuple)
    may_export: bool = True
    may_invoice: bool = False  # the package raises invoices and the person may: an "Invoice" button by each


INVOICE_ACTION = "customers_invoice"


def kept_text(kept: Sequence[Kept]) -> str:
    """`3 customers from Acme Plumbing Ltd (<package>)`, for each organisation no longer connected."""
    return ", ".join(
        f"{plural(k.customers, 'customer')} from {escape(k.organisation_name)} ({escape(k.provider_title)})"
        for k in kept
    )


def customers_blocks(listing: CustomerListing) -> Blocks:
    """One page of customers, with paging, the way to the other list, and the CSV export for who may."""
    about = f" matching “{escape(listing.query)}”" if listing.query else ""
    earlier = listing.scope == Scope.EARLIER
    whose = (
        "Customers kept from organisations no longer connected"
        if earlier
        else f"Customers of {escape(listing.organisation)}"
        if listing.organisation
        else "Customers"
    )
    other = _other_list(listing)
    if not listing.total:
        empty = (
            f"No customers{about} kept from organisations no longer connected."
            if earlier
            else f"No customers{about} yet. `/accounts import` brings them in from your accounting package."
        )
        return [section(empty), *other]
    first = listing.page * listing.page_size + 1
    last = min(listing.total, first + len(listing.lines) - 1)
    rows = []
    for line in listing.lines:
        extras = [escape(x) for x in (line.email, line.phone) if x]
        flags = ("" if line.active else " _(inactive)_") + (
            " _(possible duplicate)_" if line.possible_duplicate else ""
        )
        source = f" _(from {escape(line.source)})_" if line.source else ""
        rows.append(f"• {escape(line.name)}{source}{flags}" + (f" · {' · '.join(extras)}" if extras else ""))
    prefix = "e" if earlier else ""
    value = f"{prefix}{listing.page}:{listing.query or ''}"[:150]
    elements = []
    if listing.page > 0:
        elements.append(button("Previous", "customers_previous", value=value))
    if last < listing.total:
        elements.append(button("Next", "customers_next", value=value))
    if listing.may_export:
        elements.append(button("Export as CSV", "customers_export", value=value))
    heading = section(f"*{whose}{about}*: {number(first)}–{number(last)} of {number(listing.total)}")
    if listing.may_invoice and not earlier:
        blocks = [heading, *_invoiceable(listing, rows)]
    else:
        blocks = [heading, section(truncate("\n".join(rows), 3000))]
    if elements:
        blocks.append({"type": "actions", "block_id": "customers_pages", "elements": elements})
    if listing.may_export:
        blocks.append(context("The CSV export comes to you by direct message."))
    return [*blocks, *other]


def _invoiceable(listing: CustomerListing, rows: Sequence[str]) -> Blocks:
    """One section a customer, with an "Invoice" button that opens the invoice form with them chosen (active
    customers of the connected organisation only: the form offers no others)."""
    blocks = []
    for line, row in zip(listing.lines, rows, strict=True):
        block = section(truncate(row, 3000))
        if line.active and line.customer_id is not None:
            block["block_id"] = f"customer_{line.customer_id}"
            block["accessory"] = button("Invoice", INVOICE_ACTION, value=str(line.customer_id))
        blocks.append(block)
    return blocks


def _other_list(listing: CustomerListing) -> Blocks:
    """The way from one list to the other: the kept customers are never mixed into the connected one's."""
    if listing.scope == Scope.EARLIER:
        if listing.organisation is None:
            return []
        back = button(f"Customers of {truncate(listing.organisation, 50)}", "customers_connected", value="0:")
        return [{"type": "actions", "block_id": "customers_other", "elements": [back]}]
    if not listing.kept:
        return []
    return [
        context(f"Also kept, not part of this list: {kept_text(listing.kept)}."),
        {
            "type": "actions",
            "block_id": "customers_other",
            "elements": [button("Show the kept customers", "customers_earlier", value="e0:")],
        },
    ]


def export_comment(rows: int, query: str | None) -> str:
    about = f" matching “{escape(query)}”" if query else ""
    return f"{number(rows)} customers{about}, as you asked. This is personal data: please keep it safe."


def export_failed_text(reason: str) -> str:
    return (
        f"I couldn't send you the CSV file (Slack said: {escape(reason)}). Nothing was shared anywhere else. "
        "Try *Export as CSV* again in a minute; if it keeps failing, ask an admin whether file uploads are allowed "
        "in this workspace."
    )


def export_setting_text(*, everyone: bool, command: str = "/accounts", changed: bool = False) -> str:
    who = "everyone in the workspace" if everyone else "only admins"
    if changed:
        return f"From now on {who} may export the customers as CSV. Every export is in `{command} audit`."
    return (
        f"*Who may export the customers as CSV:* {who}. An admin can change it: `{command} export staff on` "
        f"(everyone) or `{command} export staff off` (admins only). Every export is in `{command} audit`."
    )


def export_usage_text(command: str = "/accounts") -> str:
    return f"Usage: `{command} export staff on` (everyone may export customers) or `{command} export staff off`."
