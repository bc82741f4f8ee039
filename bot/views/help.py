"""The `/accounts help` message."""

from __future__ import annotations

from typing import Any

from bot.views.text import context, escape, section

COMMANDS = (
    ("connect xero", "connect your accounting package (admins)"),
    ("map", "choose the account code for each category (admins)"),
    ("import", "import your customers now"),
    ("import contacts all|customers|not-suppliers", "which contacts are imported as customers (admins)"),
    ("customers [search]", "the imported customers, with a CSV by direct message"),
    ("channel #name", "where scheduled syncs report (admins)"),
    ("sync on|off|every 30m", "the scheduled sync (admins)"),
    ("status", "what is connected, and how it is doing"),
    ("disconnect", "disconnect the accounting package (admins)"),
    ("admins add @someone", "let someone besides Slack admins manage accounts-bot (admins)"),
    ("audit", "the latest changes to the setup (admins)"),
    ("help", "this list"),
)


def help_blocks(command: str = "/accounts", coming_soon: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    lines = []
    for name, what in COMMANDS:
        soon = " _(coming soon)_" if name.split()[0] in coming_soon else ""
        lines.append(f"`{command} {name}`: {what}{soon}")
    return [
        section(
            "*accounts-bot* connects your accounting package (Xero, MYOB AccountRight, QuickBooks Online) "
            "to Slack: pick your account codes and import your customers without leaving Slack."
        ),
        section("\n".join(lines)),
        context("The app's *Home* tab shows the same status and buttons."),
    ]


def unknown_command_blocks(text: str, command: str = "/accounts") -> list[dict[str, Any]]:
    return [
        section(f"I don't know `{escape(text)}`. Here is what I can do:"),
        *help_blocks(command)[1:2],
        context(f"Type `{command} help` any time."),
    ]
