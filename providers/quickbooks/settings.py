"""Where QuickBooks Online is and how hard to push it: `QUICKBOOKS_...` settings from the environment and `.env`,
with Intuit's real URLs as defaults (set `QUICKBOOKS_API_URL` to the sandbox host for a sandbox company)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from providers.settings import ProviderSettings

DEFAULT_SCOPES = "com.intuit.quickbooks.accounting"


class QuickBooksSettings(ProviderSettings):
    """An Intuit app's credentials (from its Keys & credentials page) and QuickBooks Online's URLs and limits."""

    model_config = SettingsConfigDict(
        env_prefix="QUICKBOOKS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    authorize_url: str = "https://appcenter.intuit.com/connect/oauth2"
    token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    revoke_url: str = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
    api_url: str = "https://quickbooks.api.intuit.com"  # sandbox: https://sandbox-quickbooks.api.intuit.com
    web_url: str = (
        "https://app.qbo.intuit.com"  # where people open an invoice; sandbox: https://app.sandbox.qbo.intuit.com
    )
    scopes: str = DEFAULT_SCOPES
    minor_version: int = Field(default=75, ge=75)  # pinned: Intuit serves anything lower as 75 since August 2025
    page_size: int = Field(default=1000, ge=1, le=1000)  # MAXRESULTS; Intuit's maximum is 1,000
    retries: int = Field(default=2, ge=0, le=10)  # extra attempts after a 5xx, a timeout or a connection error
    backoff: float = Field(default=0.5, ge=0)  # seconds before the first retry, doubling after, plus jitter
    per_minute: int = Field(default=450, ge=1, le=500)  # our calls a minute per company; Intuit allows 500
    cdc_days: int = Field(default=29, ge=1, le=30)  # how far back change data capture is used; Intuit keeps 30
