"""Connect and disconnect from Slack: `/accounts connect|disconnect`, their buttons, and the picker."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.connections import connect
from bot.runtime import Runtime
from bot.slack.authorisation import authorised
from bot.slack.connected import announce_connected
from bot.slack.requests import Asker, Reply, dm_reply, responder
from bot.views import connect as views
from bot.views.text import escape
from storage.models import PendingConnection

log = logging.getLogger(__name__)


def start_connect(
    asker: Asker, reply: Reply, *, channel_id: str | None, provider_name: str | None, replace: bool = False
) -> None:
    """Offer the log-in button (or the package picker, or the replace question)."""
    if not authorised(asker, reply, action="connect", what="connect an accounting package"):
        return
    runtime = asker.runtime
    if not provider_name:
        reply(blocks=views.choose_provider_blocks(runtime.provider_choices()), text="Which accounting package?")
        return
    provider = runtime.providers.get(provider_name.lower())
    if provider is None:
        known = ", ".join(f"`{name}`" for name, _ in runtime.provider_choices()) or "none is set up yet"
        reply(text=f"I don't know the accounting package `{escape(provider_name)}`. Available: {known}.")
        return
    with runtime.db.session() as s:
        current = connect.active_connection(s, workspace_id=asker.workspace_id)
        if current is not None and not replace:
            reply(
                blocks=views.replace_blocks(
                    runtime.provider_title(current.provider), current.organisation_name, provider.name, provider.title
                ),
                text=f"Already connected to {escape(current.organisation_name)}",
            )
            return
        link = connect.begin(
            s,
            runtime.db,
            workspace_id=asker.workspace_id,
            user_id=asker.user_id,
            channel_id=channel_id,
            provider=provider,
            redirect_uri=runtime.settings.redirect_uri(provider.name),
            now=runtime.clock(),
        )
    reply(blocks=views.login_blocks(provider.title, link.url, link.expires_at), text=f"Log in to {provider.title}")


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
    @app.action({"action_id": "connect_login"})
    def login_clicked(ack: Ack) -> None:
        ack()  # a link button: the browser opens the URL, Slack only tells us it was clicked

    for name in ("xero", "myob", "quickbooks"):

        @app.action(f"connect_{name}")
        def connect_clicked(
            ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond, action: dict[str, Any]
        ) -> None:
            ack()
            asker = Asker.of(runtime, context)
            start_connect(
                asker,
                _reply_where_clicked(asker, body, respond),
                channel_id=(body.get("channel") or {}).get("id"),
                provider_name=action.get("value") or action["action_id"].removeprefix("connect_"),
            )

    @app.action("connect_replace")
    def replace_clicked(
        ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond, action: dict[str, Any]
    ) -> None:
        ack()
        start_connect(
            Asker.of(runtime, context),
            responder(respond, replace=True),
            channel_id=(body.get("channel") or {}).get("id"),
            provider_name=action.get("value"),
            replace=True,
        )

    @app.action("connect_keep")
    def keep_clicked(ack: Ack, respond: Respond) -> None:
        ack()
        respond(replace_original=True, text="Kept the current connection; nothing changed.")

    @app.action(re.compile(r"^choose_organisation_(\d+|select)$"))
    def organisation_chosen(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, action: dict[str, Any]
    ) -> None:
        ack()
        value = action.get("value") or action.get("selected_option", {}).get("value", "")
        pending_id, _, organisation_id = value.partition(":")
        pending = _pending_provider(runtime, int(pending_id)) if pending_id.isdigit() else None
        if pending is None:
            respond(replace_original=True, text="This choice was already made or has expired; nothing changed.")
            return
        outcome = connect.choose_organisation(
            runtime.db,
            provider=runtime.providers[pending],
            pending_id=int(pending_id),
            organisation_id=organisation_id,
            user_id=body["user"]["id"],
            now=runtime.clock(),
        )
        if outcome.kind != "connected":
            respond(replace_original=outcome.kind != "forbidden", text=outcome.message)
            return
        announce_connected(runtime, client, outcome, pending, responder(respond, replace=True))

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


def _reply_where_clicked(asker: Asker, body: dict[str, Any], respond: Respond) -> Reply:
    # From App Home there is no message to answer, so the reply goes by direct message.
    return responder(respond, replace=True) if body.get("response_url") else dm_reply(asker.client, asker.user_id)


def _pending_provider(runtime: Runtime, pending_id: int) -> str | None:
    with runtime.db.session() as s:
        pending = s.get(PendingConnection, pending_id)
        return pending.provider if pending is not None and pending.provider in runtime.providers else None
