"""The token keeper: hands providers a fresh access token, refreshing under a per-connection lock.

A refresh takes the lock (a thread lock here, plus a row lock on PostgreSQL or SQLite's write lock, which
hold across processes), calls the package's token endpoint, and commits the rotated tokens at once in that
short transaction before anyone uses them. So two jobs never spend one refresh token, and a lost response
leaves the previous refresh token, which the package still honours for a grace period.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from providers.base import NeedsReconnect, Provider, Tokens
from storage.db import Database
from storage.models import Connection, ConnectionStatus

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=2)
# Xero forgets a refresh token unused for 60 days; refreshing after 14 idle days keeps a wide margin.
KEEPALIVE_AFTER = timedelta(days=14)

_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


def _local_lock(connection_id: int) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(connection_id, threading.Lock())


def store_tokens(connection: Connection, tokens: Tokens, db: Database, now: datetime) -> None:
    connection.access_token_enc = db.box.encrypt(tokens.access_token)
    if tokens.refresh_token:
        connection.refresh_token_enc = db.box.encrypt(tokens.refresh_token)
    connection.access_expires_at = tokens.expires_at
    if tokens.scope:
        connection.scope = tokens.scope
    connection.refreshed_at = now


class ConnectionTokens:
    """A `providers.base.TokenKeeper` for one stored connection."""

    def __init__(
        self,
        db: Database,
        provider: Provider,
        connection_id: int,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_needs_reconnect: Callable[[int, str], None] | None = None,
    ) -> None:
        self.db = db
        self.provider = provider
        self.connection_id = connection_id
        self.clock = clock
        self.on_needs_reconnect = on_needs_reconnect

    def access_token(self) -> str:
        with self.db.session() as s:
            connection = self._load(s)
            if self._fresh(connection):
                assert connection.access_token_enc is not None
                return self.db.box.decrypt(connection.access_token_enc)
        return self._refresh(rejected=None, force=False)

    def refreshed_access_token(self, rejected: str) -> str:
        return self._refresh(rejected=rejected, force=False)

    def refresh_now(self) -> str:
        """Refresh even though the access token is still good (keeps an idle connection alive)."""
        return self._refresh(rejected=None, force=True)

    def _load(self, session, *, for_update: bool = False) -> Connection:  # type: ignore[no-untyped-def]
        query = select(Connection).where(Connection.id == self.connection_id)
        connection = session.scalar(query.with_for_update() if for_update else query)
        if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
            raise NeedsReconnect("This connection was removed.")
        if connection.status == ConnectionStatus.NEEDS_RECONNECT:
            raise NeedsReconnect(
                f"The connection to {connection.organisation_name} needs to be made again "
                f"({connection.status_detail or 'its log-in expired'})."
            )
        return connection

    def _fresh(self, connection: Connection) -> bool:
        expires = connection.access_expires_at
        return bool(connection.access_token_enc) and (expires is None or expires - REFRESH_MARGIN > self.clock())

    def _refresh(self, *, rejected: str | None, force: bool) -> str:
        with _local_lock(self.connection_id):
            try:
                with self.db.session(write_lock=True) as s:
                    connection = self._load(s, for_update=True)
                    current = self.db.box.decrypt(connection.access_token_enc) if connection.access_token_enc else ""
                    if rejected is not None and current and current != rejected:
                        return current  # someone refreshed while we waited for the lock
                    if rejected is None and not force and self._fresh(connection):
                        return current
                    if not connection.refresh_token_enc:
                        raise NeedsReconnect("There is no refresh token for this connection.")
                    tokens = self.provider.refresh(
                        Tokens(
                            access_token=current,
                            refresh_token=self.db.box.decrypt(connection.refresh_token_enc),
                            expires_at=connection.access_expires_at,
                        )
                    )
                    store_tokens(connection, tokens, self.db, self.clock())
                    log.info("Refreshed the tokens of connection %s", self.connection_id)
                    return tokens.access_token
            except NeedsReconnect as exc:
                self._mark_needs_reconnect(exc.message)
                raise

    def _mark_needs_reconnect(self, detail: str) -> None:
        with self.db.session() as s:
            connection = s.get(Connection, self.connection_id)
            if connection is None or connection.status != ConnectionStatus.ACTIVE:
                return
            connection.status = ConnectionStatus.NEEDS_RECONNECT
            connection.status_detail = detail
        log.warning("Connection %s needs reconnecting: %s", self.connection_id, detail)
        if self.on_needs_reconnect is not None:
            self.on_needs_reconnect(self.connection_id, detail)
