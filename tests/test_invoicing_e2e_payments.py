"""Payments and tracking (issue 15), for every package that raises invoices, end to end: a payment recorded from
Slack posted to the package and told in the invoice's thread; an invoice paid at the package told by the next
tracking; and who may invoice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.invoices import money, tracking
from bot.views.text import escape
from storage.models import AuditEvent, InvoicePayment, InvoiceStatus
from tests.conftest import ADMIN, CHANNEL, STAFF, RunningBot
from tests.flows import all_text, command
from tests.invoicing_e2e import choose, create, created, held, invoice_of, ready
from tests.providers.packages import PackageDriver
from tests.test_invoices import line, open_form, rows, thread
from tests.test_mapping import checked

pytestmark = pytest.mark.package_has("invoicing")


@pytest.fixture
def bot(package_bot: RunningBot) -> Iterator[RunningBot]:
    yield from checked(package_bot)


# -- payments and tracking ---------------------------------------------------------------------------------------


def test_a_payment_recorded_from_slack_is_posted_to_the_package_and_told_in_the_thread(
    bot: RunningBot, package: PackageDriver
) -> None:
    organisation, name = ready(bot, package)
    command(bot, "/accounts invoice approved on", "saved approved")
    invoice_of(bot, name, line(1, "sales", "Hot water", "1", "100"))
    create(bot, package)
    row, message = created(bot)
    assert row.status == InvoiceStatus.APPROVED and "(approved)" in all_text(message)
    assert "invoice_record_payment" in str(message["blocks"])
    account = package.chart_picks["payments_received"]

    bot.slack.send_action("invoice_record_payment", user_id=ADMIN, channel_id=CHANNEL, message_ts=message["ts"])
    [opened] = bot.slack.wait_for(
        lambda: [c for c in bot.slack.calls("views.open") if c.args["view"]["callback_id"] == "invoice_payment"]
    )
    form = opened.response["view"]
    assert money.shown(row.total) in str(form["blocks"]) and escape(account.label) in str(form["blocks"])
    assert bot.slack.send_view_submission(form["id"], {"amount": {"amount": "50"}}).problems == ()

    due = row.total - Decimal(50)
    [told] = thread(bot, message, 1)
    assert (
        f"a payment of *{money.shown(Decimal(50), row.currency)}*. {money.shown(due, row.currency)} still due." in told
    )
    [payment] = [package.read_payment(organisation, p) for p in package.payments_at_package(organisation)]
    assert (payment.invoice_id, payment.amount, payment.account_code) == (row.external_id, Decimal(50), account.key)
    [there] = held(package, organisation)
    assert there.amount_paid == Decimal(50)
    with bot.db.session() as s:
        [stored] = s.scalars(select(InvoicePayment)).all()
        assert (stored.amount, stored.external_id) == (Decimal("50.00"), payment.id)
        audited = [(e.action, e.actor_user_id, e.detail) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert rows(bot)[0].amount_due == due
    created_detail = {"invoice": row.number, "customer": name, "total": str(row.total)}
    assert ("invoice.created", ADMIN, created_detail) in audited
    assert ("invoice.payment", ADMIN, {"invoice": row.number, "amount": "50.00", "account": account.key}) in audited


def test_an_invoice_paid_at_the_package_is_told_in_its_thread_by_the_next_tracking(
    bot: RunningBot, package: PackageDriver
) -> None:
    organisation, name = ready(bot, package)
    invoice_of(bot, name, line(1, "sales", "Hot water", "1", "100"))
    create(bot, package)
    row, message = created(bot)
    runtime = bot.server.runtime
    assert tracking.track(runtime, connection_id=row.connection_id) == 0  # nothing changed yet

    package.clock.advance(max(0.0, time.time() - package.clock()))  # the package dates the payment now
    package.pay_at_package(organisation, row.external_id or "")

    assert tracking.track(runtime, connection_id=row.connection_id) == 1
    assert thread(bot, message, 1)[-1] == f":white_check_mark: Paid in full in {escape(package.title)}."
    updated = bot.slack.message(CHANNEL, message["ts"])
    assert "(paid)" in all_text(updated) and "invoice_record_payment" not in str(updated["blocks"])
    assert (rows(bot)[0].status, rows(bot)[0].amount_due) == (InvoiceStatus.PAID, Decimal(0))
    assert tracking.track(runtime, connection_id=row.connection_id) == 0  # told once


# -- who may -----------------------------------------------------------------------------------------------------


def test_a_member_is_refused_unless_staff_invoicing_is_on(bot: RunningBot, package: PackageDriver) -> None:
    organisation, name = ready(bot, package)
    command(bot, "/accounts invoice", "Only", STAFF)
    assert not [c for c in bot.slack.calls("views.open") if c.args["view"]["callback_id"] == "invoice_form"]

    command(bot, "/accounts invoice staff on", "Everyone in the workspace may now raise invoices")

    form = open_form(bot, STAFF)
    assert choose(bot, form, name, STAFF)["value"]
    assert package.invoices_at_package(organisation) == []
