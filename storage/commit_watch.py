"""Whether any transaction has committed to a SQLite database since a moment, seen without a query.

In WAL mode SQLite publishes every commit in the wal-index header at the start of the database's `-shm` file,
which every connection maps into its process (https://www.sqlite.org/walformat.html, "The WAL-Index Header"):
two copies of 48 bytes, the second written before the first, each holding a counter that every committing
transaction bumps (`iChange`), the log's last frame, its salts and a checksum. Two equal copies are a header
published whole, and while a process reads the same bytes, nothing has committed since, whichever process writes.
A checkpoint or a recovery may rewrite the header with nothing committed: that only reads as a change.

`/accounts status` asks on every request whether what it shows changed (`storage.status_version`). Asked of the
database, that is a query, and the driver lets go of the interpreter's lock around each step of it; under 50
requests at once each let-go is a chance for another thread to take the lock and keep it, and the read cost 70-80 us
of CPU against 17 us alone (tests/test_status_versions.py shows when the query is made). Here it is a copy of 96
bytes from the mapping SQLite made.

The mapping is SQLite's own (found in `/proc/self/maps`), kept by a connection the watch holds open and uses for
nothing else: SQLite unmaps the `-shm` file only when the last of this process's connections to it closes, and
no process truncates it while any connection has it open (its "DMS" lock). Opening the file ourselves would not
do: closing any descriptor of a file drops every POSIX lock this process holds on it, SQLite's included. Where the
mapping cannot be found (not Linux, not WAL, a database in memory), `watch` gives None and the caller queries.
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
import sys
import threading
from typing import Any

HEADER = 48  # bytes of one copy of the wal-index header
WAL_INDEX_VERSION = 3007000  # `iVersion`, the first four bytes (native byte order)
MAPS = "/proc/self/maps"


class CommitWatch:
    """`marker()`: bytes that differ from those read before whenever a transaction committed in between. Holds
    `connection` (a pool connection, detached) open until `close()`. Thread-safe."""

    def __init__(self, connection: Any, address: int) -> None:
        self._connection = connection
        self._address: int | None = address
        self._lock = threading.Lock()  # `close` does not unmap the header under a reader

    def marker(self) -> bytes | None:
        """The published header, or None where it is being written (or the watch is closed): ask the database."""
        with self._lock:
            if self._address is None:
                return None
            header = ctypes.string_at(self._address, 2 * HEADER)
        first = header[:HEADER]
        return first if first == header[HEADER:] and _initialised(first) else None

    def close(self) -> None:
        with self._lock:
            if self._address is None:
                return
            self._address = None
        self._connection.close()


def watch(connection: Any) -> CommitWatch | None:
    """A watch holding `connection` (a SQLAlchemy pool connection, detached from its pool: it is closed with the
    watch), or None where its database has no wal-index header mapped in this process (`connection` then closed)."""
    try:
        address = _header_address(connection.dbapi_connection)
    except (OSError, ValueError, sqlite3.Error):  # not a file we can read as SQLite documents it
        address = None
    if address is None:
        connection.close()
        return None
    return CommitWatch(connection, address)


def _header_address(driver: Any) -> int | None:
    cursor = driver.cursor()
    try:
        cursor.execute("SELECT count(*) FROM sqlite_master").fetchall()  # a read: the connection maps the header
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        files = {name: file for _, name, file in cursor.execute("PRAGMA database_list").fetchall()}
    finally:
        cursor.close()
    path = files.get("main")
    if str(mode).lower() != "wal" or not path or not os.path.exists(MAPS):
        return None
    return _mapped_at(os.path.realpath(path) + "-shm")  # the kernel names a mapped file by its real path


def _mapped_at(path: str) -> int | None:
    """Where this process maps the start of `path`, if it maps at least two header copies of it."""
    with open(MAPS) as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].rstrip("\n") == path and int(fields[2], 16) == 0:
                start, end = (int(bound, 16) for bound in fields[0].split("-"))
                if end - start >= 2 * HEADER:
                    return start
    return None


def _initialised(header: bytes) -> bool:
    # `iVersion` (4 bytes), unused (4), `iChange` (4), then `isInit` (1): set once the header was written
    return int.from_bytes(header[:4], sys.byteorder) == WAL_INDEX_VERSION and header[12] == 1
