"""Who counts as an admin: Slack's admins and owners, plus people an admin added. `bot.slack.authorisation`
decides with these who may do what."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import workspaces
from storage.models import WorkspaceAdmin

log = logging.getLogger(__name__)


def is_slack_admin(client: WebClient, user_id: str) -> bool:
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


def added_admins(session: Session, *, workspace_id: int) -> list[str]:
    """The people an admin added with `/accounts admins add`, in the order they were added."""
    return list(
        session.scalars(
            select(WorkspaceAdmin.user_id)
            .where(WorkspaceAdmin.workspace_id == workspace_id)
            .order_by(WorkspaceAdmin.id)
        )
    )


def add_admin(session: Session, *, workspace_id: int, user_id: str, added_by: str) -> bool:
    """Let `user_id` manage accounts-bot too, audited; False if they were on the list already (nothing changes)."""
    if user_id in added_admins(session, workspace_id=workspace_id):
        return False
    session.add(WorkspaceAdmin(workspace_id=workspace_id, user_id=user_id, added_by=added_by))
    workspaces.record(
        session, workspace_id=workspace_id, actor=added_by, action="admins.added", detail={"user": user_id}
    )
    return True


def remove_admin(session: Session, *, workspace_id: int, user_id: str, removed_by: str) -> bool:
    """Take `user_id` off the list, audited; False if they were not on it."""
    row = session.scalar(
        select(WorkspaceAdmin).where(WorkspaceAdmin.workspace_id == workspace_id, WorkspaceAdmin.user_id == user_id)
    )
    if row is None:
        return False
    session.delete(row)
    workspaces.record(
        session, workspace_id=workspace_id, actor=removed_by, action="admins.removed", detail={"user": user_id}
    )
    return True
