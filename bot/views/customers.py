"""The `/accounts customers` list: one page of customers, with paging and the CSV export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.views.importing import Blocks, number
from bot.views.text import button, context, escape, section, truncate


@dataclass(frozen=True)
class CustomerLine:
    name: str
    email: str | None
    phone: str | None
    active: bool
    possible_duplicate: bool


def customers_blocks(
    lines: Sequence[CustomerLine], *, total: int, query: str | None, page: int, page_size: int
) -> Blocks:
    """One page of the workspace's customers, with paging and the CSV export."""
    about = f" matching “{escape(query)}”" if query else ""
    if not total:
        return [section(f"No customers{about} yet. `/accounts import` brings them in from your accounting package.")]
    first = page * page_size + 1
    last = min(total, first + len(lines) - 1)
    rows = []
    for line in lines:
        extras = [escape(x) for x in (line.email, line.phone) if x]
        flags = ("" if line.active else " _(inactive)_") + (
            " _(possible duplicate)_" if line.possible_duplicate else ""
        )
        rows.append(f"• *{escape(line.name)}*{flags}" + (f" · {' · '.join(extras)}" if extras else ""))
    value = f"{page}:{query or ''}"[:150]
    elements = []
    if page > 0:
        elements.append(button("Previous", "customers_previous", value=value))
    if last < total:
        elements.append(button("Next", "customers_next", value=value))
    elements.append(button("Export as CSV", "customers_export", value=value))
    return [
        section(f"*Customers{about}*: {number(first)}–{number(last)} of {number(total)}"),
        section(truncate("\n".join(rows), 3000)),
        {"type": "actions", "block_id": "customers_pages", "elements": elements},
        context("The CSV export comes to you by direct message."),
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
