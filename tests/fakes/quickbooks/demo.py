"""The demo `python -m tests.fakes.quickbooks` serves: two companies with customers, and the demo app registered
for the bot's callback."""

from __future__ import annotations

import os

from tests.fakes.oauth2 import ClientApp
from tests.fakes.quickbooks.fake import QuickBooksFake

DEMO_CLIENT_ID = "ABdemoQuickBooksClientId0123456789abcdefghijkl"
DEMO_CLIENT_SECRET = "fake-quickbooks-secret-change-me-0123456789"


def demo_fake(public_url: str | None = None) -> tuple[QuickBooksFake, ClientApp]:
    public_url = (public_url or os.environ.get("PUBLIC_URL") or "http://localhost:3000").rstrip("/")
    fake = QuickBooksFake()
    first = fake.add_company("Craig's Design and Landscaping Services")
    fake.seed_customers(first, 250, jobs=3)
    second = fake.add_company("Acme Plumbing (numbered accounts)", numbered=True)
    fake.seed_customers(second, 40)
    callbacks = {f"{public_url}/oauth/quickbooks/callback", "http://localhost:3000/oauth/quickbooks/callback"}
    client = fake.register_client(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        redirect_uris=sorted(callbacks),
        name="accounts-bot (local)",
    )
    return fake, client
