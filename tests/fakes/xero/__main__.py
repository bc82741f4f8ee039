"""`python -m tests.fakes.xero --port N`: serve the demo and print the settings that point the bot at it."""

from __future__ import annotations

from tests.fakes.server import serve_package_main
from tests.fakes.xero.accounting import ACCOUNTING_PREFIX
from tests.fakes.xero.demo import demo_fake
from tests.fakes.xero.records import XeroClientApp


def settings_lines(url: str, client: XeroClientApp) -> list[str]:
    """The XERO_... settings that point the bot at a fake served at `url`."""
    return [
        f"XERO_AUTHORIZE_URL={url}/identity/connect/authorize",
        f"XERO_TOKEN_URL={url}/connect/token",
        f"XERO_REVOKE_URL={url}/connect/revocation",
        f"XERO_CONNECTIONS_URL={url}/connections",
        f"XERO_API_URL={url}{ACCOUNTING_PREFIX}",
        f"XERO_CLIENT_ID={client.client_id}",
        f"XERO_CLIENT_SECRET={client.client_secret}",
    ]


if __name__ == "__main__":
    serve_package_main("xero", demo_fake, settings_lines)
