"""Importing from Slack: `/accounts import` and the import buttons (start, not now, cancel, retry), in messages and
on App Home. Who may import and what an import takes are set in `import_settings`.

Listeners queue work and answer at once; the job runner (`bot.imports.runner`) does the import. Whatever changes
what App Home shows marks the workspace changed, so its Home is republished.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.connections import connect
from bot.imports import runner, runs
from bot.runtime import Runtime
from bot.slack import payload
from bot.slack.authorisation import StaffRight, authorised
from bot.slack.notify import permalink, tell
from bot.slack.requests import Asker, CommandRequest, Reply, dm_reply, responder
from bot.views import importing as views
from storage.models import ConnectionStatus, RunStatus, Workspace

log = logging.getLogger(__name__)

NOT_CONNECTED = "Nothing is connected yet. An admin can connect your accounting package with `{command} connect`."


def begin_import(
    asker: Asker,
    reply: Reply,
    *,
    channel_id: str | None,
    trigger: str,
    shown_for: int | None = None,
) -> None:
    """Queue an import of the workspace's connection (or link the one running) and say so. `shown_for`: the
    connection the button was offered for; if it is not the workspace's any more, nothing is started."""
    if not authorised(asker, reply, action="import", what="import customers", staff=StaffRight.IMPORT):
        return
    runtime = asker.runtime
    with runtime.db.session() as s:
        connection = connect.active_connection(s, workspace_id=asker.workspace_id)
        if connection is None:
            reply(text=NOT_CONNECTED.format(command="/accounts"))
            return
        if shown_for is not None and connection.id != shown_for:
            reply(text="That button is for a connection that was replaced: run `/accounts import` again.")
            return
        connection_id, status, provider = connection.id, connection.status, connection.provider
        workspace = s.get(Workspace, asker.workspace_id)
        assert workspace is not None
        speak_in = channel_id if trigger != "home" else workspace.notification_channel_id
    if status == ConnectionStatus.NEEDS_RECONNECT:
        reply(text="The connection needs to be made again before importing: an admin can run `/accounts connect`.")
        return
    if provider not in runtime.providers:
        reply(text=f"{provider} is no longer set up on this bot, so I can't import from it.")
        return
    started = runs.start_import(
        runtime.db,
        connection_id=connection_id,
        trigger=trigger,
        started_by=asker.user_id,
        channel_id=speak_in,
        now=runtime.clock(),
    )
    title = runtime.provider_title(provider)
    if not started.created:
        link = permalink(asker.client, started.run.channel_id, started.run.parent_ts)
        reply(text=views.already_running_text(started.run, provider_title=title, link=link))
        return
    runner.wake()
    reply(text=views.queued_text(started.run, provider_title=title))
    runtime.workspace_changed(asker.team_id, viewer=asker.user_id if trigger == "home" else None)


def import_command(req: CommandRequest) -> None:
    """`import` starts one (`import staff` and `import contacts` are the settings', routed by `commands`)."""
    req.ack()
    begin_import(req.asker, responder(req.respond, replace=False), channel_id=req.channel_id or None, trigger="command")


def cancel_import(asker: Asker, reply: Reply, *, run_id: int | None, from_home: bool) -> None:
    """Cancel a run for the person who started it, or someone who may import."""
    runtime = asker.runtime
    view = runs.load_view(runtime.db, run_id) if run_id else None
    if view is None or view.workspace_id != asker.workspace_id:
        reply(text="I can't find that import any more.")
        return
    if asker.user_id != view.started_by and not authorised(
        asker, reply, action="import.cancel", what="cancel an import", staff=StaffRight.IMPORT
    ):
        return
    if not view.active:
        reply(text="That import has already finished.")
        return
    done = runs.request_cancel(runtime.db, run_id=view.id, user_id=asker.user_id, now=runtime.clock())
    if done is not None and done.status == RunStatus.CANCELLED:  # it was not running: no job will say so
        if done.parent_ts:
            _finish_message(runtime, asker.client, done)
        else:
            reply(text="Cancelled before it started; nothing was imported.")
    runtime.workspace_changed(asker.team_id, viewer=asker.user_id if from_home else None)


