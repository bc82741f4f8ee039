"""Another process of the bot, serving Slack beside the test's own, for the tests of what a deployment's processes
share (only the database).

python -m tests.bot_process

Settings come from the environment, as the bot's do (the test's own, with another PORT and PUBLIC_URL). It prints
`ready URL` once it serves, and stops when its standard input closes.
"""

from __future__ import annotations

import sys

from bot.server import BotServer
from bot.settings import load_settings


def main() -> None:
    server = BotServer(load_settings(None)).start()
    print(f"ready {server.url}", flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
