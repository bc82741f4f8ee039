"""What a listener gets and how it answers: who is asking (`Asker`), a parsed slash command, and a `Reply` to the
person who asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.runtime import Runtime
from bot.slack.notify import direct_message

Reply = Callable[..., Any]

WORKSPACE_ID = "workspace_id"  # the key under which the middleware puts our workspace id in Bolt's context
VERIFIED = "verified_by_us"  # in the context of a request whose signature we checked, or that came by Socket Mode
ANSWER = "answer_slack"  # in the context of an HTTP request: called with the acknowledgement once there is one


@dataclass(frozen=True)
class Asker:
    """Who is asking, in which workspace: built once per listener from Bolt's context, whose workspace row the
    middleware (`bot.slack.app`) has already made."""

    runtime: Runtime
    client: WebClient
    team_id: str
    workspace_id: int
    user_id: str

    @classmethod
    def of(cls, runtime: Runtime, context: BoltContext) -> Asker:
        assert context.client is not None and context.team_id and context.user_id, "Bolt fills these for us"
        return cls(
            runtime=runtime,
            client=context.client,
            team_id=context.team_id,
            workspace_id=int(context[WORKSPACE_ID]),
            user_id=context.user_id,
        )


@dataclass
class CommandRequest:
    asker: Asker
    command: str
    args: list[str]
    team_domain: str | None
    channel_id: str
    trigger_id: str
    ack: Ack
    respond: Respond


def dm_reply(client: WebClient, user_id: str) -> Reply:
    def reply(**kwargs: Any) -> None:
        direct_message(client, user_id, **kwargs)

    return reply


def responder(respond: Respond, *, replace: bool) -> Reply:
    def reply(**kwargs: Any) -> None:
        respond(response_type="ephemeral", replace_original=replace, **kwargs)

    return reply
