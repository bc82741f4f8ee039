"""A stored connection as the providers see it: a `Link` to its organisation with a token keeper."""

from __future__ import annotations

from bot.connections.tokens import ConnectionTokens
from bot.runtime import Runtime
from providers.base import Link
from storage.models import Connection


def link_for(runtime: Runtime, connection: Connection) -> Link:
    tokens = _keeper(runtime, connection.id, connection.provider)
    return Link(connection.organisation_id, tokens, connection.remote_connection_id)


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
