"""How imports go, set from Slack by admins: who may import and which contacts count (`/accounts import staff|
contacts`), where imports report (`/accounts channel`, App Home's channel picker), and the scheduled sync
(`/accounts sync`, App Home's sync buttons)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk.errors import SlackApiError

from bot import workspaces
from bot.imports import sync
from bot.imports.sync import SyncPlan
from bot.runtime import Runtime
from bot.slack import mentions, payload
from bot.slack.authorisation import authorised
from bot.slack.requests import Asker, CommandRequest, Reply, dm_reply, responder
from bot.views import importing as views
from bot.views import mentions as mention_views
from storage.models import Workspace

INTERVAL = re.compile(r"^(\d+)\s*(m|min|mins|minutes?|h|hr|hrs|hours?)$")
MIN_INTERVAL, MAX_INTERVAL = 5, 24 * 60

NOTHING_TO_SYNC = "Nothing is connected yet, so there is nothing to sync."
NOT_CONNECTED = "Nothing is connected yet. An admin can connect your accounting package with `{command} connect`."


def staff_command(req: CommandRequest, reply: Reply) -> None:
    """`import staff on|off`: everyone may import, or only admins."""
    choice = req.args[1].lower() if len(req.args) > 1 else ""
    asker = req.asker
    usage = f"`{req.command} import staff on` (everyone may import) or `{req.command} import staff off` (admins only)"
    if not choice:
        with asker.runtime.db.session() as s:
            workspace = s.get(Workspace, asker.workspace_id)
            everyone = bool(workspace and workspace.staff_may_import)
        who = "Everyone in the workspace" if everyone else "Only admins"
        reply(text=f"*Who may import customers:* {who.lower()}. An admin can change it: {usage}.")
        return
    if choice not in ("on", "off"):
        reply(text=f"Usage: {usage}.")
        return
    if not authorised(asker, reply, action="import.staff", what="change who imports"):
        return
    with asker.runtime.db.session(write_lock=True) as s:
        workspaces.set_staff_may_import(
            s, workspace_id=asker.workspace_id, allowed=choice == "on", user_id=asker.user_id
        )
    reply(
        text="Everyone in the workspace may now import customers."
        if choice == "on"
        else "Only admins may import customers now."
    )
    asker.runtime.workspace_changed(asker.team_id)


def contacts_command(req: CommandRequest, reply: Reply) -> None:
    """`import contacts` says which contacts an import makes customers; with a choice, an admin changes it."""
    asker = req.asker
    if len(req.args) == 1:
        with asker.runtime.db.session() as s:
            current = sync.current_customer_filter(s, workspace_id=asker.workspace_id)
        reply(
            text=NOT_CONNECTED.format(command=req.command)
            if current is None
            else views.contacts_text(current, command=req.command)
        )
        return
    word = " ".join(req.args[1:]).lower()
    chosen = views.CONTACT_CHOICES.get(word)
    if chosen is None:
        reply(text=views.unknown_contacts_text(word, command=req.command))
        return
    if not authorised(asker, reply, action="import.contacts", what="change which contacts are imported"):
        return
    with asker.runtime.db.session(write_lock=True) as s:
        was = sync.set_customer_filter(
            s, workspace_id=asker.workspace_id, chosen=chosen, user_id=asker.user_id, now=asker.runtime.clock()
        )
    if was is None:
        reply(text=NOT_CONNECTED.format(command=req.command))
        return
    reply(
        blocks=views.contacts_changed_blocks(was, chosen, command=req.command),
        text=views.contacts_changed_text(was, chosen),
    )
    if chosen != was:
        asker.runtime.workspace_changed(asker.team_id)


def channel_command(req: CommandRequest) -> None:
    """`channel #name` (or `channel here`): where imports from App Home and the schedule report."""
    req.ack()
    asker = req.asker
    reply = responder(req.respond, replace=False)
    if not authorised(asker, reply, action="channel", what="choose the channel"):
        return
    if not req.args:
        with asker.runtime.db.session() as s:
            workspace = s.get(Workspace, asker.workspace_id)
            current = workspace.notification_channel_id if workspace else None
        where = f"<#{current}>" if current else "a direct message to the admin who connected"
        reply(
            text=f"Imports and syncs report in {where}. Change it with `{req.command} channel #name`, "
            f"or `{req.command} channel here` in the channel you want."
        )
        return
    word = " ".join(req.args)
    if word.lower() in ("here", "this") and req.channel_id:
        found = mentions.Found(req.channel_id)
    else:
        found = mentions.find_channel(asker.client, word)
    if found.id is None:
        reply(text=mention_views.no_channel_named_text(word, several=found.several, command=req.command))
        return
    channel_id = found.id
    try:
        info = asker.client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError:
        info = {}
    with asker.runtime.db.session(write_lock=True) as s:
        workspaces.set_channel(s, workspace_id=asker.workspace_id, channel_id=channel_id, user_id=asker.user_id)
    note = "" if info.get("is_member") else f" I'm not in it yet: type `/invite @accounts-bot` in <#{channel_id}>."
    reply(text=f"Imports from App Home and scheduled syncs will report in <#{channel_id}>.{note}")
    asker.runtime.workspace_changed(asker.team_id)


def parse_interval(words: list[str]) -> int | None:
    """`30m`, `2h`, `90 minutes`, `1 hour` → minutes."""
    match = INTERVAL.match(" ".join(words).strip().lower())
    if not match:
        return None
    amount = int(match.group(1))
    return amount * 60 if match.group(2).startswith("h") else amount


def sync_command(req: CommandRequest) -> None:
    """`sync` says how the scheduled sync is set; `sync on|off|every 30m` (admins) changes it."""
    req.ack()
    reply = responder(req.respond, replace=False)
    verb = req.args[0].lower() if req.args else ""
    minutes = parse_interval(req.args[1:]) if verb == "every" else None
    usage = f"`{req.command} sync on`, `{req.command} sync off` or `{req.command} sync every 30m`"
    if not verb:
        with req.asker.runtime.db.session() as s:
            plan = sync.current_plan(s, workspace_id=req.asker.workspace_id)
        reply(
            text=NOTHING_TO_SYNC
            if plan is None
            else f"{views.sync_changed_text(plan)} An admin can change it: {usage}."
        )
        return
    if verb not in ("on", "off", "every") or (verb == "every" and minutes is None):
        reply(text=f"Usage: {usage}. `{req.command} sync` alone says how it is set.")
        return
    if not authorised(req.asker, reply, action="sync", what="change the sync"):
        return
    if minutes is not None and not MIN_INTERVAL <= minutes <= MAX_INTERVAL:
        reply(text="Choose an interval from 5 minutes to 24 hours.")
        return
    plan = _change_sync(req.asker, enabled=verb != "off", minutes=minutes)
    reply(text=NOTHING_TO_SYNC if plan is None else views.sync_changed_text(plan))
    req.asker.runtime.workspace_changed(req.asker.team_id)


def _change_sync(asker: Asker, *, enabled: bool, minutes: int | None) -> SyncPlan | None:
    """Change the connection's sync as the person asked, in a transaction of its own; what it will do now."""
    with asker.runtime.db.session(write_lock=True) as s:
        changed = sync.change_sync(
            s,
            workspace_id=asker.workspace_id,
            enabled=enabled,
            minutes=minutes,
            user_id=asker.user_id,
            now=asker.runtime.clock(),
        )
        return None if changed is None else sync.current_plan(s, workspace_id=asker.workspace_id)


def register(app: App, runtime: Runtime) -> None:
    """App Home's controls, where there is no message to answer: refusals go by direct message."""

    @app.action("notification_channel")
    def channel_picked(ack: Ack, context: BoltContext, action: dict[str, Any]) -> None:
        ack()
        asker = Asker.of(runtime, context)
        if not authorised(asker, dm_reply(asker.client, asker.user_id), action="channel", what="choose the channel"):
            return
        if channel_id := payload.slack_id(action.get("selected_conversation")):
            with runtime.db.session(write_lock=True) as s:
                workspaces.set_channel(s, workspace_id=asker.workspace_id, channel_id=channel_id, user_id=asker.user_id)
        runtime.workspace_changed(asker.team_id, viewer=asker.user_id)

    @app.action("sync_on")
    @app.action("sync_off")
    def sync_clicked(ack: Ack, context: BoltContext, action: dict[str, Any]) -> None:
        ack()
        asker = Asker.of(runtime, context)
        if not authorised(asker, dm_reply(asker.client, asker.user_id), action="sync", what="change the sync"):
            return
        _change_sync(asker, enabled=action["action_id"] == "sync_on", minutes=None)
        runtime.workspace_changed(asker.team_id, viewer=asker.user_id)
