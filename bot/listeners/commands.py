"""`/accounts <subcommand>`: acknowledge at once, then route to the subcommand's handler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import status, workspaces
from bot.runtime import Runtime
from bot.views.help import help_blocks, unknown_command_blocks
from bot.views.status import status_blocks

log = logging.getLogger(__name__)

COMING_SOON = frozenset({"connect", "map", "import", "disconnect"})


@dataclass
class CommandRequest:
    runtime: Runtime
    command: str
    args: list[str]
    team_id: str
    team_name: str | None
    user_id: str
    channel_id: str
    trigger_id: str
    ack: Ack
    respond: Respond
    client: WebClient


def parse(text: str) -> tuple[str, list[str]]:
    """`"connect  Xero"` → `("connect", ["xero"])`; an empty text means help."""
    words = text.strip().split()
    if not words:
        return "help", []
    return words[0].lower(), [w.lower() if i == 0 else w for i, w in enumerate(words[1:])]


def show_help(req: CommandRequest) -> None:
    req.ack(response_type="ephemeral", blocks=help_blocks(req.command, COMING_SOON), text="accounts-bot help")


def show_status(req: CommandRequest) -> None:
    req.ack()
    with req.runtime.db.session() as s:
        workspaces.ensure(s, team_id=req.team_id, name=req.team_name)
        report = status.workspace_status(s, team_id=req.team_id, providers=req.runtime.provider_choices())
    req.respond(response_type="ephemeral", blocks=status_blocks(report), text="Accounting connection status")


SUBCOMMANDS: dict[str, Callable[[CommandRequest], None]] = {
    "help": show_help,
    "status": show_status,
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
                text=f"`{req.command} {sub}` is coming soon. "
                f"For now, `{req.command} status` shows where things stand.",
            )
        else:
            ack(
                response_type="ephemeral",
                blocks=unknown_command_blocks(command.get("text", ""), req.command),
                text=f"I don't know that command. Try {req.command} help",
            )
