"""Invoices and payments from Slack (issue 15) with Xero's own corners, end to end through the Slack fake and the Xero
fake: the form, its preview and the Idempotency-Key Xero is sent, whatever happens to the answer (lost, or the
process killed); bodies kept to Xero's OpenAPI; a payment Xero refuses; approval in Xero told in the thread; the
customers' Invoice buttons, Xero's terms and `/accounts invoices`. What every package does alike (mapping with tax
codes, totals, a double submission, refusals by field, payments, paid at the package, who may) is in
tests/test_invoicing_e2e*.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.invoices import raising, tracking
from providers import registry
from storage.models import Invoice, InvoiceStatus
from tests.conftest import ADMIN, CHANNEL, STAFF, RunningBot
from tests.fakes.xero import XeroFake
from tests.flows import all_text, command, log_in, login_url, seen, shown
from tests.imports import finished, runs
from tests.test_mapping import checked, choices, open_modal, xero_ids
from tests.test_tax_codes import PICKS, tax_values
from tests.test_xero_fake import SPECS

TAXES = {"sales": "OUTPUT2", "services": "ZERORATED", "materials": "INPUT2"}


@pytest.fixture
def bot(connect_bot: RunningBot) -> Iterator[RunningBot]:
    yield from checked(connect_bot)


def ready(bot: RunningBot, xero: XeroFake) -> str:
    """Connected to Acme Plumbing, mapped with tax codes, and its customers imported: the tenant id."""
    tenant = xero.add_organisation("Acme Plumbing Ltd")
    xero.add_contact(tenant, "Jo Bloggs", EmailAddress="jo@example.com", IsCustomer=True)
    xero.add_contact(tenant, "<!channel> & Sons", EmailAddress="sons@example.com", IsCustomer=True)
    log_in(bot, login_url(bot))
    view = open_modal(bot)
    values = dict(choices(xero_ids(xero, tenant), PICKS)) | tax_values(TAXES)
    assert bot.slack.send_view_submission(view["id"], values).problems == ()
    bot.slack.send_command("/accounts import", user_id=ADMIN, channel_id=CHANNEL)
    finished(bot)
    return tenant


def open_form(bot: RunningBot, user: str = ADMIN) -> dict[str, Any]:
    before = len(bot.slack.calls("views.open"))
    bot.slack.send_command("/accounts invoice", user_id=user, channel_id=CHANNEL)
    [call] = bot.slack.wait_for(lambda: bot.slack.calls("views.open")[before:], 5, "the invoice form did not open")
    assert call.ok and call.args["view"]["callback_id"] == "invoice_form", call.response
    return dict(call.response["view"])


def customer(bot: RunningBot, view: dict[str, Any], typed: str) -> dict[str, Any]:
    delivery = bot.slack.send_options("invoice_customer", typed, user_id=ADMIN, view_id=view["id"])
    assert delivery.problems == ()
    [option] = delivery.ack["options"]
    return dict(option)


def line(number: int, category: str, description: str, quantity: str, price: str, tax: str | None = None) -> dict:
    prefix = f"line_{number}_"
    values = {
        prefix + "category": {prefix + "category": category},
        prefix + "description": {prefix + "description": description},
        prefix + "quantity": {prefix + "quantity": quantity},
        prefix + "price": {prefix + "price": price},
    }
    if tax:
        values[prefix + "tax"] = {prefix + "tax": tax}
    return values


def preview(bot: RunningBot, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    delivery = bot.slack.send_view_submission(view["id"], values)
    assert delivery.problems == (), delivery.problems
    assert delivery.ack["response_action"] == "push", delivery.ack
    return dict(delivery.ack["view"])


def create(bot: RunningBot, user: str = ADMIN) -> str:
    """Press "Create invoice" on the preview on top: acknowledged at once with a modal saying it is being created,
    which then shows how it went (the invoice made, or the form again with the package's words): its view id."""
    top = bot.slack.last_view(user)
    assert top is not None and top["callback_id"] == "invoice_preview"
    delivery = bot.slack.send_view_submission(top["id"])
    assert delivery.problems == () and delivery.ack["response_action"] == "update"
    working = delivery.ack["view"]
    assert "Creating the invoice in Xero" in str(working["blocks"]) and working.get("submit") is None
    return str(top["id"])


def outcome(bot: RunningBot, view_id: str) -> dict[str, Any]:
    """The modal once the package answered: the invoice made or not answered yet (`invoice_result`), or the form
    again (`invoice_form`) when the package refused it."""
    return dict(
        bot.slack.wait_for(
            lambda: (v := bot.slack.view(view_id)) and "Creating the invoice" not in str(v["blocks"]) and v,
            10,
            "the modal never showed how it went",
        )
    )


def thread(bot: RunningBot, message: dict[str, Any], count: int) -> list[str]:
    replies = bot.slack.wait_for(lambda: len(bot.slack.thread(CHANNEL, message["ts"])) >= count or None)
    assert replies
    return [m["text"] for m in bot.slack.thread(CHANNEL, message["ts"])]


def posted(bot: RunningBot, needle: str) -> dict[str, Any]:
    return dict(bot.slack.wait_for(lambda: [m for m in bot.slack.messages(CHANNEL) if needle in all_text(m)])[-1])


def rows(bot: RunningBot) -> list[Invoice]:
    with bot.db.session() as s:
        return list(s.scalars(select(Invoice).order_by(Invoice.id)))


def jo_invoice(bot: RunningBot, *lines: dict[str, Any], inclusive: bool = False) -> dict[str, Any]:
    form = open_form(bot)
    return previewed(bot, form, customer(bot, form, "jo"), lines, inclusive=inclusive)


def previewed(
    bot: RunningBot, form: dict[str, Any], chosen: dict[str, Any], lines: Sequence[dict[str, Any]], *, inclusive: bool
) -> dict[str, Any]:
    """The form filled in for the customer `chosen` (the typeahead's option), reference "Job 42" and `lines`,
    then previewed."""
    values: dict[str, Any] = {"invoice_customer": {"invoice_customer": chosen}}
    values["reference"] = {"reference": "Job 42"}
    if inclusive:
        values["amounts"] = {"amounts": "inclusive"}
    for entry in lines:
        values |= entry
    return preview(bot, form, values)


# -- raising ----------------------------------------------------------------------------------------


def test_an_invoice_raised_from_the_modal_is_made_at_xero_with_the_mapped_accounts_tax_and_totals(
    bot: RunningBot, xero: XeroFake
) -> None:
    tenant = ready(bot, xero)
    form = open_form(bot)
    blocks = {b.get("block_id") for b in form["blocks"]}
    assert {"invoice_customer", "date", "due_date", "reference", "amounts", "line_1_category", "line_1_tax"} <= blocks
    categories = next(b for b in form["blocks"] if b.get("block_id") == "line_1_category")["element"]["options"]
    # bank-only "payments received" is no line category
    assert [o["text"]["text"] for o in categories] == ["Sales", "Services", "Labour", "Materials", "Expenses"]

    # "Add a line" keeps what was typed and adds the second line's fields
    bot.slack.send_action("invoice_add_line", user_id=ADMIN, view_id=form["id"])
    form = bot.slack.wait_for(lambda: (v := bot.slack.view(form["id"])) and "line_2_price" in str(v) and v)

    jo = customer(bot, form, "jo")
    assert jo["text"]["text"] == "Jo Bloggs (jo@example.com)"
    values = {"invoice_customer": {"invoice_customer": jo}, "reference": {"reference": "Job 42"}}
    values |= line(1, "sales", "Hot water cylinder", "1", "1250.00")
    values |= line(2, "materials", "Copper fittings", "3", "33.335")
    shown = preview(bot, form, values)
    text = str(shown["blocks"])
    # Sales 1,250.00 + 187.50 GST; Materials 3 × 33.335 = 100.005 → 100.01 (half up), INPUT2 15% → 15.00
    assert "Subtotal: 1,350.01" in text and "Tax: 202.50" in text and "Total: 1,552.51" in text
    assert "GST on Income (15%)" in text and "GST on Expenses (15%)" in text
    [row] = rows(bot)
    assert row.status == InvoiceStatus.PREVIEW and xero.invoices(tenant) == []  # nothing sent before Create

    modal = create(bot)
    message = posted(bot, "INV-0001")
    [made] = xero.invoices(tenant, unitdp=4)
    done = outcome(bot, modal)  # the modal says so too, with the link
    assert done["callback_id"] == "invoice_result" and "Invoice *INV-0001* for *Jo Bloggs*" in str(done["blocks"])
    assert "*NZD 1,552.51*, is in Xero (draft)" in str(done["blocks"]) and f"<#{CHANNEL}>" in str(done["blocks"])
    assert made["InvoiceID"] in str(done["blocks"])
    assert made["Status"] == "DRAFT" and made["Type"] == "ACCREC" and made["Reference"] == "Job 42"
    assert [(li["AccountCode"], li["TaxType"], li["UnitAmount"]) for li in made["LineItems"]] == [
        ("200", "OUTPUT2", 1250.0),
        ("310", "INPUT2", 33.335),
    ]
    assert (made["SubTotal"], made["TotalTax"], made["Total"]) == (1350.01, 202.5, 1552.51)
    [put] = [c for c in xero.calls_to("/Invoices") if c.method == "PUT"]
    assert put.headers["idempotency-key"] == rows(bot)[0].idempotency_key and put.query["unitdp"] == "4"

    [row] = rows(bot)
    assert (row.status, row.number, row.external_id) == (InvoiceStatus.DRAFT, "INV-0001", made["InvoiceID"])
    assert (row.total, row.tax, row.currency) == (Decimal("1552.51"), Decimal("202.50"), "NZD")
    assert "*Jo Bloggs*" in all_text(message) and "*NZD 1,552.51* (draft)" in all_text(message)
    assert "invoice_record_payment" not in str(message["blocks"])  # a draft takes no payment
    link = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if e.get("url"))
    assert link["url"].endswith(f"/AccountsReceivable/View.aspx?InvoiceID={made['InvoiceID']}")
    assert bot.slack.wait_for(lambda: rows(bot)[0].message_ts) == message["ts"]  # its thread gets the news


