"""What `/accounts status` and the App Home tab show: a plain snapshot of a workspace's setup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import workspaces
from bot.categories import Category, load_categories
from bot.connections.connect import active_connection
from bot.connections.tokens import keepalive_after
from bot.customers.rows import DEFAULT_CUSTOMER_FILTER
from bot.imports.runs import ImportState, import_state
from bot.mapping.account_mapping import MappingStatus, mapping_status
from storage.models import Connection, ConnectionStatus

if TYPE_CHECKING:
    from bot.runtime import Runtime


@dataclass(frozen=True)
class ConnectionReport:
    provider: str
    provider_title: str
    organisation_name: str
    connected_by: str | None
    connected_at: datetime
    health: str  # "ok" | "needs_reconnect" | "refresh_due"
    health_detail: str | None = None
    mapping: MappingStatus | None = None
    imports: ImportState | None = None  # customers, the latest import and the sync schedule
    customer_filter: str = DEFAULT_CUSTOMER_FILTER  # which contacts an import makes customers
    health_changes_at: datetime | None = None  # when the clock alone changes `health` or its detail


@dataclass(frozen=True)
class StatusReport:
    team_id: str
    workspace_name: str | None
    connection: ConnectionReport | None
    providers: tuple[tuple[str, str], ...]  # (name, title) of the packages this deployment can connect
    disconnected: Disconnected | None = None  # when nothing is connected: the last connection, if there was one
    staff_may_import: bool = False  # everyone may import, not only admins


@dataclass(frozen=True)
class Disconnected:
    provider_title: str
    organisation_name: str
    disconnected_at: datetime | None


def token_health(connection: Connection, now: datetime, idle_limit: timedelta | None) -> tuple[str, str | None]:
    if connection.status == ConnectionStatus.NEEDS_RECONNECT:
        return "needs_reconnect", connection.status_detail
    last = connection.refreshed_at or connection.connected_at
    if idle_limit is not None and now - last > idle_limit:
        return "refresh_due", f"Last refreshed {(now - last).days} days ago"
    return "ok", None


def health_changes_at(connection: Connection, now: datetime, idle_limit: timedelta | None) -> datetime | None:
    """When `token_health` would answer otherwise with nothing stored changing: the log-in turns due for a
    refresh, or its "days ago" counts one more; None when only a change to the connection can change it."""
    if connection.status == ConnectionStatus.NEEDS_RECONNECT or idle_limit is None:
        return None
    last = connection.refreshed_at or connection.connected_at
    if now - last <= idle_limit:
        return last + idle_limit + timedelta(microseconds=1)
    return last + timedelta(days=(now - last).days + 1)


def workspace_status(
    session: Session,
    *,
    team_id: str,
    providers: tuple[tuple[str, str], ...],
    now: datetime,
    categories: Sequence[Category] | None = None,
    idle_limits: Mapping[str, timedelta] | None = None,
) -> StatusReport:
    """`categories` are the configured ones (`settings.categories`); None means the built-in defaults."""
    workspace = workspaces.find(session, team_id=team_id)
    connection = active_connection(session, workspace_id=workspace.id) if workspace else None
    report: ConnectionReport | None = None
    if connection is not None:
        idle_limit = (idle_limits or {}).get(connection.provider)
        health, detail = token_health(connection, now, idle_limit)
        imports = import_state(session, connection=connection, workspace=workspace) if workspace else None
        report = ConnectionReport(
            provider=connection.provider,
            provider_title=dict(providers).get(connection.provider, connection.provider),
            organisation_name=connection.organisation_name,
            connected_by=connection.connected_by,
            connected_at=connection.connected_at,
            health=health,
            health_detail=detail,
            health_changes_at=health_changes_at(connection, now, idle_limit),
            imports=imports,
            customer_filter=imports.customer_filter if imports else DEFAULT_CUSTOMER_FILTER,
            mapping=mapping_status(
                session, connection=connection, categories=load_categories() if categories is None else categories
            ),
        )
    last = None
    if workspace is not None and connection is None:
        gone = session.scalar(
            select(Connection)
            .where(Connection.workspace_id == workspace.id)
            .order_by(Connection.disconnected_at.desc(), Connection.id.desc())
            .limit(1)
        )
        if gone is not None:
            title = dict(providers).get(gone.provider, gone.provider)
            last = Disconnected(title, gone.organisation_name, gone.disconnected_at)
    return StatusReport(
        team_id=team_id,
        workspace_name=workspace.name if workspace else None,
        connection=report,
        providers=providers,
        disconnected=last,
        staff_may_import=bool(workspace and workspace.staff_may_import),
    )


def report_for(runtime: Runtime, session: Session, *, team_id: str) -> StatusReport:
    """The workspace's status as `/accounts status` and App Home show it, with the runtime's packages and categories."""
    return workspace_status(
        session,
        team_id=team_id,
        providers=runtime.provider_choices(),
        now=runtime.clock(),
        categories=runtime.settings.categories,
        idle_limits={name: limit for name, p in runtime.providers.items() if (limit := keepalive_after(p))},
    )
