"""A real browser (Debian's Chromium, driven by Playwright) from the "Log in to MYOB" link through MYOB's consent
page (choosing a company file; one the person does not administer refused) to our callback page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import RunningBot
from tests.fakes.oauth2 import FakeClock
from tests.flows import connection_rows, login_url, shown
from tests.packages_e2e import served, start_with
from tests.providers.myob_driver import MyobDriver
from tests.test_browser import CHROMIUM, FLAGS

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


@pytest.fixture
def myob() -> Iterator[MyobDriver]:
    with served(MyobDriver(FakeClock(time.time()))) as driver:
        yield driver


@pytest.fixture
def myob_bot(start_bot: Any, myob: MyobDriver) -> RunningBot:
    return start_with(start_bot, myob)


def test_choosing_a_company_file_lands_on_a_page_naming_it(myob_bot: RunningBot, myob: MyobDriver, page: Page) -> None:
    myob.add_organisation("Acme Plumbing Pty Ltd")
    chosen = myob.add_organisation("Harbour Electrical Pty Ltd")
    page.goto(login_url(myob_bot, package="myob"))
    expect(page.get_by_role("heading", name="accounts-bot wants to access your MYOB company files")).to_be_visible()
    expect(page.get_by_text("Choose the company file to connect")).to_be_visible()
    page.get_by_role("radio", name="Harbour Electrical Pty Ltd").check()
    page.get_by_role("button", name="Allow access").click()

    page.wait_for_url(f"{myob_bot.url}/oauth/myob/callback*")
    expect(page.get_by_role("heading", name="Connected")).to_be_visible()
    expect(page.locator("#message")).to_have_text(
        "accounts-bot is now connected to Harbour Electrical Pty Ltd in MYOB."
    )
    [row] = connection_rows(myob_bot)
    assert (row.organisation_id, row.organisation_name) == (chosen, "Harbour Electrical Pty Ltd")
    shown(myob_bot, "now connected to Harbour Electrical Pty Ltd in MYOB")


def test_a_file_the_person_does_not_administer_is_refused_on_the_page(
    myob_bot: RunningBot, myob: MyobDriver, page: Page
) -> None:
    myob.fake.add_company_file("Acme Plumbing Pty Ltd")
    myob.fake.add_company_file("Smith Family Trust", administrator=False)
    page.goto(login_url(myob_bot, package="myob"))
    page.get_by_role("radio", name="Smith Family Trust").check()
    page.get_by_role("button", name="Allow access").click()

    expect(page.get_by_role("alert")).to_contain_text("Only an administrator of Smith Family Trust")
    page.get_by_role("radio", name="Acme Plumbing Pty Ltd").check()
    page.get_by_role("button", name="Allow access").click()
    page.wait_for_url(f"{myob_bot.url}/oauth/myob/callback*")
    expect(page.locator("#message")).to_have_text("accounts-bot is now connected to Acme Plumbing Pty Ltd in MYOB.")
