"""On SQLite, `/accounts status` asks the database whether what it shows changed only when something has committed
since it last asked (`storage.commit_watch`, used by `storage.status_version.StatusVersions`), and is never stale
for it: whatever commits, by this process or another, to any table, through a checkpoint or the pool's connections
all closing, the next version read is the database's."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, update

from bot import workspaces
from storage import commit_watch
from storage.crypto import SecretBox
from storage.db import Database
from storage.models import Connection, Workspace
from storage.status_version import StatusVersions, _read
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def fresh(db: Database, workspace_id: int) -> Any:
    """The version as a new connection reads it, nothing kept."""
    connection = db.engine.raw_connection()
    try:
        return _read(connection.dbapi_connection, db.engine.dialect, workspace_id)
    finally:
        connection.close()


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    """Every statement the database's new connections run from now on (SQLite's own trace of them)."""
    traced: list[str] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(traced.append)

    event.listen(db.engine, "connect", trace)
    yield traced
    event.remove(db.engine, "connect", trace)


def reads_of_the_version(traced: list[str]) -> int:
    return sum("status_changes" in statement for statement in traced)


def test_an_unchanged_database_is_asked_once(db: Database, statements: list[str]) -> None:
    with db.session() as s:
        workspace_id = workspaces.ensure(s, team_id="T0ASKED001").id
    versions = StatusVersions(db)
    try:
        first = versions.read(workspace_id=workspace_id)
        assert first == fresh(db, workspace_id) and reads_of_the_version(statements) == 2  # with `fresh`'s
        assert all(versions.read(workspace_id=workspace_id) == first for _ in range(50))
        assert reads_of_the_version(statements) == 2

        other = Database(db.url, SecretBox(TEST_KEY))  # a second process's engine, committing elsewhere
        try:
            with other.session() as s:
                workspaces.ensure(s, team_id="T0ELSE0001")
        finally:
            other.dispose()
        assert versions.read(workspace_id=workspace_id) == first  # asked again: something committed
        assert reads_of_the_version(statements) == 3
        assert versions.read(workspace_id=workspace_id) == first and reads_of_the_version(statements) == 3

        with db.session() as s:  # what status shows, changed
            s.execute(update(Workspace).where(Workspace.id == workspace_id).values(uninstalled_at=datetime.now(UTC)))
        changed = versions.read(workspace_id=workspace_id)
        assert changed != first and changed == fresh(db, workspace_id)
    finally:
        versions.close()


def test_a_commit_by_another_program_is_seen(db: Database) -> None:
    """Another process, not ours and not through SQLAlchemy (the `sqlite3` module alone, as a person's script or the
    command line would), changes what status shows."""
    with db.session() as s:
        workspace_id = workspaces.ensure(s, team_id="T0SCRIPT01").id
    versions = StatusVersions(db)
    try:
        before = versions.read(workspace_id=workspace_id)
        assert versions.read(workspace_id=workspace_id) == before
        path = db.engine.url.database
        script = (
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('UPDATE workspaces SET uninstalled_at = CURRENT_TIMESTAMP WHERE id = ?', (int(sys.argv[2]),))"
        )
        subprocess.run([sys.executable, "-c", script, str(path), str(workspace_id)], check=True, timeout=60)
        after = versions.read(workspace_id=workspace_id)
        assert after != before and after == fresh(db, workspace_id)
    finally:
        versions.close()


def test_reads_after_closing_ask_the_database(db: Database) -> None:
    """Closing lets go of the header's mapping (the watch's connection): a read after it is a query, not a read
    of memory no longer mapped."""
    with db.session() as s:
        workspace_id = workspaces.ensure(s, team_id="T0CLOSED01").id
    versions = StatusVersions(db)
    versions.read(workspace_id=workspace_id)
    versions.close()
    with db.session() as s:
        s.execute(update(Workspace).where(Workspace.id == workspace_id).values(uninstalled_at=datetime.now(UTC)))
    db.engine.dispose()  # no other connection of this process holds the file either
    assert versions.read(workspace_id=workspace_id) == fresh(db, workspace_id)


def test_reads_at_once_with_writes_between_are_never_behind(db: Database) -> None:
    """Eight threads read while another commits changes status shows, one after another: a read begun after a
    commit returned gives that commit's version or a later one."""
    with db.session() as s:
        workspace_id = workspaces.ensure(s, team_id="T0THREADS1").id
        connection = Connection(
            workspace_id=workspace_id, provider="xero", organisation_id="org-1", organisation_name="N"
        )
        s.add(connection)
    versions = StatusVersions(db)
    committed: list[Any] = [fresh(db, workspace_id)]
    behind: list[tuple[Any, Any]] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            floor = committed[-1]
            read = versions.read(workspace_id=workspace_id)
            if read[:2] < floor[:2]:  # the log's newest id and its count only grow here
                behind.append((read, floor))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        for n in range(40):
            with db.session() as s:
                s.execute(update(Connection).where(Connection.id == connection.id).values(organisation_name=f"N{n}"))
            committed.append(fresh(db, workspace_id))
    finally:
        done.set()
        for thread in threads:
            thread.join()
        versions.close()
    assert behind == [] and len(set(committed)) == 41


