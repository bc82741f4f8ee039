"""`python -m tests.demo [--port N]` (what `./dev demo` runs): start the demo and say how to talk to the bot;
Ctrl-C stops everything and deletes the demo's database."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from tests.demo.stack import ROOT, Demo, DemoFailed
from tests.fakes.server import TEST_EXTRA_HINT, missing_test_extra


def describe(demo: Demo) -> str:
    packages = ", ".join(f"{child.name} on {child.url}" for child in demo.children if child.name != "bot")
    say = f"{_python()} -m tests.fakes.slack.say --url {demo.url}"
    return "\n".join(
        [
            "",
            f"  Open {demo.url} in your browser: the playground stands in for Slack.",
            "",
            "  Type /accounts connect in #general as the owner, press Log in, allow access to a demo organisation,",
            "  then /accounts map, save, and /accounts import. Switch to the member to see what they may do.",
            "",
            f"  The bot: {demo.bot_url} (its log: {demo.bot_log})",
            f"  Accounting package fakes: {packages}",
            f'  From a terminal: {say} "/accounts help"',
            "",
            "  Ctrl-C stops everything; the demo's database is thrown away.",
            "",
        ]
    )


def _python() -> str:
    """How to run this Python from the checkout: `.venv/bin/python` after `./dev demo`."""
    executable = Path(sys.executable)
    return str(executable.relative_to(ROOT) if executable.is_relative_to(ROOT) else executable)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="./dev demo", description="Try accounts-bot with no Slack or accounting account."
    )
    parser.add_argument(
        "--port", type=int, default=0, help="the playground's port on 127.0.0.1 (default: any free one)"
    )
    options = parser.parse_args()
    # Stopped by a terminal closing or `kill`, the demo still stops its children (they run in sessions of their own).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    missing = missing_test_extra()
    if missing:
        print(f"The demo needs {', '.join(missing)}: {TEST_EXTRA_HINT}", file=sys.stderr)
        return 2
    print("Starting the Slack fake, the accounting package fakes and the bot...", flush=True)
    demo = Demo(port=options.port)
    try:
        demo.start()
    except DemoFailed as exc:
        print(f"The demo could not start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(describe(demo), flush=True)
    stopping = threading.Event()
    try:
        while not stopping.wait(0.5):
            ended = demo.stopped_child()
            if ended is not None:
                print(
                    f"The {ended.name} stopped (exit code {ended.process.returncode}); stopping the demo.",
                    file=sys.stderr,
                )
                return 1
    except KeyboardInterrupt:
        print("\nStopping the demo...", flush=True)
    finally:
        demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
