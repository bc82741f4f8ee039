"""The demo as a newcomer meets it: `python -m tests.demo` started whole (the Slack fake, the package fakes and the
bot in processes of their own), and its playground driven in a real browser through connect, map, import and the
summary."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.demo.stack import Demo
from tests.test_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.browser

# The README's picture: `PLAYGROUND_SCREENSHOT=docs/playground.png pytest tests/test_playground.py` retakes it.
SCREENSHOT = os.environ.get("PLAYGROUND_SCREENSHOT")


@pytest.fixture
def demo() -> Iterator[Demo]:
    """A demo of the test's own: each test starts from nothing connected, whichever ran before it (and wherever)."""
    running = Demo().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


def type_command(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")


def test_connect_map_import_and_the_summary_on_the_playground(demo: Demo, page: Page, tmp_path: Path) -> None:
    page.goto(demo.url)
    surface = page.locator("#surface")
    type_command(page, "/accounts connect")
    page.get_by_role("button", name="Xero", exact=True).click()

    # The log-in link opens the package fake's consent page in a new tab, as it would for real.
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Log in to Xero").click()
    consent = opened.value
    xero = next(child for child in demo.children if child.name == "xero")
    expect(consent).to_have_url(re.compile(rf"^{re.escape(xero.url)}/identity/connect/authorize\?"))
    consent.get_by_role("button", name="Allow access").click()
    expect(consent.get_by_role("heading", name="Choose an organisation in Slack")).to_be_visible()
    # "Back to Slack" comes back to the playground, on the channel the log-in started from.
    consent.get_by_role("link", name="Back to Slack").click()
    expect(consent).to_have_url(f"{demo.url}/?channel=C0DEMOGENRL")
    expect(consent.locator("#place-title")).to_have_text("#general")
    consent.close()

    # The organisation picker is an ephemeral message: the owner sees it, the member does not.
    pick = page.get_by_role("button", name="Connect Demo Company (NZ)")
    expect(pick).to_be_visible()
    expect(surface.get_by_text("Only visible to you").first).to_be_visible()
    page.get_by_label("You are").select_option(label="member")
    expect(surface.get_by_text("Which one should accounts-bot connect to?")).to_have_count(0)
    page.get_by_label("You are").select_option(label="owner (admin)")
    pick.click()
    expect(surface).to_contain_text("accounts-bot is now connected to Demo Company (NZ) in Xero.")
    expect(surface).to_contain_text("✅")

    type_command(page, "/accounts map")
    modal = page.get_by_role("dialog", name="Map account codes")
    expect(modal).to_be_visible()
    modal.get_by_label("Sales", exact=True).select_option(label="200 – Sales")
    modal.get_by_label("Materials", exact=True).select_option(label="310 – Cost of Goods Sold")
    modal.get_by_label("Expenses", exact=True).select_option(label="429 – General Expenses")
    modal.get_by_label("Payments received", exact=True).select_option(label="090 – Business Bank Account")
    page.screenshot(path=str(tmp_path / "mapping.png"))
    modal.get_by_role("button", name="Save accounting settings").click()
    expect(modal).to_be_hidden()
    expect(surface).to_contain_text("Import your customers now?")

    page.get_by_role("button", name="Yes, import all my customers").click()
    replies = surface.get_by_role("button", name=re.compile(r"^\d+ repl"))
    expect(replies.last).to_be_visible(timeout=20_000)
    thread = page.locator("#thread")
    expect(thread).to_be_hidden()
    replies.last.click()
    expect(thread).to_be_visible()
    expect(thread).to_contain_text("Import finished", timeout=20_000)
    expect(thread).to_contain_text("250 contacts read from Xero (Demo Company (NZ))")
    expect(thread.locator(".fields")).to_contain_text(re.compile(r"New\s*200"))
    # A contact's name is shown as written, never as markup or a ping.
    expect(thread).to_contain_text("<!channel> Alerts Ltd")
    page.screenshot(path=SCREENSHOT or str(tmp_path / "summary.png"))

    # The full list comes by direct message, as a CSV to download.
    page.get_by_role("button", name="accounts-bot").click()
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Download").first.click()
    rows = list(csv.DictReader(io.StringIO(Path(downloaded.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows) >= 200
    assert downloaded.value.suggested_filename.endswith(".csv")


def connect_xero(page: Page) -> None:
    """The owner connects Xero's Demo Company through the package fake's consent page."""
    type_command(page, "/accounts connect")
    page.get_by_role("button", name="Xero", exact=True).click()
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Log in to Xero").click()
    consent = opened.value
    consent.get_by_role("button", name="Allow access").click()
    expect(consent.get_by_role("heading", name="Choose an organisation in Slack")).to_be_visible()
    consent.close()
    page.get_by_role("button", name="Connect Demo Company (NZ)").click()
    expect(page.locator("#surface")).to_contain_text("accounts-bot is now connected to Demo Company (NZ) in Xero.")


def test_the_app_home_is_published_when_the_person_opens_it_and_its_controls_work(demo: Demo, page: Page) -> None:
    page.goto(demo.url)
    connect_xero(page)
    page.get_by_label("You are").select_option(label="member")
    page.get_by_role("button", name="App Home").click()
    expect(page.locator("#place-title")).to_have_text("accounts-bot · Home")
    expect(page.locator("#surface .home")).to_be_visible()
    expect(page.get_by_label("Message")).to_be_hidden()

    page.get_by_label("You are").select_option(label="owner (admin)")
    channel = page.locator("#surface .home select").filter(has_text="#random")
    expect(channel).to_have_value("")
    channel.select_option(label="#general")
    # The bot saves it and republishes App Home, which shows the channel chosen.
    expect(page.locator("#surface .home .mention").filter(has_text="#general").first).to_be_visible()
    expect(page.locator("#surface .home select").filter(has_text="#random")).to_have_value("C0DEMOGENRL")


def test_the_message_box_opens_only_once_the_page_can_send_what_is_typed(demo: Demo, page: Page) -> None:
    """On a slow machine the page's first read of the workspace can take a while: a command typed before the box
    is wired must not be sent as a plain form (the page reloaded with ?command=… and the command lost)."""
    held: list[Route] = []
    page.route(re.compile(r"/fake\?$"), lambda route: held.append(route))
    page.goto(demo.url)
    box = page.get_by_label("Message")
    expect(box).to_be_disabled()
    assert len(held) == 1
    held[0].continue_()
    type_command(page, "/accounts connect")
    expect(page.get_by_role("button", name="Xero", exact=True)).to_be_visible()
    assert "command=" not in page.url
