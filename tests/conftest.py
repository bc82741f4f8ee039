"""Shared fixtures: a database per test on SQLite and, when TEST_DATABASE_URL is given, on PostgreSQL too.

On PostgreSQL each test process (xdist worker) creates a database of its own (accounts_bot_test_<random>),
migrates it once, empties it before each test, and drops it at the end (`tests.databases`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings
from playwright.sync_api import expect

from storage import migrate
from storage.crypto import SecretBox
from storage.db import Database
from tests import write_locks

if TYPE_CHECKING:
    from tests.databases import TestDatabases

# In CI, generated cases are the same on every run (derandomised), so a run passes or fails on the code alone;
# elsewhere each run tries new ones, and what fails is kept in .hypothesis/ to be tried first next time.
# No per-example deadline: the suite runs on several workers (pytest-xdist) beside other work, where a CPU-bound
# example can take longer than hypothesis's 200 ms without anything being wrong; pytest-timeout still stops a hang.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", derandomize=True, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "local")

# The same for the browser tests: Playwright's assertions wait for the page up to 30 s (its default is 5 s).
expect.set_options(timeout=30_000)

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
DATABASES = ["sqlite", "postgresql"] if TEST_DATABASE_URL else ["sqlite"]
TEST_KEY = SecretBox.generate_key()


def _psycopg(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@pytest.fixture(autouse=True)
def sqlite_writers_lock_first() -> Iterator[None]:
    """Fail a test in which the bot read and then wrote in one SQLite transaction begun without the write lock
    (`tests.write_locks`): it works until another connection writes in between, then says "database is locked"."""
    write_locks.found.clear()
    yield
    assert not write_locks.found, "Begin these with `session(write_lock=True)`:\n" + "\n".join(write_locks.found)


@pytest.fixture(scope="session")
def postgres() -> Iterator[TestDatabases]:
    """This test process's databases on the server of TEST_DATABASE_URL, migrated once, dropped when it ends."""
    from tests.databases import TestDatabases  # psycopg: the postgres extra

    databases = TestDatabases(_psycopg(TEST_DATABASE_URL), TEST_KEY)
    try:
        yield databases
    finally:
        databases.drop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest schema once per test process: each test starts from a copy of it, which
    costs a fifth of running every migration again (and the migrations still run from nothing where a test asks for
    `empty_database_url`). PostgreSQL has the same: a database per process migrated once (`postgres`)."""
    path = tmp_path_factory.mktemp("template") / "accounts-bot.db"
    database = Database(f"sqlite:///{path}", SecretBox(TEST_KEY))
    migrate.upgrade(database.engine)
    database.dispose()
    assert not path.with_name(path.name + "-wal").exists() or not path.with_name(path.name + "-wal").stat().st_size
    return path


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, not even migrated: a new SQLite file, or a fresh schema in a PostgreSQL database of this
    process's own kept for such tests."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'accounts-bot.db'}"
    postgres: TestDatabases = request.getfixturevalue("postgres")
    return postgres.empty_schema()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database of the test's own, with nothing in it (the bot's migrating on start finds nothing to do):
    on SQLite a copy of a file migrated once (`sqlite_template`); on PostgreSQL this process's database, migrated
    once and emptied before each test (`tests.databases`)."""
    if request.param == "sqlite":
        path = tmp_path / "accounts-bot.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    postgres: TestDatabases = request.getfixturevalue("postgres")
    postgres.reset()
    return postgres.url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database with the test encryption key."""
    database = Database(database_url, SecretBox(TEST_KEY))
    migrate.upgrade(database.engine)
    yield database
    database.dispose()


# --- The bot end to end, against the local fakes -------------------------------------------------------------

from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from bot.server import BotServer  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from tests.fakes.server import ServerThread, free_port  # noqa: E402
from tests.fakes.slack import SlackFake  # noqa: E402

TEAM, ADMIN, STAFF, CHANNEL = "T0ACME001", "U0ADMIN01", "U0STAFF01", "C0GENERAL1"
BOT_TOKEN, APP_TOKEN = "xoxb-acme-bot-token-1", "xapp-1-acme-app-token-1"


@dataclass
class RunningBot:
    server: BotServer
    slack: SlackFake
    settings: Settings

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def db(self) -> Database:
        return self.server.runtime.db


@pytest.fixture
def slack() -> Iterator[SlackFake]:
    """Slack with one workspace (Acme Plumbing): an admin, a staff member and #general with the bot in it."""
    fake = SlackFake()
    server = fake.serve().start()
    fake.add_workspace(TEAM, "Acme Plumbing", bot_token=BOT_TOKEN, app_token=APP_TOKEN, domain="acme-plumbing")
    fake.add_user(TEAM, ADMIN, "ada", is_admin=True)
    fake.add_user(TEAM, STAFF, "sam")
    fake.add_channel(TEAM, CHANNEL, "general")
    yield fake
    fake.close_sockets()
    server.stop()


def bot_settings(slack: SlackFake, database_url: str, *, mode: str, multi: bool = False, **extra: Any) -> Settings:
    port = free_port()
    values: dict[str, Any] = {
        "slack_signing_secret": slack.signing_secret,
        "slack_api_url": f"{slack.url}/api/",
        "slack_authorize_url": f"{slack.url}/oauth/v2/authorize",
        "database_url": database_url,
        "encryption_key": TEST_KEY,
        "host": "127.0.0.1",
        "port": port,
        "public_url": f"http://127.0.0.1:{port}",
    }
    if multi:
        values |= {"slack_client_id": slack.client_id, "slack_client_secret": slack.client_secret}
    else:
        values["slack_bot_token"] = BOT_TOKEN
    if mode == "socket":
        values["slack_app_token"] = APP_TOKEN
    return load_settings(None, **(values | extra))


@pytest.fixture
def start_bot(slack: SlackFake, database_url: str) -> Iterator[Any]:
    """Start the whole bot in this process against the fakes; stopped at the end of the test."""
    running: list[RunningBot] = []

    def start(mode: str = "http", *, multi: bool = False, **extra: Any) -> RunningBot:
        settings = bot_settings(slack, database_url, mode=mode, multi=multi, **extra)
        server = BotServer(settings, owns_process=False).start()  # the heap is the test run's, not the bot's
        bot = RunningBot(server=server, slack=slack, settings=settings)
        running.append(bot)
        if mode == "socket":
            slack.request_url = None
            slack.wait_for_socket()
        else:
            slack.request_url = f"{server.url}/slack/events"
        return bot

    yield start
    slack.close_sockets()  # slack_sdk's client otherwise waits out its 3-second receive timeout
    for bot in running:
        bot.server.stop()


@pytest.fixture(params=["http", "socket"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both ways Slack reaches the bot: signed HTTP requests, and Socket Mode envelopes."""
    return str(request.param)


@pytest.fixture
def bot(start_bot: Any, mode: str) -> RunningBot:
    return start_bot(mode)


__all__ = ["ServerThread"]

# Fixtures of the Xero fake and the bot connected to it, shared by the end-to-end suites.
from tests.flows import connect_bot, xero, xero_clock  # noqa: E402, F401

# Every accounting package end to end: a test taking `package` (or `package_bot`) runs once per package.
from tests.packages_e2e import package, package_bot, parametrise_packages  # noqa: E402, F401


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrise_packages(metafunc)
