"""`python -m tests.fakes.myob --port N`: serve the demo and print the settings that point the bot at it."""

from __future__ import annotations

from tests.fakes.myob.demo import demo_fake
from tests.fakes.myob.fake import API_PREFIX
from tests.fakes.myob.identity import MYOB_OAUTH
from tests.fakes.oauth2 import ClientApp
from tests.fakes.server import serve_package_main


def settings_lines(url: str, client: ClientApp) -> list[str]:
    """The settings that point the bot at a MYOB fake served at `url`."""
    return [
        f"MYOB_AUTHORIZE_URL={url}{MYOB_OAUTH.authorize_path}",
        f"MYOB_TOKEN_URL={url}{MYOB_OAUTH.token_path}",
        f"MYOB_API_URL={url}{API_PREFIX}",
        f"MYOB_CLIENT_ID={client.client_id}",
        f"MYOB_CLIENT_SECRET={client.client_secret}",
    ]


if __name__ == "__main__":
    serve_package_main("myob", demo_fake, settings_lines)
