"""What `/accounts status` and the App Home tab show: a plain snapshot of a workspace's setup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot import workspaces


@dataclass(frozen=True)
class ConnectionReport:
    provider: str
    provider_title: str
    organisation_name: str
    connected_by: str | None
    connected_at: datetime
    health: str  # "ok" | "needs_reconnect" | "refresh_due"
    health_detail: str | None = None


@dataclass(frozen=True)
class StatusReport:
    team_id: str
    workspace_name: str | None
    connection: ConnectionReport | None
    providers: tuple[tuple[str, str], ...]  # (name, title) of the packages this deployment can connect


def workspace_status(session: Session, *, team_id: str, providers: tuple[tuple[str, str], ...]) -> StatusReport:
    workspace = workspaces.find(session, team_id=team_id)
    return StatusReport(
        team_id=team_id,
        workspace_name=workspace.name if workspace else None,
        connection=None,
        providers=providers,
    )
