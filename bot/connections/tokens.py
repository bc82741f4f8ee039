"""The token keeper: hands providers a fresh access token, refreshing it so that one refresh token is spent once.

A refresh is claimed in a short transaction (a lease on the connection row: `refresh_claim` until
`refreshing_until`), the package's token endpoint is called outside any transaction, and the rotated tokens
are stored in a second short transaction, if the claim is still ours, before anyone uses them. Whoever
finds a refresh in progress, in this process or another, waits for its result instead of spending the
refresh token too; a claim whose holder died lapses with its lease and is taken over. A lost answer leaves
the previous refresh token stored, which the package still honours for a grace period, so the retry is safe.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from bot.locks import KeyedLocks
from providers.base import NeedsReconnect, Provider, Tokens
from storage.db import Database
from storage.models import Connection, ConnectionStatus, locked_connection
from storage.sync_pause import stop_syncs

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=2)
# How long others wait for a claimed refresh before taking it over. It must outlast the provider's whole token
# call: its `token_timeout` on each attempt plus the backoff between them (for example 3 x 10 s + about 2.5 s).
# Were a live holder's lease to lapse, the next caller would spend the same refresh token again, which only a
# package with a grace period for spent tokens (30 minutes, say) answers with the same pair.
REFRESH_LEASE = timedelta(seconds=60)
# Seconds between looks at a refresh in progress: soon at first (a refresh usually takes under a second),
# then less often.
POLL_FIRST, POLL_MOST = 0.05, 0.5

# What a call to the package reads of its connection each time (another process may have refreshed the token, or the
# connection been removed): these columns alone, in a statement built once, on a plain connection. Loading the row as
# a `Connection` cost 1.5-1.8 ms of CPU a call in an import's fetching threads (0.15-0.18 s of an import of 100,000 on
# PostgreSQL, beside the importing thread).
_CONNECTIONS = cast(Table, Connection.__table__)
_TOKEN = select(
    _CONNECTIONS.c.status,
    _CONNECTIONS.c.status_detail,
    _CONNECTIONS.c.organisation_name,
    _CONNECTIONS.c.access_token_enc,
    _CONNECTIONS.c.access_expires_at,
).where(_CONNECTIONS.c.id == bindparam("connection_id"))

_local_locks: weakref.WeakKeyDictionary[Database, KeyedLocks[int]] = weakref.WeakKeyDictionary()
_local_locks_guard = threading.Lock()


def keepalive_after(provider: Provider) -> timedelta | None:
    """How long a connection may sit unused before the keep-alive refreshes it: a quarter of how long its package
    keeps an unused refresh token (60 days gives 15), which leaves room for missed runs; None when the package
    never forgets one."""
    lifetime = provider.refresh_token_idle_lifetime
    return lifetime / 4 if lifetime else None


def store_tokens(connection: Connection, tokens: Tokens, db: Database, now: datetime) -> None:
    """Keep `tokens` as the connection's own; any refresh in progress is then out of date and loses its claim."""
    connection.access_token_enc = db.box.encrypt(tokens.access_token)
    if tokens.refresh_token:
        connection.refresh_token_enc = db.box.encrypt(tokens.refresh_token)
    connection.access_expires_at = tokens.expires_at
    if tokens.refresh_expires_at:
        connection.refresh_expires_at = tokens.refresh_expires_at
    if tokens.refresh_hard_expires_at:
        connection.refresh_hard_expires_at = tokens.refresh_hard_expires_at
    if tokens.scope:
        connection.scope = tokens.scope
    connection.refreshed_at = now
    connection.refresh_claim = connection.refreshing_until = None


def _check_usable(status: str, detail: str | None, organisation: str) -> None:
    """Raises `NeedsReconnect` for a connection that was removed or whose log-in no longer works."""
    if status == ConnectionStatus.DISCONNECTED:
        raise NeedsReconnect("This connection was removed.")
    if status == ConnectionStatus.NEEDS_RECONNECT:
        raise NeedsReconnect(
            f"The connection to {organisation} needs to be made again ({detail or 'its log-in expired'})."
        )


