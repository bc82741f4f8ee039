"""Looking after connections in the background: token keepers for jobs, keep-alive refreshes, expired log-ins.

Importable functions that take a runtime and ids and open their own sessions; `bot.schedule` runs them.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.connections import connect
from bot.connections.links import keeper
from bot.connections.tokens import keepalive_after
from bot.runtime import Runtime
from providers.base import NeedsReconnect, ProviderError
from storage.models import Connection, ConnectionStatus, Workspace

log = logging.getLogger(__name__)


def keep_connections_alive(runtime: Runtime) -> int:
    """Refresh connections whose tokens sat unused for long enough that their package could soon forget them
    (`keepalive_after`); returns how many were refreshed."""
    now = runtime.clock()
    cutoffs = {name: now - idle for name, p in runtime.providers.items() if (idle := keepalive_after(p)) is not None}
    with runtime.db.session() as s:
        rows = s.execute(
            select(Connection.id, Connection.refreshed_at, Connection.provider)
            .join(Workspace, Workspace.id == Connection.workspace_id)
            .where(Connection.status == ConnectionStatus.ACTIVE, Workspace.uninstalled_at.is_(None))
        ).all()
    due = [
        cid
        for cid, refreshed, provider in rows
        if provider in cutoffs and (refreshed or cutoffs[provider]) <= cutoffs[provider]
    ]
    refreshed = 0
    for connection_id in due:
        try:
            keeper(runtime, connection_id).refresh_now()
            refreshed += 1
        except NeedsReconnect:
            pass  # marked and announced by the keeper
        except ProviderError as exc:
            log.warning("Keep-alive refresh of connection %s failed: %s", connection_id, exc.message)
    return refreshed


def sweep_expired(runtime: Runtime) -> int:
    """Forget log-ins left without an organisation picked, and old OAuth states."""
    return connect.expire_pending(runtime.db, runtime.providers, now=runtime.clock())
