"""`/accounts <subcommand>`: acknowledge at once, then route to the subcommand's handler."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot import workspaces
from bot.runtime import Runtime
from bot.slack import mentions, status_answers
from bot.slack.authorisation import authorised
from bot.slack.listeners.connecting import start_connect
from bot.slack.listeners.customers import customers_command, export_command
from bot.slack.listeners.disconnecting import start_disconnect
from bot.slack.listeners.import_settings import channel_command, contacts_command, staff_command, sync_command
from bot.slack.listeners.importing import import_command
from bot.slack.listeners.invoicing import invoice_command, invoices_command
from bot.slack.listeners.mapping import open_mapping
from bot.slack.requests import Asker, CommandRequest, responder
from bot.slack.runner import AnsweringAck
from bot.slack.status_answers import StatusAnswers
from bot.views import mentions as views
from bot.views.audit import AuditNames, audit_blocks, connection_ids
from bot.views.connect import admin_changed_text, admins_text
from bot.views.help import help_blocks, unknown_command_blocks
from bot.workspaces import permissions
from providers import registry

log = logging.getLogger(__name__)

COMMAND = "/accounts"
COMING_SOON: frozenset[str] = frozenset()


def parse(text: str) -> tuple[str, list[str]]:
    """`"Import  Staff On"` → `("import", ["Staff", "On"])`: the subcommand lower-cased and its arguments as
    typed (a linked `<#C…|name>` or `<@U…|name>` keeps its case); each subcommand reads its own words. An empty
    text means help."""
    words = text.strip().split()
    if not words:
        return "help", []
    return words[0].lower(), words[1:]


HELP_TEXT = "accounts-bot help"


@lru_cache(maxsize=16)
def help_answer(command: str, packages: tuple[tuple[str, str], ...]) -> str:
    """Help's acknowledgement as the JSON Bolt's `ack()` writes, written once: Bolt wrote it anew each time, which
    was most of what help cost past the request's way in."""
    blocks = help_blocks(command, packages, coming_soon=COMING_SOON)
    return json.dumps({"text": HELP_TEXT, "response_type": "ephemeral", "blocks": blocks})


def show_help(req: CommandRequest) -> None:
    packages = tuple(registry.titles().items())
    if isinstance(req.ack, AnsweringAck):
        req.ack.json(help_answer(req.command, packages))
        return
    blocks = help_blocks(req.command, packages, coming_soon=COMING_SOON)
    req.ack(response_type="ephemeral", blocks=blocks, text=HELP_TEXT)


# Slack waits 3 s for an acknowledgement; past this much of it, status is posted to the response URL instead.
STATUS_IN_ACK_WITHIN = 2.0


def show_status(req: CommandRequest, *, answers: StatusAnswers) -> None:
    """The status in the acknowledgement itself when it is read in time (kept from the last request while nothing it
    shows changed: `StatusAnswers`; no second request to Slack, whose cost was most of a status request's), else
    acknowledged empty at `STATUS_IN_ACK_WITHIN` and posted to the response URL. In Socket Mode, acknowledged
    first and posted, as before."""
    ack = req.ack
    in_ack = ack if isinstance(ack, AnsweringAck) else None
    if in_ack is not None:
        in_ack.answer_within(STATUS_IN_ACK_WITHIN)
    else:
        ack()
    try:
        answer = answers.answer(team_id=req.asker.team_id, workspace_id=req.asker.workspace_id)
    except Exception:
        if in_ack is not None:
            in_ack()  # Slack hears at once; the error handler tells the person
        raise
    if in_ack is not None:
        in_ack.json(answer.ack_body)
        if in_ack.delivered:
            return
    req.respond(response_type="ephemeral", blocks=list(answer.blocks), text=status_answers.TEXT)


def connect_command(req: CommandRequest) -> None:
    req.ack()
    start_connect(
        req.asker,
        responder(req.respond, replace=False),
        channel_id=req.channel_id,
        provider_name=req.args[0] if req.args else None,
    )


def disconnect_command(req: CommandRequest) -> None:
    req.ack()
    start_disconnect(req.asker, responder(req.respond, replace=False))


def map_command(req: CommandRequest) -> None:
    req.ack()
    open_mapping(req.asker, responder(req.respond, replace=False), trigger_id=req.trigger_id, channel_id=req.channel_id)


