"""`python -m tests.fakes.slack --port N [--request-url URL]`: serve the demo workspace and print the settings that
point a bot at it, and how to type commands to the bot."""

from __future__ import annotations

import argparse
from typing import Any

from tests.fakes.server import serve_main
from tests.fakes.slack.demo import DEMO_APP_TOKEN, DEMO_BOT_TOKEN, DEMO_TEAM, demo


def _describe(url: str, request_url: str | None = None) -> str:
    fake = demo(url)
    if request_url:
        delivery = f"Commands, clicks and events go to the bot over Socket Mode once it connects, else to {request_url}"
    else:
        delivery = (
            "Commands, clicks and events go to the bot over Socket Mode. For HTTP mode, leave SLACK_APP_TOKEN out\n"
            "and start this fake with --request-url http://127.0.0.1:3000/slack/events (the bot's HOST, PORT)."
        )
    return "\n".join(
        [
            f"workspace {DEMO_TEAM} (Demo Workspace): owner U0DEMOOWNER, member U0DEMOMEMBR,",
            "channels C0DEMOGENRL #general (bot is in it) and C0DEMORANDM #random (bot is not)",
            "Point a bot at it with:",
            f"  SLACK_API_URL={url}/api/",
            f"  SLACK_AUTHORIZE_URL={url}/oauth/v2/authorize",
            f"  SLACK_BOT_TOKEN={DEMO_BOT_TOKEN}",
            f"  SLACK_APP_TOKEN={DEMO_APP_TOKEN}",
            "  SLACK_SIGNING_SECRET=demo-signing-secret",
            "or, to install the app through the bot's /slack/install instead of using SLACK_BOT_TOKEN, also:",
            f"  SLACK_CLIENT_ID={fake.client_id}",
            f"  SLACK_CLIENT_SECRET={fake.client_secret}",
            delivery,
            "Then type to the bot as the owner, in #general:",
            f'  python -m tests.fakes.slack.say --url {url} "/accounts help"',
            f"(the control API it uses is described at {url}/fake)",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.slack")
    parser.add_argument(
        "--request-url",
        help="the bot's /slack/events, for HTTP mode: where deliveries go while no Socket Mode connection is open",
    )
    options, _ = parser.parse_known_args()

    def make_app(url: str) -> Any:
        fake = demo(url)
        fake.request_url = options.request_url
        return fake.asgi_app

    serve_main("slack", make_app, lambda url: _describe(url, options.request_url), parser=parser)


if __name__ == "__main__":
    main()