def retry_import(asker: Asker, reply: Reply, *, run_id: int | None) -> None:
    """Queue a failed run again (or link the one running)."""
    runtime = asker.runtime
    view = runs.load_view(runtime.db, run_id) if run_id else None
    if view is None or view.workspace_id != asker.workspace_id:
        reply(text="I can't find that import any more.")
        return
    if not authorised(asker, reply, action="import.retry", what="retry an import", staff=StaffRight.IMPORT):
        return
    started = runs.retry(runtime.db, run_id=view.id, user_id=asker.user_id, now=runtime.clock())
    if started is not None and started.created:
        runner.wake()
        runtime.workspace_changed(asker.team_id)
    elif started is not None and started.run.active:
        link = permalink(asker.client, started.run.channel_id, started.run.parent_ts)
        title = runtime.provider_title(started.run.provider)
        reply(text=views.already_running_text(started.run, provider_title=title, link=link))
    else:
        reply(text="That import is not waiting for a retry any more.")


def run_of(action: dict[str, Any]) -> int | None:
    """The run a Cancel or Retry button was shown for."""
    return payload.row_id(action.get("value"))


NOT_OURS = 0  # row ids start at 1


def offered_for(action: dict[str, Any]) -> int | None:
    """What an import button was shown for: a connection (the offer after mapping), None (App Home, the contacts
    change), or `NOT_OURS` when its value is none we put there."""
    value = action.get("value")
    if value in (None, "home", "contacts"):
        return None
    connection_id = payload.row_id(value)
    return NOT_OURS if connection_id is None else connection_id


def _from_home(body: dict[str, Any]) -> bool:
    return (body.get("container") or {}).get("type") == "view"


def register(app: App, runtime: Runtime) -> None:
    @app.action("import_start")
    def import_clicked(
        ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond, action: dict[str, Any]
    ) -> None:
        """ "Yes, import all my customers" after mapping (a message), or Import on App Home (a view)."""
        ack()
        asker = Asker.of(runtime, context)
        from_home = _from_home(body)
        reply = (
            dm_reply(asker.client, asker.user_id)
            if from_home
            else payload.where_clicked(asker, body, respond, replace=True)
        )
        shown_for = offered_for(action)
        if shown_for == NOT_OURS:
            reply(text=payload.expired("/accounts import"))
            return
        begin_import(
            asker,
            reply,
            channel_id=None if from_home else payload.channel_of(body),
            trigger="home" if from_home else "button",
            shown_for=shown_for,
        )

    @app.action("import_not_now")
    def import_declined(ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        ack()
        reply = payload.where_clicked(Asker.of(runtime, context), body, respond, replace=True)
        reply(text="Not now, then. You can import your customers any time with `/accounts import`.")

    @app.action("import_cancel")
    def cancel_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, action: dict[str, Any]) -> None:
        ack()
        asker = Asker.of(runtime, context)
        cancel_import(asker, _where_clicked(asker, body), run_id=run_of(action), from_home=_from_home(body))

    @app.action("import_retry")
    def retry_clicked(ack: Ack, body: dict[str, Any], context: BoltContext, action: dict[str, Any]) -> None:
        ack()
        asker = Asker.of(runtime, context)
        retry_import(asker, _where_clicked(asker, body), run_id=run_of(action))


def _where_clicked(asker: Asker, body: dict[str, Any]) -> Reply:
    """Answer the person privately: ephemerally where they clicked, or by direct message from App Home."""
    channel_id = payload.channel_of(body)

    def reply(**kwargs: Any) -> None:
        tell(asker.client, asker.user_id, channel_id, **kwargs)

    return reply


def _finish_message(runtime: Runtime, client: WebClient, run: runs.RunView) -> None:
    """Edit the progress message of a run cancelled before it started (no job will)."""
    if not (run.channel_id and run.parent_ts):
        return
    title = runtime.provider_title(run.provider)
    try:
        client.chat_update(
            channel=run.channel_id,
            ts=run.parent_ts,
            text=views.result_text(run, provider_title=title),
            blocks=views.result_blocks(run, provider_title=title),
        )
    except SlackApiError as exc:
        log.warning("Could not update the message of cancelled run %s: %s", run.id, exc.response.get("error"))
