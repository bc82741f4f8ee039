"""`accounts-bot doctor`: check the database, Slack and each configured provider, saying how to fix each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.settings import Settings
from providers import registry
from providers.base import BadRequest, ProviderError
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


def check_slack_mode(settings: Settings) -> Check:
    """Which way Slack reaches the bot and which workspaces it serves, and what is set but ignored (with
    SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, Bolt serves installs and never uses SLACK_BOT_TOKEN)."""
    transport = "Socket Mode" if settings.slack_app_token else "HTTP"
    if not settings.multi_workspace:
        return Check("slack mode", True, f"{transport}, one workspace (SLACK_BOT_TOKEN)")
    install = f"{settings.public_url}/slack/install"
    if settings.slack_bot_token:
        return Check(
            "slack mode",
            False,
            f"{transport}, any workspace that installs the app (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET); "
            "SLACK_BOT_TOKEN is set but ignored, so a workspace that has not installed the app through "
            f"{install} gets Slack's 'installation is no longer available'",
            "for one workspace, remove SLACK_CLIENT_ID and SLACK_CLIENT_SECRET; for many, remove SLACK_BOT_TOKEN "
            f"and install the app at {install}",
        )
    return Check("slack mode", True, f"{transport}, any workspace that installs the app at {install}")


def check_slack(settings: Settings) -> Iterator[Check]:
    yield check_slack_mode(settings)
    client = WebClient(base_url=settings.slack_api_url, timeout=10)
    if settings.slack_bot_token and not settings.multi_workspace:
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
    """Each accounting package: offered or not, and whether its log-in service takes our client id and secret."""
    for name, package_settings in settings.packages.items():
        names = registry.credential_names(name)
        if not package_settings.configured:
            yield Check(name, True, f"not configured (set {names} to offer it)")
            continue
        provider = registry.get_provider(name, package_settings)
        try:
            provider.check_credentials()
            yield Check(name, True, f"{provider.title} accepts the client id and secret")
        except BadRequest as exc:
            yield Check(name, False, exc.message, f"copy the client id and secret from {provider.title} into {names}")
        except ProviderError as exc:
            yield Check(name, False, exc.message, "check the network and the package's URLs in the settings")
        finally:
            provider.close()


def run_checks(settings: Settings) -> Iterator[Check]:
    yield Check("settings", True, "complete")
    yield check_database(settings)
    yield from check_slack(settings)
    yield from check_providers(settings)
