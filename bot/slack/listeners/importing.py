"""Importing from Slack: `/accounts import|channel|sync`, who may import and which contacts count, the import
buttons (start, not now, cancel, retry), and App Home's import and sync controls.

Listeners queue work and answer at once; the job runner (`bot.imports.runner`) does the import. Whatever changes
what App Home shows republishes it for everyone who has been looking at it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import workspaces
from bot.connections import connect
from bot.imports import runner, runs
from bot.runtime import Runtime
from bot.slack.authorisation import refuse
from bot.slack.notify import tell
from bot.slack.requests import CommandRequest, Reply, dm_reply, responder
from bot.status import customer_filter_of
from bot.views import importing as views
from bot.workspaces import permissions
from storage.models import RunStatus

log = logging.getLogger(__name__)

CHANNEL_MENTION = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
INTERVAL = re.compile(r"^(\d+)\s*(m|min|mins|minutes?|h|hr|hrs|hours?)$")
MIN_INTERVAL, MAX_INTERVAL = 5, 24 * 60


NOT_CONNECTED = "Nothing is connected yet. An admin can connect your accounting package with `{command} connect`."


def may_import(runtime: Runtime, client: WebClient, *, team_id: str, user_id: str) -> bool:
    """Admins may import; all staff too when an admin allowed it."""
    with runtime.db.session() as s:
        workspace = workspaces.ensure(s, team_id=team_id)
        if workspace.staff_may_import:
            return True
        return permissions.may_administer(client, s, workspace, user_id)


def permalink(domain: str | None, channel_id: str | None, ts: str | None) -> str | None:
    if not (domain and channel_id and ts):
        return None
    return f"https://{domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"


def begin_import(
    runtime: Runtime,
    client: WebClient,
    reply: Reply,
    *,
    team_id: str,
    team_domain: str | None,
    user_id: str,
    channel_id: str | None,
    trigger: str,
) -> None:
    """Queue an import of the workspace's connection (or link the one running) and say so."""
    if not may_import(runtime, client, team_id=team_id, user_id=user_id):
        refuse(runtime, reply, team_id=team_id, user_id=user_id, action="import", what="import customers")
        return
    with runtime.db.session() as s:
        workspace = workspaces.ensure(s, team_id=team_id)
        connection = connect.active_connection(s, workspace_id=workspace.id)
        if connection is None:
            reply(text=NOT_CONNECTED.format(command="/accounts"))
            return
        connection_id, status, provider = connection.id, connection.status, connection.provider
        speak_in = channel_id if trigger != "home" else workspace.notification_channel_id
    if status == "needs_reconnect":
        reply(text="The connection needs to be made again before importing: an admin can run `/accounts connect`.")
        return
    if provider not in runtime.providers:
        reply(text=f"{provider} is no longer set up on this bot, so I can't import from it.")
        return
    started = runs.start_import(
        runtime.db,
        connection_id=connection_id,
        trigger=trigger,
        started_by=user_id,
        channel_id=speak_in,
        now=runtime.clock(),
    )
    title = runtime.provider_title(provider)
    if not started.created:
        link = permalink(team_domain, started.run.channel_id, started.run.parent_ts)
        reply(text=views.already_running_text(started.run, provider_title=title, link=link))
        return
    with runtime.db.session(write_lock=True) as s:
        workspace = workspaces.ensure(s, team_id=team_id)
        workspaces.record(s, workspace, actor=user_id, action="import.started", detail={"run": started.run.id})
    runner.wake()
    reply(text=views.queued_text(started.run, provider_title=title))
    runtime.workspace_changed(team_id, viewer=user_id if trigger == "home" else None)


def import_command(req: CommandRequest) -> None:
    """`import` starts one; `import staff on|off` lets all staff import, or only admins, and
    `import contacts all|customers|not-suppliers` chooses which contacts are customers (both admins only)."""
    req.ack()
    reply = responder(req.respond, replace=False)
    if req.args and req.args[0].lower() == "staff":
        set_staff_may_import(req, reply)
        return
    if req.args and req.args[0].lower() == "contacts":
        contacts_command(req, reply)
        return
    begin_import(
        req.runtime,
        req.client,
        reply,
        team_id=req.team_id,
        team_domain=req.team_name,
        user_id=req.user_id,
        channel_id=req.channel_id or None,
        trigger="command",
    )


