"""Telling people in Slack that a connection needs attention (its log-in expired or was revoked)."""

from __future__ import annotations

import http.client
import logging

from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.runtime import Runtime
from bot.slack.notify import direct_message, transient
from bot.views.text import bold, emoji, escape, rich, section
from bot.workspaces import permissions
from storage.models import Workspace, locked_connection

log = logging.getLogger(__name__)


def notify_attention(runtime: Runtime, connection_id: int, detail: str) -> None:
    """Tell the person who connected, and the admins added in the bot, once per problem. The problem is marked
    told first (so two threads hearing it at once tell it once); if Slack could not be reached for anyone
    (no connection, 5xx), the mark is taken back, so the next time the problem is heard it is told."""
    with runtime.db.session(write_lock=True) as s:
        connection = s.scalar(locked_connection(connection_id))  # heard mid-import too: not waiting for its pages
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
    advice = "Customers will not sync until an admin runs `/accounts connect` again."
    what = f"The connection to {escape(organisation)} ({escape(title)}) needs attention: {escape(detail)}"
    text = f":warning: {what} {advice}"
    blocks = [
        rich(emoji("warning"), " The connection to ", bold(organisation), f" ({title}) needs attention: {detail}"),
        section(advice),
    ]
    unreachable = False
    for user_id in dict.fromkeys(people):
        try:
            direct_message(client, user_id, text=text, blocks=blocks)
        except (SlackApiError, SlackRequestError, OSError, http.client.HTTPException) as exc:
            unreachable = unreachable or transient(exc)
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("Could not tell %s about connection %s: %s", user_id, connection_id, error)
    if unreachable:
        with runtime.db.session(write_lock=True) as s:
            connection = s.scalar(locked_connection(connection_id))
            if connection is not None:
                connection.attention_notified_at = None
    runtime.workspace_changed(team_id)  # App Home says "Needs reconnecting" too


def listen(runtime: Runtime) -> None:
    """Have the token keepers of this runtime tell Slack when a connection needs reconnecting."""
    runtime.needs_reconnect_listeners.append(
        lambda connection_id, detail: notify_attention(runtime, connection_id, detail)
    )
