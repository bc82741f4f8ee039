"""Scheduled syncs stopped while they cannot run and planned again when they can.

A sync runs only for an active connection of an installed workspace. While it cannot (the connection ended or needs
reconnecting, the app was removed from Slack), its next time is cleared, so the planner's index of next times does
not walk it on every tick; when it can run again, its next time comes back: one interval after its last sync, or
at once when that has passed (the syncs missed meanwhile are caught up by one sync since the last). A connection
never imported whose sync no admin set keeps no next time: its first sync comes one interval after its first import.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from storage.models import Connection, ConnectionStatus, SyncSettings, Workspace


def stop_syncs(session: Session, *, connection_ids: Collection[int]) -> None:
    """The connections' syncs have no next time."""
    if connection_ids:
        session.execute(
            update(SyncSettings)
            .where(SyncSettings.connection_id.in_(list(connection_ids)), SyncSettings.next_sync_at.is_not(None))
            .values(next_sync_at=None)
            .execution_options(synchronize_session="fetch")
        )


def resume_syncs(session: Session, *, connection_ids: Collection[int], now: datetime) -> None:
    """Plan again the syncs of those connections that may run now (turned on, imported before, with no next time)."""
    if not connection_ids:
        return
    rows = session.scalars(
        select(SyncSettings)
        .join(Connection, Connection.id == SyncSettings.connection_id)
        .join(Workspace, Workspace.id == Connection.workspace_id)
        .where(
            SyncSettings.connection_id.in_(list(connection_ids)),
            SyncSettings.enabled.is_(True),
            SyncSettings.next_sync_at.is_(None),
            or_(SyncSettings.last_synced_at.is_not(None), SyncSettings.updated_by.is_not(None)),
            Connection.status == ConnectionStatus.ACTIVE,
            Workspace.uninstalled_at.is_(None),
        )
    )
    for settings in rows:
        since = settings.last_synced_at or settings.updated_at  # the last sync, or when an admin set the schedule
        settings.next_sync_at = max(now, since + timedelta(minutes=settings.interval_minutes))


def scheduled(settings: SyncSettings) -> bool:
    """Whether the sync had a schedule of its own before it stopped: imported before, or set by an admin (either
    gives it a next time); otherwise its first time comes after its first import."""
    return settings.last_synced_at is not None or settings.updated_by is not None


def sync_may_run(session: Session, *, connection_id: int) -> bool:
    """Whether the connection is active and its workspace installed (so its sync may have a next time)."""
    found = session.scalar(
        select(Connection.id)
        .join(Workspace, Workspace.id == Connection.workspace_id)
        .where(
            Connection.id == connection_id,
            Connection.status == ConnectionStatus.ACTIVE,
            Workspace.uninstalled_at.is_(None),
        )
    )
    return found is not None


def workspace_connections(session: Session, *, workspace_id: int) -> list[int]:
    """The workspace's connections that have not ended."""
    return list(
        session.scalars(
            select(Connection.id).where(
                Connection.workspace_id == workspace_id, Connection.status != ConnectionStatus.DISCONNECTED
            )
        )
    )
