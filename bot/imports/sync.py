"""A connection's sync settings: which contacts its imports make customers, and the schedule of its syncs.

Services over a session the caller opens (and commits); each change writes its audit row in that transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot import workspaces
from bot.connections.connect import active_connection
from bot.customers.rows import DEFAULT_CUSTOMER_FILTER
from storage.models import Connection, ConnectionStatus, SyncSettings, Workspace
from storage.sync_pause import scheduled, sync_may_run

DEFAULT_INTERVAL = 60


class SyncState(StrEnum):
    """The rule, the same everywhere it is shown: the scheduled sync is on from the start and its first run is
    one interval after the first import ends; an admin may turn it off (or on) at any time."""

    AFTER_FIRST_IMPORT = "after_first_import"  # on, waiting for the first import to finish
    ON = "on"  # on, with a next run
    OFF = "off"


class SyncPause(StrEnum):
    """Why a sync that is on can't run now."""

    SLACK_REMOVED = "slack_removed"  # the app was uninstalled or its token revoked
    NEEDS_RECONNECT = "needs_reconnect"  # the package no longer accepts the log-in


@dataclass(frozen=True)
class SyncPlan:
    state: SyncState
    interval_minutes: int = DEFAULT_INTERVAL
    next_at: datetime | None = None
    paused: SyncPause | None = None


def sync_plan(session: Session, *, connection: Connection, workspace: Workspace | None) -> SyncPlan:
    """What the connection's scheduled sync will do, and whether anything stops it now."""
    return plan_of(stored_settings(session, connection_id=connection.id), connection=connection, workspace=workspace)


_STORED = select(SyncSettings).where(SyncSettings.connection_id == bindparam("connection_id"))


def stored_settings(session: Session, *, connection_id: int) -> SyncSettings | None:
    """The connection's sync settings if any were saved (reading creates none)."""
    return session.scalar(_STORED, {"connection_id": connection_id})


def plan_of(settings: SyncSettings | None, *, connection: Connection, workspace: Workspace | None) -> SyncPlan:
    """`sync_plan` from the settings already read."""
    if settings is not None and not settings.enabled:
        return SyncPlan(SyncState.OFF, settings.interval_minutes)
    paused = None
    if workspace is not None and workspace.uninstalled_at is not None:
        paused = SyncPause.SLACK_REMOVED
    elif connection.status == ConnectionStatus.NEEDS_RECONNECT:
        paused = SyncPause.NEEDS_RECONNECT
    if settings is not None and settings.next_sync_at is None and scheduled(settings):
        return SyncPlan(SyncState.ON, settings.interval_minutes, None, paused)  # stopped meanwhile
    if settings is None or settings.next_sync_at is None:
        interval = settings.interval_minutes if settings is not None else DEFAULT_INTERVAL
        return SyncPlan(SyncState.AFTER_FIRST_IMPORT, interval, paused=paused)
    return SyncPlan(SyncState.ON, settings.interval_minutes, settings.next_sync_at, paused)


def sync_settings(session: Session, *, connection_id: int) -> SyncSettings:
    """The connection's sync settings, created with the defaults on first use."""
    settings = session.scalar(select(SyncSettings).where(SyncSettings.connection_id == connection_id))
    if settings is None:
        settings = SyncSettings(
            connection_id=connection_id,
            enabled=True,
            interval_minutes=DEFAULT_INTERVAL,
            reconcile_hours=24,
            customer_filter=DEFAULT_CUSTOMER_FILTER,
        )
        session.add(settings)
        session.flush()
    return settings


def set_sync(
    session: Session, *, connection_id: int, enabled: bool, minutes: int | None, user_id: str, now: datetime
) -> SyncSettings:
    """Turn the scheduled sync on or off, or change its interval; the next sync moves to one interval away."""
    settings = sync_settings(session, connection_id=connection_id)
    settings.enabled, settings.updated_by, settings.updated_at = enabled, user_id, now
    if minutes is not None:
        settings.interval_minutes = minutes
    may_run = sync_may_run(session, connection_id=connection_id)
    if enabled and may_run and (minutes is not None or settings.next_sync_at is None or settings.next_sync_at < now):
        settings.next_sync_at = now + timedelta(minutes=settings.interval_minutes)
    elif not enabled or not may_run:  # no next time while off or stopped, so the planner's index does not walk it
        settings.next_sync_at = None
    return settings


def change_sync(
    session: Session, *, workspace_id: int, enabled: bool, minutes: int | None, user_id: str, now: datetime
) -> SyncSettings | None:
    """`set_sync` for the workspace's connection, audited; None when nothing is connected."""
    connection = active_connection(session, workspace_id=workspace_id)
    if connection is None:
        return None
    settings = set_sync(
        session, connection_id=connection.id, enabled=enabled, minutes=minutes, user_id=user_id, now=now
    )
    workspaces.record(
        session,
        workspace_id=workspace_id,
        actor=user_id,
        action="sync.changed",
        detail={"enabled": enabled, "every": minutes},
    )
    return settings


def current_plan(session: Session, *, workspace_id: int) -> SyncPlan | None:
    """`sync_plan` of the workspace's connection; None when nothing is connected."""
    connection = active_connection(session, workspace_id=workspace_id)
    if connection is None:
        return None
    return sync_plan(session, connection=connection, workspace=session.get(Workspace, workspace_id))


def customer_filter_of(session: Session, *, connection_id: int) -> str:
    """Which contacts the connection's imports make customers (`bot.customers.CUSTOMER_FILTERS`); reading it
    creates no sync settings."""
    chosen = session.scalar(select(SyncSettings.customer_filter).where(SyncSettings.connection_id == connection_id))
    return chosen or DEFAULT_CUSTOMER_FILTER


def current_customer_filter(session: Session, *, workspace_id: int) -> str | None:
    """`customer_filter_of` the workspace's connection; None when nothing is connected."""
    connection = active_connection(session, workspace_id=workspace_id)
    return customer_filter_of(session, connection_id=connection.id) if connection is not None else None


def set_customer_filter(session: Session, *, workspace_id: int, chosen: str, user_id: str, now: datetime) -> str | None:
    """Store which contacts the workspace connection's imports make customers, audited when it changes; returns
    the setting it had, or None when nothing is connected."""
    connection = active_connection(session, workspace_id=workspace_id)
    if connection is None:
        return None
    settings = sync_settings(session, connection_id=connection.id)
    was = settings.customer_filter
    if chosen != was:  # the audit row says who chose it; `updated_by` is who set the schedule (`scheduled`)
        settings.customer_filter = chosen
        workspaces.record(
            session,
            workspace_id=workspace_id,
            actor=user_id,
            action="import.contacts",
            detail={"contacts": chosen, "was": was},
        )
    return was
