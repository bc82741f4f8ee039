"""Waking the other processes when there is work: PostgreSQL's NOTIFY, delivered when the transaction that
queued the work commits, heard by a LISTEN thread in each process. SQLite serves one process: nothing is sent,
and that process's own wake-ups and tick stand in."""

from __future__ import annotations

import logging
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
    `reconnect_after` seconds should the connection drop. Does nothing on SQLite."""

    def __init__(self, db: Database, channel: str, heard: Callable[[], None], *, reconnect_after: float = 5.0) -> None:
        self.db, self.channel, self.heard, self.reconnect_after = db, channel, heard, reconnect_after
        self.listening = threading.Event()  # set while LISTEN is in force (tests wait for it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Listener:
        if self.db.is_sqlite or self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._listen, name=f"listen-{self.channel}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _listen(self) -> None:
        import psycopg  # the postgres extra; only a PostgreSQL database gets here

        conninfo = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    self._call()
                    self.listening.set()
                    while not self._stop.is_set():
                        if any(True for _ in conn.notifies(timeout=0.5)):
                            self._call()
            except psycopg.Error as exc:
                log.warning("Listening for %s stopped (%s); again in %.0fs", self.channel, exc, self.reconnect_after)
            finally:
                self.listening.clear()
            self._stop.wait(self.reconnect_after)

    def _call(self) -> None:
        try:
            self.heard()
        except Exception:
            log.exception("Handling a notice on %s failed", self.channel)
