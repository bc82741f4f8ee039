"""`bot.slack.bolt_app`: the bot's listeners and the context's client get from it what Bolt's own way gives them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.kwargs_injection import build_required_kwargs
from slack_bolt.listener import CustomListener
from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher

from bot.slack.bolt_app import ARGUMENTS, BodyMatcher, BotApp, LeanListener
from bot.slack_http import PooledWebClient
from bot.web.slack_requests import bolt_request
from tests.conftest import ADMIN, CHANNEL, TEAM

COMMAND = {
    "token": "t",
    "team_id": TEAM,
    "team_domain": "acme",
    "channel_id": CHANNEL,
    "user_id": ADMIN,
    "command": "/accounts",
    "text": "status",
    "response_url": "https://hooks.slack.com/commands/T1/1/x",
    "trigger_id": "1.2.x",
    "api_app_id": "A1",
}
CLICK = {
    "type": "block_actions",
    "team": {"id": TEAM, "domain": "acme"},
    "user": {"id": ADMIN, "team_id": TEAM},
    "api_app_id": "A1",
    "trigger_id": "1.2.y",
    "channel": {"id": CHANNEL},
    "response_url": "https://hooks.slack.com/actions/T1/1/y",
    "actions": [{"action_id": "mapping_page", "block_id": "b", "value": "2", "type": "button", "action_ts": "1.1"}],
}
SUBMISSION = {
    "type": "view_submission",
    "team": {"id": TEAM, "domain": "acme"},
    "user": {"id": ADMIN, "team_id": TEAM},
    "api_app_id": "A1",
    "trigger_id": "1.2.z",
    "view": {"id": "V1", "type": "modal", "callback_id": "mapping_modal", "state": {"values": {}}},
}
EVENT = {
    "type": "event_callback",
    "team_id": TEAM,
    "api_app_id": "A1",
    "event_id": "Ev1",
    "event": {"type": "app_home_opened", "user": ADMIN, "channel": "D1", "tab": "home"},
}


def request_for(body: dict[str, Any]) -> BoltRequest:
    return bolt_request(json.dumps(body), copy.deepcopy(body), {"content-type": "application/json"})


@pytest.fixture(params=[False, True], ids=["one-workspace", "multi-workspace"])
def app(request: pytest.FixtureRequest, start_bot: Any) -> BotApp:
    built = start_bot("http", multi=request.param).server.app
    assert isinstance(built, BotApp)
    return built


def test_the_bots_listeners_are_given_their_arguments_alone_and_matched_on_the_body(app: BotApp) -> None:
    listeners = app._listeners
    accounts = [listener for listener in listeners if listener.ack_function.__name__ == "accounts_command"]
    assert len(accounts) == 1 and isinstance(accounts[0], LeanListener)
    assert all(isinstance(matcher, BodyMatcher) for matcher in accounts[0].matchers)
    assert sum(isinstance(listener, LeanListener) for listener in listeners) > len(listeners) // 2


@pytest.mark.parametrize("body", [COMMAND, CLICK, SUBMISSION, EVENT], ids=["command", "click", "submission", "event"])
def test_matchers_and_arguments_are_what_bolt_gives(app: BotApp, body: dict[str, Any]) -> None:
    request = request_for(body)
    app._init_context(request)
    response = BoltResponse(status=200, body="")
    for listener in app._listeners:
        assert isinstance(listener, CustomListener)
        for matcher in listener.matchers:
            if isinstance(matcher, BodyMatcher):
                bolts = BuiltinListenerMatcher(func=matcher.func)
                assert matcher.matches(request, response) is bolts.matches(request, response)
        if isinstance(listener, LeanListener):
            bolts_arguments = build_required_kwargs(
                logger=listener.logger,
                required_arg_names=list(listener.arg_names),
                request=request,
                response=response,
                this_func=listener.ack_function,
            )
            ours = {name: ARGUMENTS[name](listener, request, response) for name in listener.arg_names}
            assert ours.keys() == bolts_arguments.keys()
            for name, value in ours.items():
                if name in ("say", "respond"):  # made by the context once, then the same object
                    assert value is bolts_arguments[name]
                else:
                    assert value == bolts_arguments[name], name


def test_the_contexts_client_is_a_copy_of_the_apps_set_as_bolt_sets_its_own(app: BotApp) -> None:
    ours, bolts = request_for(COMMAND), request_for(COMMAND)
    app._init_context(ours)
    App._init_context(app, bolts)
    client, expected = ours.context.client, bolts.context.client
    assert client is not None and expected is not None
    for name in ("token", "base_url", "timeout", "ssl", "proxy", "headers", "default_params", "logger"):
        assert getattr(client, name) == getattr(expected, name), name
    assert client.default_params == {"team_id": TEAM}
    assert [type(h) for h in client.retry_handlers] == [type(h) for h in expected.retry_handlers]
    for name in ("logger", "token", "listener_runner"):
        assert ours.context[name] is bolts.context[name]
    # Its own: what authorisation sets on it (a workspace's token) is not set on the app's client or another's.
    assert client is not app.client and client.retry_handlers is not app.client.retry_handlers
    client.token = "xoxb-another"
    assert app.client.token != "xoxb-another"
    # And it sends through the bot's kept-open connections, as the app's own client does.
    assert isinstance(client, PooledWebClient) and isinstance(app.client, PooledWebClient)
    assert client.http is app.client.http
