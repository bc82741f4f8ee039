"""Waking processes through PostgreSQL's LISTEN/NOTIFY (`storage.wakeups`): a notice committed is heard, a stop
ends the listening thread without waiting for a poll, and a connection the server dropped is made again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from storage.crypto import SecretBox
from storage.db import Database
from storage.wakeups import Listener, notify
from tests.conftest import DATABASES, TEST_KEY

if TYPE_CHECKING:
    from tests.databases import TestDatabases  # psycopg: the postgres extra

CHANNEL = "test_wakeups"


class Heard:
    """How often the listener called back, and a way to wait for the next call."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = threading.Condition()

    def __call__(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def reach(self, count: int, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= count, timeout)


def listening(db: Database, heard: Heard, **options: float) -> Listener:
    listener = Listener(db, CHANNEL, heard, **options).start()
    assert listener.listening.wait(10), "LISTEN was not in force"
    assert heard.reach(1)  # once on connecting, for what was sent while it was away
    return listener


if "postgresql" in DATABASES:  # LISTEN/NOTIFY: PostgreSQL only (on SQLite a listener does nothing: below)

    @pytest.fixture
    def postgres_db(postgres: TestDatabases) -> Iterator[Database]:
        postgres.reset()
        database = Database(postgres.url, SecretBox(TEST_KEY))
        yield database
        database.dispose()

    def test_a_notice_committed_is_heard_and_one_rolled_back_is_not(postgres_db: Database) -> None:
        heard = Heard()
        listener = listening(postgres_db, heard)
        try:
            with pytest.raises(RuntimeError), postgres_db.session() as s:
                notify(s, CHANNEL)
                raise RuntimeError("rolled back")
            with postgres_db.session() as s:
                notify(s, CHANNEL)
            assert heard.reach(2)
            with postgres_db.session() as s:
                notify(s, CHANNEL)
            assert heard.reach(3)
        finally:
            assert listener.stop()
        assert heard.count == 3  # the notice rolled back was never sent

    def test_a_stop_ends_the_listening_thread_without_waiting_for_a_poll(postgres_db: Database) -> None:
        """The thread sleeps until the connection or the stop wakes it. It polled every half second before, so a stop
        given a tenth of a second to end the thread mostly found it still waiting: three in a row seldom ended."""
        for _ in range(3):
            heard = Heard()
            listener = listening(postgres_db, heard)
            assert listener.stop(wait=0.1), "the thread was still waiting"
            assert not listener.listening.is_set()
            assert listener.stop(wait=0.1)  # a second stop is harmless

    def test_a_dropped_connection_is_made_again_and_heard_on(postgres_db: Database) -> None:
        """The server ends the listening connection (a restart, an administrator): the thread connects again after
        `reconnect_after`, calls back once for what it may have missed, and hears notices as before."""
        heard = Heard()
        listener = listening(postgres_db, heard, reconnect_after=0.05)
        try:
            with postgres_db.session() as s:
                ended = s.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query = :listen AND datname = current_database() AND pid <> pg_backend_pid()"
                    ),
                    {"listen": f'LISTEN "{CHANNEL}"'},
                ).scalars()
                assert list(ended) == [True]
            assert heard.reach(2), "not connected again"
            assert listener.listening.wait(10)
            with postgres_db.session() as s:
                notify(s, CHANNEL)
            assert heard.reach(3)
        finally:
            assert listener.stop()


def test_a_listener_on_sqlite_does_nothing(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/wakeups.db", SecretBox(TEST_KEY))
    try:
        listener = Listener(database, CHANNEL, Heard()).start()
        assert not listener.listening.is_set()
        assert listener.stop(wait=0)
    finally:
        database.dispose()
