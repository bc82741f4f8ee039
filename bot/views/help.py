"""The `/accounts help` message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.views.text import context, escape, section
from providers import registry

COMMANDS = (
    ("connect {package}", "connect your accounting package (admins)"),
    ("status", "what is connected, and how it is doing"),
    ("map", "choose the account code for each category (admins)"),
    ("import", "import your customers now (admins, or everyone after `import staff on`)"),
    ("import staff on|off", "let everyone import, or only admins (admins)"),
    ("import contacts all|customers|not-suppliers", "which contacts are imported as customers (admins)"),
    ("customers [search]", "the connected organisation's customers, with a CSV by direct message for admins"),
    ("invoice", "raise an invoice for a customer (admins, or everyone after `invoice staff on`)"),
    ("invoice staff on|off", "let everyone raise invoices, or only admins (admins)"),
    ("invoice approved on|off", "raise invoices approved, not as drafts (admins)"),
    ("invoices [unpaid|overdue]", "the invoices raised from Slack and their state"),
    ("export staff on|off", "let everyone export the customers as CSV, or only admins, the default (admins)"),
    ("channel #name", "where imports from App Home and scheduled syncs report (admins)"),
    ("channel here", "report in the channel you type it in (admins)"),
    ("sync on|off|every 30m", "the scheduled sync; `sync` alone says how it is set (admins)"),
    ("disconnect", "disconnect the accounting package (admins)"),
    ("admins", "who may manage accounts-bot besides Slack's admins and owners"),
    ("admins add @someone", "let someone manage accounts-bot (admins)"),
    ("admins remove @someone", "take that back (admins)"),
    ("audit", "the latest changes to the setup (admins)"),
    ("help", "this list"),
)


def help_blocks(
    command: str = "/accounts",
    packages: Sequence[tuple[str, str]] | None = None,
    coming_soon: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """`packages` are the (name, title) of the accounting packages to name; by default every one accounts-bot
    can connect (`providers.registry`)."""
    packages = tuple(registry.titles().items()) if packages is None else packages
    names = "|".join(name for name, _ in packages) or "package"
    offered = ", ".join(title for _, title in packages) or "none is set up on this bot yet"
    lines = []
    for name, what in COMMANDS:
        soon = " _(coming soon)_" if name.split()[0] in coming_soon else ""
        lines.append(f"`{command} {name.format(package=names)}`: {what}{soon}")
    return [
        section(
            f"*accounts-bot* connects your accounting package ({escape(offered)}) to Slack: pick your account "
            "codes and import your customers without leaving Slack."
        ),
        section("\n".join(lines)),
        context(
            "_(admins)_: Slack's workspace admins and owners, and the people added with "
            f"`{command} admins add`. The app's *Home* tab shows the same status and buttons."
        ),
    ]


def unknown_command_blocks(
    text: str, command: str = "/accounts", packages: Sequence[tuple[str, str]] | None = None
) -> list[dict[str, Any]]:
    return [
        section(f"I don't know `{escape(text)}`. Here is what I can do:"),
        *help_blocks(command, packages)[1:2],
        context(f"Type `{command} help` any time."),
    ]
