"""The demo `python -m tests.fakes.myob` serves: two company files with customers (one the user administers, one
they do not), and the demo API key registered for the bot's callback."""

from __future__ import annotations

import os

from tests.fakes.myob.fake import MyobFake
from tests.fakes.oauth2 import ClientApp

DEMO_CLIENT_ID = "b7c1e2d3-4f5a-6b7c-8d9e-0f1a2b3c4d5e"
DEMO_CLIENT_SECRET = "fake-myob-secret-change-me-0123456789"


def demo_fake(public_url: str | None = None) -> tuple[MyobFake, ClientApp]:
    public_url = (public_url or os.environ.get("PUBLIC_URL") or "http://localhost:3000").rstrip("/")
    fake = MyobFake()
    plumbing = fake.add_company_file("Acme Plumbing Pty Ltd")
    fake.seed_customers(plumbing, 250)
    other = fake.add_company_file("Smith Family Trust", administrator=False)
    fake.seed_customers(other, 20)
    callbacks = {f"{public_url}/oauth/myob/callback", "http://localhost:3000/oauth/myob/callback"}
    client = fake.register_client(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        redirect_uris=sorted(callbacks),
        name="accounts-bot (local)",
    )
    return fake, client
