"""Invoices and payments from Slack for every package that raises them (issue 15), end to end through the Slack fake
and the package's fake (`package`: its driver, `tests.providers.packages`): mapping with tax codes; an invoice
raised from the modal and found at the package with the mapped accounts, tax codes and the totals the preview showed
(a three-decimal unit price, a tax-inclusive line, or its refusal where the organisation takes none); a preview
submitted twice, or an answer lost after the package made it, leaving one invoice; the package's refusal shown by the
line and field it concerns; a payment recorded and told in the thread; an invoice paid at the package told in its
thread by the next tracking; and who may invoice.
Xero's own corners (its Idempotency-Key header, its OpenAPI bodies, its terms) stay in tests/test_invoices.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from bot.invoices import money, raising, terms, tracking
from bot.mapping.tax_codes import TaxEntry
from bot.views.invoices import FormMetadata
from bot.views.text import escape
from providers import registry
from storage.models import (
    AccountMapping,
    AuditEvent,
    ChartTaxRate,
    Customer,
    CustomerReference,
    InvoicePayment,
    InvoiceStatus,
)
from storage.models import Invoice as InvoiceRow
from tests.conftest import ADMIN, CHANNEL, STAFF, RunningBot
from tests.flows import all_text, command, connected, shown
from tests.imports import finished
from tests.providers.packages import HeldInvoice, PackageDriver, Resource
from tests.test_invoices import (
    due_becomes,
    initial_dates,
    line,
    open_form,
    preview,
    problems_under_fields,
    rows,
    thread,
)
from tests.test_mapping import checked, choices, keys, open_modal
from tests.test_tax_codes import tax_block, tax_values

pytestmark = pytest.mark.package_has("invoicing")

MADE = (InvoiceStatus.DRAFT, InvoiceStatus.APPROVED)  # a draft where the package keeps drafts


@pytest.fixture
def bot(package_bot: RunningBot) -> Iterator[RunningBot]:
    yield from checked(package_bot)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def ready(bot: RunningBot, package: PackageDriver) -> tuple[str, str]:
    """Connected to Acme Plumbing at the package, mapped with account and tax codes, and its customers imported:
    the organisation's id, and the name the customer `invoicing_ready` seeds was imported under."""
    _, organisation = connected(bot, package)
    setup = package.invoicing_ready(organisation)
    values = choices(package.account_ids(organisation), keys(package.chart_picks)) | tax_values(dict(package.tax_picks))
    assert bot.slack.send_view_submission(open_modal(bot)["id"], values).problems == ()
    shown(bot, "Account codes saved")
    bot.slack.send_command("/accounts import", user_id=ADMIN, channel_id=CHANNEL)
    finished(bot)
    with bot.db.session() as s:
        name = s.scalar(
            select(Customer.name)
            .join(CustomerReference, CustomerReference.customer_id == Customer.id)
            .where(func.lower(CustomerReference.external_id) == setup.customer_id.lower())
        )
    assert name, "the customer invoicing_ready seeds was not imported"
    return organisation, name


def tax_entries(bot: RunningBot) -> dict[str, TaxEntry]:
    with bot.db.session() as s:
        return {row.code: TaxEntry.from_row(row) for row in s.scalars(select(ChartTaxRate))}


def choose(bot: RunningBot, form: dict[str, Any], name: str, user: str = ADMIN) -> dict[str, Any]:
    """Type the first word of the customer's name in the form's typeahead and take them from what it offers."""
    delivery = bot.slack.send_options("invoice_customer", name.split()[0], user_id=user, view_id=form["id"])
    assert delivery.problems == ()
    [option] = [o for o in delivery.ack["options"] if o["text"]["text"].startswith(name)]
    return dict(option)


def settled_form(bot: RunningBot) -> dict[str, Any]:
    """The invoice form once it shows the due date the package's payment terms give (MYOB's company file: 30 days),
    which the bot sets just after the form opened: what a person sees before they go on. A click before it (the
    package answering slowly) races that update, and Slack keeps one of the two."""
    form = open_form(bot)
    metadata = FormMetadata.loads(form["private_metadata"])
    assert metadata is not None
    issued = initial_dates(form)[0]
    runtime = bot.server.runtime
    due = terms.default_due(runtime, connection_id=metadata.connection_id, customer_id=None, issued_on=issued)
    return due_becomes(bot, form["id"], due)


