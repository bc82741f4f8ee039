"""Settings read from the environment and an optional `.env`, each external URL with its real default.

`load_settings()` turns every problem into one `SettingsError` that names each setting and how to fix it,
so `accounts-bot run` can stop with a clear message instead of a traceback.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.categories import CategoriesError, Category, load_categories
from providers import registry
from providers.settings import ProviderSettings, ProviderSettingsError

KEYGEN_COMMAND = "accounts-bot keygen"


class SettingsError(Exception):
    """One or more settings are missing or malformed; `problems` holds one line per setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(self.format_message())

    def format_message(self) -> str:
        lines = ["accounts-bot cannot start: the settings need attention."]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("Settings come from the environment or a .env file; .env.example describes each one.")
        return "\n".join(lines)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Slack
    slack_bot_token: str | None = Field(default=None, description="xoxb- token, single-workspace mode")
    slack_app_token: str | None = Field(default=None, description="xapp- token; turns on Socket Mode")
    slack_signing_secret: str | None = None
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
    slack_app_redirect_url: str = "https://slack.com/app_redirect"  # "Back to Slack" after a log-in

    # Storage and secrets
    database_url: str = "sqlite:///accounts-bot.db"
    encryption_key: str | None = None
    auto_migrate: bool = True

    # Web side
    public_url: str = "http://localhost:3000"
    host: str = "127.0.0.1"
    port: int = 3000

    # Each accounting package's own settings (under its own prefix) are read by its settings class in
    # `providers/` through the registry; `load_settings` puts them in `packages`.
    _packages: dict[str, ProviderSettings] = PrivateAttr(default_factory=dict)

    # The categories an admin maps to account codes; None: the built-in defaults (bot/categories.yml)
    account_categories_file: str | None = None

    log_level: str = "INFO"

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, v: str | None) -> str | None:
        if v and not v.startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb- (OAuth & Permissions page of your Slack app)")
        return v or None

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, v: str | None) -> str | None:
        if v and not v.startswith("xapp-"):
            raise ValueError(
                "must be an app-level token starting with xapp- with the connections:write scope "
                "(Basic Information > App-Level Tokens)"
            )
        return v or None

    @field_validator("database_url")
    @classmethod
    def _database_url_shape(cls, v: str) -> str:
        if not v.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL, e.g. sqlite:///accounts-bot.db")
        if v.startswith("postgresql") and importlib.util.find_spec("psycopg") is None:
            raise ValueError("needs PostgreSQL's driver: install it with `.venv/bin/pip install -e '.[postgres]'`")
        if v.startswith("postgresql://"):
            # psycopg 3 is the driver we ship
            v = "postgresql+psycopg://" + v.removeprefix("postgresql://")
        return v

    @field_validator("account_categories_file")
    @classmethod
    def _categories_file_readable(cls, v: str | None) -> str | None:
        if not v or not v.strip():
            return None
        try:
            load_categories(v.strip())
        except CategoriesError as exc:
            raise ValueError(f"{exc} (bot/categories.yml describes the format)") from None
        return v.strip()

    @field_validator("public_url")
    @classmethod
    def _public_url_shape(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http://localhost while developing)")
        return v.rstrip("/")

    @field_validator("encryption_key")
    @classmethod
    def _encryption_key_shape(cls, v: str | None) -> str | None:
        if not v:
            return None
        for key in v.split(","):
            try:
                Fernet(key.strip().encode())
            except (ValueError, TypeError):
                raise ValueError(
                    f"is not a valid key (32 url-safe base64-encoded bytes); make one with `{KEYGEN_COMMAND}`"
                ) from None
        return v

    @model_validator(mode="after")
    def _modes_complete(self) -> Settings:
        problems: list[str] = []
        if not self.encryption_key:
            problems.append(
                "ENCRYPTION_KEY is missing: it encrypts tokens at rest and there is no plaintext fallback. "
                f"Make one with `{KEYGEN_COMMAND}` and put it in .env"
            )
        if bool(self.slack_client_id) != bool(self.slack_client_secret):
            problems.append(
                "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together (Basic Information > App Credentials); "
                "set both for multi-workspace install, or neither"
            )
        if not self.multi_workspace and not self.slack_bot_token:
            problems.append(
                "SLACK_BOT_TOKEN is missing: set it (xoxb-, OAuth & Permissions) for one workspace, "
                "or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to let workspaces install the app"
            )
        if not self.socket_mode and not self.slack_signing_secret:
            problems.append(
                "SLACK_SIGNING_SECRET is missing: HTTP mode needs it to check that requests come from Slack "
                "(Basic Information > Signing Secret), or set SLACK_APP_TOKEN to use Socket Mode"
            )
        if self.multi_workspace and not self.slack_signing_secret:
            problems.append("SLACK_SIGNING_SECRET is missing: the install flow needs it (Basic Information)")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def multi_workspace(self) -> bool:
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def categories(self) -> tuple[Category, ...]:
        """The categories to map (read once; checked when the settings load)."""
        return load_categories(self.account_categories_file)

    def redirect_uri(self, provider: str) -> str:
        return f"{self.public_url}/oauth/{provider}/callback"

    @property
    def packages(self) -> dict[str, ProviderSettings]:
        """Every accounting package's settings by name, configured or not (`providers.registry`)."""
        return self._packages

    def secret_values(self) -> list[str]:
        """Every configured secret, so log redaction can mask them wherever they appear."""
        names = ("slack_bot_token", "slack_app_token", "slack_signing_secret", "slack_client_secret", "encryption_key")
        return [v for n in names if (v := getattr(self, n))] + registry.secret_values(self._packages)

    def environment(self) -> dict[str, str]:
        """These settings as the environment variables that give them (for a child process)."""
        env = {name.upper(): str(value) for name, value in self.model_dump().items() if value is not None}
        for package in self._packages.values():
            for name, value in package.model_dump().items():
                if value is not None:
                    env[package.env_name(name)] = str(value)
        return env


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    if not loc:
        return message
    name = loc[0].upper()
    if error.get("type") in ("int_parsing", "bool_parsing"):
        return f"{name} {message.lower()}"
    return f"{name} {message}"


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read the bot's settings and every accounting package's, raising `SettingsError` with one line per problem.

    `overrides` are keyed as in the environment but lower-case; those with a package's prefix (`<name>_client_id`)
    go to that package's settings."""
    own = {key: value for key, value in overrides.items() if key in Settings.model_fields}
    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = Settings(_env_file=env_file, **own)  # type: ignore[call-arg]
    except ValidationError as exc:
        for error in exc.errors():
            problems.extend(_describe(error).split("\n"))
    try:
        packages = registry.load_settings(env_file, {k: v for k, v in overrides.items() if k not in own})
    except ProviderSettingsError as exc:
        problems.extend(exc.problems)
    if problems or settings is None:
        raise SettingsError(problems)
    settings._packages = packages
    return settings