def set_staff_may_import(req: CommandRequest, reply: Reply) -> None:
    choice = req.args[1].lower() if len(req.args) > 1 else ""
    if choice not in ("on", "off"):
        reply(text=f"Usage: `{req.command} import staff on` (everyone may import) or `... staff off` (admins only).")
        return
    if not _admin_or_refused(req, reply, action="import.staff", what="change who imports"):
        return
    with req.runtime.db.session(write_lock=True) as s:
        workspace = workspaces.ensure(s, team_id=req.team_id)
        workspace.staff_may_import = choice == "on"
        workspaces.record(s, workspace, actor=req.user_id, action="import.staff", detail={"allowed": choice == "on"})
    reply(
        text="Everyone in the workspace may now import customers."
        if choice == "on"
        else "Only admins may import customers now."
    )
    req.runtime.workspace_changed(req.team_id)


def contacts_command(req: CommandRequest, reply: Reply) -> None:
    """`import contacts` says which contacts an import makes customers; with a choice, an admin changes it."""
    if len(req.args) == 1:
        with req.runtime.db.session() as s:
            workspace = workspaces.ensure(s, team_id=req.team_id)
            connection = connect.active_connection(s, workspace_id=workspace.id)
            current = customer_filter_of(s, connection_id=connection.id) if connection else None
        if current is None:
            reply(text=NOT_CONNECTED.format(command=req.command))
            return
        reply(text=views.contacts_text(current, command=req.command))
        return
    word = " ".join(req.args[1:]).lower()
    chosen = views.CONTACT_CHOICES.get(word)
    if chosen is None:
        reply(text=views.unknown_contacts_text(word, command=req.command))
        return
    if not _admin_or_refused(req, reply, action="import.contacts", what="change which contacts are imported"):
        return
    was = set_customer_filter(req.runtime, team_id=req.team_id, user_id=req.user_id, chosen=chosen)
    if was is None:
        reply(text=NOT_CONNECTED.format(command=req.command))
        return
    reply(
        blocks=views.contacts_changed_blocks(was, chosen, command=req.command),
        text=views.contacts_changed_text(was, chosen),
    )
    if chosen != was:
        req.runtime.workspace_changed(req.team_id)


def set_customer_filter(runtime: Runtime, *, team_id: str, user_id: str, chosen: str) -> str | None:
    """Store which contacts the connection's imports make customers; returns the setting it had, or None when
    nothing is connected."""
    with runtime.db.session(write_lock=True) as s:
        workspace = workspaces.ensure(s, team_id=team_id)
        connection = connect.active_connection(s, workspace_id=workspace.id)
        if connection is None:
            return None
        settings = runs.sync_settings(s, connection_id=connection.id)
        was = settings.customer_filter
        if chosen != was:
            settings.customer_filter = chosen
            settings.updated_by, settings.updated_at = user_id, runtime.clock()
            workspaces.record(
                s, workspace, actor=user_id, action="import.contacts", detail={"contacts": chosen, "was": was}
            )
        return was


def _admin_or_refused(req: CommandRequest, reply: Reply, *, action: str, what: str) -> bool:
    """Whether the person is an admin; if not, they are told why not and the refusal is audited."""
    if _is_admin(req.runtime, req.client, team_id=req.team_id, user_id=req.user_id):
        return True
    refuse(req.runtime, reply, team_id=req.team_id, user_id=req.user_id, action=action, what=what)
    return False


def _is_admin(runtime: Runtime, client: WebClient, *, team_id: str, user_id: str) -> bool:
    with runtime.db.session() as s:
        workspace = workspaces.ensure(s, team_id=team_id)
        return permissions.may_administer(client, s, workspace, user_id)


def channel_command(req: CommandRequest) -> None:
    """`channel #name` (or `channel here`): where imports from App Home and the schedule report."""
    req.ack()
    reply = responder(req.respond, replace=False)
    if not _admin_or_refused(req, reply, action="channel", what="choose the channel"):
        return
    if not req.args:
        with req.runtime.db.session() as s:
            current = workspaces.ensure(s, team_id=req.team_id).notification_channel_id
        where = f"<#{current}>" if current else "a direct message to the admin who connected"
        reply(
            text=f"Imports and syncs report in {where}. Change it with `{req.command} channel #name` or `channel here`."
        )
        return
    channel_id = _channel_from(req, req.args[0])
    if channel_id is None:
        reply(
            text=f"I can't find `{req.args[0]}`. Run `{req.command} channel here` in the channel you want, "
            "or pick it from Slack's channel suggestions so it is linked."
        )
        return
    try:
        info = req.client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError:
        info = {}
    set_channel(req.runtime, team_id=req.team_id, user_id=req.user_id, channel_id=channel_id)
    note = "" if info.get("is_member") else f" I'm not in it yet: type `/invite @accounts-bot` in <#{channel_id}>."
    reply(text=f"Imports from App Home and scheduled syncs will report in <#{channel_id}>.{note}")
    req.runtime.workspace_changed(req.team_id)