def test_bodies_sent_to_xero_keep_to_its_openapi(bot: RunningBot, xero: XeroFake) -> None:
    tenant = ready(bot, xero)
    jo_invoice(bot, line(1, "services", "Call-out <b>", "1", "85"), inclusive=True)
    create(bot)
    posted(bot, "INV-0001")
    spec = yaml.safe_load((SPECS / "xero_accounting.yaml").read_text())["components"]["schemas"]
    [body] = xero.put_bodies(tenant)
    [invoice] = body["Invoices"]
    assert set(invoice) <= set(spec["Invoice"]["properties"])
    assert invoice["Type"] in spec["Invoice"]["properties"]["Type"]["enum"]
    assert invoice["Status"] in spec["Invoice"]["properties"]["Status"]["enum"]
    assert invoice["LineAmountTypes"] in spec["LineAmountTypes"]["enum"]
    for item in invoice["LineItems"]:
        assert set(item) <= set(spec["LineItem"]["properties"])
        assert all(isinstance(item[k], int | float) for k in ("Quantity", "UnitAmount"))
    # a tax-inclusive line: 85.00 includes 85 × 0 / 100 = 0 tax (zero rated)
    [made] = xero.invoices(tenant)
    assert made["LineAmountTypes"] == "Inclusive" and made["Total"] == 85.0


