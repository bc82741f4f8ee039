"""A real browser (Debian's Chromium, driven by Playwright) from the "Log in to Xero" (or QuickBooks) link to our
callback page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import RunningBot
from tests.fakes.oauth2 import FakeClock
from tests.fakes.xero import XeroFake
from tests.flows import connection_rows, login_url, shown
from tests.packages_e2e import served, start_with
from tests.providers.quickbooks_driver import QuickBooksDriver

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


@pytest.fixture
def quickbooks() -> Iterator[QuickBooksDriver]:
    with served(QuickBooksDriver(FakeClock(time.time()))) as driver:
        yield driver


def test_quickbooks_consent_picks_one_company_and_lands_connected(
    start_bot: Any, quickbooks: QuickBooksDriver, page: Page
) -> None:
    bot = start_with(start_bot, quickbooks)
    quickbooks.add_organisation("Craig's Landscaping")
    acme = quickbooks.add_organisation("Acme Plumbing Ltd")
    page.goto(login_url(bot, package="quickbooks"))
    expect(page.get_by_role("radio")).to_have_count(2)  # one company per log-in
    page.get_by_label("Acme Plumbing Ltd").check()
    page.get_by_role("button", name="Allow access").click()

    page.wait_for_url(f"{bot.url}/oauth/quickbooks/callback*")
    expect(page.get_by_role("heading", name="Connected")).to_be_visible()
    expect(page.locator("#message")).to_have_text("accounts-bot is now connected to Acme Plumbing Ltd in QuickBooks.")
    assert [(row.organisation_id, row.organisation_name) for row in connection_rows(bot)] == [
        (acme, "Acme Plumbing Ltd")
    ]
    assert quickbooks.connected() == {acme}
