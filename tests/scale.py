"""Helpers of the scale suites: many workspaces, each connected, with their sync settings, written in bulk."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select

from storage.db import Database
from storage.models import Connection, SyncSettings, Workspace


def connected_workspaces(
    db: Database, count: int, *, due_at: datetime | None, provider: str = "xero", start: int = 0
) -> list[int]:
    """`count` workspaces, each with an active connection whose sync comes due at `due_at`; their connection ids."""
    with db.session() as s:
        s.execute(
            insert(Workspace),
            [{"team_id": f"T{n:08d}", "name": f"Workspace {n}"} for n in range(start, start + count)],
        )
        teams = {f"T{n:08d}" for n in range(start, start + count)}
        ids = [w for t, w in s.execute(select(Workspace.team_id, Workspace.id)) if t in teams]
        s.execute(
            insert(Connection),
            [
                {
                    "workspace_id": w,
                    "provider": provider,
                    "status": "active",
                    "organisation_id": f"org-{w}",
                    "organisation_name": f"Organisation {w}",
                }
                for w in ids
            ],
        )
        connections = list(s.scalars(select(Connection.id).where(Connection.workspace_id.in_(ids))))
        s.execute(
            insert(SyncSettings),
            [
                {
                    "connection_id": c,
                    "enabled": True,
                    "interval_minutes": 60,
                    "reconcile_hours": 24,
                    "customer_filter": "all_but_suppliers",
                    "next_sync_at": due_at,
                    "modified_since": (due_at - timedelta(hours=1)) if due_at else None,
                    "next_full_at": (due_at + timedelta(hours=12)) if due_at else None,
                }
                for c in connections
            ],
        )
    return sorted(connections)
