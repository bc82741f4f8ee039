"""The command line a person runs: migrate, doctor, and run refusing an old schema."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import migrate
from storage.db import make_engine
from tests.conftest import APP_TOKEN, BOT_TOKEN, TEST_KEY
from tests.fakes.quickbooks import TOKEN_PATH as QUICKBOOKS_TOKEN_PATH
from tests.fakes.quickbooks import QuickBooksFake
from tests.fakes.server import ServerThread
from tests.fakes.slack import SlackFake
from tests.fakes.xero import XeroFake


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        # PYTHONPATH is kept, so that a worktree's tests run the worktree's bot, not an installed one
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(cwd),
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(slack: SlackFake, empty_database_url: str) -> dict[str, str]:
    """The command line starts from an empty database, as a new installation does."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": f"{slack.url}/api/",
        "DATABASE_URL": empty_database_url,
        "ENCRYPTION_KEY": TEST_KEY,
    }


def test_migrate_brings_an_empty_database_up_to_date(
    env: dict[str, str], empty_database_url: str, tmp_path: Path
) -> None:
    result = run_cli("migrate", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"empty -> {migrate.head_revision()}" in result.stdout
    again = run_cli("migrate", env=env, cwd=tmp_path)
    assert "up to date" in again.stdout
    engine = make_engine(empty_database_url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()


def test_doctor_passes_when_everything_answers(env: dict[str, str], tmp_path: Path) -> None:
    run_cli("migrate", env=env, cwd=tmp_path)
    result = run_cli("doctor", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ database" in result.stdout
    assert "✓ slack bot token: works for workspace Acme Plumbing" in result.stdout
    assert "✓ slack app token: Socket Mode can connect" in result.stdout
    assert "✓ slack mode: Socket Mode, one workspace (SLACK_BOT_TOKEN)" in result.stdout


def test_doctor_says_a_bot_token_beside_install_credentials_is_ignored(
    env: dict[str, str], slack: SlackFake, tmp_path: Path
) -> None:
    multi = env | {
        "SLACK_CLIENT_ID": slack.client_id,
        "SLACK_CLIENT_SECRET": slack.client_secret,
        "SLACK_SIGNING_SECRET": slack.signing_secret,
    }
    run_cli("migrate", env=env, cwd=tmp_path)
    result = run_cli("doctor", env=multi, cwd=tmp_path)
    assert result.returncode != 0
    assert "✗ slack mode: Socket Mode, any workspace that installs the app" in result.stdout
    assert "SLACK_BOT_TOKEN is set but ignored" in result.stdout and "/slack/install" in result.stdout
    assert "slack bot token: works" not in result.stdout
    alone = {k: v for k, v in multi.items() if k != "SLACK_BOT_TOKEN"}
    assert (
        "✓ slack mode: Socket Mode, any workspace that installs the app at"
        in run_cli("doctor", env=alone, cwd=tmp_path).stdout
    )


def test_doctor_names_each_problem_and_its_fix(env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli("doctor", env=env | {"SLACK_BOT_TOKEN": "xoxb-wrong-token-1"}, cwd=tmp_path)
    assert result.returncode == 1
    assert "✗ database: schema at nothing" in result.stdout and "accounts-bot migrate" in result.stdout
    assert "✗ slack bot token: Slack refused it (invalid_auth)" in result.stdout
    assert "fix: copy the Bot User OAuth Token again" in result.stdout
    assert "xoxb-wrong-token-1" not in result.stdout


@pytest.fixture
def xero_env() -> Iterator[dict[str, str]]:
    """A Xero fake that knows accounts-bot's client, and the settings that point the bot at it."""
    fake = XeroFake()
    fake.register_client(client_id="DOCTORCLIENT", client_secret="right-secret", redirect_uris=["http://x/cb"])
    server = ServerThread(fake.app).start()
    yield {
        "XERO_CLIENT_ID": "DOCTORCLIENT",
        "XERO_CLIENT_SECRET": "right-secret",
        "XERO_TOKEN_URL": f"{server.url}/connect/token",
    }
    server.stop()


def test_doctor_checks_each_package_s_credentials_at_its_token_endpoint(
    env: dict[str, str], xero_env: dict[str, str], tmp_path: Path
) -> None:
    good = run_cli("doctor", env=env | xero_env, cwd=tmp_path)
    assert "✓ xero: Xero accepts the client id and secret" in good.stdout, good.stdout + good.stderr
    bad = run_cli("doctor", env=env | xero_env | {"XERO_CLIENT_SECRET": "wrong-secret"}, cwd=tmp_path)
    assert bad.returncode == 1
    assert "✗ xero: Xero did not recognise accounts-bot's client id and secret" in bad.stdout
    assert "fix: copy the client id and secret from Xero into XERO_CLIENT_ID and XERO_CLIENT_SECRET" in bad.stdout
    assert "wrong-secret" not in bad.stdout + bad.stderr


@pytest.fixture
def quickbooks_env() -> Iterator[dict[str, str]]:
    """A QuickBooks fake that knows accounts-bot's client (HTTP Basic only), and the settings that point at it."""
    fake = QuickBooksFake()
    fake.register_client(client_id="DOCTORQBO", client_secret="right-secret", redirect_uris=["http://x/cb"])
    server = ServerThread(fake.app).start()
    yield {
        "QUICKBOOKS_CLIENT_ID": "DOCTORQBO",
        "QUICKBOOKS_CLIENT_SECRET": "right-secret",
        "QUICKBOOKS_TOKEN_URL": f"{server.url}{QUICKBOOKS_TOKEN_PATH}",
    }
    server.stop()


def test_doctor_checks_the_quickbooks_settings(
    env: dict[str, str], quickbooks_env: dict[str, str], tmp_path: Path
) -> None:
    good = run_cli("doctor", env=env | quickbooks_env, cwd=tmp_path)
    assert "✓ quickbooks: QuickBooks accepts the client id and secret" in good.stdout, good.stdout + good.stderr
    bad = run_cli("doctor", env=env | quickbooks_env | {"QUICKBOOKS_CLIENT_SECRET": "wrong-secret"}, cwd=tmp_path)
    assert bad.returncode == 1
    assert "✗ quickbooks: QuickBooks did not recognise accounts-bot's client id and secret" in bad.stdout
    assert "QUICKBOOKS_CLIENT_ID and QUICKBOOKS_CLIENT_SECRET" in bad.stdout
    malformed = run_cli("doctor", env=env | quickbooks_env | {"QUICKBOOKS_PAGE_SIZE": "5000"}, cwd=tmp_path)
    assert malformed.returncode == 1 and "QUICKBOOKS_PAGE_SIZE" in malformed.stdout + malformed.stderr


def test_doctor_says_which_packages_are_not_offered(env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli("doctor", env=env, cwd=tmp_path)
    assert "✓ xero: not configured (set XERO_CLIENT_ID and XERO_CLIENT_SECRET to offer it)" in result.stdout
    assert "✓ quickbooks: not configured (set QUICKBOOKS_CLIENT_ID and QUICKBOOKS_CLIENT_SECRET" in result.stdout


def test_doctor_reports_missing_settings(tmp_path: Path) -> None:
    result = run_cli("doctor", env={}, cwd=tmp_path)
    assert result.returncode == 1
    assert "✗ settings" in result.stdout and "ENCRYPTION_KEY is missing" in result.stdout


def test_run_refuses_an_old_schema_when_auto_migrate_is_off(env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli("run", env=env | {"AUTO_MIGRATE": "false"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "accounts-bot migrate" in result.stderr and "Traceback" not in result.stderr
