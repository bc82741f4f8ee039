"""`accounts-bot doctor`: check the database, Slack and each configured provider, saying how to fix each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.settings import Settings
from storage import migrate
from storage.db import make_engine


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_database(settings: Settings) -> Check:
    engine = make_engine(settings.database_url)
    try:
        current = migrate.current_revision(engine)
    except Exception as exc:  # any driver error means the same to a person: it does not answer
        return Check("database", False, f"cannot connect ({type(exc).__name__})", "check DATABASE_URL")
    finally:
        engine.dispose()
    head = migrate.head_revision()
    if current != head:
        return Check(
            "database",
            False,
            f"schema at {current or 'nothing'}, needs {head}",
            "run `accounts-bot migrate` (or start the bot with AUTO_MIGRATE=true)",
        )
    return Check("database", True, f"reachable, schema up to date ({head})")


def check_slack(settings: Settings) -> Iterator[Check]:
    client = WebClient(base_url=settings.slack_api_url, timeout=10)
    if settings.slack_bot_token:
        try:
            answer = client.auth_test(token=settings.slack_bot_token)
            yield Check("slack bot token", True, f"works for workspace {answer.get('team')} as {answer.get('user')}")
        except SlackApiError as exc:
            yield Check(
                "slack bot token",
                False,
                f"Slack refused it ({exc.response.get('error')})",
                "copy the Bot User OAuth Token again from OAuth & Permissions into SLACK_BOT_TOKEN",
            )
        except OSError as exc:
            yield Check("slack", False, f"cannot reach {settings.slack_api_url} ({exc})", "check SLACK_API_URL")
    if settings.slack_app_token:
        try:
            client.apps_connections_open(app_token=settings.slack_app_token)
            yield Check("slack app token", True, "Socket Mode can connect")
        except SlackApiError as exc:
            yield Check(
                "slack app token",
                False,
                f"Slack refused it ({exc.response.get('error')})",
                "make an app-level token with connections:write (Basic Information) and set SLACK_APP_TOKEN",
            )
        except OSError as exc:
            yield Check("slack", False, f"cannot reach {settings.slack_api_url} ({exc})", "check SLACK_API_URL")


def check_providers(settings: Settings) -> Iterator[Check]:
    configured = {
        "xero": (settings.xero_client_id, settings.xero_token_url, "XERO_CLIENT_ID and XERO_CLIENT_SECRET"),
    }
    for name, (client_id, url, names) in configured.items():
        if not client_id:
            yield Check(name, True, f"not configured (set {names} to offer it)")
            continue
        try:
            httpx2.post(url, data={"grant_type": "refresh_token", "refresh_token": "doctor-check"}, timeout=10)
            yield Check(name, True, f"{url} answers")
        except httpx2.HTTPError as exc:
            yield Check(name, False, f"cannot reach {url} ({type(exc).__name__})", "check the network and the URL")


def run_checks(settings: Settings) -> Iterator[Check]:
    yield Check("settings", True, "complete")
    yield check_database(settings)
    yield from check_slack(settings)
    yield from check_providers(settings)