def _usable_token(token: str | None, expires: datetime | None, now: datetime) -> bool:
    """Whether a stored access token may still be used: there is one, and it does not expire within the margin."""
    return bool(token) and (expires is None or expires - REFRESH_MARGIN > now)


@dataclass(frozen=True)
class _Claim:
    """A refresh we hold: the claim written on the row, and the tokens whose refresh token we will spend."""

    value: str
    tokens: Tokens


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
        # one statement (`Database.statements`): a round trip a call on PostgreSQL, as the shared budget's are
        with self.db.statements.connect() as c:
            row = c.execute(_TOKEN, {"connection_id": self.connection_id}).first()
        if row is None:
            raise NeedsReconnect("This connection was removed.")
        status, detail, organisation, token, expires = row
        _check_usable(status, detail, organisation)
        if _usable_token(token, expires, self.clock()):
            return self.db.box.decrypt(token)
        return self._refresh(rejected=None, force=False)

    def refreshed_access_token(self, rejected: str) -> str:
        return self._refresh(rejected=rejected, force=False)

    def refresh_now(self) -> str:
        """Refresh even though the access token is still good (keeps an idle connection alive)."""
        return self._refresh(rejected=None, force=True)

    def refresh_token(self) -> str | None:
        """The stored refresh token, for revoking it when disconnecting; None when there is none."""
        with self.db.session() as s:
            connection = s.get(Connection, self.connection_id)
            if connection is None or not connection.refresh_token_enc:
                return None
            return self.db.box.decrypt(connection.refresh_token_enc)

    def _load(self, session: Session, *, for_update: bool = False) -> Connection:
        query = (
            locked_connection(self.connection_id)
            if for_update
            else select(Connection).where(Connection.id == self.connection_id)
        )
        connection = session.scalar(query)
        if connection is None:
            raise NeedsReconnect("This connection was removed.")
        _check_usable(connection.status, connection.status_detail, connection.organisation_name)
        return connection

    def _fresh(self, connection: Connection) -> bool:
        return _usable_token(connection.access_token_enc, connection.access_expires_at, self.clock())

    def _current(self, connection: Connection) -> str:
        return self.db.box.decrypt(connection.access_token_enc) if connection.access_token_enc else ""

    @contextmanager
    def _local_lock(self) -> Iterator[None]:
        """This process's threads take turns without asking the database: the one that waited then finds the
        new token stored."""
        with _local_locks_guard:
            lock = _local_locks.setdefault(self.db, KeyedLocks())(self.connection_id)
        if not lock.acquire(blocking=False):
            log.debug("Connection %s is being refreshed by another thread; waiting", self.connection_id)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def _refresh(self, *, rejected: str | None, force: bool) -> str:
        with self._local_lock():
            try:
                return self._refresh_once(rejected=rejected, force=force)
            except NeedsReconnect as exc:
                self._mark_needs_reconnect(exc.message)
                raise

    def _refresh_once(self, *, rejected: str | None, force: bool) -> str:
        """Wait while someone else holds the refresh, then use their result, or claim it and refresh."""
        seen: str | None = None  # the access token when we first looked
        delay, told = POLL_FIRST, False
        while True:
            with self.db.session() as s:  # a plain read: waiting never takes SQLite's write lock
                connection = self._load(s)
                seen = self._current(connection) if seen is None else seen
                settled = self._settled(connection, rejected=rejected, force=force, seen=seen)
                busy = self._in_progress(connection)
            if settled is not None:
                return settled
            if busy:
                if not told:
                    log.info("Connection %s is being refreshed elsewhere; waiting for the result", self.connection_id)
                    told = True
                time.sleep(delay)
                delay = min(delay * 2, POLL_MOST)
                continue
            claim = self._claim(rejected=rejected, force=force, seen=seen)
            if isinstance(claim, str):
                return claim
            if claim is None:
                continue  # claimed by another between our look and our claim
            token = self._spend(claim)
            if token is not None:
                return token
            # Our claim was taken over (our lease lapsed) or the connection was made again: use their tokens.

    def _settled(self, connection: Connection, *, rejected: str | None, force: bool, seen: str) -> str | None:
        """The access token to use without refreshing, if the stored one will do."""
        current = self._current(connection)
        if not current:
            return None
        if rejected is not None and current != rejected:
            return current  # someone already replaced the token the package refused
        if current != seen:
            return current  # someone refreshed while we waited
        if rejected is None and not force and self._fresh(connection):
            return current
        return None

    def _in_progress(self, connection: Connection) -> bool:
        return connection.refreshing_until is not None and connection.refreshing_until > self.clock()

    def _claim(self, *, rejected: str | None, force: bool, seen: str) -> str | _Claim | None:
        """In one short transaction: the stored access token if it now will do, None if someone else claimed
        the refresh first, or our claim."""
        with self.db.session(write_lock=True) as s:
            connection = self._load(s, for_update=True)
            settled = self._settled(connection, rejected=rejected, force=force, seen=seen)
            if settled is not None:
                return settled
            if self._in_progress(connection):
                return None
            if not connection.refresh_token_enc:
                raise NeedsReconnect("There is no refresh token for this connection.")
            if connection.refresh_claim is not None:
                log.warning(
                    "The refresh of connection %s claimed until %s was never finished; taking it over",
                    self.connection_id,
                    connection.refreshing_until,
                )
            now = self.clock()
            claim = _Claim(
                value=secrets.token_hex(16),
                tokens=Tokens(
                    access_token=self._current(connection),
                    refresh_token=self.db.box.decrypt(connection.refresh_token_enc),
                    expires_at=connection.access_expires_at,
                ),
            )
            connection.refresh_claim, connection.refreshing_until = claim.value, now + REFRESH_LEASE
            return claim

    def _spend(self, claim: _Claim) -> str | None:
        """Call the package outside any transaction, then store what it gave if the claim is still ours (None
        if it is not)."""
        try:
            tokens = self.provider.refresh(claim.tokens)
        except NeedsReconnect:
            raise  # the claim ends with the status change, so no one spends the dead token meanwhile
        except Exception:
            self._release(claim)
            raise
        with self.db.session(write_lock=True) as s:
            connection = self._load(s, for_update=True)
            if connection.refresh_claim != claim.value:
                log.warning("Connection %s: our refresh was taken over; using the tokens stored", self.connection_id)
                return None
            store_tokens(connection, tokens, self.db, self.clock())
        log.info("Refreshed the tokens of connection %s", self.connection_id)
        return tokens.access_token

    def _release(self, claim: _Claim) -> None:
        """After a failed call the stored refresh token is unchanged (or, if the answer was lost, still honoured
        for the grace period): let the next caller retry at once instead of waiting out the lease."""
        with self.db.session(write_lock=True) as s:
            connection = s.scalar(locked_connection(self.connection_id))
            if connection is not None and connection.refresh_claim == claim.value:
                connection.refresh_claim = connection.refreshing_until = None

    def _mark_needs_reconnect(self, detail: str) -> None:
        with self.db.session(write_lock=True) as s:
            connection = s.scalar(locked_connection(self.connection_id))
            if connection is None or connection.status != ConnectionStatus.ACTIVE:
                return  # marked already: the people were told once
            connection.status = ConnectionStatus.NEEDS_RECONNECT
            connection.status_detail = detail
            connection.refresh_claim = connection.refreshing_until = None
            stop_syncs(s, connection_ids=[connection.id])
        log.warning("Connection %s needs reconnecting: %s", self.connection_id, detail)
        if self.on_needs_reconnect is not None:
            self.on_needs_reconnect(self.connection_id, detail)
