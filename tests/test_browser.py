"""A real browser (Debian's Chromium, driven by Playwright) from the "Log in to Xero" link to our callback page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import RunningBot
from tests.fakes.xero import XeroFake
from tests.flows import connection_rows, login_url, shown

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def test_allow_access_lands_on_a_clean_connected_page(
    connect_bot: RunningBot, xero: XeroFake, page: Page, tmp_path: Path
) -> None:
    xero.add_organisation("Acme Plumbing Ltd")
    page.goto(login_url(connect_bot))
    expect(page.get_by_role("button", name="Allow access")).to_be_visible()
    expect(page.get_by_text("Acme Plumbing Ltd").first).to_be_visible()
    page.get_by_role("button", name="Allow access").click()

    page.wait_for_url(f"{connect_bot.url}/oauth/xero/callback*")
    expect(page.get_by_role("heading", name="Connected")).to_be_visible()
    expect(page.locator("#message")).to_have_text("accounts-bot is now connected to Acme Plumbing Ltd in Xero.")
    expect(page.get_by_role("link", name="Back to Slack")).to_have_attribute(
        "href", "https://slack.com/app_redirect?team=T0ACME001&channel=C0GENERAL1"
    )
    page.screenshot(path=str(tmp_path / "connected.png"))
    assert [row.organisation_name for row in connection_rows(connect_bot)] == ["Acme Plumbing Ltd"]
    shown(connect_bot, "now connected to Acme Plumbing Ltd")


def test_cancel_lands_on_a_page_that_says_nothing_changed(connect_bot: RunningBot, xero: XeroFake, page: Page) -> None:
    xero.add_organisation("Acme Plumbing Ltd")
    page.goto(login_url(connect_bot))
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(f"{connect_bot.url}/oauth/xero/callback*")
    expect(page.get_by_role("heading", name="Log-in cancelled")).to_be_visible()
    expect(page.locator("#message")).to_contain_text("nothing changed")
    assert connection_rows(connect_bot) == []
