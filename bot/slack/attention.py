"""Telling people in Slack that a connection needs attention (its log-in expired or was revoked)."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.runtime import Runtime
from bot.slack.notify import direct_message
from bot.views.text import escape
from bot.workspaces import permissions
from storage.models import Connection, Workspace

log = logging.getLogger(__name__)


def notify_attention(runtime: Runtime, connection_id: int, detail: str) -> None:
    """Tell the person who connected, and the admins added in the bot, once per problem."""
    with runtime.db.session() as s:
        connection = s.get(Connection, connection_id)
        if connection is None or connection.attention_notified_at is not None:
            return
        workspace = s.get(Workspace, connection.workspace_id)
        assert workspace is not None
        people = [u for u in [connection.connected_by, *permissions.added_admins(s, workspace_id=workspace.id)] if u]
        connection.attention_notified_at = runtime.clock()
        team_id, organisation = workspace.team_id, connection.organisation_name
        title = runtime.provider_title(connection.provider)
    client = runtime.client_for(team_id)
    if client is None:
        return
    text = (
        f":warning: The connection to *{escape(organisation)}* ({escape(title)}) needs attention: {escape(detail)} "
        "Customers will not sync until an admin runs `/accounts connect` again."
    )
    for user_id in dict.fromkeys(people):
        try:
            direct_message(client, user_id, text=text)
        except SlackApiError as exc:
            log.warning("Could not tell %s about connection %s: %s", user_id, connection_id, exc.response.get("error"))
    runtime.workspace_changed(team_id)  # App Home says "Needs reconnecting" too


def listen(runtime: Runtime) -> None:
    """Have the token keepers of this runtime tell Slack when a connection needs reconnecting."""
    runtime.needs_reconnect_listeners.append(
        lambda connection_id, detail: notify_attention(runtime, connection_id, detail)
    )