def set_channel(runtime: Runtime, *, team_id: str, user_id: str, channel_id: str) -> None:
    with runtime.db.session(write_lock=True) as s:
        workspace = workspaces.ensure(s, team_id=team_id)
        workspace.notification_channel_id = channel_id
        workspaces.record(s, workspace, actor=user_id, action="channel.set", detail={"channel": channel_id})


def _channel_from(req: CommandRequest, word: str) -> str | None:
    if word.lower() in ("here", "this"):
        return req.channel_id or None
    if match := CHANNEL_MENTION.match(word):
        return match.group(1)
    try:
        here = req.client.conversations_info(channel=req.channel_id)["channel"]
    except SlackApiError:
        return None
    return req.channel_id if here.get("name") == word.lstrip("#") else None


def parse_interval(words: list[str]) -> int | None:
    """`30m`, `2h`, `90 minutes`, `1 hour` → minutes."""
    match = INTERVAL.match(" ".join(words).strip().lower())
    if not match:
        return None
    amount = int(match.group(1))
    return amount * 60 if match.group(2).startswith("h") else amount


def sync_command(req: CommandRequest) -> None:
    """`sync on|off|every 30m` (admins): the scheduled sync of the connection's customers."""
    req.ack()
    reply = responder(req.respond, replace=False)
    verb = req.args[0].lower() if req.args else ""
    minutes = parse_interval(req.args[1:]) if verb == "every" else None
    if verb not in ("on", "off", "every") or (verb == "every" and minutes is None):
        reply(text=f"Usage: `{req.command} sync on`, `{req.command} sync off` or `{req.command} sync every 30m`.")
        return
    if not _admin_or_refused(req, reply, action="sync", what="change the sync"):
        return
    if minutes is not None and not MIN_INTERVAL <= minutes <= MAX_INTERVAL:
        reply(text="Choose an interval from 5 minutes to 24 hours.")
        return
    reply(
        text=change_sync(req.runtime, team_id=req.team_id, user_id=req.user_id, enabled=verb != "off", minutes=minutes)
    )
    req.runtime.workspace_changed(req.team_id)


def change_sync(runtime: Runtime, *, team_id: str, user_id: str, enabled: bool, minutes: int | None) -> str:
    """Turn the connection's scheduled sync on or off, or change how often it runs; says what it did."""
    with runtime.db.session(write_lock=True) as s:
        workspace = workspaces.ensure(s, team_id=team_id)
        connection = connect.active_connection(s, workspace_id=workspace.id)
        if connection is None:
            return "Nothing is connected yet, so there is nothing to sync."
        settings = runs.set_sync(
            s, connection_id=connection.id, enabled=enabled, minutes=minutes, user_id=user_id, now=runtime.clock()
        )
        workspaces.record(
            s, workspace, actor=user_id, action="sync.changed", detail={"enabled": enabled, "every": minutes}
        )
        return views.sync_changed_text(settings)


def _run_id(action: dict[str, Any]) -> int | None:
    value = str(action.get("value", ""))
    return int(value) if value.isdigit() else None


