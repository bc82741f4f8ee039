"""`/accounts customers [search]`: the imported customers to the person who asks (ephemeral, paged), and the
CSV export of them by direct message, so staff can check the records."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.customers.lists import search
from bot.runtime import Runtime
from bot.slack import payload
from bot.slack.import_reports import send_customers_csv
from bot.slack.requests import Asker, CommandRequest
from bot.views import customers as views

log = logging.getLogger(__name__)

PAGE_SIZE = 20


def customers_command(req: CommandRequest) -> None:
    """`customers [search]`: the imported customers, to the person who asks (ephemeral, paged)."""
    req.ack()
    query = " ".join(req.args).strip() or None
    req.respond(response_type="ephemeral", **customers_page(req.asker, query=query, page=0))


def customers_page(asker: Asker, *, query: str | None, page: int) -> dict[str, Any]:
    with asker.runtime.db.session() as s:
        rows, total = search(s, workspace_id=asker.workspace_id, query=query, offset=page * PAGE_SIZE, limit=PAGE_SIZE)
        lines = [
            views.CustomerLine(
                name=c.name,
                email=c.email,
                phone=c.phones[0]["number"] if c.phones else None,
                active=c.active,
                possible_duplicate=c.possible_duplicate_of_id is not None,
            )
            for c in rows
        ]
    blocks = views.customers_blocks(lines, total=total, query=query, page=page, page_size=PAGE_SIZE)
    return {"blocks": blocks, "text": f"{total} customers"}


MAX_PAGE = 100_000


def page_value(action: dict[str, Any]) -> tuple[int, str | None] | None:
    """`"<page>:<search>"`, as the paging and export buttons carry it."""
    value = payload.text(action.get("value"), limit=300)
    if value is None:
        return None
    page, _, query = value.partition(":")
    number = payload.number(page, limit=MAX_PAGE)
    return (number, query or None) if number is not None else None


def register(app: App, runtime: Runtime) -> None:
    @app.action("customers_next")
    @app.action("customers_previous")
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
        page, query = value
        page = page + 1 if action["action_id"] == "customers_next" else max(0, page - 1)
        reply(**customers_page(asker, query=query, page=page))

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
        _, query = value
        stamp = runtime.clock().strftime("%Y-%m-%d")
        try:
            send_customers_csv(
                runtime,
                asker.client,
                user_id=asker.user_id,
                workspace_id=asker.workspace_id,
                query=query,
                filename=f"customers-{stamp}.csv",
                comment=lambda rows: views.export_comment(rows, query),
            )
        except (SlackApiError, SlackRequestError) as exc:
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) else str(exc)
            log.warning("Could not send a customers CSV: %s", reason)
            reply(text=views.export_failed_text(str(reason)))
