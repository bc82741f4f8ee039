"""Disconnecting from Slack: `/accounts disconnect`, the button on App Home, and the confirmation."""

from __future__ import annotations

from slack_bolt import Ack, App, BoltContext, Respond

from bot.connections import connect
from bot.runtime import Runtime
from bot.slack.authorisation import authorised
from bot.slack.requests import Asker, Reply, dm_reply, responder
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
        reply(blocks=views.disconnect_confirm_blocks(title, current.organisation_name), text="Disconnect?")


def disconnect(asker: Asker, reply: Reply) -> None:
    """Disconnect the workspace's connection (confirmed), and say what happened."""
    if not authorised(asker, reply, action="disconnect", what="disconnect"):
        return
    runtime = asker.runtime
    with runtime.db.session() as s:
        current = connect.active_connection(s, workspace_id=asker.workspace_id)
        if current is None:
            reply(text="Nothing is connected any more; nothing changed.")
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
    def disconnect_confirmed(ack: Ack, context: BoltContext, respond: Respond) -> None:
        ack()
        disconnect(Asker.of(runtime, context), responder(respond, replace=True))

    @app.action("disconnect_cancel")
    def disconnect_cancelled(ack: Ack, respond: Respond) -> None:
        ack()
        respond(replace_original=True, text="Still connected; nothing changed.")
