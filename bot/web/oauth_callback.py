"""The page a browser lands on after a package's log-in, and the Slack message that goes with it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from slack_sdk.errors import SlackApiError

from bot.connections import connect
from bot.connections.connect import CallbackKind
from bot.runtime import Runtime
from bot.slack.connected import announce_connected
from bot.slack.notify import tell
from bot.views import connect as views
from bot.views.pages import result_page
from bot.views.text import escape

log = logging.getLogger(__name__)

TITLES = {
    CallbackKind.CONNECTED: "Connected",
    CallbackKind.CHOOSE: "Choose an organisation in Slack",
    CallbackKind.CANCELLED: "Log-in cancelled",
    CallbackKind.INVALID_STATE: "This link is not valid",
    CallbackKind.USED_STATE: "This link was already used",
    CallbackKind.EXPIRED_STATE: "This link has expired",
    CallbackKind.PROVIDER_ERROR: "The log-in did not complete",
    CallbackKind.CONFIGURATION: "accounts-bot is not set up right for this package",
}


def slack_link(app_redirect_url: str, team_id: str | None, channel_id: str | None) -> str | None:
    """Where "Back to Slack" goes: Slack's app redirect, which opens the workspace (and the channel) in the app."""
    if not team_id:
        return None
    query = {"team": team_id}
    if channel_id:
        query["channel"] = channel_id
    return f"{app_redirect_url}?{urlencode(query)}"


PARAM_LIMIT = 2048  # longer than any state, code or error description a package sends back
MAX_PARAMS = 20


def callback_params(params: Mapping[str, str]) -> dict[str, str]:
    """The query's parameters, each cut to a length and without control characters: the error description is
    shown to people, the rest goes to the package or the database."""
    return {
        key: "".join(c for c in value[:PARAM_LIMIT] if c.isprintable())
        for key, value in list(params.items())[:MAX_PARAMS]
    }


def handle(runtime: Runtime, provider_name: str, params: Mapping[str, str]) -> tuple[int, str]:
    """Finish the log-in; returns the HTTP status and the HTML page."""
    params = callback_params(params)
    provider = runtime.providers.get(provider_name)
    if provider is None:
        page = result_page(
            title="Unknown accounting package",
            message=f"accounts-bot has no accounting package called “{provider_name}”, so nothing changed.",
            ok=False,
        )
        return 404, page
    outcome = connect.finish_callback(
        runtime.db,
        provider=provider,
        params=params,
        redirect_uri=runtime.settings.redirect_uri(provider.name),
        now=runtime.clock(),
    )
    try:
        _tell_slack(runtime, provider_name, outcome)
    except SlackApiError as exc:
        log.warning("Could not tell Slack about the %s log-in: %s", provider_name, exc.response.get("error"))
    status = 200 if outcome.kind in (CallbackKind.CONNECTED, CallbackKind.CHOOSE, CallbackKind.CANCELLED) else 400
    return status, result_page(
        title=TITLES.get(outcome.kind, "Something went wrong"),
        message=outcome.message
        + (f" {views.CONFIGURATION_ADVICE}" if outcome.kind == CallbackKind.CONFIGURATION else ""),
        ok=outcome.kind in (CallbackKind.CONNECTED, CallbackKind.CHOOSE),
        slack_url=slack_link(runtime.settings.slack_app_redirect_url, outcome.team_id, outcome.channel_id),
    )


def _tell_slack(runtime: Runtime, provider_name: str, outcome: connect.CallbackOutcome) -> None:
    if not outcome.team_id or not outcome.user_id:
        return  # a state that is not ours: we do not know whom to tell
    client = runtime.client_for(outcome.team_id)
    if client is None:
        return
    user_id, channel_id = outcome.user_id, outcome.channel_id

    def reply(**kwargs: Any) -> None:
        tell(client, user_id, channel_id, **kwargs)

    if outcome.kind == CallbackKind.CONNECTED:
        announce_connected(runtime, client, outcome, provider_name, reply)
    elif outcome.kind == CallbackKind.CHOOSE:
        assert outcome.pending_id is not None
        title = runtime.providers[provider_name].title
        reply(
            blocks=views.picker_blocks(title, outcome.pending_id, outcome.organisations), text="Choose an organisation"
        )
    else:
        # The message may quote the package's error_description: escaped in the fallback text as in the blocks.
        configuration = outcome.kind == CallbackKind.CONFIGURATION
        reply(
            blocks=views.callback_problem_blocks(outcome.message, configuration=configuration),
            text=escape(outcome.message),
        )
