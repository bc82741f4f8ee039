"""Invoices from Slack: `/accounts invoice` opens the form (customer typeahead, lines, "Add a line"; the form
and its due date are `bot.slack.invoice_form`'s), its preview is pushed with the totals, "Create invoice" sends it
to the package once and shows how it went in the modal (`bot.slack.invoice_sending`); the invoice's "Record
payment" button and its form; `/accounts invoices [unpaid|overdue]`; and the settings `invoice staff on|off`,
`invoice approved on|off`.

Each listener acknowledges first; the package is called after (the preview is answered from our tables).
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk.errors import SlackApiError

from bot.invoices import listing, payments, permissions, raising, tracking
from bot.runtime import Runtime
from bot.slack import payload
from bot.slack.authorisation import authorised
from bot.slack.invoice_form import (
    TRIGGER_REFUSED,
    WHAT,
    add_line,
    customer_chosen,
    due_picked,
    invoicing_setup,
    may_invoice,
    open_form,
)
from bot.slack.invoice_sending import preview_submitted
from bot.slack.notify import tell
from bot.slack.requests import Asker, CommandRequest, Reply, responder
from bot.views import invoices as views
from bot.views.text import escape
from storage.models import Invoice

log = logging.getLogger(__name__)

DUE_DATE_ACTION = re.compile(r"^due_date(_[0-9]{1,5})?$")

PAY_WHAT = "record payments"


def invoice_command(req: CommandRequest) -> None:
    """`invoice` opens the form; `invoice staff on|off` and `invoice approved on|off` are admins' settings."""
    req.ack()
    reply = responder(req.respond, replace=False)
    setting = req.args[0].lower() if req.args else ""
    if setting in ("staff", "approved"):
        setting_command(req, reply, setting)
        return
    open_form(req.asker, reply, trigger_id=req.trigger_id, channel_id=req.channel_id)


def setting_command(req: CommandRequest, reply: Reply, setting: str) -> None:
    choice = req.args[1].lower() if len(req.args) > 1 else ""
    if choice not in ("on", "off"):
        reply(text=f"Usage: `{req.command} invoice {setting} on` or `{req.command} invoice {setting} off`.")
        return
    asker = req.asker
    if not authorised(asker, reply, action=f"invoice.{setting}", what="change how invoices are raised"):
        return
    with asker.runtime.db.session(write_lock=True) as s:
        if setting == "staff":
            permissions.set_staff_may_invoice(
                s, workspace_id=asker.workspace_id, allowed=choice == "on", user_id=asker.user_id
            )
        else:
            permissions.set_approve_invoices(
                s, workspace_id=asker.workspace_id, approve=choice == "on", user_id=asker.user_id
            )
    words = {
        ("staff", "on"): "Everyone in the workspace may now raise invoices.",
        ("staff", "off"): "Only admins may raise invoices now.",
        ("approved", "on"): "Invoices raised from Slack are now saved approved.",
        ("approved", "off"): "Invoices raised from Slack are now saved as drafts.",
    }
    reply(text=words[(setting, choice)])


def invoices_command(req: CommandRequest) -> None:
    """`invoices [unpaid|overdue]`: the invoices raised from Slack, newest first."""
    req.ack()
    reply = responder(req.respond, replace=False)
    which = req.args[0].lower() if req.args else "all"
    if which not in listing.WHICH:
        reply(text=f"Usage: `{req.command} invoices`, `{req.command} invoices unpaid` or `... overdue`.")
        return
    if not may_invoice(req.asker, reply):
        return
    runtime = req.asker.runtime
    with runtime.db.session() as s:
        found = listing.invoices(s, workspace_id=req.asker.workspace_id, which=which, today=runtime.clock().date())
    reply(
        blocks=views.invoice_list_blocks(found, which=which, command=req.command),
        text=f"{len(found)} invoices",
    )


