"""The package's OAuth callback and the picker against hostile input, and what a DEBUG log of the whole connect flow
holds: no OAuth state, code, token or Slack response URL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx2
import pytest

from bot.redact import install_redaction
from tests.conftest import ADMIN, CHANNEL, RunningBot
from tests.fakes.oauth2 import click_through_consent
from tests.fakes.xero import XeroFake
from tests.flows import all_text, becomes, button_for, connection_rows, login_url, shown, url_in
from tests.packages_e2e import CLIENT_SECRET
from tests.test_slack_boundary import click_payload, fill_in, settle


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture, connect_bot: RunningBot) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at DEBUG (slack_sdk logs the bodies it sends), masked as the bot masks them in production."""
    previous = logging.getLogRecordFactory()
    install_redaction(connect_bot.settings.secret_values())
    try:
        with caplog.at_level(logging.DEBUG):
            yield caplog
    finally:
        logging.setLogRecordFactory(previous)


def test_the_error_description_is_escaped_in_the_message_text_too(connect_bot: RunningBot, xero: XeroFake) -> None:
    xero.add_organisation("Acme Plumbing Ltd")
    url = login_url(connect_bot)
    state = parse_qs(urlparse(url).query)["state"][0]
    hostile = "<!channel> please <https://evil.example/steal|log in again>"
    query = urlencode({"state": state, "error": "server_error", "error_description": hostile})
    page = httpx2.get(f"{connect_bot.url}/oauth/xero/callback?{query}")
    assert page.status_code == 400 and "<!channel>" not in page.text
    message = shown(connect_bot, "Run `/accounts connect` to try again")
    assert "<!channel>" not in message["text"] and "<https://evil" not in message["text"]
    assert "&lt;!channel&gt;" in message["text"]
    assert "<!channel>" not in str(message["blocks"])


@pytest.mark.parametrize("value", ["99999999999999999999:x", "²:x", "1\x00:x", "12", ""])
def test_a_picker_value_that_is_none_of_ours_gets_a_clear_answer(
    connect_bot: RunningBot, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    after = len(connect_bot.slack.responses)
    delivery = connect_bot.slack.send_payload(
        "interactive", fill_in(connect_bot, click_payload("choose_organisation_0", value))
    )
    assert delivery.status in (200, 400)
    if delivery.status == 200:
        answer = connect_bot.slack.wait_for(lambda: connect_bot.slack.responses[after:])[0].payload
        assert answer["text"] == "This choice was already made or has expired; nothing changed."
    assert connection_rows(connect_bot) == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_debug_log_of_the_whole_connect_flow_holds_no_state_code_token_or_response_url(
    connect_bot: RunningBot, xero: XeroFake, debug_log: pytest.LogCaptureFixture
) -> None:
    """Two organisations, so the picker is used too: every response URL, state and code of the flow."""
    slack = connect_bot.slack
    xero.add_organisation("Acme North")
    xero.add_organisation("Acme South")
    connecting = slack.send_command("/accounts connect xero", user_id=ADMIN, channel_id=CHANNEL)
    url = url_in(shown(connect_bot, "Log in to Xero"))
    state = parse_qs(urlparse(url).query)["state"][0]
    with httpx2.Client(timeout=10) as browser:
        consent = click_through_consent(browser, url)
        callback = consent.headers["location"]
        code = parse_qs(urlparse(callback).query)["code"][0]
        assert browser.get(callback).status_code == 200
    picker = shown(connect_bot, "reaches *2 organisations*")
    choosing = slack.send_action(
        button_for(picker, "Acme South"), user_id=ADMIN, channel_id=CHANNEL, message_ts=picker["ts"]
    )
    becomes(connect_bot, picker, "now connected to")
    [row] = connection_rows(connect_bot)
    tokens = [
        connect_bot.db.box.decrypt(row.access_token_enc or ""),
        connect_bot.db.box.decrypt(row.refresh_token_enc or ""),
    ]
    response_urls = {connecting.response_url, choosing.response_url} | {p.response_url for p in slack.responses}
    settle(connect_bot)
    logs = debug_log.text
    assert "slack_sdk" in logs and "Sending a request" in logs  # the bodies slack_sdk sends are in this log
    secrets: list[Any] = [state, code, *tokens, *response_urls, CLIENT_SECRET, connect_bot.settings.slack_bot_token]
    assert all(secrets) and len(response_urls) >= 2
    leaked = [secret for secret in secrets if secret in logs]
    assert leaked == []
    assert "now connected to" in all_text(shown(connect_bot, "now connected to"))
