"""Driving the bot as people do, for end-to-end tests: the Xero fake and bot fixtures, and Slack helpers.

`connect_bot` is the whole bot in HTTP mode with Xero pointed at the local fake (`tests.packages_e2e` has the
same for every package); `log_in` walks a browser through a package's consent page to our callback; `command`,
`shown`, `click` and `becomes` read and use what a person sees in #general.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx2
import pytest
from sqlalchemy import select

from bot.connections import links
from bot.connections.tokens import ConnectionTokens
from providers import registry
from storage.models import Connection
from tests.conftest import ADMIN, CHANNEL, RunningBot
from tests.fakes.blockkit import check_message
from tests.fakes.server import http_client
from tests.fakes.slack.render import block_lines
from tests.fakes.xero import FakeClock, XeroFake, click_through_consent
from tests.packages_e2e import CLIENT_ID, CLIENT_SECRET, served, start_with
from tests.providers.packages import PackageDriver, XeroDriver

__all__ = ["CLIENT_ID", "CLIENT_SECRET"]


@pytest.fixture
def xero_clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def xero(xero_clock: FakeClock) -> Iterator[XeroFake]:
    """The Xero fake itself, served over HTTP (`xero.url`), for the tests about Xero's own behaviour."""
    with served(XeroDriver(xero_clock)) as driver:
        driver.fake.url = driver.url
        yield driver.fake


def xero_driver(xero: XeroFake, clock: FakeClock) -> XeroDriver:
    """The driver of the served fake a Xero-only test holds, on the fake's clock."""
    driver = XeroDriver(clock, fake=xero)
    driver.url = xero.url  # type: ignore[attr-defined]
    return driver


def xero_settings(xero: XeroFake) -> dict[str, Any]:
    """The bot's settings pointing Xero at the served fake, with our app's credentials."""
    driver = xero_driver(xero, cast(FakeClock, xero.clock))
    return driver.bot_settings(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


@pytest.fixture
def connect_bot(start_bot: Any, xero: XeroFake, xero_clock: FakeClock) -> RunningBot:
    """The bot in HTTP mode with Xero pointed at the `xero` fake and our app registered there."""
    return start_with(start_bot, xero_driver(xero, xero_clock))


def all_text(payload: dict[str, Any]) -> str:
    """The message's fallback text, its blocks as given, and its rich text blocks as a person reads them (their
    elements joined: names from a package are there as written)."""
    read = "\n".join(block_lines([b for b in payload.get("blocks") or [] if b.get("type") == "rich_text"]))
    return str(payload.get("text", "")) + " " + str(payload.get("blocks", "")) + " " + read


def seen(bot: RunningBot, user: str = ADMIN) -> list[dict[str, Any]]:
    """What `user` was shown in #general, only to them (ephemeral messages and command answers), oldest first."""
    return bot.slack.ephemerals(CHANNEL, user)


def shown(bot: RunningBot, needle: str, user: str = ADMIN, after: int = 0) -> dict[str, Any]:
    """Wait for, and return, the newest message shown to `user` that contains `needle`."""
    return bot.slack.wait_for(lambda: [m for m in seen(bot, user)[after:] if needle in all_text(m)])[-1]


def click(bot: RunningBot, message: dict[str, Any], action_id: str, user: str = ADMIN) -> None:
    bot.slack.send_action(action_id, user_id=user, channel_id=CHANNEL, message_ts=message["ts"])


def becomes(bot: RunningBot, message: dict[str, Any], needle: str, user: str = ADMIN) -> dict[str, Any]:
    """Wait until the bot replaced `message` (the one a button was clicked in) with one containing `needle`."""
    return bot.slack.wait_for(
        lambda: [m for m in seen(bot, user) if m["ts"] == message["ts"] and needle in all_text(m)]
    )[-1]


def command(bot: RunningBot, text_: str, needle: str, user: str = ADMIN) -> dict[str, Any]:
    """Type a command and wait for the answer containing `needle`."""
    before = len(seen(bot, user))
    bot.slack.send_command(text_, user_id=user, channel_id=CHANNEL)
    return shown(bot, needle, user, after=before)


def button_for(message: dict[str, Any], label: str) -> str:
    """The action_id of the button whose text contains `label`."""
    for block in message["blocks"]:
        for element in block.get("elements", []):
            if element.get("type") == "button" and label in element["text"]["text"]:
                return str(element["action_id"])
    raise AssertionError(f"no button {label!r} in {message}")


def url_in(message: dict[str, Any]) -> str:
    match = re.search(r"'url': '([^']+)'", str(message["blocks"]))
    assert match, message
    return match.group(1)


def login_url(bot: RunningBot, user_id: str = ADMIN, text_: str | None = None, *, package: str = "xero") -> str:
    """`/accounts connect <package>` (or `text_`) and the log-in link it answers with."""
    message = command(bot, text_ or f"/accounts connect {package}", f"Log in to {registry.titles()[package]}", user_id)
    assert check_message(message["blocks"]) == []
    return url_in(message)


def log_in(bot: RunningBot, url: str, **consent: Any) -> httpx2.Response:
    """A person's browser: the package's consent page, the button, then our callback page."""
    with http_client(timeout=10) as browser:
        answer = click_through_consent(browser, url, **consent)
        assert answer.status_code in (302, 303), answer.text
        return browser.get(answer.headers["location"])


def connection_rows(bot: RunningBot) -> list[Connection]:
    with bot.db.session() as s:
        return list(s.scalars(select(Connection).order_by(Connection.id)))


def connected(
    connect_bot: RunningBot, package: XeroFake | PackageDriver, name: str = "Acme Plumbing Ltd"
) -> tuple[Connection, str]:
    """Connect the bot to a new organisation at the package (a driver, or the Xero fake itself): its row and id."""
    organisation = package.add_organisation(name)
    log_in(connect_bot, login_url(connect_bot, package=package.name if isinstance(package, PackageDriver) else "xero"))
    [row] = connection_rows(connect_bot)
    return row, organisation


def keeper(bot: RunningBot, connection_id: int) -> ConnectionTokens:
    return links.keeper(bot.server.runtime, connection_id)
