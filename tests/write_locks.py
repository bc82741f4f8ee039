"""Watching the bot's SQLite transactions: one that reads first and writes later must take the write lock at BEGIN.

SQLite (in WAL mode) begins a transaction as a reader; its first write must then become the writer, which fails at
once with "database is locked" when another connection (an import's page, a chore) wrote since the transaction's
first read: the busy timeout does not help, as the reader's snapshot is already stale. So the bot's transactions that
read and then write begin with the write lock (`Database.session(write_lock=True)`, SQLite's BEGIN IMMEDIATE). A
transaction without it, whose first statement reads and a later one writes, is a failure waiting for the moment
another writer comes: `found` collects them as they run, for the fixture in `tests.conftest` to fail the test.

Only the bot's own work is watched: a statement with a test's frame on its stack (a test's set-up calling the
bot's functions) or a migration's (run alone, before the bot serves) is left out.
"""

from __future__ import annotations

import os
import re
import traceback
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_READ = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)
_WRITES_IN_CTE = re.compile(r"\b(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_FIRST = "write_locks.first"  # in `Connection.info`: "read" or "write", the transaction's first statement

_ROOT = str(Path(__file__).resolve().parents[1]) + os.sep

found: list[str] = []


def _kind(statement: str) -> str | None:
    if _WRITE.match(statement):
        return "write"
    if _READ.match(statement):
        return "write" if statement.lstrip()[:4].upper() == "WITH" and _WRITES_IN_CTE.search(statement) else "read"
    return None


def _in_repo(filename: str) -> bool:
    return filename.startswith(_ROOT) and "site-packages" not in filename


def _ours(stack: traceback.StackSummary) -> bool:
    files = [frame.filename.replace("\\", "/") for frame in stack]
    if any(name.endswith("/storage/migrate.py") for name in files):
        return False
    return not any("/tests/" in name for name in files)


@event.listens_for(Engine, "begin")
def _begin(conn: Connection) -> None:
    conn.info[_FIRST] = None


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _end(conn: Connection) -> None:
    conn.info.pop(_FIRST, None)


@event.listens_for(Engine, "before_cursor_execute")
def _statement(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
    if conn.dialect.name != "sqlite" or _FIRST not in conn.info:
        return
    if conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
        return
    kind = _kind(statement)
    if kind is None:
        return
    first = conn.info[_FIRST]
    if first is None:
        conn.info[_FIRST] = kind
    elif first == "read" and kind == "write":
        conn.info[_FIRST] = "told"  # once a transaction
        stack = traceback.extract_stack()[:-1]  # without this function's own frame
        if _ours(stack):
            where = [f"{f.filename[len(_ROOT) :]}:{f.lineno} {f.name}" for f in stack if _in_repo(f.filename)]
            found.append(f"{statement[:120]}\n  " + "\n  ".join(where[-6:]))
