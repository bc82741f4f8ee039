"""A faithful local QuickBooks Online over real HTTP: Intuit's OAuth 2 (one company per consent, realmId on the
callback, Basic client authentication, refresh tokens kept a day and then rotated, JSON revocation), its OpenID
discovery document, and the company API's query endpoint (GET or POST, STARTPOSITION/MAXRESULTS, COUNT, WHERE),
change data capture and CompanyInfo, with Intuit's envelopes, faults (also inside a 200, and as XML) and limits.

    clock = FakeClock()
    fake = QuickBooksFake(clock=clock, limits=QuickBooksLimits(per_minute=500))
    client = fake.register_client(redirect_uris=["http://localhost:3000/oauth/quickbooks/callback"])
    realm_id = fake.add_company("Acme Plumbing")
    fake.seed_customers(realm_id, 2500)
    with ServerThread(fake.app) as server:
        ...

`python -m tests.fakes.quickbooks --port N` serves a demo and prints the settings that point the bot at it. Facts
it follows: /work/shared/specs/PROVIDERS.md and Intuit's XML Schemas copied in tests/specs/quickbooks/.
"""

from __future__ import annotations

from tests.fakes.quickbooks.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, demo_fake
from tests.fakes.quickbooks.fake import QuickBooksFake
from tests.fakes.quickbooks.identity import (
    AUTHORIZE_PATH,
    DISCOVERY_PATH,
    INTUIT_OAUTH,
    REVOKE_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
)
from tests.fakes.quickbooks.query import Query, QueryError, parse_query
from tests.fakes.quickbooks.records import Call, QuickBooksLimits

__all__ = [
    "AUTHORIZE_PATH",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DISCOVERY_PATH",
    "INTUIT_OAUTH",
    "REVOKE_PATH",
    "TOKEN_PATH",
    "USERINFO_PATH",
    "Call",
    "Query",
    "QueryError",
    "QuickBooksFake",
    "QuickBooksLimits",
    "demo_fake",
    "parse_query",
]