def register(app: App, runtime: Runtime) -> None:
    @app.action("import_start")
    def import_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """ "Yes, import all my customers" after mapping (a message), or Import on App Home (a view)."""
        ack()
        user_id, team = body["user"]["id"], body["team"]
        from_home = (body.get("container") or {}).get("type") == "view"
        reply = dm_reply(client, user_id) if from_home else responder(respond, replace=True)
        begin_import(
            runtime,
            client,
            reply,
            team_id=team["id"],
            team_domain=team.get("domain"),
            user_id=user_id,
            channel_id=None if from_home else (body.get("channel") or {}).get("id"),
            trigger="home" if from_home else "button",
        )

    @app.action("import_not_now")
    def import_declined(ack: Ack, respond: Respond) -> None:
        ack()
        respond(
            replace_original=True, text="Not now, then. You can import your customers any time with `/accounts import`."
        )

    @app.action("import_cancel")
    def cancel_clicked(ack: Ack, body: dict[str, Any], client: WebClient, action: dict[str, Any]) -> None:
        ack()
        user_id, team_id = body["user"]["id"], body["team"]["id"]
        run_id = _run_id(action)
        reply = _where_clicked(client, body)
        view = runs.load_view(runtime.db, run_id) if run_id else None
        if view is None or view.team_id != team_id:
            reply(text="I can't find that import any more.")
            return
        if user_id != view.started_by and not may_import(runtime, client, team_id=team_id, user_id=user_id):
            refuse(runtime, reply, team_id=team_id, user_id=user_id, action="import.cancel", what="cancel an import")
            return
        if not view.active:
            reply(text="That import has already finished.")
            return
        done = runs.request_cancel(runtime.db, run_id=view.id, user_id=user_id, now=runtime.clock())
        with runtime.db.session(write_lock=True) as s:
            workspace = workspaces.ensure(s, team_id=team_id)
            workspaces.record(s, workspace, actor=user_id, action="import.cancelled", detail={"run": view.id})
        if done is not None and done.status == RunStatus.CANCELLED:  # it was not running: no job will say so
            if done.parent_ts:
                _finish_message(runtime, client, done)
            else:
                reply(text="Cancelled before it started; nothing was imported.")
        from_home = (body.get("container") or {}).get("type") == "view"
        runtime.workspace_changed(team_id, viewer=user_id if from_home else None)

    @app.action("import_retry")
    def retry_clicked(ack: Ack, body: dict[str, Any], client: WebClient, action: dict[str, Any]) -> None:
        ack()
        user_id, team = body["user"]["id"], body["team"]
        reply = _where_clicked(client, body)
        run_id = _run_id(action)
        view = runs.load_view(runtime.db, run_id) if run_id else None
        if view is None or view.team_id != team["id"]:
            reply(text="I can't find that import any more.")
            return
        if not may_import(runtime, client, team_id=team["id"], user_id=user_id):
            refuse(runtime, reply, team_id=team["id"], user_id=user_id, action="import.retry", what="retry an import")
            return
        started = runs.retry(runtime.db, run_id=view.id, user_id=user_id, now=runtime.clock())
        if started is None or not started.created:
            if started is not None and started.run.active:
                link = permalink(team.get("domain"), started.run.channel_id, started.run.parent_ts)
                reply(
                    text=views.already_running_text(
                        started.run, provider_title=runtime.provider_title(started.run.provider), link=link
                    )
                )
            else:
                reply(text="That import is not waiting for a retry any more.")
            return
        runner.wake()
        runtime.workspace_changed(team["id"])

    @app.action("notification_channel")
    def channel_picked(ack: Ack, body: dict[str, Any], client: WebClient, action: dict[str, Any]) -> None:
        """The channel picker on App Home."""
        ack()
        user_id, team_id = body["user"]["id"], body["team"]["id"]
        if not _is_admin(runtime, client, team_id=team_id, user_id=user_id):
            refuse(
                runtime,
                dm_reply(client, user_id),
                team_id=team_id,
                user_id=user_id,
                action="channel",
                what="choose the channel",
            )
            return
        channel_id = action.get("selected_conversation")
        if channel_id:
            set_channel(runtime, team_id=team_id, user_id=user_id, channel_id=channel_id)
        runtime.workspace_changed(team_id, viewer=user_id)

    @app.action("sync_on")
    @app.action("sync_off")
    def sync_clicked(ack: Ack, body: dict[str, Any], client: WebClient, action: dict[str, Any]) -> None:
        ack()
        user_id, team_id = body["user"]["id"], body["team"]["id"]
        reply = dm_reply(client, user_id)
        if not _is_admin(runtime, client, team_id=team_id, user_id=user_id):
            refuse(runtime, reply, team_id=team_id, user_id=user_id, action="sync", what="change the sync")
            return
        change_sync(runtime, team_id=team_id, user_id=user_id, enabled=action["action_id"] == "sync_on", minutes=None)
        runtime.workspace_changed(team_id, viewer=user_id)


def _where_clicked(client: WebClient, body: dict[str, Any]) -> Reply:
    """Answer the person privately: ephemerally where they clicked, or by direct message from App Home."""
    user_id = body["user"]["id"]
    channel_id = (body.get("channel") or {}).get("id")

    def reply(**kwargs: Any) -> None:
        tell(client, user_id, channel_id, **kwargs)

    return reply


def _finish_message(runtime: Runtime, client: WebClient, run: runs.RunView) -> None:
    """Edit the progress message of a run cancelled before it started (no job will)."""
    if not (run.channel_id and run.parent_ts):
        return
    try:
        client.chat_update(
            channel=run.channel_id,
            ts=run.parent_ts,
            text=views.result_text(run, provider_title=runtime.provider_title(run.provider)),
            blocks=views.result_blocks(run, provider_title=runtime.provider_title(run.provider)),
        )
    except SlackApiError as exc:
        log.warning("Could not update the message of cancelled run %s: %s", run.id, exc.response.get("error"))
