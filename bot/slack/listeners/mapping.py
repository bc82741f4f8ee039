"""Mapping account codes from Slack: `/accounts map` and the "Map account codes" buttons open the modal; its
refresh button, typeahead and submission; and the initial-import offer that follows the first save.

The modal opens within the trigger's 3 seconds: straight away when the stored chart is fresh, else as a
loading view that is updated once the chart has been fetched. Typeahead answers come from the stored chart.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.categories import by_key
from bot.connections import connect
from bot.mapping import account_mapping
from bot.runtime import Runtime
from bot.slack import payload
from bot.slack.authorisation import authorised
from bot.slack.notify import tell
from bot.slack.requests import Asker, Reply
from bot.views import mapping as views
from bot.views.text import escape
from providers.base import ProviderError
from storage.models import Connection, ConnectionStatus

log = logging.getLogger(__name__)

WHAT = "map account codes"
TRIGGER_REFUSED = ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id")
TRIGGER_EXPIRED = "Slack gave me too little time to open the form: run `/accounts map` again."


def submitted_view(view: dict[str, Any]) -> tuple[views.ModalMetadata, dict[str, Any]] | None:
    """A mapping modal's metadata and its inputs' values, from a submission or a click inside it."""
    metadata = views.ModalMetadata.loads(view.get("private_metadata"))
    values = (view.get("state") or {}).get("values")
    return (metadata, values) if metadata is not None and isinstance(values, dict) else None


@dataclass(frozen=True)
class Target:
    """The connection a modal maps, checked to belong to the workspace that asks."""

    connection: Connection
    provider_title: str


def _target(runtime: Runtime, *, workspace_id: int, connection_id: int) -> Target | None:
    with runtime.db.session() as s:
        connection = s.get(Connection, connection_id)
    if connection is None or connection.workspace_id != workspace_id:
        return None
    if connection.status == ConnectionStatus.DISCONNECTED or connection.provider not in runtime.providers:
        return None
    return Target(connection, runtime.providers[connection.provider].title)


def open_mapping(
    asker: Asker, reply: Reply, *, trigger_id: str, channel_id: str | None, from_home: bool = False
) -> None:
    """Open the mapping modal for an admin; nothing from the package is awaited before `views.open`."""
    if not authorised(asker, reply, action="map", what=WHAT):
        return
    runtime = asker.runtime
    with runtime.db.session() as s:
        connection = connect.active_connection(s, workspace_id=asker.workspace_id)
        if connection is None:
            problem = "Nothing is connected yet, so there are no account codes to map. Start with `/accounts connect`."
        elif (provider := runtime.providers.get(connection.provider)) is None:
            problem = f"{connection.provider} is no longer set up on this bot, so its account codes cannot be mapped."
        else:
            problem = None
            metadata = views.ModalMetadata(connection.id, channel_id, from_home)
            fresh = account_mapping.chart_is_fresh(connection, runtime.clock())
            if fresh:
                form = account_mapping.mapping_form(
                    s, connection=connection, categories=runtime.settings.categories, provider_title=provider.title
                )
                view = views.mapping_modal(form, metadata)
            else:
                view = views.loading_view(provider.title, metadata)
    if problem is not None:
        reply(text=problem)
        return
    try:
        opened = asker.client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        if exc.response.get("error") not in TRIGGER_REFUSED:
            raise
        log.info("Slack would not open the mapping modal: %s", exc.response.get("error"))
        reply(text=TRIGGER_EXPIRED)
        return
    if not fresh:
        show_fresh_chart(
            runtime, asker.client, view_id=opened["view"]["id"], view_hash=opened["view"]["hash"], metadata=metadata
        )


def show_fresh_chart(
    runtime: Runtime,
    client: WebClient,
    *,
    view_id: str,
    view_hash: str | None,
    metadata: views.ModalMetadata,
    selected: dict[str, str | None] | None = None,
    tax_selected: dict[str, str | None] | None = None,
) -> None:
    """Fetch the chart, store it, and turn the (loading) view into the mapping modal.

    When the package fails, the stored chart is shown with a warning, or only the warning if there is none.
    """
    notice: str | None = None
    try:
        account_mapping.refresh_chart(runtime, connection_id=metadata.connection_id)
    except ProviderError as exc:
        log.warning("Could not refresh the chart of connection %s: %s", metadata.connection_id, exc.message)
        notice = exc.format_message()
    except LookupError:
        notice = "This connection was disconnected meanwhile."
    with runtime.db.session() as s:
        connection = s.get(Connection, metadata.connection_id)
        provider = runtime.providers.get(connection.provider) if connection else None
        if connection is None or provider is None or connection.status == ConnectionStatus.DISCONNECTED:
            view = views.problem_view(":electric_plug: Nothing is connected any more. Start with `/accounts connect`.")
        elif connection.chart_refreshed_at is None:
            view = views.problem_view(
                f":warning: I could not get the chart of accounts from {escape(provider.title)}. {escape(notice)}"
            )
        else:
            form = account_mapping.mapping_form(
                s,
                connection=connection,
                categories=runtime.settings.categories,
                provider_title=provider.title,
                selected=selected,
                tax_selected=tax_selected,
                notice=f"Showing the chart as it was; {notice}" if notice else None,
            )
            view = views.mapping_modal(form, metadata)
    try:
        client.views_update(view_id=view_id, hash=view_hash, view=view)
    except SlackApiError as exc:
        # Closed meanwhile, or changed by a newer update: that view wins.
        if exc.response.get("error") not in ("not_found", "hash_conflict"):
            raise
        log.info("Did not update mapping view %s: %s", view_id, exc.response.get("error"))


def save(asker: Asker, ack: Ack, view: dict[str, Any]) -> None:
    submitted = submitted_view(view)
    metadata, values = submitted if submitted is not None else (None, {})

    def refused(**_: Any) -> None:
        ack(response_action="update", view=views.refused_view(WHAT))

    if not authorised(asker, refused, action="map", what=WHAT):
        return
    runtime, user_id = asker.runtime, asker.user_id
    target = (
        _target(runtime, workspace_id=asker.workspace_id, connection_id=metadata.connection_id) if metadata else None
    )
    if metadata is None or target is None:
        ack(
            response_action="update",
            view=views.problem_view(
                ":electric_plug: The connection changed while this was open, so nothing was saved. "
                "Run `/accounts map` again."
            ),
        )
        return
    now = runtime.clock()
    # Reads the chart, then writes: on SQLite take the write lock at BEGIN so another writer cannot slip between.
    with runtime.db.session(write_lock=True) as s:
        connection = s.get(Connection, target.connection.id)
        assert connection is not None
        saved = account_mapping.save_mapping(
            s,
            connection=connection,
            categories=runtime.settings.categories,
            chosen=views.read_choices(values),
            user_id=user_id,
            now=now,
            tax_chosen=views.read_tax_choices(values),
        )
    if not saved.ok:
        ack(response_action="errors", errors=views.field_errors(saved.errors, saved.tax_errors))
        return
    ack()
    organisation = target.connection.organisation_name
    tell(
        asker.client,
        user_id,
        metadata.channel_id,
        text=f"Account codes saved for {organisation}",
        blocks=views.confirmation_blocks(
            organisation_name=organisation,
            provider_title=target.provider_title,
            entries=saved.entries,
            user_id=user_id,
            saved_at=now,
            taxes={category.key: tax for category, tax in saved.taxes},
        ),
    )
    if saved.first:
        tell(
            asker.client,
            user_id,
            metadata.channel_id,
            text="Import your customers now?",
            blocks=views.import_offer_blocks(
                connection_id=target.connection.id, organisation_name=organisation, provider_title=target.provider_title
            ),
        )
    runtime.workspace_changed(asker.team_id, viewer=user_id if metadata.from_home else None)


def refresh(asker: Asker, view: dict[str, Any]) -> None:
    """Fetch the chart again on demand, keeping what the person already chose."""
    submitted = submitted_view(view)
    if submitted is None or not view.get("id"):
        return
    metadata, values = submitted
    target = _target(asker.runtime, workspace_id=asker.workspace_id, connection_id=metadata.connection_id)
    if target is None:
        return
    selected, tax_selected = views.read_choices(values), views.read_tax_choices(values)
    try:
        loading = asker.client.views_update(
            view_id=view["id"], hash=view.get("hash"), view=views.loading_view(target.provider_title, metadata)
        )
    except SlackApiError as exc:
        if exc.response.get("error") not in ("not_found", "hash_conflict"):
            raise
        return
    show_fresh_chart(
        asker.runtime,
        asker.client,
        view_id=view["id"],
        view_hash=loading["view"]["hash"],
        metadata=metadata,
        selected=selected,
        tax_selected=tax_selected,
    )


def typeahead(asker: Asker, body: dict[str, Any]) -> list[account_mapping.ChartEntry]:
    """The accounts of the modal's connection that match what the person typed, from the stored chart."""
    runtime = asker.runtime
    metadata = views.ModalMetadata.loads((body.get("view") or {}).get("private_metadata"))
    category = by_key(runtime.settings.categories).get(views.category_key(body.get("action_id", "")))
    if metadata is None or category is None:
        return []
    with runtime.db.session() as s:
        connection = s.get(Connection, metadata.connection_id)
        if connection is None or connection.workspace_id != asker.workspace_id:
            return []
        return account_mapping.search_accounts(
            s, connection_id=metadata.connection_id, category=category, query=body.get("value", "")
        )


def register(app: App, runtime: Runtime) -> None:
    @app.action("open_mapping")
    def mapping_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        """The button after connecting (in a message) and on App Home (a view, so replies go by DM)."""
        ack()
        asker = Asker.of(runtime, context)
        reply = payload.where_clicked(asker, body, respond, replace=False)
        if not body.get("trigger_id"):
            reply(text=payload.expired("/accounts map"))
            return
        open_mapping(
            asker,
            reply,
            trigger_id=body["trigger_id"],
            channel_id=payload.channel_of(body),
            from_home=(body.get("container") or {}).get("type") == "view",
        )

    @app.action(views.REFRESH_ACTION)
    def refresh_clicked(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        ack()
        refresh(Asker.of(runtime, context), body.get("view") or {})

    @app.view(views.CALLBACK_ID)
    def mapping_submitted(ack: Ack, context: BoltContext, view: dict[str, Any]) -> None:
        save(Asker.of(runtime, context), ack, view)

    @app.options(re.compile("^" + re.escape(views.ACTION_PREFIX)))
    def account_options(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        """Typeahead for charts too big for a menu: answered from the stored chart, never from the package."""
        ack(**views.typeahead_options(typeahead(Asker.of(runtime, context), body)))
