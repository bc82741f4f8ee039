"""The invoice form, for every listener that opens it (`/accounts invoice`, a customer's "Invoice", a refused
invoice's "Change the invoice"): who may raise invoices, opening the form at once (a trigger id lives three
seconds), then setting its due date from the package's payment terms, and following the customer chosen in it
until the person picks a due date themselves; "Add a line". The form again with a refusal's words under its fields,
too. Every change after the form opened goes through `bot.slack.shown_views`, so that the person's clicks and the
terms arriving at the same time both land."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.invoices import raising, terms
from bot.slack.authorisation import StaffRight, authorised
from bot.slack.requests import Asker, Reply
from bot.slack.shown_views import ShownViews, change_view
from bot.views import invoices as views
from storage.models import Invoice, Workspace

WHAT = "raise invoices"
TRIGGER_REFUSED = ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id")


def may_invoice(asker: Asker, reply: Reply) -> bool:
    return authorised(asker, reply, action="invoice", what=WHAT, staff=StaffRight.INVOICE)


def invoicing_setup(asker: Asker) -> tuple[raising.InvoicingSetup, bool]:
    """The workspace's invoicing setup and whether invoices are saved approved; NoInvoicing says why not."""
    with asker.runtime.db.session() as s:
        found = raising.setup(asker.runtime, s, workspace_id=asker.workspace_id)
        workspace = s.get(Workspace, asker.workspace_id)
        return found, bool(workspace and workspace.approve_invoices)


def open_form(
    asker: Asker,
    reply: Reply,
    *,
    trigger_id: str,
    channel_id: str | None,
    again_of: int | None = None,
    customer_id: int | None = None,
) -> None:
    """The form, empty, or (`again_of`) filled in as a refused invoice was, with the package's words by its fields,
    or (`customer_id`, a customer's "Invoice" button) with that customer chosen. Opened before the package is
    asked anything; its payment terms then set the due date (`follow_terms`)."""
    if not may_invoice(asker, reply):
        return
    try:
        setup, approve = invoicing_setup(asker)
    except raising.NoInvoicing as exc:
        reply(text=str(exc))
        return
    customer = None
    if customer_id is not None:
        with asker.runtime.db.session() as s:
            found = raising.chosen_customer(
                s, connection_id=setup.connection_id, workspace_id=asker.workspace_id, customer_id=customer_id
            )
            customer = (found.id, found.name) if found is not None else None
        if customer is None:
            reply(text="That customer can no longer be invoiced here: see `/accounts customers` again.")
            return
    today = asker.runtime.clock().date()
    if again_of is not None:
        view = refused_form(asker, invoice_id=again_of, setup=setup, approve=approve)
        if view is None:
            reply(text="That invoice can no longer be changed here: raise it again with `/accounts invoice`.")
            return
    else:
        metadata = views.FormMetadata(setup.connection_id, channel_id, 1, due=raising.default_due(today))
        view = views.invoice_form(setup, metadata, today=today, approve=approve, customer=customer)
    try:
        opened = asker.client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        if exc.response.get("error") not in TRIGGER_REFUSED:
            raise
        reply(text="Slack gave me too little time to open the form: run `/accounts invoice` again.")
        return
    ShownViews.of(asker.runtime).remember(opened["view"])
    if again_of is None:
        follow_terms(asker, opened["view"], customer_id=customer[0] if customer else None, issued_on=today)


def refused_form(
    asker: Asker, *, invoice_id: int, setup: raising.InvoicingSetup, approve: bool
) -> dict[str, Any] | None:
    """The form filled in as the refused invoice was, the package's words under the fields they concern; None when
    that invoice can no longer be changed here (not refused, another workspace's, or another connection's)."""
    with asker.runtime.db.session() as s:
        again = raising.resubmission(s, invoice_id=invoice_id, workspace_id=asker.workspace_id)
    if again is None or not _same_connection(asker, invoice_id, setup.connection_id):
        return None
    lines = min(max(len(again.lines), 1), raising.MAX_LINES)
    metadata = views.FormMetadata(setup.connection_id, again.channel_id, lines, due=again.due_on, due_picked=True)
    return views.invoice_form(setup, metadata, today=asker.runtime.clock().date(), approve=approve, again=again)


def _same_connection(asker: Asker, invoice_id: int, connection_id: int) -> bool:
    with asker.runtime.db.session() as s:
        row = s.get(Invoice, invoice_id)
        return row is not None and row.connection_id == connection_id


