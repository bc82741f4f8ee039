"""The demo `python -m tests.fakes.xero` serves: two organisations with contacts, and the demo app registered
for the bot's callback."""

from __future__ import annotations

import os

from tests.fakes.xero.fake import XeroFake
from tests.fakes.xero.records import XeroClientApp

DEMO_CLIENT_ID = "0D5C4F1B2A3E4D6F8A9B0C1D2E3F4A5B"
DEMO_CLIENT_SECRET = "fake-xero-secret-change-me-0123456789abcdefghij"


def demo_fake(public_url: str | None = None) -> tuple[XeroFake, XeroClientApp]:
    """A fake with two demo organisations and the demo app registered for the bot's callback."""
    public_url = (public_url or os.environ.get("PUBLIC_URL") or "http://localhost:3000").rstrip("/")
    fake = XeroFake()
    nz = fake.add_organisation("Demo Company (NZ)")
    fake.seed_contacts(nz, 250)
    au = fake.add_organisation("Demo Company (AU)")
    fake.seed_contacts(au, 40)
    callbacks = {f"{public_url}/oauth/xero/callback", "http://localhost:3000/oauth/xero/callback"}
    client = fake.register_client(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        redirect_uris=sorted(callbacks),
        name="accounts-bot (local)",
    )
    return fake, client
