"""`accounts-bot` (and `python -m bot`): run, migrate, doctor, manifest, keygen."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bot.settings import Settings, SettingsError, load_settings
from storage.crypto import SecretBox


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(exc.format_message(), file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(args: argparse.Namespace) -> int:
    from bot.redact import configure_logging
    from bot.server import BotServer
    from storage.migrate import SchemaOutOfDate

    settings = _settings_or_exit()
    configure_logging(settings.log_level, settings.secret_values())
    try:
        server = BotServer(settings)
    except SchemaOutOfDate as exc:
        print(str(exc), file=sys.stderr)
        return 2
    server.start()
    print(f"accounts-bot is running; web side on {server.url} (Ctrl-C stops it)", flush=True)
    try:
        server.wait()
    finally:
        server.stop()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import make_engine

    settings = _settings_or_exit()
    engine = make_engine(settings.database_url)
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    after = migrate.current_revision(engine)
    print(
        f"Database schema: {before or 'empty'} -> {after}"
        if before != after
        else f"Database schema up to date ({after})"
    )
    engine.dispose()
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from bot.doctor import run_checks

    try:
        settings = load_settings()
    except SettingsError as exc:
        print("✗ settings")
        for problem in exc.problems:
            print(f"    {problem}")
        return 1
    ok = True
    for check in run_checks(settings):
        print(f"{'✓' if check.ok else '✗'} {check.name}: {check.detail}")
        if not check.ok:
            ok = False
            print(f"    fix: {check.fix}")
    return 0 if ok else 1


def cmd_manifest(args: argparse.Namespace) -> int:
    from bot.slack.manifest import manifest_yaml

    url = args.url
    if url and not url.startswith("https://"):
        print("--url must be the https:// address where Slack can reach this bot", file=sys.stderr)
        return 2
    sys.stdout.write(manifest_yaml(url))
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    print(f"ENCRYPTION_KEY={SecretBox.generate_key()}")
    return 0


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "run": (cmd_run, "start the bot (Socket Mode when SLACK_APP_TOKEN is set, HTTP otherwise)"),
    "migrate": (cmd_migrate, "bring the database schema up to date"),
    "doctor": (cmd_doctor, "check settings, database, Slack and each configured provider"),
    "manifest": (cmd_manifest, "print the Slack app manifest (add --url for HTTP mode)"),
    "keygen": (cmd_keygen, "print a new ENCRYPTION_KEY line for .env"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="accounts-bot", description="Your accounting package, in Slack.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == "manifest":
            p.add_argument("--url", help="public https:// base URL of the bot, for HTTP mode")
    args = parser.parse_args(argv)
    return COMMANDS[args.command][0](args)
