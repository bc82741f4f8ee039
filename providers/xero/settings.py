"""Where Xero is and how hard to push it: `XERO_...` settings from the environment and `.env`, with real defaults."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from providers.settings import ProviderSettings

DEFAULT_SCOPES = "offline_access accounting.settings.read accounting.contacts.read accounting.transactions"


class XeroSettings(ProviderSettings):
    """A Xero app's credentials (an "Auth Code with PKCE" app has no secret) and Xero's URLs and limits."""

    model_config = SettingsConfigDict(env_prefix="XERO_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    authorize_url: str = "https://login.xero.com/identity/connect/authorize"
    token_url: str = "https://identity.xero.com/connect/token"
    revoke_url: str = "https://identity.xero.com/connect/revocation"
    connections_url: str = "https://api.xero.com/connections"
    api_url: str = "https://api.xero.com/api.xro/2.0"
    web_url: str = "https://go.xero.com"  # where people open an invoice
    scopes: str = DEFAULT_SCOPES
    page_size: int = Field(default=1000, ge=1, le=1000)  # contacts a page; Xero's maximum is 1,000
    retries: int = Field(default=2, ge=0, le=10)  # extra attempts after a 5xx, a timeout or a connection error
    backoff: float = Field(default=0.5, ge=0)  # seconds before the first retry, doubling after, plus jitter
    concurrency: int = Field(default=5, ge=1, le=5)  # calls at once to an organisation while walking pages; Xero: 5
    calls_at_once: int = Field(default=5, ge=1)  # an organisation's calls at once, by all our processes (Xero: 5)
    calls_per_minute: int = Field(default=60, ge=1)  # an organisation's calls in any minute (Xero: 60)
    # Xero's calls a minute per app (all organisations together; 10,000 unless Xero gave the app another tier),
    # shared by our processes when the bot hands in a budget (PostgreSQL).
    app_calls_per_minute: int = Field(default=10_000, ge=1)
