"""Shared fixtures: a database per test on SQLite and, when TEST_DATABASE_URL is given, on PostgreSQL too.

A PostgreSQL run creates a database of its own (accounts_bot_test_<random>) and drops it at the end, so
nothing leaks between runs; each test gets an empty schema in it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage import migrate
from storage.crypto import SecretBox
from storage.db import Database

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
DATABASES = ["sqlite", "postgresql"] if TEST_DATABASE_URL else ["sqlite"]
TEST_KEY = SecretBox.generate_key()


def _psycopg(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this run's own on the server of TEST_DATABASE_URL, dropped when the run ends."""
    admin_url = make_url(_psycopg(TEST_DATABASE_URL))
    name = f"accounts_bot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text("DROP SCHEMA public CASCADE"))
        c.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a fresh schema in this run's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'accounts-bot.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database with the test encryption key."""
    database = Database(database_url, SecretBox(TEST_KEY))
    migrate.upgrade(database.engine)
    yield database
    database.dispose()
