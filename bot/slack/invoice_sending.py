"""Creating the invoice from its preview, told in the modal itself: the submission is acknowledged at once with a
"Creating the invoice…" view (the package can take longer than Slack's three seconds), the package is asked, and
that view then becomes the outcome: the invoice made (also posted in the channel), or the form again with the
package's words under the fields it refused, to fix and send again. When the person closed the modal meanwhile,
a refusal is told by message, with "Change the invoice" to open the form again.

A submission claims its preview once (`raising.claim`), so a double press or a Slack retry never sends twice."""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal
from typing import Any

from slack_bolt import Ack

from bot.invoices import raising, tracking
from bot.runtime import Runtime
from bot.slack import modals
from bot.slack.invoice_form import WHAT, invoicing_setup, may_invoice, refused_form
from bot.slack.notify import tell
from bot.slack.requests import Asker
from bot.views import invoices as views
from bot.views.text import escape
from storage.models import Connection, Invoice, InvoiceStatus

log = logging.getLogger(__name__)


def preview_submitted(asker: Asker, ack: Ack, view: dict[str, Any]) -> None:
    """Create the invoice: claimed once whatever happens to the submission, sent with its key, told in the modal."""

    def refused(**_: Any) -> None:
        ack(response_action="update", view=views.message_view(f"Only admins can {WHAT}."))

    if not may_invoice(asker, refused):
        return
    runtime = asker.runtime
    invoice_id = views.read_invoice_metadata(view.get("private_metadata"))
    with runtime.db.session(write_lock=True) as s:
        claimed = invoice_id is not None and raising.claim(
            s, invoice_id=invoice_id, workspace_id=asker.workspace_id, now=runtime.clock()
        )
        row = s.get(Invoice, invoice_id) if invoice_id is not None else None
        title = runtime.provider_title(_provider_of(runtime, row.connection_id)) if row is not None else ""
        channel_id = row.channel_id if row is not None else None
    if not claimed or invoice_id is None:
        ack(
            response_action="update",
            view=views.message_view("This invoice was already sent; it is posted in the channel when it is created."),
        )
        return
    # The answer replaces this view by its external id, so it cannot land before Slack shows the view.
    working = f"invoice-{invoice_id}-{secrets.token_hex(8)}"
    ack(response_action="update", view=views.working_view(title, external_id=working))
    sent = raising.send(runtime, invoice_id=invoice_id)
    if sent.invoice is not None:
        tracking.announce(runtime, asker.client, invoice_id=invoice_id)
        modals.replace_when_shown(asker.client, external_id=working, view=_created(runtime, invoice_id, sent, title))
    elif sent.refusals or _failed(runtime, invoice_id):
        if not _show_refused(asker, invoice_id, working):
            problems = [(r.line, r.field, r.message) for r in sent.refusals] or [(None, None, sent.problem or "")]
            tell(
                asker.client,
                asker.user_id,
                channel_id,
                text=f"{title} did not accept the invoice",
                blocks=views.refused_blocks(title, problems, invoice_id=invoice_id),
            )
    elif sent.reconnect:  # asking again will not help until an admin renews the connection: say so, and how
        problem = f":warning: {escape(sent.problem or '')}"
        modals.replace_when_shown(asker.client, external_id=working, view=views.message_view(problem))
        tell(asker.client, asker.user_id, channel_id, text=problem)
    else:
        modals.replace_when_shown(asker.client, external_id=working, view=views.not_answered_view(title))
        tell(asker.client, asker.user_id, channel_id, text=views.not_answered_text(title))


def _show_refused(asker: Asker, invoice_id: int, working: str) -> bool:
    """The form again in the modal, the package's words under its fields; False when it cannot be shown there."""
    try:
        setup, approve = invoicing_setup(asker)
    except raising.NoInvoicing:
        return False
    form = refused_form(asker, invoice_id=invoice_id, setup=setup, approve=approve)
    return form is not None and modals.replace_when_shown(asker.client, external_id=working, view=form)


def _created(runtime: Runtime, invoice_id: int, sent: raising.Sent, title: str) -> dict[str, Any]:
    with runtime.db.session() as s:
        row = s.get(Invoice, invoice_id)
        assert row is not None
        return views.created_view(
            number=row.number,
            customer_name=row.customer_name,
            total=row.total if row.total is not None else Decimal(0),
            currency=row.currency,
            state=views.STATE_WORDS.get(str(row.status), str(row.status)),
            provider_title=title,
            url=sent.url,
            channel_id=row.channel_id,
        )


def _failed(runtime: Runtime, invoice_id: int) -> bool:
    with runtime.db.session() as s:
        row = s.get(Invoice, invoice_id)
        return row is not None and row.status == InvoiceStatus.FAILED


def _provider_of(runtime: Runtime, connection_id: int) -> str:
    with runtime.db.session() as s:
        connection = s.get(Connection, connection_id)
        return connection.provider if connection else ""
