"""Connecting from Slack: `/accounts connect`, the package picker, the log-in and replace buttons, and choosing
the organisation when a log-in reaches several. Disconnecting is in `disconnecting`."""

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
from bot.views.connect import CONNECT_PROVIDER
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


def register(app: App, runtime: Runtime) -> None:
    @app.action({"action_id": "connect_login"})
    def login_clicked(ack: Ack) -> None:
        ack()  # a link button: the browser opens the URL, Slack only tells us it was clicked

    @app.action(CONNECT_PROVIDER)
    def connect_clicked(
        ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond, action: dict[str, Any]
    ) -> None:
        """A "Connect <package>" button (in a message or on App Home): the package's name is its value."""
        ack()
        asker = Asker.of(runtime, context)
        start_connect(
            asker,
            _reply_where_clicked(asker, body, respond),
            channel_id=(body.get("channel") or {}).get("id"),
            provider_name=str(action.get("value") or ""),
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


def _reply_where_clicked(asker: Asker, body: dict[str, Any], respond: Respond) -> Reply:
    # From App Home there is no message to answer, so the reply goes by direct message.
    return responder(respond, replace=True) if body.get("response_url") else dm_reply(asker.client, asker.user_id)


def _pending_provider(runtime: Runtime, pending_id: int) -> str | None:
    with runtime.db.session() as s:
        pending = s.get(PendingConnection, pending_id)
        return pending.provider if pending is not None and pending.provider in runtime.providers else None
