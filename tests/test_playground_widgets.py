"""The playground's Slack surfaces one by one in a real browser, against a small Bolt app on the Slack fake: grouped
dropdowns, a typeahead that asks the bot, errors next to fields, closing a modal, confirm dialogs, and hostile text
drawn as text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from tests.demo.playground import playground_app
from tests.fakes.server import ServerThread, free_port
from tests.fakes.slack import SlackFake
from tests.test_browser import CHROMIUM, FLAGS
from tests.test_slack_fake_control import APP, BOT, SECRET, build_bolt, button, section

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def fake() -> Iterator[SlackFake]:
    """Acme: Ada (admin) and Mia in #accounts with the bot, the playground beside the fake, the Bolt app connected."""
    port = free_port()
    fake = SlackFake(signing_secret=SECRET, url=f"http://127.0.0.1:{port}")
    fake.add_workspace("T0ACME", "Acme", BOT, APP)
    fake.add_user("T0ACME", "U0ADA", "ada", is_admin=True)
    fake.add_user("T0ACME", "U0MIA", "mia")
    fake.add_channel("T0ACME", "C0ACCOUNTS", "accounts")
    with ServerThread(playground_app(fake), port=port):
        socket = SocketModeHandler(build_bolt(fake.api_url), APP)
        socket.connect()
        fake.wait_for_socket()
        try:
            yield fake
        finally:
            socket.client.auto_reconnect_enabled = False
            fake.close_sockets()
            socket.client.close()


@pytest.fixture
def page(browser: Browser, fake: SlackFake) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(str(fake.url))
    expect(page.locator("#place-title")).to_have_text("#accounts")
    yield page
    context.close()
    assert errors == []


def type_command(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")


def bot_posts(fake: SlackFake, **message: Any) -> None:
    WebClient(token=BOT, base_url=fake.api_url).chat_postMessage(channel="C0ACCOUNTS", **message)


def test_a_modal_with_a_grouped_dropdown_and_a_typeahead_shows_errors_and_submits(fake: SlackFake, page: Page) -> None:
    type_command(page, "/accounts accounts")
    modal = page.get_by_role("dialog", name="Choose accounts")
    sales = modal.get_by_label("Sales", exact=True)
    expect(sales.locator("optgroup")).to_have_count(2)
    expect(sales.locator("optgroup").first).to_have_attribute("label", "Revenue")
    sales.select_option(label="260 – Other Revenue")

    customer = modal.get_by_role("combobox", name="Customer")
    offered = modal.locator(".typeahead").get_by_role("option")
    customer.fill("kau")
    offered.filter(has_text="Kauri Plumbing").click()
    modal.get_by_role("button", name="Save").click()
    expect(modal.locator(".error")).to_have_text("Kauri Plumbing is archived")
    expect(sales).to_have_value("id-260")  # what the person chose stays while the modal shows its errors

    customer.fill("alp")
    expect(offered).to_have_text(["Alpine Builders", "Alpine Café"])
    offered.filter(has_text="Alpine Café").click()
    expect(customer).to_have_value("Alpine Café")
    modal.get_by_role("button", name="Save").click()
    expect(modal).to_be_hidden()
    expect(page.locator("#surface")).to_contain_text("Sales id-260, customer c-1")


def test_a_required_field_left_empty_is_not_submitted(fake: SlackFake, page: Page) -> None:
    type_command(page, "/accounts accounts")
    modal = page.get_by_role("dialog", name="Choose accounts")
    modal.get_by_role("button", name="Save").click()
    expect(modal).to_be_visible()
    assert modal.get_by_label("Sales", exact=True).evaluate("select => select.validity.valueMissing")
    assert [c.method for c in fake.calls("chat.postMessage")] == []


def test_closing_a_modal_tells_the_bot_when_it_asked(fake: SlackFake, page: Page) -> None:
    type_command(page, "/accounts accounts")
    modal = page.get_by_role("dialog", name="Choose accounts")
    modal.get_by_role("button", name="Cancel").click()
    expect(modal).to_be_hidden()
    expect(page.locator("#surface")).to_contain_text("Nothing saved")


def test_a_button_asking_to_confirm_does_nothing_until_confirmed(fake: SlackFake, page: Page) -> None:
    confirm = {
        "title": {"type": "plain_text", "text": "Show more?"},
        "text": {"type": "mrkdwn", "text": "This *replaces* the message."},
        "confirm": {"type": "plain_text", "text": "Yes, show it"},
        "deny": {"type": "plain_text", "text": "Keep it"},
    }
    bot_posts(
        fake, text="More?", blocks=[{"type": "actions", "elements": [button("more", "More") | {"confirm": confirm}]}]
    )
    page.get_by_role("button", name="More").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Show more?")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="More").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Yes, show it").click()
    expect(page.locator("#surface")).to_contain_text("Here is more")


def test_thread_replies_open_beside_the_channel(fake: SlackFake, page: Page) -> None:
    type_command(page, "/accounts thread")
    page.get_by_role("button", name="1 reply").click()
    expect(page.locator("#thread")).to_contain_text("Import finished: 3 new")
    page.get_by_role("button", name="Close thread").click()
    expect(page.locator("#thread")).to_be_hidden()


HOSTILE = '<img src=x onerror="window.hacked=1"><script>window.hacked=2</script>'


@pytest.mark.parametrize(
    "escaped",
    [True, False],
    ids=["escaped-by-the-bot", "raw"],
)
def test_text_from_a_contact_is_drawn_as_text(fake: SlackFake, page: Page, escaped: bool) -> None:
    name = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") if escaped else HOSTILE
    blocks = [
        section(f"New customer: {name} and <javascript:window.hacked=3|click me>"),
        {"type": "section", "fields": [{"type": "plain_text", "text": HOSTILE}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{name}*"}]},
    ]
    bot_posts(fake, text=name, blocks=blocks)
    surface = page.locator("#surface")
    expect(surface.get_by_text("click me")).to_be_visible()
    expect(surface.get_by_role("link")).to_have_count(0)
    assert surface.locator("img, script").count() == 0
    assert page.evaluate("window.hacked") is None
    if escaped:
        expect(surface.locator(".fields")).to_have_text(HOSTILE)
        expect(surface.locator(".context b")).to_have_text(HOSTILE)