def test_fields_that_do_not_hold_are_refused_next_to_them(bot: RunningBot, xero: XeroFake) -> None:
    ready(bot, xero)
    form = open_form(bot)
    values = {"invoice_customer": {"invoice_customer": customer(bot, form, "jo")}}
    values |= line(1, "sales", "Hot water", "-2", "12.34567", tax="INPUT2")
    delivery = bot.slack.send_view_submission(form["id"], values)
    assert delivery.ack["response_action"] == "errors"
    assert delivery.ack["errors"] == {
        "line_1_quantity": "The quantity cannot be negative.",
        "line_1_price": "The unit price can have at most 4 decimals.",
    }
    values |= line(1, "sales", "Hot water", "2", "12.50", tax="INPUT2")
    delivery = bot.slack.send_view_submission(form["id"], values)
    assert delivery.ack["errors"] == {
        "line_1_tax": "GST on Expenses (15%) cannot be used with 200 – Sales. "
        "Choose a tax code for that kind of account."
    }
    assert rows(bot) == []


# -- never twice ------------------------------------------------------------------------------------


def test_an_answer_lost_after_xero_made_the_invoice_is_retried_with_the_same_key(
    bot: RunningBot, xero: XeroFake
) -> None:
    tenant = ready(bot, xero)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    xero.lose_answers("Invoices")  # made at Xero, then a 504: the provider retries with the same key
    create(bot)
    posted(bot, "INV-0001")
    puts = [c for c in xero.calls_to("/Invoices") if c.method == "PUT"]
    assert len(puts) == 2 and len({c.headers["idempotency-key"] for c in puts}) == 1
    assert len(xero.invoices(tenant)) == 1 and rows(bot)[0].status == InvoiceStatus.DRAFT


def test_a_send_that_never_got_its_answer_is_resumed_by_the_tracking_and_still_makes_one(
    bot: RunningBot, xero: XeroFake
) -> None:
    """Every attempt's answer lost (or the process killed mid-call): the row stays pending with its key; the
    scheduled tracking asks again with that key and gets the invoice Xero already made."""
    tenant = ready(bot, xero)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    xero.lose_answers("Invoices", times=10)
    modal = create(bot)
    said = shown(bot, "has not answered yet")
    assert "never raised twice" in all_text(said)
    assert "has not answered yet" in str(outcome(bot, modal)["blocks"])  # the modal says so too
    [row] = rows(bot)
    assert row.status == InvoiceStatus.PENDING and len(xero.invoices(tenant)) == 1
    xero.lose_answers("Invoices", times=-10 + len([c for c in xero.calls_to("/Invoices") if c.method == "PUT"]))
    assert rows(bot)[0].status == InvoiceStatus.PENDING  # answers flow again; nothing resumes it until it is stale
    tracking.track(bot.server.runtime, connection_id=row.connection_id)
    assert rows(bot)[0].status == InvoiceStatus.PENDING

    runtime = bot.server.runtime
    later = runtime.clock() + timedelta(minutes=5)
    runtime.clock = lambda: later
    tracking.track(runtime, connection_id=row.connection_id)
    [row] = rows(bot)
    assert row.status == InvoiceStatus.DRAFT and row.number == "INV-0001"
    assert len(xero.invoices(tenant)) == 1
    posted(bot, "INV-0001")


def test_a_process_killed_after_xero_made_the_invoice_leaves_one_invoice(bot: RunningBot, xero: XeroFake) -> None:
    """A real process sends the invoice and is killed (SIGKILL) after Xero made it but before the answer reached it:
    the row stays pending with its key, and the tracking's resend gets back the invoice Xero already made."""
    tenant = ready(bot, xero)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    [row] = rows(bot)
    runtime = bot.server.runtime
    with runtime.db.session() as s:  # what "Create invoice" does before it sends
        assert raising.claim(s, invoice_id=row.id, workspace_id=row.workspace_id, now=runtime.clock())
    killed_once_sent(bot, row, xero.hold_answers("Invoices"), lambda: xero.invoices(tenant))
    assert rows(bot)[0].status == InvoiceStatus.PENDING and rows(bot)[0].external_id is None

    later = runtime.clock() + timedelta(minutes=5)
    runtime.clock = lambda: later
    tracking.track(runtime, connection_id=row.connection_id)
    [made] = xero.invoices(tenant)
    [row] = rows(bot)
    assert (row.status, row.external_id, row.number) == (InvoiceStatus.DRAFT, made["InvoiceID"], "INV-0001")
    puts = [c for c in xero.calls_to("/Invoices") if c.method == "PUT"]
    assert len(puts) == 2 and {c.headers["idempotency-key"] for c in puts} == {row.idempotency_key}
    posted(bot, "INV-0001")


def killed_once_sent(bot: RunningBot, row: Invoice, release: threading.Event, arrived: Callable[[], object]) -> None:
    """Send the claimed invoice `row` from a real process (`tests.invoice_worker`) while the package holds its answer
    (`release`, an event set to let it go), and SIGKILL that process once `arrived()` shows the package made it."""
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
        bot.slack.wait_for(arrived, 20, "the package never got the invoice")
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(10) == -signal.SIGKILL
    finally:
        release.set()
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if worker.stdout is not None:
            worker.stdout.close()


def problems_under_fields(view: dict[str, Any]) -> dict[str, str]:
    """The package's words drawn under the form's fields: the field's block id → the words."""
    blocks = view["blocks"]
    return {
        blocks[n - 1]["block_id"]: b["elements"][0]["text"]
        for n, b in enumerate(blocks)
        if b["type"] == "context" and str(b.get("block_id", "")).endswith("_problem")
    }


def test_xero_refusing_the_invoice_shows_the_form_again_with_its_words_by_the_field_to_fix_and_send(
    bot: RunningBot, xero: XeroFake
) -> None:
    tenant = ready(bot, xero)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    xero.archive_account(tenant, xero_ids(xero, tenant)["200"])  # archived in Xero since the chart was stored
    modal = create(bot)

    # the modal becomes the form again, filled in as it was, Xero's words under the field they concern
    form = outcome(bot, modal)
    assert form["callback_id"] == "invoice_form" and form["submit"]["text"] == "Preview"
    assert problems_under_fields(form) == {
        "line_1_category": "⚠ Xero: Account code '200' is not a valid code for this document."
    }
    fields = {b.get("block_id"): b for b in form["blocks"]}
    assert fields["line_1_category"]["element"]["initial_option"]["value"] == "sales"
    assert fields["line_1_description"]["element"]["initial_value"] == "Hot water"
    assert fields["invoice_customer"]["element"]["initial_option"]["text"]["text"] == "Jo Bloggs"
    assert fields["reference"]["element"]["initial_value"] == "Job 42"
    assert "did not accept this invoice" in str(form["blocks"][0])
    assert xero.invoices(tenant) == [] and rows(bot)[0].status == InvoiceStatus.FAILED
    assert not [m for m in seen(bot) if "did not accept" in all_text(m)]  # told in the modal, not by message

    # fixed (another category) and sent again: its preview takes the form's place, so the stack stays in Slack's
    # three views however often it is refused, and the invoice is made once
    delivery = bot.slack.send_view_submission(modal, line(1, "services", "Hot water", "1", "100"))
    assert delivery.problems == () and delivery.ack["response_action"] == "update", delivery.ack
    assert "Total: 115.00" in str(delivery.ack["view"]["blocks"])  # the tax code chosen stays: GST 15%
    create(bot)
    posted(bot, "INV-0001")
    [made] = xero.invoices(tenant)
    assert [li["AccountCode"] for li in made["LineItems"]] == ["260"]
    assert [r.status for r in rows(bot)] == [InvoiceStatus.FAILED, InvoiceStatus.DRAFT]
    assert outcome(bot, modal)["callback_id"] == "invoice_result"


def test_a_refusal_after_the_modal_was_closed_is_told_by_message_and_change_opens_the_form(
    bot: RunningBot, xero: XeroFake
) -> None:
    tenant = ready(bot, xero)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    xero.archive_account(tenant, xero_ids(xero, tenant)["200"])
    release = xero.hold("/Invoices")
    try:
        modal = create(bot)
        bot.slack.close_view(modal)  # "Close" on "Creating the invoice…" while Xero has not answered
    finally:
        release.set()
    refused = shown(bot, "did not accept the invoice")
    text = all_text(refused)
    assert "*Line 1 · Category's account*: Account code '200' is not a valid code for this document." in text

    # "Change the invoice": the form again, filled in as it was, Xero's words under the field they concern
    before = len(bot.slack.calls("views.open"))
    bot.slack.send_action("invoice_change", user_id=ADMIN, channel_id=CHANNEL, message_ts=refused["ts"])
    [call] = bot.slack.wait_for(lambda: bot.slack.calls("views.open")[before:])
    assert call.ok, call.response
    form = call.response["view"]
    assert problems_under_fields(form) == {
        "line_1_category": "⚠ Xero: Account code '200' is not a valid code for this document."
    }
    fields = {b.get("block_id"): b for b in form["blocks"]}
    assert fields["line_1_category"]["element"]["initial_option"]["value"] == "sales"
    assert fields["line_1_price"]["element"]["initial_value"] == "100"
    assert "did not accept this invoice" in str(form["blocks"][0])
    assert xero.invoices(tenant) == [] and rows(bot)[0].status == InvoiceStatus.FAILED


# -- payments and tracking --------------------------------------------------------------------------


def test_a_payment_xero_refuses_is_told_in_words(bot: RunningBot, xero: XeroFake) -> None:
    tenant = ready(bot, xero)
    command(bot, "/accounts invoice approved on", "saved approved")
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    create(bot)
    message = posted(bot, "INV-0001")
    [made] = xero.invoices(tenant)
    xero.set_invoice_status(tenant, made["InvoiceID"], "VOIDED")  # in Xero, before any tracking saw it
    bot.slack.send_action("invoice_record_payment", user_id=ADMIN, channel_id=CHANNEL, message_ts=message["ts"])
    [opened] = bot.slack.wait_for(
        lambda: [c for c in bot.slack.calls("views.open") if c.args["view"]["callback_id"] == "invoice_payment"]
    )
    bot.slack.send_view_submission(opened.response["view"]["id"], {"amount": {"amount": "20"}})
    said = all_text(shown(bot, "not recorded"))
    assert "Payments can only be made against Authorised documents" in said
    assert xero.payments(tenant) == []


def test_an_invoice_paid_in_xero_is_told_in_its_thread_by_the_next_tracking(bot: RunningBot, xero: XeroFake) -> None:
    tenant = ready(bot, xero)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    create(bot)
    message = posted(bot, "INV-0001")
    [made] = xero.invoices(tenant)
    runtime = bot.server.runtime
    [row] = rows(bot)
    assert tracking.track(runtime, connection_id=row.connection_id) == 0  # nothing changed yet

    xero.set_invoice_status(tenant, made["InvoiceID"], "AUTHORISED")
    assert tracking.track(runtime, connection_id=row.connection_id) == 1
    approved = bot.slack.message(CHANNEL, message["ts"])
    assert "(approved)" in all_text(approved) and "invoice_record_payment" in str(approved["blocks"])
    xero.pay_in_xero(tenant, made["InvoiceID"], "115.00")
    assert tracking.track(runtime, connection_id=row.connection_id) == 1
    assert thread(bot, message, 2) == [
        ":ballot_box_with_check: Approved in Xero; NZD 115.00 due.",
        ":white_check_mark: Paid in full in Xero.",
    ]
    updated = next(m for m in bot.slack.messages(CHANNEL) if m["ts"] == message["ts"])
    assert "(paid)" in all_text(updated) and "invoice_record_payment" not in str(updated["blocks"])
    assert rows(bot)[0].status == InvoiceStatus.PAID
    assert tracking.track(runtime, connection_id=row.connection_id) == 0  # told once


def test_previews_nobody_created_are_forgotten_after_a_day(bot: RunningBot, xero: XeroFake) -> None:
    ready(bot, xero)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))  # previewed, then the modal closed
    runtime = bot.server.runtime
    tracking.track_all(runtime)
    assert [r.status for r in rows(bot)] == [InvoiceStatus.PREVIEW]
    later = runtime.clock() + timedelta(days=2)
    runtime.clock = lambda: later
    tracking.track_all(runtime)
    assert rows(bot) == []


# -- who may, and the list ---------------------------------------------------------------------------


def invoice_buttons(message: dict[str, Any]) -> dict[str, str]:
    """The customers' "Invoice" buttons in a `/accounts customers` page: the row's text → the button's value."""
    return {
        b["text"]["text"]: b["accessory"]["value"]
        for b in message["blocks"]
        if b.get("accessory", {}).get("action_id") == "customers_invoice"
    }


def test_a_customers_invoice_button_opens_the_form_with_them_chosen(bot: RunningBot, xero: XeroFake) -> None:
    tenant = ready(bot, xero)
    listed = command(bot, "/accounts customers", "Customers of Acme Plumbing Ltd")
    buttons = invoice_buttons(listed)
    assert len(buttons) == 2 and "Jo Bloggs" in all_text(listed)
    [(row_text, jo_id)] = [(t, v) for t, v in buttons.items() if "Jo Bloggs" in t]
    assert "jo@example.com" in row_text

    before = len(bot.slack.calls("views.open"))
    bot.slack.send_action(
        "customers_invoice", user_id=ADMIN, channel_id=CHANNEL, message_ts=listed["ts"], block_id=f"customer_{jo_id}"
    )
    [call] = bot.slack.wait_for(lambda: bot.slack.calls("views.open")[before:], 5, "the invoice form did not open")
    assert call.ok and call.args["view"]["callback_id"] == "invoice_form", call.response
    form = dict(call.response["view"])
    chosen = next(b for b in form["blocks"] if b.get("block_id") == "invoice_customer")["element"]["initial_option"]
    assert chosen == {"text": {"type": "plain_text", "text": "Jo Bloggs", "emoji": True}, "value": jo_id}

    # nothing typed in the customer field: the one chosen by the button is the invoice's
    shown = preview(bot, form, line(1, "sales", "Tap washer", "1", "100.00"))
    assert "Jo Bloggs" in str(shown["blocks"])
    create(bot)
    posted(bot, "INV-0001")
    [made] = xero.invoices(tenant)
    assert made["Contact"]["Name"] == "Jo Bloggs"


def test_the_invoice_buttons_are_only_for_who_may_invoice(bot: RunningBot, xero: XeroFake) -> None:
    ready(bot, xero)
    assert invoice_buttons(command(bot, "/accounts customers", "Customers of", STAFF)) == {}
    command(bot, "/accounts invoice staff on", "Everyone in the workspace may now raise invoices")
    assert len(invoice_buttons(command(bot, "/accounts customers", "Customers of", STAFF))) == 2


def initial_dates(form: dict[str, Any]) -> tuple[date, date]:
    """The form's invoice date and due date as it shows them (the due date's block id changes with it)."""
    found = {b["block_id"]: b["element"].get("initial_date") for b in form["blocks"] if b.get("type") == "input"}
    [due] = [v for k, v in found.items() if k.startswith("due_date")]
    return date.fromisoformat(found["date"]), date.fromisoformat(due)


def due_becomes(bot: RunningBot, view_id: str, due: date) -> dict[str, Any]:
    """Wait until the open form shows `due` as its due date (set by the bot after the package answered)."""
    return dict(
        bot.slack.wait_for(
            lambda: (v := bot.slack.view(view_id)) and initial_dates(v)[1] == due and v,
            10,
            f"the due date never became {due}",
        )
    )


def pat_prompt(bot: RunningBot, xero: XeroFake, tenant: str) -> None:
    """A customer with terms of their own (7 days), imported."""
    xero.add_contact(
        tenant,
        "Pat Prompt",
        IsCustomer=True,
        PaymentTerms={"Sales": {"Day": 7, "Type": "DAYSAFTERBILLDATE"}},
    )
    bot.slack.send_command("/accounts import", user_id=ADMIN, channel_id=CHANNEL)
    bot.slack.wait_for(lambda: len(runs(bot)) == 2 or None)
    finished(bot)


def test_the_due_date_follows_the_organisations_terms_then_the_customers_own(bot: RunningBot, xero: XeroFake) -> None:
    tenant = ready(bot, xero)
    form = open_form(bot)
    today, due = initial_dates(form)
    assert due == today + timedelta(days=14)  # Xero keeps no terms for the organisation: 14 days
    bot.slack.wait_for(lambda: [c for c in xero.calls_to("/Organisation") if c.status == 200])

    xero.set_sales_terms(tenant, 20, "OFFOLLOWINGMONTH")
    form = open_form(bot)
    following = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    shown_now = due_becomes(bot, form["id"], following.replace(day=20))
    # a new block for the new date: Slack keeps what an input holds while its block id stays
    assert "due_date_1" in {b.get("block_id") for b in shown_now["blocks"]}

    # a customer with terms of their own, invoiced from their button: theirs come first
    pat_prompt(bot, xero, tenant)
    listed = command(bot, "/accounts customers", "Pat Prompt")
    [pat] = [v for t, v in invoice_buttons(listed).items() if "Pat Prompt" in t]
    before = len(bot.slack.calls("views.open"))
    bot.slack.send_action(
        "customers_invoice", user_id=ADMIN, channel_id=CHANNEL, message_ts=listed["ts"], block_id=f"customer_{pat}"
    )
    [call] = bot.slack.wait_for(lambda: bot.slack.calls("views.open")[before:], 5, "the invoice form did not open")
    due_becomes(bot, call.response["view"]["id"], today + timedelta(days=7))


def test_the_form_opens_before_a_slow_package_tells_its_terms(bot: RunningBot, xero: XeroFake) -> None:
    """The trigger id lives three seconds: the form is opened before the package is asked for its terms, however
    long it takes to answer, and its due date is set when the answer comes."""
    tenant = ready(bot, xero)
    xero.set_sales_terms(tenant, 30, "DAYSAFTERBILLDATE")
    release = xero.hold("/Organisation")  # Xero answers only when the test says
    try:
        form = open_form(bot)  # views.open, its trigger accepted, while Xero has not answered
        asked = bot.slack.wait_for(lambda: xero.calls_to("/Organisation"), 10, "the terms were never asked")
        assert [c.status for c in asked] == [None]  # still waiting for Xero
        today, due = initial_dates(form)
        assert due == today + timedelta(days=14)
    finally:
        release.set()
    settled = due_becomes(bot, form["id"], today + timedelta(days=30))
    preview(bot, settled, {"invoice_customer": {"invoice_customer": customer(bot, settled, "jo")}} | jo_line())
    assert rows(bot)[0].due_on == today + timedelta(days=30)


def jo_line() -> dict[str, Any]:
    return line(1, "sales", "Hot water", "1", "100")


def test_a_due_date_the_person_picked_while_the_package_was_slow_stays(bot: RunningBot, xero: XeroFake) -> None:
    tenant = ready(bot, xero)
    xero.set_sales_terms(tenant, 30, "DAYSAFTERBILLDATE")
    release = xero.hold("/Organisation")
    try:
        form = open_form(bot)
        today, _ = initial_dates(form)
        picked = today + timedelta(days=3)
        updates = len(bot.slack.calls("views.update"))
        bot.slack.send_action("due_date", user_id=ADMIN, view_id=form["id"], value=picked.isoformat())
        bot.slack.wait_for(lambda: bot.slack.calls("views.update")[updates:], 10, "the pick was never noted")
    finally:
        release.set()
    # the terms' update finds the form changed since it was opened (its hash) and leaves it
    [stale] = bot.slack.wait_for(
        lambda: [c for c in bot.slack.calls("views.update") if c.response.get("error") == "hash_conflict"], 10
    )
    assert stale.args["view_id"] == form["id"]
    assert initial_dates(bot.slack.view(form["id"]))[1] == picked

    # nor does choosing a customer with terms of their own move it
    pat_prompt(bot, xero, tenant)
    shown_now = bot.slack.view(form["id"])
    pat = customer(bot, shown_now, "pat")
    updates = len(bot.slack.calls("views.update"))
    values = {"invoice_customer": {"invoice_customer": pat}}
    bot.slack.send_action("invoice_customer", user_id=ADMIN, view_id=form["id"], value=pat, values=values)
    delivery = preview(bot, bot.slack.view(form["id"]), values | jo_line())
    assert "due " + f"{picked:%d %b %Y}" in str(delivery["blocks"])
    assert bot.slack.calls("views.update")[updates:] == []


def test_choosing_a_customer_sets_the_due_date_by_their_terms(bot: RunningBot, xero: XeroFake) -> None:
    tenant = ready(bot, xero)
    pat_prompt(bot, xero, tenant)
    form = open_form(bot)
    today, due = initial_dates(form)
    bot.slack.wait_for(lambda: [c for c in xero.calls_to("/Organisation") if c.status == 200])
    assert due == today + timedelta(days=14)

    pat = customer(bot, form, "pat")
    values = {"invoice_customer": {"invoice_customer": pat}}
    bot.slack.send_action("invoice_customer", user_id=ADMIN, view_id=form["id"], value=pat, values=values)
    shown_now = due_becomes(bot, form["id"], today + timedelta(days=7))
    chosen = next(b for b in shown_now["blocks"] if b.get("block_id") == "invoice_customer")
    assert chosen["element"]["initial_option"]["value"] == pat["value"]

    # Jo has no terms of her own: back to the organisation's 14 days, and the invoice is due then
    jo = customer(bot, shown_now, "jo")
    values = {"invoice_customer": {"invoice_customer": jo}}
    bot.slack.send_action("invoice_customer", user_id=ADMIN, view_id=form["id"], value=jo, values=values)
    settled = due_becomes(bot, form["id"], today + timedelta(days=14))
    preview(bot, settled, values | jo_line())
    assert rows(bot)[0].due_on == today + timedelta(days=14)


def test_the_invoices_command_lists_ours_unpaid_and_overdue(bot: RunningBot, xero: XeroFake) -> None:
    ready(bot, xero)
    jo_invoice(bot, line(1, "sales", "Hot water", "1", "100"))
    create(bot)
    posted(bot, "INV-0001")  # made at the package: the list is asked for after, not while Xero is still answering
    listed = command(bot, "/accounts invoices unpaid", "Unpaid invoices")
    assert "INV-0001" in all_text(listed) and "Jo Bloggs" in all_text(listed)
    runtime = bot.server.runtime
    later = runtime.clock() + timedelta(days=30)
    runtime.clock = lambda: later
    overdue = command(bot, "/accounts invoices overdue", "Overdue invoices")
    assert "INV-0001" in all_text(overdue) and "overdue" in all_text(overdue)
    command(bot, "/accounts invoices everything", "Usage")
