"""Saying in Slack that a connection was made: the replaced one retired, the organisation named, App Home updated."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.categories import load_categories
from bot.connections import connect
from bot.mapping.account_mapping import mapping_status
from bot.runtime import Runtime
from bot.slack.requests import Reply
from bot.views import connect as views
from bot.views.text import escape
from storage.models import Connection


def announce_connected(
    runtime: Runtime, client: WebClient, outcome: connect.CallbackOutcome, provider_name: str, reply: Reply
) -> None:
    """Retire what the new connection replaced, say which organisation is connected, and bring App Home up to date
    (even when the message could not be delivered)."""
    provider = runtime.providers[provider_name]
    for old_id in outcome.replaced:
        with runtime.db.session() as s:
            old = s.get(Connection, old_id)
            old_provider = runtime.providers.get(old.provider) if old else None
        if old_provider is not None:
            connect.retire(runtime.db, old_provider, old_id, actor=outcome.user_id, action="connection.replaced")
    mapping_kept = False
    if outcome.reconnected and outcome.connection_id is not None:
        with runtime.db.session() as s:
            connection = s.get(Connection, outcome.connection_id)
            if connection is not None:
                categories = runtime.settings.categories or load_categories()
                mapping = mapping_status(s, connection=connection, categories=categories)
                mapping_kept = mapping.started and not mapping.needs_attention
    try:
        reply(
            blocks=views.connected_blocks(
                provider.title,
                outcome.organisation_name or "",
                reconnected=outcome.reconnected,
                mapping_kept=mapping_kept,
            ),
            text=f"Connected to {escape(outcome.organisation_name or '')} in {provider.title}",
        )
    finally:
        if outcome.team_id:
            runtime.workspace_changed(outcome.team_id)
