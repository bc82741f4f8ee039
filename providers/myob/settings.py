"""Where MYOB is and how hard to push it: `MYOB_...` settings from the environment and `.env`, with real defaults."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from providers.settings import ProviderSettings

# The granular scopes every MYOB key needs since March 2026: the company file, its chart of accounts and tax codes,
# its customers, and sales (invoices and customer payments).
DEFAULT_SCOPES = "sme-company-file sme-general-ledger sme-contacts-customer sme-sales"


class MyobSettings(ProviderSettings):
    """A MYOB Business API key (its client id is also the `x-myobapi-key` of every call) and MYOB's URLs and limits."""

    model_config = SettingsConfigDict(env_prefix="MYOB_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    authorize_url: str = "https://secure.myob.com/oauth2/account/authorize"
    token_url: str = "https://secure.myob.com/oauth2/v1/authorize"
    # Company files are at {api_url}/{businessId}; some files live on other hosts: point this there.
    api_url: str = "https://api.myob.com/accountright"
    scopes: str = DEFAULT_SCOPES
    # Where a person opens a company file's invoice in MYOB's browser app: {web_url}/{businessId}/invoice/{UID}.
    # Approximate (MYOB documents no deep links): the region part is "au" or "nz" as the file's is.
    web_url: str = "https://app.myob.com/#/au"
    page_size: int = Field(default=1000, ge=1, le=1000)  # customers a page ($top); MYOB's maximum is 1,000
    retries: int = Field(default=2, ge=0, le=10)  # extra attempts after a 5xx, a timeout or a connection error
    backoff: float = Field(default=0.5, ge=0)  # seconds before the first retry, doubling after, plus jitter
    per_second: int = Field(default=8, ge=1)  # calls a second for the whole key (all company files together)
    # MYOB's times carry no zone: the zone they are read in. UTC unless a file's times turn out to be local;
    # an IANA name ("Australia/Sydney") reads them as that zone's wall-clock time, daylight saving included.
    time_zone: str = "UTC"
    # How far before the last sync an incremental read starts again: a repeated daylight-saving hour (an hour of
    # local times that happen twice) and the difference between MYOB's clock and ours. Re-reading is harmless.
    sync_overlap: float = Field(default=3900.0, ge=0)
    # How long to wait after MYOB's daily cap when its answer does not say (the import is rescheduled meanwhile).
    daily_limit_wait: float = Field(default=3600.0, gt=0)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be a time zone name such as UTC or Australia/Sydney") from None
        return value
