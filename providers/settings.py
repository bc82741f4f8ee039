"""The settings every accounting package has (client credentials, timeouts), read from the environment and
`.env` under the package's own prefix (`XERO_`, `MYOB_`, ...). Each package subclasses `ProviderSettings`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProviderSettingsError(ValueError):
    """Some provider settings are malformed; `problems` holds one line per setting (`XERO_API_URL must ...`)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(self.format_message())

    def format_message(self) -> str:
        return "\n".join(["The accounting package settings need attention:", *(f"  - {p}" for p in self.problems)])


class ProviderSettings(BaseSettings):
    """Client credentials and timeouts; a package adds its URLs and limits, with their real defaults."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    timeout: float = Field(default=30.0, gt=0)  # seconds, for API calls
    # The token endpoint gets a short timeout of its own: a refresh holds a per-connection lock while it waits.
    token_timeout: float = Field(default=10.0, gt=0)

    @field_validator("*")
    @classmethod
    def _urls_are_urls(cls, value: Any, info: ValidationInfo) -> Any:
        if (info.field_name or "").endswith("_url") and isinstance(value, str):
            if not value.startswith(("https://", "http://")):
                raise ValueError("must be an https:// URL (or http:// for a local test server)")
            return value.rstrip("/")
        return value

    @classmethod
    def env_prefix(cls) -> str:
        """`XERO_`: what the package's settings are called in the environment."""
        return str(cls.model_config.get("env_prefix", ""))

    @classmethod
    def env_name(cls, field: str) -> str:
        """`XERO_API_URL` for `api_url`."""
        return f"{cls.env_prefix()}{field}".upper()

    @classmethod
    def credential_names(cls) -> str:
        """`XERO_CLIENT_ID and XERO_CLIENT_SECRET`, for messages telling an admin what to set."""
        return f"{cls.env_name('client_id')} and {cls.env_name('client_secret')}"

    @property
    def configured(self) -> bool:
        """Both credentials are set, so the package can be offered."""
        return bool(self.client_id and self.client_secret)

    def secret_values(self) -> list[str]:
        """The secrets to mask in logs."""
        return [self.client_secret] if self.client_secret else []


def describe_errors(settings_class: type[ProviderSettings], errors: Sequence[Mapping[str, Any]]) -> list[str]:
    """pydantic's errors as `XERO_PAGE_SIZE must be ...` lines, named as an admin sets them."""
    lines = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        message = message.replace("Input should be", "must be", 1)
        lines.append(f"{settings_class.env_name(loc[0])} {message}" if loc else message)
    return lines
