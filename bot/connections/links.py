"""A stored connection as the providers see it: a `Link` to its organisation with a token keeper (and a shared
call budget on PostgreSQL)."""

from __future__ import annotations

from bot.budget import SharedBudget
from bot.connections.tokens import ConnectionTokens
from bot.runtime import Runtime
from providers.base import Link
from storage.models import Connection


def link_for(runtime: Runtime, connection: Connection) -> Link:
    """The connection's link; on PostgreSQL (several processes) with the budget they share under each of the
    package's limits. SQLite serves one process, whose provider paces itself alone."""
    tokens = _keeper(runtime, connection.id, connection.provider)
    budget = None if runtime.db.is_sqlite else SharedBudget(runtime.db, clock=lambda: runtime.clock())
    return Link(connection.organisation_id, tokens, connection.remote_connection_id, budget=budget)


def keeper(runtime: Runtime, connection_id: int) -> ConnectionTokens:
    """The token keeper of a stored connection, for work that has only its id."""
    with runtime.db.session() as s:
        connection = s.get(Connection, connection_id)
        assert connection is not None
        provider = connection.provider
    return _keeper(runtime, connection_id, provider)


def _keeper(runtime: Runtime, connection_id: int, provider: str) -> ConnectionTokens:
    return ConnectionTokens(
        runtime.db,
        runtime.providers[provider],
        connection_id,
        clock=runtime.clock,
        on_needs_reconnect=runtime.needs_reconnect,
    )
