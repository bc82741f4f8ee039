"""Disconnecting from Slack: `/accounts disconnect`, the button on App Home, and the confirmation, whose button
names the version of the connection it was shown for."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.connections import connect
from bot.runtime import Runtime
from bot.slack import payload
from bot.slack.authorisation import authorised
from bot.slack.requests import Asker, Reply, dm_reply
from bot.views import connect as views
from bot.views.text import escape


def start_disconnect(asker: Asker, reply: Reply) -> None:
    """Ask to confirm disconnecting the workspace's connection."""
    if not authorised(asker, reply, action="disconnect", what="disconnect"):
        return
    with asker.runtime.db.session() as s:
        current = connect.active_connection(s, workspace_id=asker.workspace_id)
        if current is None:
            reply(text="Nothing is connected, so there is nothing to disconnect.")
            return
        title = asker.runtime.provider_title(current.provider)
        reply(
            blocks=views.disconnect_confirm_blocks(title, current.organisation_name, version=connect.version(current)),
            text="Disconnect?",
        )


VERSION = re.compile(r"[0-9]{1,10}:[0-9]{1,20}")


def confirmed_connection(action: dict[str, Any]) -> str | None:
    """The version of the connection a Disconnect button was shown for (`connect.version`)."""
    value = action.get("value")
    return value if isinstance(value, str) and VERSION.fullmatch(value) else None


def disconnect(asker: Asker, reply: Reply, *, shown_for: str | None) -> None:
    """Disconnect the connection the confirmation was shown for, if it is still the workspace's, and say what
    happened; a button shown for an earlier connection changes nothing."""
    if not authorised(asker, reply, action="disconnect", what="disconnect"):
        return
    runtime = asker.runtime
    with runtime.db.session() as s:
        current = connect.active_connection(s, workspace_id=asker.workspace_id)
        if current is None:
            reply(text="Nothing is connected any more; nothing changed.")
            return
        if shown_for is None:
            reply(text=payload.expired("/accounts disconnect"))
            return
        if connect.version(current) != shown_for:
            reply(text="That button is for a connection that was replaced: run `/accounts disconnect` again.")
            return
        connection_id, provider_name = current.id, current.provider
    provider = runtime.providers.get(provider_name)
    if provider is None:
        reply(text=f"{provider_name} is no longer set up on this bot, so it cannot be disconnected there.")
        return
    done = connect.retire(runtime.db, provider, connection_id, actor=asker.user_id, action="connection.disconnected")
    reply(
        blocks=views.disconnected_blocks(provider.title, done.organisation_name, done.status_detail),
        text=f"Disconnected {escape(done.organisation_name)}",
    )
    runtime.workspace_changed(asker.team_id)


def register(app: App, runtime: Runtime) -> None:
    @app.action("disconnect_start")
    def disconnect_clicked(ack: Ack, context: BoltContext) -> None:
        """The button on App Home, where there is no message to answer: replies go by direct message."""
        ack()
        asker = Asker.of(runtime, context)
        start_disconnect(asker, dm_reply(asker.client, asker.user_id))

    @app.action("disconnect_confirm")
    def disconnect_confirmed(
        ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond, action: dict[str, Any]
    ) -> None:
        ack()
        asker = Asker.of(runtime, context)
        reply = payload.where_clicked(asker, body, respond, replace=True)
        disconnect(asker, reply, shown_for=confirmed_connection(action))

    @app.action("disconnect_cancel")
    def disconnect_cancelled(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        ack()
        reply = payload.where_clicked(Asker.of(runtime, context), body, respond, replace=True)
        reply(text="Still connected; nothing changed.")
