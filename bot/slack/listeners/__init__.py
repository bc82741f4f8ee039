"""Slack listeners, grouped by feature (commands, connecting, disconnecting, importing, ...); each module has
`register(app, runtime)`."""

from __future__ import annotations

from slack_bolt import App

from bot.runtime import Runtime
from bot.slack.listeners import (
    commands,
    connecting,
    customers,
    disconnecting,
    events,
    import_settings,
    importing,
    invoicing,
    mapping,
)


def register(app: App, runtime: Runtime) -> None:
    commands.register(app, runtime)
    events.register(app, runtime)
    connecting.register(app, runtime)
    disconnecting.register(app, runtime)
    importing.register(app, runtime)
    import_settings.register(app, runtime)
    customers.register(app, runtime)
    mapping.register(app, runtime)
    invoicing.register(app, runtime)
