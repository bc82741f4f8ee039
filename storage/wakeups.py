"""Waking the other processes when there is work: PostgreSQL's NOTIFY, delivered when the transaction that
queued the work commits, heard by a LISTEN thread in each process. SQLite serves one process: nothing is sent,
and that process's own wake-ups and tick stand in."""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from storage.db import Database

log = logging.getLogger(__name__)


def notify(session: Session, channel: str) -> None:
    """Tell every process listening on `channel`, once (and only if) the session's transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})


class Listener:
    """A thread holding one connection of its own that LISTENs on `channel` and calls `heard()` for each
    notice (and once after each (re)connection, for what was sent while it was away). It reconnects after
    `reconnect_after` seconds should the connection drop. Does nothing on SQLite.

    The thread sleeps until the connection or `stop()` wakes it (a socket pair of its own beside the connection's),
    so a stop does not wait for a poll: each stop of a bot on PostgreSQL waited up to half a second here."""

    def __init__(self, db: Database, channel: str, heard: Callable[[], None], *, reconnect_after: float = 5.0) -> None:
        self.db, self.channel, self.heard, self.reconnect_after = db, channel, heard, reconnect_after
        self.listening = threading.Event()  # set while LISTEN is in force (tests wait for it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None  # the thread's end, and `stop()`'s

    def start(self) -> Listener:
        if self.db.is_sqlite or self._thread is not None:
            return self
        self._wake = socket.socketpair()
        self._thread = threading.Thread(target=self._listen, name=f"listen-{self.channel}", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float = 5.0) -> bool:
        """Stop listening, waiting up to `wait` seconds for the thread to end; returns whether it has."""
        self._stop.set()
        if self._wake is not None:
            try:
                self._wake[1].send(b"\0")
            except OSError:  # stopped before: the thread closed the pair
                pass
        if self._thread is not None:
            self._thread.join(timeout=wait)
            return not self._thread.is_alive()
        return True

    def _listen(self) -> None:
        import psycopg  # the postgres extra; only a PostgreSQL database gets here

        assert self._wake is not None
        woken, waker = self._wake
        conninfo = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            while not self._stop.is_set():
                try:
                    with psycopg.connect(conninfo, autocommit=True) as conn:
                        conn.execute(f'LISTEN "{self.channel}"')
                        self._call()
                        self.listening.set()
                        waiting = select.poll()  # not select(): a descriptor numbered past 1,023 is refused there
                        waiting.register(conn.fileno(), select.POLLIN)
                        waiting.register(woken, select.POLLIN)
                        while not self._stop.is_set():
                            ready = {fd for fd, _ in waiting.poll()}
                            # what came is read without waiting (a connection that dropped raises here)
                            if woken.fileno() not in ready and any(True for _ in conn.notifies(timeout=0)):
                                self._call()
                except psycopg.Error as exc:
                    log.warning(
                        "Listening for %s stopped (%s); again in %.0fs", self.channel, exc, self.reconnect_after
                    )
                finally:
                    self.listening.clear()
                self._stop.wait(self.reconnect_after)
        finally:
            woken.close()
            waker.close()

    def _call(self) -> None:
        try:
            self.heard()
        except Exception:
            log.exception("Handling a notice on %s failed", self.channel)
