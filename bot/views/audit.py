"""`/accounts audit`: the workspace's latest changes, each a sentence with names and links
(`@Ann set the channel to #accounts`), never our internal codes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.customers.rows import CUSTOMER_FILTERS
from bot.views.text import SLACK_ID, escape, mention, section, slack_date, truncate
from storage.models import AuditEvent

# What a refused person tried to do, by the action `bot.slack.authorisation.authorised` was asked about.
REFUSED = {
    "connect": "connect an accounting package",
    "disconnect": "disconnect the accounting package",
    "map": "change the account mapping",
    "admins.add": "add an admin",
    "admins.remove": "remove an admin",
    "audit": "read the audit log",
    "import": "import customers",
    "import.cancel": "cancel an import",
    "import.retry": "retry an import",
    "import.staff": "change who imports",
    "import.contacts": "change which contacts are imported",
    "export": "export the customers as CSV",
    "export.staff": "change who exports customers",
    "channel": "choose the channel",
    "sync": "change the scheduled sync",
}


@dataclass(frozen=True)
class AuditNames:
    """What the sentences name besides people: packages by title, connections by organisation."""

    titles: Mapping[str, str]  # package name -> title
    organisations: Mapping[int, str]  # connection id -> organisation name

    def package(self, name: Any) -> str:
        return escape(self.titles.get(str(name), str(name))) if name else "the accounting package"

    def organisation(self, connection_id: Any) -> str:
        name = self.organisations.get(connection_id) if isinstance(connection_id, int) else None
        return escape(name) if name else "an earlier organisation"


def connection_ids(events: Sequence[AuditEvent]) -> set[int]:
    """The connections the events name, for `AuditNames.organisations`."""
    found: set[int] = set()
    for event in events:
        detail = event.detail or {}
        for value in (detail.get("connection"), *_listed(detail.get("replaced"))):
            if isinstance(value, int):
                found.add(value)
    return found


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _person(value: Any) -> str:
    return mention(value) if isinstance(value, str) else "someone"


def _who(event: AuditEvent) -> str:
    return mention(event.actor_user_id) if event.actor_user_id else "accounts-bot"


def _channel(value: Any) -> str:
    return f"<#{value}>" if isinstance(value, str) and SLACK_ID.fullmatch(value) else "a channel"


def _contacts(value: Any) -> str:
    return escape(CUSTOMER_FILTERS.get(str(value), str(value)))


def _every(minutes: Any) -> str:
    if not isinstance(minutes, int):
        return ""
    if minutes % 60 == 0:
        return "every hour" if minutes == 60 else f"every {minutes // 60} hours"
    return f"every {minutes} minutes"


def _connected(verb: str) -> Callable[[AuditEvent, dict[str, Any], AuditNames], str]:
    def sentence(event: AuditEvent, d: dict[str, Any], names: AuditNames) -> str:
        text = f"{_who(event)} {verb} {names.package(d.get('provider'))} ({escape(str(d.get('organisation', '')))})"
        replaced = [names.organisation(c) for c in _listed(d.get("replaced"))]
        if replaced:
            text += f", replacing {', '.join(replaced)}"
        if d.get("remote_error"):
            text += f" ({names.package(d.get('provider'))} said: {escape(str(d['remote_error']))})"
        return text

    return sentence


def _sync(event: AuditEvent, d: dict[str, Any], names: AuditNames) -> str:
    if not d.get("enabled"):
        return f"{_who(event)} turned the scheduled sync off"
    every = _every(d.get("every"))
    return f"{_who(event)} set the scheduled sync to run {every}" if every else f"{_who(event)} turned the sync on"


def _exported(event: AuditEvent, d: dict[str, Any], names: AuditNames) -> str:
    rows = d.get("rows")
    count = f"{rows} customer{'s' if rows != 1 else ''}" if isinstance(rows, int) else "customers"
    which = " kept from organisations no longer connected" if d.get("earlier") else ""
    search = f" matching “{escape(str(d['search']))}”" if d.get("search") else ""
    if d.get("import"):
        return f"{_who(event)} was sent the {count} new in an import as CSV, by direct message"
    return f"{_who(event)} exported {count}{which}{search} as CSV"


SENTENCES: dict[str, Callable[[AuditEvent, dict[str, Any], AuditNames], str]] = {
    "connection.connected": _connected("connected"),
    "connection.reconnected": _connected("reconnected"),
    "connection.replaced": _connected("replaced the connection to"),
    "connection.disconnected": _connected("disconnected"),
    "admins.added": lambda e, d, n: f"{_who(e)} let {_person(d.get('user'))} manage accounts-bot",
    "admins.removed": lambda e, d, n: f"{_who(e)} took {_person(d.get('user'))} off the accounts-bot admins",
    "refused": lambda e, d, n: (
        f"{_who(e)} tried to {REFUSED.get(str(d.get('action')), 'make a change only admins may make')} "
        "and was told only admins can"
    ),
    "mapping.saved": lambda e, d, n: f"{_who(e)} saved the account mapping for {n.organisation(d.get('connection'))}",
    "slack.installed": lambda e, d, n: f"{_who(e)} installed accounts-bot in Slack",
    "slack.uninstalled": lambda e, d, n: "accounts-bot was removed from Slack (uninstalled, or its token revoked)",
    "slack.token_works": lambda e, d, n: "accounts-bot started again with a Slack token that works; syncs resume",
    "channel.set": lambda e, d, n: f"{_who(e)} set the channel to {_channel(d.get('channel'))}",
    "import.staff": lambda e, d, n: (
        f"{_who(e)} let everyone import customers"
        if d.get("allowed")
        else f"{_who(e)} made importing customers admins-only"
    ),
    "export.staff": lambda e, d, n: (
        f"{_who(e)} let everyone export the customers as CSV"
        if d.get("allowed")
        else f"{_who(e)} made exporting customers admins-only"
    ),
    "import.contacts": lambda e, d, n: (
        f"{_who(e)} changed which contacts are imported as customers to {_contacts(d.get('contacts'))} "
        f"(it was {_contacts(d.get('was'))})"
    ),
    "sync.changed": _sync,
    "import.started": lambda e, d, n: f"{_who(e)} started an import of customers",
    "import.cancelled": lambda e, d, n: f"{_who(e)} cancelled an import",
    "customers.exported": _exported,
}


def audit_sentence(event: AuditEvent, names: AuditNames) -> str:
    detail = dict(event.detail or {})
    sentence = SENTENCES.get(event.action)
    if sentence is None:
        return f"{_who(event)} made a change ({escape(event.action)})"
    return sentence(event, detail, names)


def audit_blocks(events: Sequence[AuditEvent], names: AuditNames | None = None) -> list[dict[str, Any]]:
    if not events:
        return [section("Nothing in the audit log yet.")]
    names = names or AuditNames({}, {})
    lines = [f"• {slack_date(event.created_at)}: {audit_sentence(event, names)}." for event in events]
    return [section("*Latest changes*"), section(truncate("\n".join(lines), 3000))]