def invoice_of(bot: RunningBot, name: str, *lines: dict[str, Any], inclusive: bool = False) -> dict[str, Any]:
    """Fill the form for the customer with `lines` and go to the preview: the preview view."""
    form = settled_form(bot)
    view_id = form["id"]
    for number in range(2, len(lines) + 1):  # "Add a line" for each line after the first
        bot.slack.send_action("invoice_add_line", user_id=ADMIN, view_id=view_id)
        form = bot.slack.wait_for(lambda n=number: f"line_{n}_price" in str(v := bot.slack.view(view_id)) and v)
    values: dict[str, Any] = {"invoice_customer": {"invoice_customer": choose(bot, form, name)}}
    values["reference"] = {"reference": "Job 42"}
    if inclusive:
        values["amounts"] = {"amounts": "inclusive"}
    for entry in lines:
        values |= entry
    return preview(bot, form, values)


def create(bot: RunningBot, package: PackageDriver) -> Any:
    """Press "Create invoice" on the preview on top: the modal says it is being created in the package."""
    top = bot.slack.last_view(ADMIN)
    assert top is not None and top["callback_id"] == "invoice_preview"
    delivery = bot.slack.send_view_submission(top["id"])
    assert delivery.problems == () and delivery.ack["response_action"] == "update"
    assert f"Creating the invoice in {package.title}" in str(bot.slack.view(top["id"])["blocks"])
    return delivery


def created(bot: RunningBot) -> tuple[InvoiceRow, dict[str, Any]]:
    """The one invoice once made at the package and posted in the channel: its row and its message."""
    row = bot.slack.wait_for(lambda: [r for r in rows(bot) if r.message_ts], 30, "no invoice was posted")[0]
    return row, dict(bot.slack.message(CHANNEL, row.message_ts))


def held(package: PackageDriver, organisation: str) -> list[HeldInvoice]:
    return [package.read_invoice(organisation, body) for body in package.invoices_at_package(organisation)]


def totals_shown(view: dict[str, Any], invoice: HeldInvoice) -> bool:
    """Whether the preview showed the totals the package then worked out."""
    text = str(view["blocks"])
    amounts = {"Subtotal": invoice.subtotal, "Tax": invoice.tax, "Total": invoice.total}
    return all(f"{label}: {money.shown(amount)}" in text for label, amount in amounts.items())


def refused_form(bot: RunningBot, view_id: str) -> dict[str, Any]:
    """The modal "Create invoice" updated, once it no longer says the invoice is being created: the form again."""
    form_view = bot.slack.wait_for(
        lambda: (v := bot.slack.view(view_id)) and "Creating the invoice" not in str(v["blocks"]) and v,
        30,
        "the modal never showed how it went",
    )
    assert form_view["callback_id"] == "invoice_form", form_view
    return dict(form_view)


# -- mapping and raising -----------------------------------------------------------------------------------------


def test_the_mapping_keeps_a_tax_code_beside_each_categorys_account(bot: RunningBot, package: PackageDriver) -> None:
    ready(bot, package)

    with bot.db.session() as s:
        saved = {row.category: row.tax_code for row in s.scalars(select(AccountMapping))}
    assert saved == {key: package.tax_picks.get(key) for key in package.chart_picks}
    sales = tax_entries(bot)[package.tax_picks["sales"]]
    confirmation = all_text(shown(bot, "Account codes saved"))
    assert f"*Sales*: {escape(package.chart_picks['sales'].label)}, tax {escape(sales.label)}" in confirmation
    again = open_modal(bot)
    for key, code in package.tax_picks.items():
        block = tax_block(again, key)
        assert block is not None and block["element"]["initial_option"]["value"] == code, key
    assert tax_block(again, "payments_received") is None


