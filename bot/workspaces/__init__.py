"""Workspaces: created on first contact or install, forgotten (tokens only) on uninstall, and their audit log.

Who may administer a workspace is in `permissions`; its Slack installation in `installations`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, Connection, SlackInstallation, Workspace
from storage.sync_pause import resume_syncs, stop_syncs, workspace_connections

log = logging.getLogger(__name__)


_BY_TEAM = select(Workspace).where(Workspace.team_id == bindparam("team_id"))  # built once: read on every request


def find(session: Session, *, team_id: str) -> Workspace | None:
    return session.scalar(_BY_TEAM, {"team_id": team_id})


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
    *,
    workspace_id: int,
    actor: str | None,
    action: str,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit row to the session: written in the same transaction as the change it records."""
    event = AuditEvent(workspace_id=workspace_id, actor_user_id=actor, action=action, detail=detail or {})
    session.add(event)
    return event


def latest_events(session: Session, *, workspace_id: int, limit: int = 20) -> list[AuditEvent]:
    """The workspace's audit log, the newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.workspace_id == workspace_id)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


def organisation_names(session: Session, *, connection_ids: Collection[int]) -> dict[int, str]:
    """The organisation each connection is (or was) to, for the audit log's sentences."""
    if not connection_ids:
        return {}
    rows = session.execute(
        select(Connection.id, Connection.organisation_name).where(Connection.id.in_(list(connection_ids)))
    )
    return {connection_id: name for connection_id, name in rows}


def set_channel(session: Session, *, workspace_id: int, channel_id: str, user_id: str) -> None:
    """Where imports from App Home and scheduled syncs report."""
    workspace = session.get(Workspace, workspace_id)
    assert workspace is not None
    workspace.notification_channel_id = channel_id
    record(session, workspace_id=workspace_id, actor=user_id, action="channel.set", detail={"channel": channel_id})


def set_staff_may_import(session: Session, *, workspace_id: int, allowed: bool, user_id: str) -> None:
    """Whether everyone in the workspace may import, or only admins."""
    workspace = session.get(Workspace, workspace_id)
    assert workspace is not None
    workspace.staff_may_import = allowed
    record(session, workspace_id=workspace_id, actor=user_id, action="import.staff", detail={"allowed": allowed})


def set_staff_may_export(session: Session, *, workspace_id: int, allowed: bool, user_id: str) -> None:
    """Whether everyone in the workspace may export the customers as CSV, or only admins."""
    workspace = session.get(Workspace, workspace_id)
    assert workspace is not None
    workspace.staff_may_export = allowed
    record(session, workspace_id=workspace_id, actor=user_id, action="export.staff", detail={"allowed": allowed})


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
    stop_syncs(session, connection_ids=workspace_connections(session, workspace_id=workspace.id))
    record(session, workspace_id=workspace.id, actor=None, action="slack.uninstalled")
    log.info("Deleted the Slack tokens of workspace %s", team_id)
    return workspace


def resume_workspace_syncs(session: Session, *, workspace: Workspace) -> None:
    """The workspace is served again: the scheduled syncs of its connections carry on (`storage.sync_pause`)."""
    session.flush()
    connections = workspace_connections(session, workspace_id=workspace.id)
    resume_syncs(session, connection_ids=connections, now=datetime.now(UTC))


def token_works_again(session: Session, *, team_id: str) -> bool:
    """One-workspace mode: the bot started with a bot token Slack accepts, so a workspace marked uninstalled
    (an uninstall or revocation while it ran) is served again and its scheduled work resumes. True if it was
    marked."""
    workspace = find(session, team_id=team_id)
    if workspace is None or workspace.uninstalled_at is None:
        return False
    workspace.uninstalled_at = None
    resume_workspace_syncs(session, workspace=workspace)
    record(session, workspace_id=workspace.id, actor=None, action="slack.token_works")
    log.info("Workspace %s is served again: the bot token works", team_id)
    return True


def forget_organisation_tokens(session: Session, *, enterprise_id: str) -> list[Workspace]:
    """An organisation-wide uninstall on Enterprise Grid: every workspace of the organisation forgets its tokens."""
    teams = session.scalars(select(Workspace.team_id).where(Workspace.enterprise_id == enterprise_id)).all()
    return [w for team_id in teams if (w := forget_slack_tokens(session, team_id=team_id)) is not None]
