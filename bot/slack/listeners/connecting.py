"""Connecting from Slack: `/accounts connect`, the package picker, the log-in and replace buttons, and choosing
the organisation when a log-in reaches several. Disconnecting is in `disconnecting`."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.connections import connect
from bot.connections.connect import CallbackKind
from bot.runtime import Runtime
from bot.slack import payload
from bot.slack.authorisation import authorised
from bot.slack.connected import announce_connected
from bot.slack.requests import Asker, Reply
from bot.views import connect as views
from bot.views.connect import CONNECT_PROVIDER
from bot.views.text import escape
from storage.models import PendingConnection

log = logging.getLogger(__name__)

PROVIDER_NAME_LIMIT = 32


def provider_named(action: dict[str, Any]) -> str | None:
    """The package a "Connect <package>" or "Replace it" button names."""
    return payload.text(action.get("value"), limit=PROVIDER_NAME_LIMIT)


def organisation_choice(action: dict[str, Any]) -> tuple[int, str] | None:
    """`"<pending id>:<organisation id>"`, as the picker's buttons and options carry it."""
    value = payload.text(payload.chosen(action), limit=200)
    if value is None:
        return None
    pending, _, organisation = value.partition(":")
    pending_id = payload.row_id(pending)
    return (pending_id, organisation) if pending_id is not None and organisation else None


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
    # With the write lock from the start: it reads, then stores the log-in's state (on SQLite, a transaction that
    # reads and then writes fails at once when another connection, an import's page, wrote in between).
    with runtime.db.session(write_lock=True) as s:
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
        reply = payload.where_clicked(asker, body, respond, replace=True)
        provider_name = provider_named(action)
        if provider_name is None:
            reply(text=payload.expired("/accounts connect"))
            return
        start_connect(asker, reply, channel_id=payload.channel_of(body), provider_name=provider_name)

    @app.action("connect_replace")
    def replace_clicked(
        ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond, action: dict[str, Any]
    ) -> None:
        ack()
        asker = Asker.of(runtime, context)
        reply = payload.where_clicked(asker, body, respond, replace=True)
        provider_name = provider_named(action)
        if provider_name is None:
            reply(text=payload.expired("/accounts connect"))
            return
        start_connect(asker, reply, channel_id=payload.channel_of(body), provider_name=provider_name, replace=True)

    @app.action("connect_keep")
    def keep_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        ack()
        reply = payload.where_clicked(Asker.of(runtime, context), body, respond, replace=True)
        reply(text="Kept the current connection; nothing changed.")

    @app.action(re.compile(r"^choose_organisation_(\d+|select)$"))
    def organisation_chosen(
        ack: Ack,
        body: dict[str, Any],
        context: BoltContext,
        client: WebClient,
        respond: Respond,
        action: dict[str, Any],
    ) -> None:
        ack()
        asker = Asker.of(runtime, context)
        choice = organisation_choice(action)
        pending = _pending_provider(runtime, choice[0]) if choice is not None else None
        if choice is None or pending is None:
            reply = payload.where_clicked(asker, body, respond, replace=True)
            reply(text="This choice was already made or has expired; nothing changed.")
            return
        outcome = connect.choose_organisation(
            runtime.db,
            provider=runtime.providers[pending],
            pending_id=choice[0],
            organisation_id=choice[1],
            user_id=asker.user_id,
            now=runtime.clock(),
        )
        reply = payload.where_clicked(asker, body, respond, replace=outcome.kind != CallbackKind.FORBIDDEN)
        if outcome.kind != CallbackKind.CONNECTED:
            reply(text=outcome.message)
            return
        announce_connected(runtime, client, outcome, pending, reply)


def _pending_provider(runtime: Runtime, pending_id: int) -> str | None:
    with runtime.db.session() as s:
        pending = s.get(PendingConnection, pending_id)
        return pending.provider if pending is not None and pending.provider in runtime.providers else None