def form_submitted(asker: Asker, ack: Ack, view: dict[str, Any]) -> None:
    """Check the form against the mapping and show the totals."""

    def refused(**_: Any) -> None:
        ack(response_action="update", view=views.message_view(f"Only admins can {WHAT}."))

    if not may_invoice(asker, refused):
        return
    metadata = views.FormMetadata.loads(view.get("private_metadata"))
    values = (view.get("state") or {}).get("values")
    if metadata is None or not isinstance(values, dict):
        ack(response_action="update", view=views.message_view("This form has expired: run `/accounts invoice` again."))
        return
    draft, errors = views.read_form(values, metadata.lines, due_block=metadata.due_block)
    if draft is None:
        ack(response_action="errors", errors=views.form_errors(errors, due_block=metadata.due_block))
        return
    runtime = asker.runtime
    try:
        setup, approve = invoicing_setup(asker)
    except raising.NoInvoicing as exc:
        ack(response_action="update", view=views.message_view(escape(str(exc))))
        return
    if setup.connection_id != metadata.connection_id:
        ack(
            response_action="update",
            view=views.message_view("The connection changed while this was open: run `/accounts invoice` again."),
        )
        return
    with runtime.db.session(write_lock=True) as s:
        prepared = raising.prepare(s, setup=setup, workspace_id=asker.workspace_id, draft=draft)
        if prepared.errors:
            errors = views.form_errors(prepared.errors, has_tax=bool(setup.tax_codes), due_block=metadata.due_block)
            ack(response_action="errors", errors=errors)
            return
        row = raising.store_preview(
            s,
            setup=setup,
            workspace_id=asker.workspace_id,
            draft=draft,
            prepared=prepared,
            approve=approve,
            user_id=asker.user_id,
            channel_id=metadata.channel_id,
            now=runtime.clock(),
        )
        invoice_id, lines = row.id, list(row.lines)
    assert prepared.totals is not None
    # Pushed over the form, so Back returns to it; over the form shown again after a refusal (itself on top of the
    # first one), in its place, so the modal never grows past Slack's three views.
    ack(
        response_action="update" if view.get("previous_view_id") else "push",
        view=views.preview_view(
            invoice_id=invoice_id,
            customer_name=prepared.customer_name,
            issued_on=draft.issued_on,
            due_on=draft.due_on,
            reference=draft.reference,
            inclusive=draft.inclusive,
            lines=lines,
            totals=prepared.totals,
            provider_title=setup.provider_title,
            approve=approve,
        ),
    )


def customer_options(asker: Asker, body: dict[str, Any]) -> dict[str, Any]:
    metadata = views.FormMetadata.loads((body.get("view") or {}).get("private_metadata"))
    if metadata is None:
        return {"options": []}
    query = body.get("value") if isinstance(body.get("value"), str) else ""
    with asker.runtime.db.session() as s:
        found = raising.customer_choices(
            s, connection_id=metadata.connection_id, workspace_id=asker.workspace_id, query=str(query)[:100]
        )
        return views.customer_options([(c.id, c.name, c.email) for c in found])


def pay_clicked(asker: Asker, body: dict[str, Any], reply: Reply) -> None:
    if not authorised(asker, reply, action="invoice.payment", what=PAY_WHAT):
        return
    actions = body.get("actions") or [{}]
    value = actions[0].get("value") if isinstance(actions[0], dict) else None
    invoice_id = int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else None
    if invoice_id is None or not body.get("trigger_id"):
        reply(text=payload.expired("/accounts invoices"))
        return
    runtime = asker.runtime
    try:
        with runtime.db.session() as s:
            target = payments.target(
                s, invoice_id=invoice_id, workspace_id=asker.workspace_id, categories=runtime.settings.categories
            )
    except payments.CannotPay as exc:
        reply(text=str(exc))
        return
    view = views.payment_form(
        invoice_id=target.invoice_id,
        number=target.number,
        amount_due=target.amount_due,
        currency=target.currency,
        account=target.account_label,
        today=runtime.clock().date(),
    )
    try:
        asker.client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        if exc.response.get("error") not in TRIGGER_REFUSED:
            raise
        reply(text="Slack gave me too little time to open the form: press the button again.")


