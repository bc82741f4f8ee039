"""Bolt's `respond()` posting through the runtime's pooled Slack client (`bot.slack_http`), not a new connection."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.context.respond import Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.webhook import WebhookResponse

from bot.slack.middleware import Next, RequestMiddleware
from bot.slack_http import PooledWebhookClient, SlackConnections


class PooledRespond(Respond):
    """Bolt's `respond()`, posting through `http`."""

    def __init__(self, *, response_url: str, http: SlackConnections) -> None:
        super().__init__(response_url=response_url)
        self.http = http

    def __call__(self, text: str | dict[str, Any] = "", **kwargs: Any) -> WebhookResponse:  # type: ignore[override]
        """Takes what Bolt's takes (its keywords pass through to the same message builder)."""
        assert self.response_url is not None
        message = _build_message(**text) if isinstance(text, dict) else _build_message(text=text, **kwargs)
        return PooledWebhookClient(url=self.response_url, http=self.http).send_dict(message)


def respond_through(http: SlackConnections) -> RequestMiddleware:
    """Bolt middleware: the listeners' `respond` posts through `http` (Bolt made one that opens a connection)."""

    def pooled_respond(request: BoltRequest, next: Next) -> BoltResponse | None:
        context = request.context
        if context.response_url is not None:
            context["respond"] = PooledRespond(response_url=context.response_url, http=http)
        return next()

    return RequestMiddleware(pooled_respond)