def test_an_invoice_raised_from_the_modal_is_made_at_the_package_with_the_mapped_accounts_tax_and_totals(
    bot: RunningBot, package: PackageDriver
) -> None:
    organisation, name = ready(bot, package)
    picks, taxes = package.chart_picks, package.tax_picks
    rates = {key: tax_entries(bot)[taxes[key]].rate for key in ("sales", "services")}

    previewed = invoice_of(
        bot,
        name,
        line(1, "sales", "Hot water cylinder", "1", "1250.00"),
        line(2, "services", "Copper fittings", "3", "33.335"),
    )
    assert package.invoices_at_package(organisation) == [] and [r.status for r in rows(bot)] == [InvoiceStatus.PREVIEW]
    create(bot, package)
    row, message = created(bot)

    [there] = held(package, organisation)
    assert [(x.account_code, x.tax_code, x.quantity, x.unit_price) for x in there.lines] == [
        (picks["sales"].key, taxes["sales"], Decimal(1), Decimal("1250.00")),
        (picks["services"].key, taxes["services"], Decimal(3), Decimal("33.335")),
    ]
    assert there.subtotal == Decimal("1350.01")  # 3 × 33.335 = 100.005, to the cent half up: 100.01
    assert there.tax == cents(1250 * rates["sales"] / 100) + cents(Decimal("100.01") * rates["services"] / 100)
    assert there.total == there.subtotal + there.tax
    assert totals_shown(previewed, there)
    assert (row.status in MADE, row.external_id, row.number) == (True, there.id, there.number)
    assert there.customer_id.lower() == row.customer_external_id.lower() and row.customer_name == name
    assert (row.subtotal, row.tax, row.total, row.amount_due) == (there.subtotal, there.tax, there.total, there.total)
    text = all_text(message)
    assert f"*{escape(name)}*" in text and f"*{money.shown(there.total, row.currency)}*" in text
    assert there.number and there.number in text
    [url] = [e["url"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if e.get("url")]
    assert urlsplit(url).scheme == "https" and there.id in url


@pytest.mark.package_has("tax_inclusive_prices")
def test_a_tax_inclusive_line_has_its_tax_worked_out_of_the_price_as_the_package_does(
    bot: RunningBot, package: PackageDriver
) -> None:
    organisation, name = ready(bot, package)
    rate = tax_entries(bot)[package.tax_picks["sales"]].rate

    previewed = invoice_of(bot, name, line(1, "sales", "Service visit", "1", "100"), inclusive=True)
    create(bot, package)
    row, _ = created(bot)

    [there] = held(package, organisation)
    assert there.total == Decimal("100.00") and there.tax == cents(100 * rate / (100 + rate)) > 0  # 15%: 13.04
    assert there.subtotal == there.total - there.tax and totals_shown(previewed, there)
    assert (row.subtotal, row.tax, row.total) == (there.subtotal, there.tax, there.total)


@pytest.mark.package_has("tax_inclusive_words")
def test_tax_inclusive_prices_the_organisation_does_not_take_are_refused_in_the_modal(
    bot: RunningBot, package: PackageDriver
) -> None:
    organisation, name = ready(bot, package)
    invoice_of(bot, name, line(1, "sales", "Service visit", "1", "100"), inclusive=True)
    preview = bot.slack.last_view(ADMIN)
    assert preview is not None
    create(bot, package)

    blocks = refused_form(bot, preview["id"])["blocks"]
    assert f"{package.title} did not accept this invoice: {escape(package.tax_inclusive_words)}" in str(blocks[0])
    assert {b.get("block_id"): b for b in blocks}["amounts"]["element"]["initial_option"]["value"] == "inclusive"
    assert [r.status for r in rows(bot)] == [InvoiceStatus.FAILED] and package.invoices_at_package(organisation) == []


# -- never twice -------------------------------------------------------------------------------------------------


def test_a_preview_submitted_twice_makes_one_invoice(bot: RunningBot, package: PackageDriver) -> None:
    organisation, name = ready(bot, package)
    invoice_of(bot, name, line(1, "sales", "Hot water", "1", "100"))

    first = create(bot, package)
    retried = bot.slack.send_payload("interactive", first.payload, retry=(1, "http_timeout"))  # Slack's retry
    # a second press before Slack applied the first's answer: a submission of its own (a trigger of its own)
    second = bot.slack.send_payload("interactive", first.payload | {"trigger_id": f"{first.payload['trigger_id']}2"})

    assert retried.acked and second.acked and "This invoice was already sent" in str(second.ack)
    row, _ = created(bot)
    assert [i.id for i in held(package, organisation)] == [row.external_id] and len(rows(bot)) == 1
    assert len([m for m in bot.slack.messages(CHANNEL) if row.number and row.number in all_text(m)]) == 1


def test_an_answer_lost_after_the_package_made_the_invoice_still_leaves_one(
    bot: RunningBot, package: PackageDriver
) -> None:
    organisation, name = ready(bot, package)
    invoice_of(bot, name, line(1, "sales", "Hot water", "1", "100"))
    package.lose_next_answer(Resource.INVOICES)

    create(bot, package)

    [row] = bot.slack.wait_for(lambda: [r for r in rows(bot) if r.external_id or r.error], 30, "nothing came of it")
    if row.external_id is None:  # the provider gave up for now: the tracking asks again, with the same key
        runtime = bot.server.runtime
        later = runtime.clock() + timedelta(minutes=5)
        runtime.clock = lambda: later
        tracking.track(runtime, connection_id=row.connection_id)
    row, _ = created(bot)
    assert [i.id for i in held(package, organisation)] == [row.external_id] and row.status in MADE


def test_a_process_killed_after_the_package_made_the_invoice_leaves_one(
    bot: RunningBot, package: PackageDriver
) -> None:
    """A real process sends the invoice and is killed (SIGKILL) after the package made it but before the answer
    reached it: the row stays pending with its key, and the tracking's resend finds the invoice already made."""
    organisation, name = ready(bot, package)
    invoice_of(bot, name, line(1, "sales", "Hot water", "1", "100"))
    [row] = rows(bot)
    runtime = bot.server.runtime
    with runtime.db.session() as s:  # what "Create invoice" does before it sends
        assert raising.claim(s, invoice_id=row.id, workspace_id=row.workspace_id, now=runtime.clock())
    release = package.hold_answers(Resource.INVOICES)
    ours = ("SLACK_", "DATABASE_", *(f"{known.upper()}_" for known in registry.titles()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.invoice_worker", str(row.id)],
        stdout=subprocess.PIPE,
        text=True,
        env=env | bot.settings.environment(),
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        bot.slack.wait_for(lambda: package.invoices_at_package(organisation), 20, "the package never got the invoice")
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

    row, _ = created(bot)
    assert [i.id for i in held(package, organisation)] == [row.external_id] and row.status in MADE


# -- the package refusing ----------------------------------------------------------------------------------------


def test_the_packages_refusal_is_shown_next_to_the_line_and_field_it_concerns(
    bot: RunningBot, package: PackageDriver
) -> None:
    organisation, name = ready(bot, package)
    invoice_of(bot, name, line(1, "sales", "Hot water", "1", "100"))
    sales = package.account_ids(organisation)[package.chart_picks["sales"].key]
    package.archive_account(organisation, sales)  # archived at the package since the chart was stored

    preview = bot.slack.last_view(ADMIN)
    assert preview is not None
    create(bot, package)
    view_id = preview["id"]  # "Create invoice" updates the preview's modal in place

    # The modal becomes the form again, filled in as it was, the package's words under the field they concern.
    form_view = refused_form(bot, view_id)
    [row] = rows(bot)
    assert row.status == InvoiceStatus.FAILED and package.invoices_at_package(organisation) == []
    words = [message for at, field, message in row.refusals or [] if (at, field) == (0, "account")]
    assert words, row.refusals
    blocks = form_view["blocks"]
    under = problems_under_fields(form_view)
    assert set(under) == {"line_1_category"}, under
    assert under["line_1_category"].startswith(f"⚠ {package.title}: ")
    assert all(w in under["line_1_category"] for w in words)
    form = {b.get("block_id"): b for b in blocks}
    assert form["line_1_category"]["element"]["initial_option"]["value"] == "sales"
    assert form["line_1_description"]["element"]["initial_value"] == "Hot water"
    assert form["line_1_price"]["element"]["initial_value"] == "100"
    assert form["invoice_customer"]["element"]["initial_option"]["text"]["text"] == name
    assert form["reference"]["element"]["initial_value"] == "Job 42"
    assert f"{package.title} did not accept this invoice" in str(blocks[0])
    # told in the modal the person is looking at, not by a message as well
    assert not [m for m in bot.slack.messages(CHANNEL) if "did not accept" in all_text(m)]


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
