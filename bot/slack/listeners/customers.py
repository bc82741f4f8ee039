"""`/accounts customers [search]`: the imported customers to the person who asks (ephemeral, paged), and the
CSV export of them by direct message, so staff can check the records."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.customers.lists import search
from bot.runtime import Runtime
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


def _page_value(action: dict[str, Any]) -> tuple[int, str | None]:
    page, _, query = str(action.get("value", "0:")).partition(":")
    return (int(page) if page.isdigit() else 0), (query or None)


def register(app: App, runtime: Runtime) -> None:
    @app.action("customers_next")
    @app.action("customers_previous")
    def customers_paged(ack: Ack, context: BoltContext, respond: Respond, action: dict[str, Any]) -> None:
        ack()
        page, query = _page_value(action)
        page = page + 1 if action["action_id"] == "customers_next" else max(0, page - 1)
        respond(replace_original=True, **customers_page(Asker.of(runtime, context), query=query, page=page))

    @app.action("customers_export")
    def customers_exported(ack: Ack, context: BoltContext, action: dict[str, Any], respond: Respond) -> None:
        ack()
        _, query = _page_value(action)
        asker = Asker.of(runtime, context)
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
            respond(response_type="ephemeral", replace_original=False, text=views.export_failed_text(str(reason)))
