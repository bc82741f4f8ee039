"""`/accounts customers [search]`: the connected organisation's customers to the person who asks (ephemeral,
paged), those kept from organisations no longer connected apart, and the CSV export by direct message (admins,
or everyone after `/accounts export staff on`; every export audited); and each customer's "Invoice" button,
for who may invoice."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot import workspaces
from bot.connections.connect import active_connection
from bot.customers.lists import Scope, first_source, kept_from_earlier, search
from bot.mapping import tax_codes
from bot.runtime import Runtime
from bot.slack import invoice_form, payload
from bot.slack.authorisation import StaffRight, authorised
from bot.slack.import_reports import send_customers_csv
from bot.slack.requests import Asker, CommandRequest, Reply, responder
from bot.views import customers as views
from bot.views.invoices import ROW_ID_MAX
from storage.models import Workspace

log = logging.getLogger(__name__)

PAGE_SIZE = 20
EXPORT_WHAT = "export the customers as CSV"


def customers_command(req: CommandRequest) -> None:
    """`customers [search]`: the imported customers, to the person who asks (ephemeral, paged)."""
    req.ack()
    query = " ".join(req.args).strip() or None
    req.respond(response_type="ephemeral", **customers_page(req.asker, query=query, page=0, scope=Scope.CONNECTED))


def export_command(req: CommandRequest) -> None:
    """`export staff on|off` (admins): whether everyone may export the customers as CSV; `export` alone says."""
    req.ack()
    asker, reply = req.asker, responder(req.respond, replace=False)
    words = [w.lower() for w in req.args]
    if not words or words == ["staff"]:
        with asker.runtime.db.session() as s:
            workspace = s.get(Workspace, asker.workspace_id)
            everyone = bool(workspace and workspace.staff_may_export)
        reply(text=views.export_setting_text(everyone=everyone, command=req.command))
        return
    if words[0] != "staff" or len(words) != 2 or words[1] not in ("on", "off"):
        reply(text=views.export_usage_text(req.command))
        return
    if not authorised(asker, reply, action="export.staff", what="change who exports customers"):
        return
    with asker.runtime.db.session(write_lock=True) as s:
        workspaces.set_staff_may_export(
            s, workspace_id=asker.workspace_id, allowed=words[1] == "on", user_id=asker.user_id
        )
    reply(text=views.export_setting_text(everyone=words[1] == "on", command=req.command, changed=True))


def customers_page(asker: Asker, *, query: str | None, page: int, scope: Scope) -> dict[str, Any]:
    may_export = authorised(asker, _silent, action="export", what=EXPORT_WHAT, staff=StaffRight.EXPORT, quiet=True)
    with asker.runtime.db.session() as s:
        connection = active_connection(s, workspace_id=asker.workspace_id)
        connection_id = connection.id if connection is not None else None
        rows, total = search(
            s,
            workspace_id=asker.workspace_id,
            connection_id=connection_id,
            scope=scope,
            query=query,
            offset=page * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        sources = first_source(s, customer_ids=[c.id for c in rows]) if scope == Scope.EARLIER else {}
        lines = [
            views.CustomerLine(
                name=c.name,
                email=c.email,
                phone=c.phones[0]["number"] if c.phones else None,
                active=c.active,
                possible_duplicate=c.possible_duplicate_of_id is not None,
                source=sources.get(c.id),
                customer_id=c.id,
            )
            for c in rows
        ]
        kept = kept_from_earlier(s, workspace_id=asker.workspace_id, connection_id=connection_id)
        organisation = connection.organisation_name if connection is not None else None
        provider = asker.runtime.providers.get(connection.provider) if connection is not None else None
    may_invoice = (
        scope == Scope.CONNECTED
        and provider is not None
        and tax_codes.offers_invoicing(provider)
        and authorised(asker, _silent, action="invoice", what=invoice_form.WHAT, staff=StaffRight.INVOICE, quiet=True)
    )
    listing = views.CustomerListing(
        lines=lines,
        total=total,
        query=query,
        page=page,
        page_size=PAGE_SIZE,
        scope=scope,
        organisation=organisation,
        kept=[views.Kept(asker.runtime.provider_title(k.provider), k.organisation_name, k.customers) for k in kept],
        may_export=may_export,
        may_invoice=may_invoice,
    )
    return {"blocks": views.customers_blocks(listing), "text": f"{total} customers"}


def _silent(**_: Any) -> None:
    """A reply nobody reads: asking whether someone may export only decides what to show them."""


MAX_PAGE = 100_000


def page_value(action: dict[str, Any]) -> tuple[int, str | None, Scope] | None:
    """`"<page>:<search>"` (the connected organisation's) or `"e<page>:<search>"` (kept from earlier ones), as the
    paging and export buttons carry it."""
    value = payload.text(action.get("value"), limit=300)
    if value is None:
        return None
    scope = Scope.EARLIER if value.startswith("e") else Scope.CONNECTED
    page, _, query = value.removeprefix("e").partition(":")
    number = payload.number(page, limit=MAX_PAGE)
    return (number, query or None, scope) if number is not None else None


def export_customers(runtime: Runtime, asker: Asker, reply: Reply, *, query: str | None, scope: Scope) -> None:
    """Send the customers as CSV to the person, if they may; audited with how many went."""
    if not authorised(asker, reply, action="export", what=EXPORT_WHAT, staff=StaffRight.EXPORT):
        return
    stamp = runtime.clock().strftime("%Y-%m-%d")
    with runtime.db.session() as s:
        connection = active_connection(s, workspace_id=asker.workspace_id)
        connection_id = connection.id if connection is not None else None
    try:
        rows = send_customers_csv(
            runtime,
            asker.client,
            user_id=asker.user_id,
            workspace_id=asker.workspace_id,
            query=query,
            connection_id=connection_id,
            scope=scope,
            filename=f"customers-{stamp}.csv",
            comment=lambda rows: views.export_comment(rows, query),
        )
    except (SlackApiError, SlackRequestError) as exc:
        reason = exc.response.get("error") if isinstance(exc, SlackApiError) else str(exc)
        log.warning("Could not send a customers CSV: %s", reason)
        reply(text=views.export_failed_text(str(reason)))
        return
    with runtime.db.session(write_lock=True) as s:
        workspaces.record(
            s,
            workspace_id=asker.workspace_id,
            actor=asker.user_id,
            action="customers.exported",
            detail={"rows": rows, "search": query, "earlier": scope == Scope.EARLIER},
        )


def register(app: App, runtime: Runtime) -> None:
    @app.action("customers_next")
    @app.action("customers_previous")
    @app.action("customers_earlier")
    @app.action("customers_connected")
    def customers_paged(
        ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond, action: dict[str, Any]
    ) -> None:
        ack()
        asker = Asker.of(runtime, context)
        reply = payload.where_clicked(asker, body, respond, replace=True)
        value = page_value(action)
        if value is None:
            reply(text=payload.expired("/accounts customers"))
            return
        page, query, scope = value
        page = {"customers_next": page + 1, "customers_previous": max(0, page - 1)}.get(action["action_id"], page)
        reply(**customers_page(asker, query=query, page=page, scope=scope))

    @app.action("customers_export")
    def customers_exported(
        ack: Ack, body: dict[str, Any], context: BoltContext, action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        asker = Asker.of(runtime, context)
        reply = payload.where_clicked(asker, body, respond, replace=False)
        value = page_value(action)
        if value is None:
            reply(text=payload.expired("/accounts customers"))
            return
        _, query, scope = value
        export_customers(runtime, asker, reply, query=query, scope=scope)

    @app.action(views.INVOICE_ACTION)
    def customer_invoiced(
        ack: Ack, body: dict[str, Any], context: BoltContext, action: dict[str, Any], respond: Respond
    ) -> None:
        """A customer's "Invoice": the invoice form with them chosen."""
        ack()
        asker = Asker.of(runtime, context)
        reply = payload.where_clicked(asker, body, respond, replace=False)
        customer_id = payload.number(action.get("value"), limit=ROW_ID_MAX)
        if not customer_id or not body.get("trigger_id"):
            reply(text=payload.expired("/accounts customers"))
            return
        invoice_form.open_form(
            asker, reply, trigger_id=body["trigger_id"], channel_id=payload.channel_of(body), customer_id=customer_id
        )