def payment_submitted(asker: Asker, ack: Ack, view: dict[str, Any]) -> None:
    def refused(**_: Any) -> None:
        ack(response_action="update", view=views.message_view(f"Only admins can {PAY_WHAT}."))

    if not authorised(asker, refused, action="invoice.payment", what=PAY_WHAT):
        return
    invoice_id = views.read_invoice_metadata(view.get("private_metadata"))
    values = (view.get("state") or {}).get("values")
    if invoice_id is None or not isinstance(values, dict) or not view.get("id"):
        ack(response_action="update", view=views.message_view("This form has expired: press Record payment again."))
        return
    amount, paid_on, errors = views.read_payment(values)
    if amount is None or paid_on is None:
        ack(response_action="errors", errors=errors)
        return
    ack(response_action="update", view=views.message_view(":hourglass_flowing_sand: Recording the payment…"))
    runtime = asker.runtime
    with runtime.db.session() as s:
        invoice = s.get(Invoice, invoice_id)
        channel_id = invoice.channel_id if invoice is not None and invoice.workspace_id == asker.workspace_id else None
    try:
        recorded = payments.record(
            runtime,
            invoice_id=invoice_id,
            workspace_id=asker.workspace_id,
            amount=amount,
            paid_on=paid_on,
            user_id=asker.user_id,
            key=f"accounts-bot-payment-{view['id']}",
        )
    except payments.CannotPay as exc:
        tell(asker.client, asker.user_id, channel_id, text=str(exc))
        return
    if recorded.repeated:
        return  # the first submission tells the thread
    if recorded.problem is not None:
        tell(
            asker.client, asker.user_id, channel_id, text=f":warning: The payment was not recorded: {recorded.problem}"
        )
        return
    with runtime.db.session() as s:
        row = s.get(Invoice, invoice_id)
        assert row is not None
        s.expunge(row)
    tracking.tell_thread(
        asker.client,
        row,
        views.payment_recorded_text(
            amount=amount,
            currency=row.currency,
            user_id=asker.user_id,
            amount_due=recorded.amount_due if recorded.amount_due is not None else Decimal(0),
        ),
    )
    tracking.refresh_message(runtime, asker.client, invoice_id=invoice_id)


def register(app: App, runtime: Runtime) -> None:
    @app.view(views.FORM_CALLBACK)
    def form(ack: Ack, context: BoltContext, view: dict[str, Any]) -> None:
        form_submitted(Asker.of(runtime, context), ack, view)

    @app.view(views.PREVIEW_CALLBACK)
    def preview(ack: Ack, context: BoltContext, view: dict[str, Any]) -> None:
        preview_submitted(Asker.of(runtime, context), ack, view)

    @app.view(views.PAYMENT_CALLBACK)
    def payment(ack: Ack, context: BoltContext, view: dict[str, Any]) -> None:
        payment_submitted(Asker.of(runtime, context), ack, view)

    @app.action(views.CUSTOMER_ACTION)
    def chosen(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        ack()
        customer_chosen(Asker.of(runtime, context), body)

    @app.action(DUE_DATE_ACTION)
    def due(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        ack()
        due_picked(Asker.of(runtime, context), body)

    @app.action(views.ADD_LINE_ACTION)
    def more(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        ack()
        add_line(Asker.of(runtime, context), body.get("view") or {})

    @app.action(views.FIX_ACTION)
    def change(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        """The refused invoice's "Change the invoice": the form again, filled in, the package's words by its fields."""
        ack()
        asker = Asker.of(runtime, context)
        reply = payload.where_clicked(asker, body, respond, replace=False)
        actions = body.get("actions") or [{}]
        value = actions[0].get("value") if isinstance(actions[0], dict) else None
        if not (isinstance(value, str) and value.isdigit() and len(value) < 10) or not body.get("trigger_id"):
            reply(text=payload.expired("/accounts invoice"))
            return
        open_form(asker, reply, trigger_id=body["trigger_id"], channel_id=payload.channel_of(body), again_of=int(value))

    @app.action("invoice_open")
    def opened(ack: Ack) -> None:
        ack()  # a link button: Slack opens the URL; nothing to do

    @app.action(views.PAY_ACTION)
    def pay(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        ack()
        asker = Asker.of(runtime, context)
        pay_clicked(asker, body, payload.where_clicked(asker, body, respond, replace=False))

    @app.options(views.CUSTOMER_ACTION)
    def customers(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        ack(**customer_options(Asker.of(runtime, context), body))
