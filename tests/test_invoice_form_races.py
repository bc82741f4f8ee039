"""The invoice form changed by the person and by the bot at the same time (issue 15): the package's payment terms set
the due date just after the form opens, while the person may already be adding a line. Slack refuses whichever
update comes second with `hash_conflict`; both must land whatever the order. Each order is made deterministic by
holding Xero's answer (the terms) until the person has clicked, or by the person's Slack still showing the form
as it opened when they click.

Each race is run with the person's click served by the process that opened the form and by another process of the
same deployment: Slack delivers each interaction to any of a deployment's processes, which share only the database.
The other is a real process (`tests/bot_process.py`) on the same database; Slack's requests go to whichever the test
points it at."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from storage.models import ShownView
from tests.conftest import ADMIN, RunningBot
from tests.fakes.server import free_port
from tests.fakes.xero import XeroFake
from tests.test_invoices import due_becomes, initial_dates, open_form, ready
from tests.test_mapping import checked

ADD_LINE = "invoice_add_line"


@pytest.fixture
def bot(connect_bot: RunningBot) -> Iterator[RunningBot]:
    yield from checked(connect_bot)


@pytest.fixture(params=["the same process", "another process"])
def clicks(request: pytest.FixtureRequest, bot: RunningBot) -> Iterator[str]:
    """The URL of the bot process that serves the person's clicks: the one that opened the form, or another of the
    same deployment (same settings and database, its own port). Slack still sends to the first until a test calls
    `serve_clicks`."""
    if request.param == "the same process":
        yield bot.url
        return
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


def serve_clicks(bot: RunningBot, url: str) -> None:
    bot.slack.request_url = f"{url}/slack/events"


def lines_of(view: dict[str, Any]) -> int:
    return len([b for b in view["blocks"] if str(b.get("block_id", "")).endswith("_price")])


def refused_updates(bot: RunningBot) -> list[Any]:
    return [c for c in bot.slack.calls("views.update") if c.response.get("error") == "hash_conflict"]


def test_a_line_added_before_the_terms_arrive_stays_and_the_terms_still_set_the_due_date(
    bot: RunningBot, clicks: str, xero: XeroFake
) -> None:
    tenant = ready(bot, xero)
    xero.set_sales_terms(tenant, 30, "DAYSAFTERBILLDATE")
    release = xero.hold("/Organisation")  # the terms answer only when the test says
    try:
        form = open_form(bot)  # the first process opens the form and waits for Xero's terms
        bot.slack.wait_for(lambda: xero.calls_to("/Organisation"), 10, "the terms were never asked")
        serve_clicks(bot, clicks)
        bot.slack.send_action(ADD_LINE, user_id=ADMIN, view_id=form["id"])
        bot.slack.wait_for(lambda: lines_of(bot.slack.view(form["id"])) == 2, 10, "the line was never added")
    finally:
        release.set()

    today, _ = initial_dates(form)
    settled = due_becomes(bot, form["id"], today + timedelta(days=30))
    assert lines_of(settled) == 2  # the person's line stays
    # the terms' first update carried the hash of the form as it opened: refused, and made again on the newer form
    [stale] = refused_updates(bot)
    assert stale.args["hash"] == form["hash"]

    def kept_as_shown() -> bool:  # what every process knows of the form: as Slack shows it, held by no change
        with bot.db.session() as s:
            kept = s.get(ShownView, form["id"])
            return kept is not None and kept.view_hash == settled["hash"] and kept.held_by is None

    bot.slack.wait_for(kept_as_shown, 10, "the form as Slack shows it was not kept, or is still held")


def test_a_line_added_on_the_form_as_it_opened_lands_after_the_terms_did(
    bot: RunningBot, clicks: str, xero: XeroFake
) -> None:
    """The terms reach Slack first; the person clicked "Add a line" before their Slack showed that: the click's
    payload carries the hash of the form as it opened, so Slack refuses the line's update, which is made again on
    the form with the terms' date."""
    tenant = ready(bot, xero)
    xero.set_sales_terms(tenant, 30, "DAYSAFTERBILLDATE")
    form = open_form(bot)
    today, _ = initial_dates(form)
    due_becomes(bot, form["id"], today + timedelta(days=30))

    updates = len(bot.slack.calls("views.update"))
    serve_clicks(bot, clicks)
    bot.slack.send_action(ADD_LINE, user_id=ADMIN, view_id=form["id"], as_seen=form)
    settled = bot.slack.wait_for(lambda: (v := bot.slack.view(form["id"])) and lines_of(v) == 2 and v, 10)
    assert initial_dates(settled)[1] == today + timedelta(days=30)  # the terms' date stays
    answers = [c.response.get("error") for c in bot.slack.calls("views.update")[updates:]]
    assert answers == ["hash_conflict", None]


def test_two_quick_clicks_on_add_a_line_add_two(bot: RunningBot, clicks: str, xero: XeroFake) -> None:
    """Both clicks made on the form as it was before either landed (the second served by `clicks`): the second is
    refused as stale and made again on the form with the first's line."""
    ready(bot, xero)
    form = open_form(bot)
    # Xero keeps no terms for the organisation: the form's 14 days stay, and the bot sends no update
    bot.slack.wait_for(lambda: [c for c in xero.calls_to("/Organisation") if c.status == 200])
    before = dict(bot.slack.view(form["id"]))
    bot.slack.send_action(ADD_LINE, user_id=ADMIN, view_id=form["id"], as_seen=before)
    bot.slack.wait_for(lambda: lines_of(bot.slack.view(form["id"])) == 2, 10, "the first line was never added")
    serve_clicks(bot, clicks)
    bot.slack.send_action(ADD_LINE, user_id=ADMIN, view_id=form["id"], as_seen=before)
    bot.slack.wait_for(lambda: lines_of(bot.slack.view(form["id"])) == 3, 10, "the second click was lost")
