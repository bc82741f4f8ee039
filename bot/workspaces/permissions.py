"""Who may connect, disconnect and map: Slack's admins and owners, plus people an admin added."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Workspace, WorkspaceAdmin

log = logging.getLogger(__name__)


def is_slack_admin(client: WebClient, user_id: str) -> bool:
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


def added_admins(session: Session, workspace: Workspace) -> list[str]:
    return list(
        session.scalars(
            select(WorkspaceAdmin.user_id)
            .where(WorkspaceAdmin.workspace_id == workspace.id)
            .order_by(WorkspaceAdmin.id)
        )
    )


def may_administer(client: WebClient, session: Session, workspace: Workspace, user_id: str) -> bool:
    if user_id in added_admins(session, workspace):
        return True
    return is_slack_admin(client, user_id)


def add_admin(session: Session, workspace: Workspace, *, user_id: str, added_by: str) -> bool:
    if user_id in added_admins(session, workspace):
        return False
    session.add(WorkspaceAdmin(workspace_id=workspace.id, user_id=user_id, added_by=added_by))
    return True


def remove_admin(session: Session, workspace: Workspace, *, user_id: str) -> bool:
    row = session.scalar(
        select(WorkspaceAdmin).where(WorkspaceAdmin.workspace_id == workspace.id, WorkspaceAdmin.user_id == user_id)
    )
    if row is None:
        return False
    session.delete(row)
    return True
