"""`python -m tests.fakes.quickbooks --port N`: serve the demo and print the settings that point the bot at it."""

from __future__ import annotations

from typing import Any

from tests.fakes.oauth2 import ClientApp
from tests.fakes.quickbooks.demo import demo_fake
from tests.fakes.quickbooks.identity import AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH
from tests.fakes.server import serve_main


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


def _main() -> None:
    made: dict[str, Any] = {}

    def make_app(url: str) -> Any:
        fake, client = demo_fake()
        made.update(fake=fake, client=client)
        return fake.app

    def describe(url: str) -> str:
        client: ClientApp = made["client"]
        return "\n".join(
            [
                "Point the bot at it with these settings (in .env or the environment):",
                *settings_lines(url, client),
                "",
                f"Redirect URIs: {', '.join(client.redirect_uris)}",
            ]
        )

    serve_main("quickbooks", make_app, describe)


if __name__ == "__main__":
    _main()
