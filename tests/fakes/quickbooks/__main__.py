"""`python -m tests.fakes.quickbooks --port N`: serve the demo and print the settings that point the bot at it."""

from __future__ import annotations

from tests.fakes.oauth2 import ClientApp
from tests.fakes.quickbooks.demo import demo_fake
from tests.fakes.quickbooks.identity import AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH
from tests.fakes.server import serve_package_main


def settings_lines(url: str, client: ClientApp) -> list[str]:
    """The QUICKBOOKS_... settings that point the bot at a fake served at `url`."""
    return [
        f"QUICKBOOKS_AUTHORIZE_URL={url}{AUTHORIZE_PATH}",
        f"QUICKBOOKS_TOKEN_URL={url}{TOKEN_PATH}",
        f"QUICKBOOKS_REVOKE_URL={url}{REVOKE_PATH}",
        f"QUICKBOOKS_API_URL={url}",
        f"QUICKBOOKS_CLIENT_ID={client.client_id}",
        f"QUICKBOOKS_CLIENT_SECRET={client.client_secret}",
    ]


if __name__ == "__main__":
    serve_package_main("quickbooks", demo_fake, settings_lines)
