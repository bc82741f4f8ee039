"""`/accounts <subcommand>`: acknowledge at once, then route to the subcommand's handler."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy import select

from bot import status, workspaces
from bot.runtime import Runtime
from bot.slack.authorisation import allowed, refuse
from bot.slack.listeners.connecting import start_connect, start_disconnect
from bot.slack.listeners.customers import customers_command
from bot.slack.listeners.importing import channel_command, import_command, sync_command
from bot.slack.listeners.mapping import open_mapping
from bot.slack.requests import CommandRequest, responder
from bot.views.connect import audit_blocks
from bot.views.help import help_blocks, unknown_command_blocks
from bot.views.status import status_blocks
from bot.workspaces import permissions
from storage.models import AuditEvent

log = logging.getLogger(__name__)

COMING_SOON: frozenset[str] = frozenset()
MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def parse(text: str) -> tuple[str, list[str]]:
    """`"connect  Xero"` → `("connect", ["xero"])`; an empty text means help."""
    words = text.strip().split()
    if not words:
        return "help", []
    return words[0].lower(), [w.lower() if i == 0 else w for i, w in enumerate(words[1:])]


def show_help(req: CommandRequest) -> None:
    req.ack(response_type="ephemeral", blocks=help_blocks(req.command, coming_soon=COMING_SOON), text="accounts-bot help")


def show_status(req: CommandRequest) -> None:
    req.ack()
    with req.runtime.db.session() as s:
        workspaces.ensure(s, team_id=req.team_id, name=req.team_name)
        report = status.report_for(req.runtime, s, team_id=req.team_id)
    req.respond(response_type="ephemeral", blocks=status_blocks(report), text="Accounting connection status")


def connect_command(req: CommandRequest) -> None:
    req.ack()
    start_connect(
        req.runtime,
        req.client,
        responder(req.respond, replace=False),
        team_id=req.team_id,
        user_id=req.user_id,
        channel_id=req.channel_id,
        provider_name=req.args[0] if req.args else None,
    )


def disconnect_command(req: CommandRequest) -> None:
    req.ack()
    start_disconnect(
        req.runtime, req.client, responder(req.respond, replace=False), team_id=req.team_id, user_id=req.user_id
    )


def map_command(req: CommandRequest) -> None:
    req.ack()
    open_mapping(
        req.runtime,
        req.client,
        responder(req.respond, replace=False),
        team_id=req.team_id,
        user_id=req.user_id,
        trigger_id=req.trigger_id,
        channel_id=req.channel_id,
    )


def admins_command(req: CommandRequest) -> None:
    """`admins` lists; `admins add @someone` and `admins remove @someone` change the list (admins only)."""
    req.ack()
    reply = responder(req.respond, replace=False)
    verb = req.args[0].lower() if req.args else "list"
    if verb == "list":
        with req.runtime.db.session() as s:
            workspace = workspaces.ensure(s, team_id=req.team_id)
            added = permissions.added_admins(s, workspace)
        people = ", ".join(f"<@{u}>" for u in added) or "nobody yet"
        reply(text=f"Slack workspace admins and owners can manage accounts-bot, and so can: {people}.")
        return
    target = MENTION.match(req.args[1]) if len(req.args) > 1 else None
    if verb not in ("add", "remove") or target is None:
        reply(
            text=f"Usage: `{req.command} admins add @someone`, `{req.command} admins remove @someone` "
            f"or `{req.command} admins`."
        )
        return
    if not allowed(req.runtime, req.client, team_id=req.team_id, user_id=req.user_id):
        refuse(
            req.runtime,
            reply,
            team_id=req.team_id,
            user_id=req.user_id,
            action=f"admins.{verb}",
            what="change who manages accounts-bot",
        )
        return
    user_id = target.group(1)
    with req.runtime.db.session() as s:
        workspace = workspaces.ensure(s, team_id=req.team_id)
        if verb == "add":
            changed = permissions.add_admin(s, workspace, user_id=user_id, added_by=req.user_id)
        else:
            changed = permissions.remove_admin(s, workspace, user_id=user_id)
        if changed:
            workspaces.record(
                s,
                workspace,
                actor=req.user_id,
                action="admins.added" if verb == "add" else "admins.removed",
                detail={"user": user_id},
            )
    if verb == "add":
        reply(
            text=f"<@{user_id}> can now connect, disconnect and map accounts."
            if changed
            else f"<@{user_id}> could already."
        )
    else:
        reply(
            text=f"<@{user_id}> can no longer manage accounts-bot." if changed else f"<@{user_id}> was not on the list."
        )


def audit_command(req: CommandRequest) -> None:
    req.ack()
    reply = responder(req.respond, replace=False)
    if not allowed(req.runtime, req.client, team_id=req.team_id, user_id=req.user_id):
        refuse(req.runtime, reply, team_id=req.team_id, user_id=req.user_id, action="audit", what="read the audit log")
        return
    with req.runtime.db.session() as s:
        workspace = workspaces.ensure(s, team_id=req.team_id)
        events = list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.workspace_id == workspace.id)
                .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
                .limit(20)
            )
        )
    reply(blocks=audit_blocks(events), text="Latest changes")


SUBCOMMANDS: dict[str, Callable[[CommandRequest], None]] = {
    "help": show_help,
    "status": show_status,
    "connect": connect_command,
    "disconnect": disconnect_command,
    "map": map_command,
    "admins": admins_command,
    "audit": audit_command,
    "import": import_command,
    "channel": channel_command,
    "sync": sync_command,
    "customers": customers_command,
}


def register(app: App, runtime: Runtime) -> None:
    @app.command("/accounts")
    def accounts_command(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, command: dict[str, Any]
    ) -> None:
        sub, args = parse(command.get("text", ""))
        req = CommandRequest(
            runtime=runtime,
            command=command.get("command", "/accounts"),
            args=args,
            team_id=command["team_id"],
            team_name=command.get("team_domain"),
            user_id=command["user_id"],
            channel_id=command.get("channel_id", ""),
            trigger_id=command.get("trigger_id", ""),
            ack=ack,
            respond=respond,
            client=client,
        )
        handler = SUBCOMMANDS.get(sub)
        if handler is not None:
            handler(req)
        elif sub in COMING_SOON:
            ack(
                response_type="ephemeral",
                text=f"`{req.command} {sub}` is coming soon. For now, `{req.command} status` shows where things stand.",
            )
        else:
            ack(
                response_type="ephemeral",
                blocks=unknown_command_blocks(command.get("text", ""), req.command),
                text=f"I don't know that command. Try {req.command} help",
            )
