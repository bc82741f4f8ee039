"""Background work: importable functions that take ids or a runtime, open their own sessions, and act.

APScheduler (in memory) is only the clock; what is due lives in our tables, so restarts lose nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from bot import connect, permissions
from bot.notify import direct_message
from bot.runtime import Runtime
from bot.tokens import KEEPALIVE_AFTER, ConnectionTokens
from bot.views.text import escape
from providers.base import NeedsReconnect, ProviderError
from storage.models import Connection, Workspace

if TYPE_CHECKING:
    from bot.import_jobs import ImportRunner

log = logging.getLogger(__name__)

KEEPALIVE_EVERY = timedelta(hours=6)
SWEEP_EVERY = timedelta(minutes=10)


def keeper(runtime: Runtime, connection_id: int) -> ConnectionTokens:
    connection_provider = _provider_of(runtime, connection_id)
    return ConnectionTokens(
        runtime.db,
        runtime.providers[connection_provider],
        connection_id,
        clock=runtime.clock,
        on_needs_reconnect=lambda cid, detail: notify_attention(runtime, cid, detail),
    )


def _provider_of(runtime: Runtime, connection_id: int) -> str:
    with runtime.db.session() as s:
        connection = s.get(Connection, connection_id)
        assert connection is not None
        return connection.provider


def notify_attention(runtime: Runtime, connection_id: int, detail: str) -> None:
    """Tell the person who connected, and the admins added in the bot, once per problem."""
    with runtime.db.session() as s:
        connection = s.get(Connection, connection_id)
        if connection is None or connection.attention_notified_at is not None:
            return
        workspace = s.get(Workspace, connection.workspace_id)
        assert workspace is not None
        people = [u for u in [connection.connected_by, *permissions.added_admins(s, workspace)] if u]
        connection.attention_notified_at = runtime.clock()
        team_id, organisation = workspace.team_id, connection.organisation_name
        title = runtime.provider_title(connection.provider)
    client = runtime.client_for(team_id)
    if client is None:
        return
    text = (
        f":warning: The connection to *{escape(organisation)}* ({escape(title)}) needs attention: {escape(detail)} "
        "Customers will not sync until an admin runs `/accounts connect` again."
    )
    for user_id in dict.fromkeys(people):
        try:
            direct_message(client, user_id, text=text)
        except SlackApiError as exc:
            log.warning("Could not tell %s about connection %s: %s", user_id, connection_id, exc.response.get("error"))
    from bot.home import refresh_homes  # here: App Home's status view reads the mapping, which uses this module

    refresh_homes(runtime, client, team_id=team_id)  # App Home says "Needs reconnecting" too


def keep_connections_alive(runtime: Runtime, *, idle_for: timedelta = KEEPALIVE_AFTER) -> int:
    """Refresh connections whose tokens were not refreshed for `idle_for`; returns how many were refreshed."""
    cutoff = runtime.clock() - idle_for
    with runtime.db.session() as s:
        rows = s.execute(
            select(Connection.id, Connection.refreshed_at, Connection.provider)
            .join(Workspace, Workspace.id == Connection.workspace_id)
            .where(Connection.status == "active", Workspace.uninstalled_at.is_(None))
        ).all()
    due = [
        cid for cid, refreshed, provider in rows if provider in runtime.providers and (refreshed or cutoff) <= cutoff
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


def start_scheduler(runtime: Runtime, *, imports: ImportRunner | None = None) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    if imports is not None:  # claims due import runs and queues scheduled syncs; listeners wake it too
        imports.recover()
        scheduler.add_job(
            imports.wake,
            "interval",
            seconds=imports.tick_every,
            id="import_tick",
            max_instances=1,
            coalesce=True,
            next_run_time=runtime.clock(),
        )
    scheduler.add_job(
        keep_connections_alive,
        "interval",
        args=[runtime],
        seconds=KEEPALIVE_EVERY.total_seconds(),
        id="keep_connections_alive",
        max_instances=1,
        coalesce=True,
        next_run_time=runtime.clock() + timedelta(minutes=1),
    )
    scheduler.add_job(
        sweep_expired,
        "interval",
        args=[runtime],
        seconds=SWEEP_EVERY.total_seconds(),
        id="sweep_expired",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler
