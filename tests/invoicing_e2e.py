"""What the end-to-end invoicing tests (tests/test_invoicing_e2e*.py) share: a package connected, mapped with tax
codes and its customers imported; the invoice form filled in and previewed; "Create invoice" pressed; and the
invoice as the package then holds it."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.invoices import money, terms
from bot.mapping.tax_codes import TaxEntry
from bot.views.invoices import FormMetadata
from storage.models import ChartTaxRate, Customer, CustomerReference, InvoiceStatus
from storage.models import Invoice as InvoiceRow
from tests.conftest import ADMIN, CHANNEL, RunningBot
from tests.flows import connected, shown
from tests.imports import finished
from tests.providers.packages import HeldInvoice, PackageDriver
from tests.test_invoices import due_becomes, initial_dates, open_form, previewed, rows
from tests.test_mapping import choices, keys, open_modal
from tests.test_tax_codes import tax_values

pytestmark = pytest.mark.package_has("invoicing")

MADE = (InvoiceStatus.DRAFT, InvoiceStatus.APPROVED)  # a draft where the package keeps drafts


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
    which the bot sets just after the form opened: what a person sees before they go on (a click before it lands too:
    tests/test_invoice_form_races.py)."""
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
    return previewed(bot, form, choose(bot, form, name), lines, inclusive=inclusive)


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
