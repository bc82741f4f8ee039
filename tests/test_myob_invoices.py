"""Invoices and payments from Slack with MYOB (issue 15), end to end through the Slack fake and the MYOB fake served
over HTTP: mapping with tax codes, the invoice form and its preview, the service invoice found at MYOB with the
mapped account and tax code UIDs and the preview's totals, one invoice however its answer is lost, a refusal shown
by line and field, a payment recorded, and an invoice paid in MYOB told in its thread by the next tracking."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.invoices import raising, tracking
from providers.myob.invoice_mappers import record_numbers
from storage.models import InvoiceStatus
from tests.conftest import ADMIN, CHANNEL, RunningBot
from tests.fakes.oauth2 import FakeClock
from tests.flows import all_text, log_in, login_url, shown
from tests.imports import finished
from tests.packages_e2e import served, start_with
from tests.providers.myob_driver import MyobDriver
from tests.providers.packages import Resource
from tests.test_invoices import customer, line, open_form, posted, preview, rows, thread
from tests.test_mapping import checked, choices, keys, open_modal
from tests.test_tax_codes import tax_block, tax_values

TAXES = {"sales": "GST", "services": "FRE", "labour": "GST", "materials": "GST"}


@pytest.fixture
def myob() -> Iterator[MyobDriver]:
    with served(MyobDriver(FakeClock(time.time()))) as driver:
        yield driver


@pytest.fixture
def bot(start_bot: Any, myob: MyobDriver) -> Iterator[RunningBot]:
    yield from checked(start_with(start_bot, myob))


def ready(bot: RunningBot, myob: MyobDriver) -> str:
    """Connected to Acme Plumbing's company file, mapped with tax codes, its customers imported: the file's id."""
    file_id = myob.add_organisation("Acme Plumbing Pty Ltd")
    myob.add_customer(file_id, "Jo Bloggs", email="jo@example.com")
    log_in(bot, login_url(bot, package="myob"))
    view = open_modal(bot)
    assert tax_block(view, "sales") is not None and "Goods & Services Tax" in str(tax_block(view, "sales"))
    values = dict(choices(myob.account_ids(file_id), keys(MyobDriver.chart_picks))) | tax_values(TAXES)
    assert bot.slack.send_view_submission(view["id"], values).problems == ()
    bot.slack.send_command("/accounts import", user_id=ADMIN, channel_id=CHANNEL)
    finished(bot)
    return file_id


def test_the_mapping_offers_myobs_tax_codes_and_refuses_a_purchase_only_one_for_sales(
    bot: RunningBot, myob: MyobDriver
) -> None:
    file_id = myob.add_organisation("Acme Plumbing Pty Ltd")
    log_in(bot, login_url(bot, package="myob"))
    view = open_modal(bot)
    sales = str(tax_block(view, "sales"))
    assert "GST Free (0%)" in sales and "No ABN Withholding" not in sales  # MYOB refuses it on a sale
    assert "No ABN Withholding" in str(tax_block(view, "expenses"))
    values = dict(choices(myob.account_ids(file_id), keys(MyobDriver.chart_picks)))
    delivery = bot.slack.send_view_submission(view["id"], values | tax_values(TAXES | {"sales": "ABN"}))
    assert delivery.ack["response_action"] == "errors"
    assert delivery.ack["errors"] == {
        "tax_sales": "No ABN Withholding (-47%) cannot be used with 4-1000 – Sales. "
        "Choose a tax code for that kind of account."
    }


def create(bot: RunningBot) -> None:
    top = bot.slack.last_view(ADMIN)
    assert top is not None and top["callback_id"] == "invoice_preview"
    delivery = bot.slack.send_view_submission(top["id"])
    assert delivery.problems == () and delivery.ack["response_action"] == "update"
    assert "Creating the invoice in MYOB" in str(bot.slack.view(top["id"])["blocks"])


def number(bot: RunningBot) -> str:
    """The number our provider gives the one invoice raised so far (worked out of its idempotency key)."""
    return record_numbers(rows(bot)[0].idempotency_key, "S")[0]


def test_an_invoice_raised_from_the_modal_is_made_at_myob_paid_and_told(bot: RunningBot, myob: MyobDriver) -> None:
    file_id = ready(bot, myob)
    form = open_form(bot)
    bot.slack.send_action("invoice_add_line", user_id=ADMIN, view_id=form["id"])
    form = bot.slack.wait_for(lambda: (v := bot.slack.view(form["id"])) and "line_2_price" in str(v) and v)
    values: dict[str, Any] = {"invoice_customer": {"invoice_customer": customer(bot, form, "jo")}}
    values["reference"] = {"reference": "Job 42"}
    values |= line(1, "sales", "Hot water cylinder", "3", "33.335")
    values |= line(2, "services", "Call-out", "1", "85")
    shown_preview = str(preview(bot, form, values)["blocks"])
    # 3 × 33.335 = 100.005 → 100.01 with 10% GST 10.00; the call-out 85.00 GST free
    assert "Subtotal: 185.01" in shown_preview and "Tax: 10.00" in shown_preview and "Total: 195.01" in shown_preview
    create(bot)
    message = posted(bot, number(bot))

    [made] = myob.invoices_at_package(file_id)
    accounts = myob.account_ids(file_id)
    assert [(li["Account"]["UID"], li["TaxCode"]["Code"], li["Total"]) for li in made["Lines"]] == [
        (accounts["4-1000"], "GST", 100.01),
        (accounts["4-2000"], "FRE", 85.0),
    ]
    assert (made["Subtotal"], made["TotalTax"], made["TotalAmount"]) == (185.01, 10.0, 195.01)
    assert made["CustomerPurchaseOrderNumber"] == "Job 42" and made["Number"] == number(bot)
    [row] = rows(bot)
    assert (row.status, row.external_id, row.total, row.tax) == (
        InvoiceStatus.APPROVED,  # MYOB has no draft sale invoice
        made["UID"],
        Decimal("195.01"),
        Decimal("10.00"),
    )
    assert "*195.01* (approved)" in all_text(message) and "invoice_record_payment" in str(message["blocks"])
    link = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if e.get("url"))
    assert link["url"] == f"https://app.myob.com/#/au/{file_id}/invoice/{made['UID']}"
    bot.slack.wait_for(lambda: rows(bot)[0].message_ts)

    # a payment recorded from Slack goes to MYOB, into the mapped bank account
    bot.slack.send_action("invoice_record_payment", user_id=ADMIN, channel_id=CHANNEL, message_ts=message["ts"])
    [opened] = bot.slack.wait_for(
        lambda: [c for c in bot.slack.calls("views.open") if c.args["view"]["callback_id"] == "invoice_payment"]
    )
    assert "1-1100 – Business Bank Account" in str(opened.response["view"]["blocks"])
    assert bot.slack.send_view_submission(opened.response["view"]["id"], {"amount": {"amount": "95.01"}}).problems == ()
    [told] = thread(bot, message, 1)
    assert "recorded a payment of *95.01*. 100.00 still due." in told
    [payment] = myob.payments_at_package(file_id)
    assert (payment["Account"]["UID"], payment["AmountReceived"]) == (accounts["1-1100"], 95.01)
    assert payment["Invoices"][0]["UID"] == made["UID"]

    # the rest paid in MYOB itself: the next tracking tells the thread
    runtime = bot.server.runtime
    assert tracking.track(runtime, connection_id=row.connection_id) == 0
    myob.clock.advance(time.time() - myob.clock())
    myob.pay_at_package(file_id, made["UID"])
    assert tracking.track(runtime, connection_id=row.connection_id) == 1
    assert thread(bot, message, 2)[1] == ":white_check_mark: Paid in full in MYOB."
    assert rows(bot)[0].status == InvoiceStatus.PAID and rows(bot)[0].amount_due == 0


def test_an_answer_lost_after_myob_made_the_invoice_is_found_by_its_number(bot: RunningBot, myob: MyobDriver) -> None:
    file_id = ready(bot, myob)
    form = open_form(bot)
    values: dict[str, Any] = {"invoice_customer": {"invoice_customer": customer(bot, form, "jo")}}
    preview(bot, form, values | line(1, "sales", "Hot water", "1", "100"))
    myob.lose_next_answer(Resource.INVOICES)
    create(bot)
    posted(bot, number(bot))
    assert [c.status for c in myob.calls(Resource.INVOICES)] == [504]  # made, its answer lost, never sent again
    assert len(myob.invoices_at_package(file_id)) == 1 and rows(bot)[0].status == InvoiceStatus.APPROVED


def test_a_process_killed_after_myob_made_the_invoice_leaves_one_invoice(bot: RunningBot, myob: MyobDriver) -> None:
    """A real process sends the invoice and is killed (SIGKILL) after MYOB made it but before the answer reached it:
    the row stays pending with its key, and the tracking's resend finds the invoice by its number and makes none."""
    file_id = ready(bot, myob)
    form = open_form(bot)
    values: dict[str, Any] = {"invoice_customer": {"invoice_customer": customer(bot, form, "jo")}}
    preview(bot, form, values | line(1, "sales", "Hot water", "1", "100"))
    [row] = rows(bot)
    runtime = bot.server.runtime
    with runtime.db.session() as s:  # what "Create invoice" does before it sends
        assert raising.claim(s, invoice_id=row.id, workspace_id=row.workspace_id, now=runtime.clock())
    release = myob.fake.hold_answers("Sale/Invoice/Service")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MYOB_", "XERO_", "DATABASE_"))}
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.invoice_worker", str(row.id)],
        stdout=subprocess.PIPE,
        text=True,
        env=env | bot.settings.environment(),
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        bot.slack.wait_for(lambda: myob.invoices_at_package(file_id), 20, "MYOB never got the invoice")
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(10) == -signal.SIGKILL
    finally:
        release.set()
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if worker.stdout is not None:
            worker.stdout.close()
    assert rows(bot)[0].status == InvoiceStatus.PENDING and rows(bot)[0].external_id is None

    later = runtime.clock() + timedelta(minutes=5)
    runtime.clock = lambda: later
    tracking.track(runtime, connection_id=row.connection_id)
    [made] = myob.invoices_at_package(file_id)
    [row] = rows(bot)
    assert (row.status, row.external_id, row.number) == (InvoiceStatus.APPROVED, made["UID"], made["Number"])
    assert len(myob.calls(Resource.INVOICES)) == 1  # the resend found it by number: no second create
    posted(bot, made["Number"])


def test_an_account_made_inactive_in_myob_is_refused_next_to_its_line(bot: RunningBot, myob: MyobDriver) -> None:
    file_id = ready(bot, myob)
    form = open_form(bot)
    values: dict[str, Any] = {"invoice_customer": {"invoice_customer": customer(bot, form, "jo")}}
    preview(bot, form, values | line(1, "sales", "Hot water", "1", "100"))
    myob.archive_account(file_id, myob.account_ids(file_id)["4-1000"])  # since the chart was stored
    create(bot)
    text = all_text(shown(bot, "did not accept the invoice"))
    assert "*Line 1 · Category's account*: MYOB has no active account 4-1000 any more" in text
    assert myob.invoices_at_package(file_id) == [] and rows(bot)[0].status == InvoiceStatus.FAILED
