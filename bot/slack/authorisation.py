"""Who may do what, said once: admins (Slack's admins and owners, and those added with `/accounts admins`)."""

from __future__ import annotations

from slack_sdk import WebClient

from bot import workspaces
from bot.runtime import Runtime
from bot.slack.requests import Reply
from bot.views import connect as views
from bot.workspaces import permissions


def refuse(runtime: Runtime, reply: Reply, *, team_id: str, user_id: str, action: str, what: str) -> None:
    with runtime.db.session() as s:
        workspace = workspaces.ensure(s, team_id=team_id)
        workspaces.record(s, workspace, actor=user_id, action="refused", detail={"action": action})
    reply(blocks=views.refused_blocks(what), text=f"Only admins can {what}.")


def allowed(runtime: Runtime, client: WebClient, *, team_id: str, user_id: str) -> bool:
    with runtime.db.session() as s:
        workspace = workspaces.ensure(s, team_id=team_id)
        return permissions.may_administer(client, s, workspace, user_id)