Step = Callable[[Database, int], None]


def status_change(db: Database, workspace_id: int) -> None:
    with db.session() as s:
        s.execute(update(Workspace).where(Workspace.id == workspace_id).values(uninstalled_at=datetime.now(UTC)))


def other_change(db: Database, workspace_id: int) -> None:
    with db.session() as s:
        s.execute(update(Workspace).where(Workspace.id != workspace_id).values(name="Elsewhere"))


def elsewhere(step: Step) -> Step:
    def in_another_engine(db: Database, workspace_id: int) -> None:
        other = Database(db.url, SecretBox(TEST_KEY))
        try:
            step(other, workspace_id)
        finally:
            other.dispose()

    return in_another_engine


def checkpoint(mode: str) -> Step:
    def run(db: Database, workspace_id: int) -> None:
        with db.engine.connect() as connection:
            connection.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")

    return run


def pool_closed(db: Database, workspace_id: int) -> None:
    db.engine.dispose()


STEPS: dict[str, Step] = {
    "status changed here": status_change,
    "status changed elsewhere": elsewhere(status_change),
    "another workspace changed here": other_change,
    "another workspace changed elsewhere": elsewhere(other_change),
    "checkpoint": checkpoint("PASSIVE"),
    "checkpoint and restart": checkpoint("RESTART"),
    "checkpoint and truncate": checkpoint("TRUNCATE"),
    "the pool's connections closed": pool_closed,
    "nothing": lambda db, workspace_id: None,
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(sorted(STEPS)), max_size=10))
def test_every_read_is_the_databases_whatever_happened_between(db: Database, steps: list[str]) -> None:
    with db.session() as s:
        workspace_id = workspaces.ensure(s, team_id="T0STEPS001").id
        workspaces.ensure(s, team_id="T0STEPS002")
    versions = StatusVersions(db)
    try:
        assert versions.read(workspace_id=workspace_id) == fresh(db, workspace_id)
        for step in steps:
            STEPS[step](db, workspace_id)
            assert versions.read(workspace_id=workspace_id) == fresh(db, workspace_id), step
            assert versions.read(workspace_id=workspace_id) == fresh(db, workspace_id), step
    finally:
        versions.close()


def test_the_watch_is_there_on_a_database_in_wal_mode(db: Database) -> None:
    """The tests above hold only where the watch runs: it must, on the bot's own SQLite files."""
    versions = StatusVersions(db)
    try:
        assert isinstance(versions._watch, commit_watch.CommitWatch) and versions._watch.marker() is not None
    finally:
        versions.close()


def test_no_watch_where_the_database_has_no_wal_index(tmp_path: Any, db: Database) -> None:
    """A database not in WAL mode has no header to read (`watch` gives None; the caller asks the database)."""
    plain = Database(f"sqlite:///{tmp_path / 'plain.db'}", SecretBox(TEST_KEY))
    try:
        connection = plain.engine.raw_connection()
        connection.detach()
        connection.dbapi_connection.execute("PRAGMA journal_mode=DELETE")
        assert commit_watch.watch(connection) is None
    finally:
        plain.dispose()