def import_subcommand(req: CommandRequest) -> None:
    """`import` starts one; `import staff on|off` and `import contacts ...` change the import's settings."""
    word = req.args[0].lower() if req.args else ""
    if word not in ("staff", "contacts"):
        import_command(req)
        return
    req.ack()
    settings_command = staff_command if word == "staff" else contacts_command
    settings_command(req, responder(req.respond, replace=False))


def admins_command(req: CommandRequest) -> None:
    """`admins` lists; `admins add @someone` and `admins remove @someone` change the list (admins only)."""
    req.ack()
    asker, reply = req.asker, responder(req.respond, replace=False)
    verb = req.args[0].lower() if req.args else "list"
    if verb == "list":
        with asker.runtime.db.session() as s:
            added = permissions.added_admins(s, workspace_id=asker.workspace_id)
        reply(text=admins_text(added))
        return
    if verb not in ("add", "remove") or len(req.args) < 2:
        reply(
            text=f"Usage: `{req.command} admins add @someone`, `{req.command} admins remove @someone` "
            f"or `{req.command} admins`."
        )
        return
    if not authorised(asker, reply, action=f"admins.{verb}", what="change who manages accounts-bot"):
        return
    name = " ".join(req.args[1:])  # a full name typed without Slack's link may have spaces
    found = mentions.find_user(asker.client, name)
    if found.id is None:
        reply(text=views.nobody_named_text(name, several=found.several, command=req.command))
        return
    user_id = found.id
    with asker.runtime.db.session(write_lock=True) as s:
        if verb == "add":
            changed = permissions.add_admin(s, workspace_id=asker.workspace_id, user_id=user_id, added_by=asker.user_id)
        else:
            changed = permissions.remove_admin(
                s, workspace_id=asker.workspace_id, user_id=user_id, removed_by=asker.user_id
            )
    reply(text=admin_changed_text(user_id, added=verb == "add", changed=changed))


def audit_command(req: CommandRequest) -> None:
    req.ack()
    reply = responder(req.respond, replace=False)
    if not authorised(req.asker, reply, action="audit", what="read the audit log"):
        return
    runtime = req.asker.runtime
    with runtime.db.session() as s:
        events = workspaces.latest_events(s, workspace_id=req.asker.workspace_id)
        organisations = workspaces.organisation_names(s, connection_ids=connection_ids(events))
    titles = {name: title for name, title in runtime.provider_choices()}
    reply(blocks=audit_blocks(events, AuditNames(titles, organisations)), text="Latest changes")


SHOW_ONLY = frozenset({"help", "status", "audit"})  # subcommands that change nothing, whoever asks
# `status` too: `register` gives each app its own (`show_status` with the app's kept answers).
SUBCOMMANDS: dict[str, Callable[[CommandRequest], None]] = {
    "help": show_help,
    "connect": connect_command,
    "disconnect": disconnect_command,
    "map": map_command,
    "admins": admins_command,
    "audit": audit_command,
    "import": import_subcommand,
    "channel": channel_command,
    "sync": sync_command,
    "customers": customers_command,
    "invoice": invoice_command,
    "invoices": invoices_command,
    "export": export_command,
}


def changes_nothing(body: Mapping[str, Any]) -> bool:
    """An `/accounts` command that only shows something (help, status, the audit log, the list of admins, or words
    it does not know): sent again, it shows the same again to the same person, so it need not be remembered against
    replays (`bot.slack.replays`)."""
    if body.get("command") != COMMAND:
        return False
    sub, args = parse(body.get("text") or "")
    if sub == "admins":
        return not args or args[0].lower() == "list"
    return sub in SHOW_ONLY or sub not in SUBCOMMANDS


def register(app: App, runtime: Runtime) -> None:
    subcommands: dict[str, Callable[[CommandRequest], None]] = {
        **SUBCOMMANDS,
        "status": partial(show_status, answers=StatusAnswers(runtime)),
    }

    @app.command(COMMAND)
    def accounts_command(ack: Ack, respond: Respond, context: BoltContext, command: dict[str, Any]) -> None:
        text = command.get("text") or ""  # the shape was checked (`bot.slack.envelope`); null is no text
        sub, args = parse(text)
        req = CommandRequest(
            asker=Asker.of(runtime, context),
            command=command["command"],
            args=args,
            team_domain=command.get("team_domain"),
            channel_id=command.get("channel_id") or "",
            trigger_id=command.get("trigger_id") or "",
            ack=ack,
            respond=respond,
        )
        handler = subcommands.get(sub)
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
                blocks=unknown_command_blocks(text, req.command),
                text=f"I don't know that command. Try {req.command} help",
            )
