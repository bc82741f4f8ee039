"""A faithful local Xero over real HTTP: OAuth 2 with PKCE, /connections, and the Accounting API's
Accounts and Contacts with Xero's envelopes, dates, paging, filters, rate limits and error bodies.

    clock = FakeClock()
    fake = XeroFake(clock=clock, limits=XeroLimits(per_minute=60))
    client = fake.register_client(redirect_uris=["http://localhost:3000/oauth/xero/callback"])
    tenant_id = fake.add_organisation("Demo Company (NZ)")
    fake.seed_contacts(tenant_id, 2500)
    with ServerThread(fake.app) as server:
        ...

The clock and the limits are parameters so that minute windows and grace periods pass in a test's
second. Log-in, consent, tokens and revocation are the shared OAuth2 server of `tests.fakes.oauth2`, set up for
Xero in `identity.py`. `python -m tests.fakes.xero --port N` serves one with a demo organisation and prints the
settings that point the bot at it. Facts it follows: /work/shared/specs/PROVIDERS.md and the official
OpenAPI specs copied in tests/specs/xero/.
"""

from __future__ import annotations

from tests.fakes.oauth2 import FakeClock, click_through_consent, redirect_params
from tests.fakes.xero.accounting import ACCOUNTING_PREFIX, INDEXED_CONTACT_FIELDS, RESOURCE_SCOPES
from tests.fakes.xero.dates import ms_date
from tests.fakes.xero.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, demo_fake
from tests.fakes.xero.errors import XERO_500_DETAIL
from tests.fakes.xero.fake import XeroFake
from tests.fakes.xero.identity import CODE_LIFETIME, KNOWN_SCOPES, REFRESH_TOKEN_LIFETIME, SCOPE_WORDING, XERO_IDENTITY
from tests.fakes.xero.rate_limits import XeroLimits
from tests.fakes.xero.records import Call, XeroClientApp, XeroUser
from tests.fakes.xero.seed import DEFAULT_CHART
from tests.fakes.xero.where import QueryError, parse_where

__all__ = [
    "ACCOUNTING_PREFIX",
    "CODE_LIFETIME",
    "DEFAULT_CHART",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "INDEXED_CONTACT_FIELDS",
    "KNOWN_SCOPES",
    "REFRESH_TOKEN_LIFETIME",
    "RESOURCE_SCOPES",
    "SCOPE_WORDING",
    "XERO_500_DETAIL",
    "XERO_IDENTITY",
    "Call",
    "FakeClock",
    "QueryError",
    "XeroClientApp",
    "XeroFake",
    "XeroLimits",
    "XeroUser",
    "click_through_consent",
    "demo_fake",
    "ms_date",
    "parse_where",
    "redirect_params",
]
