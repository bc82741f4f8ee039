"""`python -m tests.fakes.myob --port N`: serve the demo and print the settings that point the bot at it."""

from __future__ import annotations

from typing import Any

from tests.fakes.myob.demo import demo_fake
from tests.fakes.myob.fake import API_PREFIX
from tests.fakes.myob.identity import MYOB_OAUTH
from tests.fakes.oauth2 import ClientApp
from tests.fakes.server import serve_main


def settings_lines(url: str, client: ClientApp) -> list[str]:
    """The settings that point the bot at a MYOB fake served at `url`."""
    return [
        f"MYOB_AUTHORIZE_URL={url}{MYOB_OAUTH.authorize_path}",
        f"MYOB_TOKEN_URL={url}{MYOB_OAUTH.token_path}",
        f"MYOB_API_URL={url}{API_PREFIX}",
        f"MYOB_CLIENT_ID={client.client_id}",
        f"MYOB_CLIENT_SECRET={client.client_secret}",
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

    serve_main("myob", make_app, describe)


if __name__ == "__main__":
    _main()
