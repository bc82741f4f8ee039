"""The `/accounts help` message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.views.text import context, escape, section
from providers import registry

COMMANDS = (
    ("connect {package}", "connect your accounting package (admins)"),
    ("map", "choose the account code for each category (admins)"),
    ("import", "import your customers now"),
    ("import contacts all|customers|not-suppliers", "which contacts are imported as customers (admins)"),
    ("customers [search]", "the imported customers, with a CSV by direct message"),
    ("invoice", "raise an invoice for a customer (admins, or everyone with `invoice staff on`)"),
    ("invoices [unpaid|overdue]", "the invoices raised from Slack and their state"),
    ("channel #name", "where scheduled syncs report (admins)"),
    ("sync on|off|every 30m", "the scheduled sync (admins)"),
    ("status", "what is connected, and how it is doing"),
    ("disconnect", "disconnect the accounting package (admins)"),
    ("admins add @someone", "let someone besides Slack admins manage accounts-bot (admins)"),
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
        context("The app's *Home* tab shows the same status and buttons."),
    ]


def unknown_command_blocks(
    text: str, command: str = "/accounts", packages: Sequence[tuple[str, str]] | None = None
) -> list[dict[str, Any]]:
    return [
        section(f"I don't know `{escape(text)}`. Here is what I can do:"),
        *help_blocks(command, packages)[1:2],
        context(f"Type `{command} help` any time."),
    ]
