"""`python -m tests.fakes.xero --port N`: serve the demo and print the settings that point the bot at it."""

from __future__ import annotations

from typing import Any

from tests.fakes.server import serve_main
from tests.fakes.xero.accounting import ACCOUNTING_PREFIX
from tests.fakes.xero.demo import demo_fake
from tests.fakes.xero.records import XeroClientApp


def _main() -> None:
    made: dict[str, Any] = {}

    def make_app(url: str) -> Any:
        fake, client = demo_fake()
        made.update(fake=fake, client=client)
        return fake.app

    def describe(url: str) -> str:
        client: XeroClientApp = made["client"]
        lines = [
            f"XERO_AUTHORIZE_URL={url}/identity/connect/authorize",
            f"XERO_TOKEN_URL={url}/connect/token",
            f"XERO_REVOKE_URL={url}/connect/revocation",
            f"XERO_CONNECTIONS_URL={url}/connections",
            f"XERO_API_URL={url}{ACCOUNTING_PREFIX}",
            f"XERO_CLIENT_ID={client.client_id}",
            f"XERO_CLIENT_SECRET={client.client_secret}",
        ]
        redirects = ", ".join(client.redirect_uris)
        return "\n".join(
            [
                "Point the bot at it with these settings (in .env or the environment):",
                *lines,
                "",
                f"Redirect URIs: {redirects}",
            ]
        )

    serve_main("xero", make_app, describe)


if __name__ == "__main__":
    _main()
