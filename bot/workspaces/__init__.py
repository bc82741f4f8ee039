"""Workspaces: created on first contact or install, forgotten (tokens only) on uninstall, and their audit log.

Who may administer a workspace is in `permissions`; its Slack installation in `installations`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, SlackInstallation, Workspace

log = logging.getLogger(__name__)


def find(session: Session, *, team_id: str) -> Workspace | None:
    return session.scalar(select(Workspace).where(Workspace.team_id == team_id))


def ensure(session: Session, *, team_id: str, name: str | None = None) -> Workspace:
    """The workspace row for `team_id`, created on first sight."""
    workspace = find(session, team_id=team_id)
    if workspace is None:
        workspace = Workspace(team_id=team_id, name=name)
        session.add(workspace)
        session.flush()
    elif name and workspace.name != name:
        workspace.name = name
    return workspace


def record(
    session: Session,
    workspace: Workspace,
    *,
    actor: str | None,
    action: str,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(workspace_id=workspace.id, actor_user_id=actor, action=action, detail=detail or {})
    session.add(event)
    return event


def forget_slack_tokens(session: Session, *, team_id: str) -> Workspace | None:
    """Delete the workspace's Slack tokens (uninstall, tokens revoked); its data stays for a reinstall.

    Scheduled work only runs for installed workspaces, so setting `uninstalled_at` stops it.
    """
    workspace = find(session, team_id=team_id)
    if workspace is None:
        return None
    installation = session.scalar(select(SlackInstallation).where(SlackInstallation.workspace_id == workspace.id))
    if installation is not None:
        session.delete(installation)
    workspace.uninstalled_at = datetime.now(UTC)
    record(session, workspace, actor=None, action="slack.uninstalled")
    log.info("Deleted the Slack tokens of workspace %s", team_id)
    return workspace
