"""Settings: real defaults, and one clear message naming every problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from storage.crypto import SecretBox

KEY = SecretBox.generate_key()
SINGLE = {"slack_bot_token": "xoxb-1-2-abc", "slack_signing_secret": "s3cret", "encryption_key": KEY}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "ENCRYPTION_KEY",
        "DATABASE_URL",
        "PUBLIC_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_real_defaults_for_every_external_url() -> None:
    s = load_settings(None, **SINGLE)
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.slack_authorize_url == "https://slack.com/oauth/v2/authorize"
    xero = s.packages["xero"].model_dump()
    assert xero["authorize_url"] == "https://login.xero.com/identity/connect/authorize"
    assert xero["token_url"] == "https://identity.xero.com/connect/token"
    assert xero["revoke_url"] == "https://identity.xero.com/connect/revocation"
    assert xero["connections_url"] == "https://api.xero.com/connections"
    assert xero["api_url"] == "https://api.xero.com/api.xro/2.0"
    assert s.database_url == "sqlite:///accounts-bot.db"
    assert not s.socket_mode and not s.multi_workspace


def test_reads_the_environment_and_a_dotenv_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"SLACK_BOT_TOKEN=xoxb-from-file\nENCRYPTION_KEY={KEY}\n")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-from-env")
    s = load_settings(tmp_path / ".env")
    assert s.slack_bot_token == "xoxb-from-file"
    assert s.socket_mode


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"encryption_key": None}, ["ENCRYPTION_KEY is missing", "accounts-bot keygen"]),
        ({"encryption_key": "not-a-key"}, ["ENCRYPTION_KEY is not a valid key", "accounts-bot keygen"]),
        ({"slack_bot_token": None}, ["SLACK_BOT_TOKEN is missing"]),
        ({"slack_bot_token": "xoxp-user"}, ["SLACK_BOT_TOKEN must be a bot token starting with xoxb-"]),
        ({"slack_app_token": "xoxb-wrong"}, ["SLACK_APP_TOKEN must be an app-level token"]),
        ({"slack_signing_secret": None}, ["SLACK_SIGNING_SECRET is missing"]),
        ({"slack_client_id": "123.456"}, ["SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together"]),
        ({"database_url": "mysql://x"}, ["DATABASE_URL must be a sqlite:/// or postgresql:// URL"]),
        ({"public_url": "example.com"}, ["PUBLIC_URL must start with https://"]),
        ({"port": "eighty"}, ["PORT input should be a valid integer"]),
    ],
)
def test_each_problem_is_named_with_its_fix(overrides: dict, expected: list[str]) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(None, **{**SINGLE, **overrides})
    message = info.value.format_message()
    for fragment in expected:
        assert fragment in message


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(None)
    names = " ".join(info.value.problems)
    assert "ENCRYPTION_KEY" in names and "SLACK_BOT_TOKEN" in names and "SLACK_SIGNING_SECRET" in names


def test_socket_mode_needs_no_signing_secret() -> None:
    s = load_settings(None, slack_bot_token="xoxb-1", slack_app_token="xapp-1-a", encryption_key=KEY)
    assert s.socket_mode


def test_multi_workspace_mode_needs_no_bot_token() -> None:
    s = load_settings(
        None, slack_client_id="1.2", slack_client_secret="cs", slack_signing_secret="ss", encryption_key=KEY
    )
    assert s.multi_workspace


def test_postgres_urls_use_psycopg3() -> None:
    s = load_settings(None, **SINGLE, database_url="postgresql://postgres@127.0.0.1/test")
    assert s.database_url.startswith("postgresql+psycopg://")


def test_run_stops_with_a_clear_message_and_no_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "accounts-bot cannot start" in result.stderr
    assert "ENCRYPTION_KEY is missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_keygen_prints_a_usable_key(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "keygen"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    key = out.strip().removeprefix("ENCRYPTION_KEY=")
    assert SecretBox(key).decrypt(SecretBox(key).encrypt("x")) == "x"


def test_each_package_reads_its_own_prefixed_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("XERO_CLIENT_ID=from-file\nXERO_PAGE_SIZE=250\n")
    monkeypatch.setenv("XERO_CLIENT_SECRET", "xero-secret-from-env")
    s = load_settings(tmp_path / ".env", **SINGLE)
    xero = s.packages["xero"]
    assert xero.configured and xero.model_dump()["page_size"] == 250
    assert "xero-secret-from-env" in s.secret_values()  # masked in logs like the bot's own secrets
    assert s.environment()["XERO_PAGE_SIZE"] == "250"


def test_a_bad_package_setting_is_named_with_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XERO_API_URL", "api.xero.com")
    with pytest.raises(SettingsError) as caught:
        load_settings(None, slack_bot_token="xoxb-1", slack_signing_secret="s")
    problems = caught.value.problems
    assert any(p.startswith("XERO_API_URL") for p in problems)
    assert any(p.startswith("ENCRYPTION_KEY is missing") for p in problems)
