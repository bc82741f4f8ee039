"""Bring the schema up to date with Alembic, or tell whether it is behind."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutOfDate(Exception):
    def __init__(self, current: str | None, head: str) -> None:
        self.current, self.head = current, head
        where = "is empty" if current is None else f"is at revision {current}"
        super().__init__(
            f"The database schema {where} but this version of accounts-bot needs {head}. "
            "Run `accounts-bot migrate` (or set AUTO_MIGRATE=true) and start again."
        )


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@functools.cache
def head_revision() -> str:
    """The newest revision of the migrations shipped with this code (read once: Alembic loads every migration's
    file to find it, 80 ms)."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to `revision`. A database already at the newest is left as it is without loading Alembic's scripts
    (every start of the bot asks, with AUTO_MIGRATE)."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    _migrate(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str) -> None:
    _migrate(engine, lambda config: command.downgrade(config, revision))


def _migrate(engine: Engine, step: Callable[[Config], None]) -> None:
    """`step` in one transaction. On SQLite, with foreign keys off and checked before the commit when the schema
    moved (the check reads every table: not on each start), as SQLite asks for changes it makes by copying a table
    (Alembic's batch mode): dropping the old copy of a table others refer to would otherwise run their ON DELETE
    actions, emptying or nulling every row that refers to it."""
    config = _config(engine)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # on the driver's connection, outside any transaction: SQLite ignores it inside one
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                before = MigrationContext.configure(connection).get_current_revision()
                step(config)
                moved = MigrationContext.configure(connection).get_current_revision() != before
                if sqlite and moved and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                    raise RuntimeError(f"the migration left rows referring to rows that are not there: {broken[:5]}")
        finally:
            if sqlite:
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def check_schema(engine: Engine) -> None:
    """Raise `SchemaOutOfDate` unless the database is at the newest revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(current, head)
