"""The invoice form's races (tests/test_invoice_form_races.py) when the person's click is served by another process
of the bot than the one that opened the form and sets its payment terms: Slack delivers each interaction to any of
a deployment's processes, which share only the database. The other is a real process (`tests/bot_process.py`) on
the same database; Slack's requests go to whichever the test points it at."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest

from storage.models import ShownView
from tests.conftest import ADMIN, RunningBot
from tests.fakes.server import free_port
from tests.fakes.xero import XeroFake
from tests.test_invoice_form_races import ADD_LINE, lines_of, refused_updates
from tests.test_invoices import due_becomes, initial_dates, open_form, ready
from tests.test_mapping import checked


@pytest.fixture
def bot(connect_bot: RunningBot) -> Iterator[RunningBot]:
    yield from checked(connect_bot)


@pytest.fixture
def other(bot: RunningBot) -> Iterator[str]:
    """Another process of the same deployment (same settings and database, its own port): its URL. Slack still
    sends to the first until a test says otherwise."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_", "XERO_"))}
    env |= bot.settings.environment() | {"PORT": str(port), "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bot_process"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        ready, url = process.stdout.readline().split()
        assert ready == "ready", "the other process did not start"
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def serve_by(bot: RunningBot, url: str | None = None) -> None:
    """Slack's requests go to `url` (another process), or back to `bot`."""
    bot.slack.request_url = f"{url or bot.url}/slack/events"


def test_a_line_added_in_another_process_before_the_terms_arrive_stays_and_the_terms_still_land(
    bot: RunningBot, other: str, xero: XeroFake
) -> None:
    tenant = ready(bot, xero)
    xero.set_sales_terms(tenant, 30, "DAYSAFTERBILLDATE")
    release = xero.hold("/Organisation")
    try:
        form = open_form(bot)  # the first process opens the form and waits for Xero's terms
        bot.slack.wait_for(lambda: xero.calls_to("/Organisation"), 10, "the terms were never asked")
        serve_by(bot, other)
        bot.slack.send_action(ADD_LINE, user_id=ADMIN, view_id=form["id"])
        bot.slack.wait_for(lambda: lines_of(bot.slack.view(form["id"])) == 2, 10, "the line was never added")
    finally:
        release.set()

    today, _ = initial_dates(form)
    settled = due_becomes(bot, form["id"], today + timedelta(days=30))
    assert lines_of(settled) == 2
    [stale] = refused_updates(bot)  # the terms, sent on the form as it opened, then made on the other's view
    assert stale.args["hash"] == form["hash"]

    def kept_as_shown() -> bool:  # what both processes know of the form: as Slack shows it, held by no change
        with bot.db.session() as s:
            kept = s.get(ShownView, form["id"])
            return kept is not None and kept.view_hash == settled["hash"] and kept.held_by is None

    bot.slack.wait_for(kept_as_shown, 10, "the form as Slack shows it was not kept, or is still held")


def test_a_line_added_in_another_process_on_the_form_as_it_opened_lands_after_the_terms(
    bot: RunningBot, other: str, xero: XeroFake
) -> None:
    tenant = ready(bot, xero)
    xero.set_sales_terms(tenant, 30, "DAYSAFTERBILLDATE")
    form = open_form(bot)
    today, _ = initial_dates(form)
    due_becomes(bot, form["id"], today + timedelta(days=30))

    updates = len(bot.slack.calls("views.update"))
    serve_by(bot, other)
    bot.slack.send_action(ADD_LINE, user_id=ADMIN, view_id=form["id"], as_seen=form)
    settled = bot.slack.wait_for(lambda: (v := bot.slack.view(form["id"])) and lines_of(v) == 2 and v, 10)
    assert initial_dates(settled)[1] == today + timedelta(days=30)
    answers = [c.response.get("error") for c in bot.slack.calls("views.update")[updates:]]
    assert answers == ["hash_conflict", None]


def test_two_quick_clicks_served_by_two_processes_add_two(bot: RunningBot, other: str, xero: XeroFake) -> None:
    ready(bot, xero)
    form = open_form(bot)
    bot.slack.wait_for(lambda: [c for c in xero.calls_to("/Organisation") if c.status == 200])
    before = dict(bot.slack.view(form["id"]))
    bot.slack.send_action(ADD_LINE, user_id=ADMIN, view_id=form["id"], as_seen=before)
    bot.slack.wait_for(lambda: lines_of(bot.slack.view(form["id"])) == 2, 10, "the first line was never added")
    serve_by(bot, other)
    bot.slack.send_action(ADD_LINE, user_id=ADMIN, view_id=form["id"], as_seen=before)
    bot.slack.wait_for(lambda: lines_of(bot.slack.view(form["id"])) == 3, 10, "the second click was lost")