def follow_terms(asker: Asker, shown: dict[str, Any], *, customer_id: int | None, issued_on: date) -> None:
    """Set the open form's due date by the package's terms (the customer's, else the organisation's). The person
    may have acted on the form meanwhile: a line added stays and gets the date too, while a due date they picked,
    or a customer's terms chosen since, win over these."""
    opened = views.FormMetadata.loads(shown.get("private_metadata"))
    if opened is None or not shown.get("id"):
        return
    due = terms.default_due(
        asker.runtime, connection_id=opened.connection_id, customer_id=customer_id, issued_on=issued_on
    )

    def with_terms(view: Mapping[str, Any]) -> dict[str, Any] | None:
        metadata = views.FormMetadata.loads(view.get("private_metadata"))
        if metadata is None or metadata.due_picked or metadata.due_version != opened.due_version:
            return None  # the person's date, or a customer's terms chosen since: theirs
        if due == metadata.due:
            return None
        return views.form_with(view, replace(metadata, due=due, due_version=metadata.due_version + 1), due=due)

    change_view(asker.client, ShownViews.of(asker.runtime), shown, with_terms)


def customer_chosen(asker: Asker, body: dict[str, Any]) -> None:
    """A customer chosen in the form: the due date follows their terms, unless the person set it themselves."""
    shown = body.get("view") or {}
    metadata = views.FormMetadata.loads(shown.get("private_metadata"))
    actions = body.get("actions") or [{}]
    option = actions[0].get("selected_option") if isinstance(actions[0], dict) else None
    value = option.get("value") if isinstance(option, dict) else None
    if metadata is None or metadata.due_picked or not shown.get("id") or not isinstance(value, str):
        return
    if not (value.isdigit() and len(value) < 10):
        return
    values = (shown.get("state") or {}).get("values")
    showing = views.shown_date(values, metadata.due_block)
    if showing is not None and metadata.due is not None and showing != metadata.due:
        return  # changed by the person in a way Slack did not tell us: theirs
    with asker.runtime.db.session() as s:
        found = raising.chosen_customer(
            s, connection_id=metadata.connection_id, workspace_id=asker.workspace_id, customer_id=int(value)
        )
        customer = (found.id, found.name) if found is not None else None
    if customer is None:
        return
    issued = views.shown_date(values, "date") or asker.runtime.clock().date()
    due = terms.default_due(
        asker.runtime, connection_id=metadata.connection_id, customer_id=customer[0], issued_on=issued
    )
    if due == (showing or metadata.due):
        return

    def with_their_terms(view: Mapping[str, Any]) -> dict[str, Any] | None:
        now = views.FormMetadata.loads(view.get("private_metadata"))
        if now is None or now.due_picked:
            return None
        newer = replace(now, due=due, due_version=now.due_version + 1)
        return views.form_with(view, newer, due=due, customer=customer)

    change_view(asker.client, ShownViews.of(asker.runtime), shown, with_their_terms)


def due_picked(asker: Asker, body: dict[str, Any]) -> None:
    """The person picked the due date: from now on it is theirs (and the form changes, so payment terms still on
    their way see it picked and leave it)."""
    shown = body.get("view") or {}
    metadata = views.FormMetadata.loads(shown.get("private_metadata"))
    if metadata is None or metadata.due_picked or not shown.get("id"):
        return
    actions = body.get("actions") or [{}]
    picked = {metadata.due_block: {metadata.due_block: actions[0]}} if isinstance(actions[0], dict) else {}
    due = views.shown_date(picked, metadata.due_block)

    def with_their_date(view: Mapping[str, Any]) -> dict[str, Any] | None:
        now = views.FormMetadata.loads(view.get("private_metadata"))
        if now is None or now.due_picked:
            return None
        return views.form_with(view, replace(now, due=due or now.due, due_picked=True), due=due)

    change_view(asker.client, ShownViews.of(asker.runtime), shown, with_their_date)


def add_line(asker: Asker, shown: dict[str, Any]) -> None:
    """One more line (Slack keeps what was typed in the fields that stay), on the form as the bot last set it when
    that is newer than what the person clicked on (the payment terms landed meanwhile)."""
    if views.FormMetadata.loads(shown.get("private_metadata")) is None or not shown.get("id"):
        return
    try:
        setup, approve = invoicing_setup(asker)
    except raising.NoInvoicing:
        return
    today = asker.runtime.clock().date()

    def with_a_line(view: Mapping[str, Any]) -> dict[str, Any] | None:
        metadata = views.FormMetadata.loads(view.get("private_metadata"))
        if metadata is None or metadata.lines >= raising.MAX_LINES:
            return None
        return views.invoice_form(setup, replace(metadata, lines=metadata.lines + 1), today=today, approve=approve)

    change_view(asker.client, ShownViews.of(asker.runtime), shown, with_a_line)
