"""What a listener gets and how it answers: a parsed slash command, and a `Reply` to the person who asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.runtime import Runtime
from bot.slack.notify import direct_message

Reply = Callable[..., Any]


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


def dm_reply(client: WebClient, user_id: str) -> Reply:
    def reply(**kwargs: Any) -> None:
        direct_message(client, user_id, **kwargs)

    return reply


def responder(respond: Respond, *, replace: bool) -> Reply:
    def reply(**kwargs: Any) -> None:
        respond(response_type="ephemeral", replace_original=replace, **kwargs)

    return reply
