"""The Slack fake against slack_sdk and Bolt over real HTTP and WebSockets: Web API, limits, deliveries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx2
import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.fakes import blockkit
from tests.fakes.server import Mount, ServerThread, free_port
from tests.fakes.slack import Delivery, ManualClock, RateLimit, SlackFake

SECRET = "test-signing-secret"
BOT = "xoxb-T0ACME-test"
APP = "xapp-1-T0ACME-test"
OTHER_BOT = "xoxb-T0OTHER-test"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000.0)


@pytest.fixture(scope="module")
def slack_server() -> Iterator[tuple[Mount, str]]:
    mount = Mount()
    with ServerThread(mount) as server:
        yield mount, server.url


@pytest.fixture(scope="module")
def bot_server() -> Iterator[tuple[Mount, str]]:
    mount = Mount()
    with ServerThread(mount) as server:
        yield mount, server.url


@pytest.fixture
def fake(clock: ManualClock, slack_server: tuple[Mount, str]) -> Iterator[SlackFake]:
    """Acme (the bot in #accounts, not in #general nor the private #board) and one other workspace."""
    mount, url = slack_server
    fake = SlackFake(signing_secret=SECRET, clock=clock, url=url)
    mount.app = fake.asgi_app
    fake.add_workspace("T0ACME", "Acme", BOT, APP)
    fake.add_workspace("T0OTHER", "Other", OTHER_BOT)
    fake.add_user("T0ACME", "U0ADMIN", "ada", is_admin=True, email="ada@acme.test")
    fake.add_user("T0ACME", "U0OWNER", "otto", is_primary_owner=True, tz="Pacific/Auckland")
    fake.add_user("T0ACME", "U0MEMBER", "mia")
    fake.add_user("T0OTHER", "U0STRANGER", "sam")
    fake.add_channel("T0ACME", "C0ACCOUNTS", "accounts")
    fake.add_channel("T0ACME", "C0GENERAL", "general", bot_member=False)
    fake.add_channel("T0ACME", "C0BOARD", "board", is_private=True, bot_member=False)
    fake.add_channel("T0ACME", "C0OLD", "old", is_archived=True)
    fake.add_channel("T0ACME", "C0FEW", "few", members={"U0ADMIN"})
    fake.add_channel("T0OTHER", "C0ELSEWHERE", "elsewhere")
    yield fake
    fake.close_sockets()


@pytest.fixture
def client(fake: SlackFake) -> WebClient:
    return WebClient(token=BOT, base_url=fake.api_url)


def refused(call: Callable[[], Any]) -> SlackResponse:
    """The response of a call slack_sdk raised for."""
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response


def section(text: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}} | extra


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text), "value": value}


def button(action_id: str = "go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": plain("Go"), "action_id": action_id} | extra


def modal(blocks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "mapping",
        "title": plain("Map accounts"),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "blocks": blocks,
    } | extra


def text_input(block_id: str = "name", action_id: str = "name_input", **extra: Any) -> dict[str, Any]:
    element = {"type": "plain_text_input", "action_id": action_id}
    return {"type": "input", "block_id": block_id, "label": plain("Name"), "element": element} | extra


def select_input(block_id: str = "account", options: int = 3) -> dict[str, Any]:
    element = {
        "type": "static_select",
        "action_id": "account_select",
        "options": [option(f"Account {i}", f"{200 + i}") for i in range(options)],
    }
    return {"type": "input", "block_id": block_id, "label": plain("Account"), "element": element}


# Bots to deliver to: one behind signed HTTP, one on Socket Mode, answering the same way


Answer = Callable[[str, dict[str, Any]], Any]


class HttpBot:
    """A bot behind a real server that checks Slack's signature with slack_sdk before answering."""

    transport = "http"

    def __init__(self) -> None:
        self.answer: Answer = lambda kind, payload: None
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.verifier = SignatureVerifier(SECRET)
        self.app = Starlette(routes=[Route("/slack/events", self.events, methods=["POST"])])

    async def events(self, request: Request) -> Response:
        body = await request.body()
        if not self.verifier.is_valid_request(body, dict(request.headers)):
            return PlainTextResponse("invalid signature", status_code=401)
        if request.headers["content-type"] == "application/json":
            kind, payload = "events_api", json.loads(body)
        else:
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            kind, payload = (
                ("interactive", json.loads(form["payload"])) if "payload" in form else ("slash_commands", form)
            )
        self.received.append((kind, payload))
        ack = self.answer(kind, payload)
        return Response(status_code=200) if ack is None else JSONResponse(ack)


def close_socket_client(client: SocketModeClient, fake: SlackFake) -> None:
    """Close from Slack's side first: slack_sdk's own close waits out its 3-second receive timeout."""
    client.auto_reconnect_enabled = False
    fake.close_sockets()
    client.close()


class SocketBot:
    """A bot on slack_sdk's built-in Socket Mode client, connected through apps.connections.open."""

    transport = "socket"

    def __init__(self, fake: SlackFake) -> None:
        self.answer: Answer = lambda kind, payload: None
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.messages: list[dict[str, Any]] = []
        self.client = SocketModeClient(app_token=APP, web_client=WebClient(base_url=fake.api_url))
        self.client.message_listeners.append(lambda client, message, raw: self.messages.append(message))
        self.client.socket_mode_request_listeners.append(self.on_request)

    def close(self, fake: SlackFake) -> None:
        close_socket_client(self.client, fake)

    def on_request(self, client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        self.received.append((request.type, request.payload))
        ack = self.answer(request.type, request.payload)
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=ack))


@pytest.fixture(params=["http", "socket"])
def bot(request: pytest.FixtureRequest, fake: SlackFake) -> Iterator[HttpBot | SocketBot]:
    if request.param == "http":
        yield request.getfixturevalue("bare_bot")
        return
    socket_bot = SocketBot(fake)
    socket_bot.client.connect()
    fake.wait_for_socket()
    try:
        yield socket_bot
    finally:
        socket_bot.close(fake)


@pytest.fixture
def socket_bot(fake: SlackFake) -> Iterator[SocketBot]:
    bot = SocketBot(fake)
    bot.client.connect()
    fake.wait_for_socket()
    yield bot
    bot.close(fake)


def _trigger(fake: SlackFake, user_id: str = "U0ADMIN") -> str:
    return str(fake.send_command("/accounts map", user_id=user_id, channel_id="C0ACCOUNTS").trigger_id)


@pytest.fixture
def bare_bot(fake: SlackFake, bot_server: tuple[Mount, str]) -> HttpBot:
    """An HTTP bot that acknowledges everything, for tests that only need triggers and response URLs."""
    bot = HttpBot()
    mount, url = bot_server
    mount.app = bot.app
    fake.request_url = f"{url}/slack/events"
    return bot


# Web API: tokens and request encodings


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (None, "not_authed"),
        ("xoxb-nobody", "invalid_auth"),
        (APP, "not_allowed_token_type"),
    ],
)
def test_calls_without_a_valid_bot_token_are_refused(fake: SlackFake, token: str | None, error: str) -> None:
    response = refused(lambda: WebClient(token=token, base_url=fake.api_url).auth_test())
    assert (response.status_code, response["ok"], response["error"]) == (200, False, error)


def test_auth_test_describes_the_bot_and_its_workspace(fake: SlackFake, client: WebClient) -> None:
    answer = client.auth_test()
    workspace = fake.workspace("T0ACME")
    assert answer["team_id"] == "T0ACME" and answer["team"] == "Acme"
    assert (answer["user_id"], answer["bot_id"]) == (workspace.bot_user_id, workspace.bot_id)
    assert answer["url"] == "https://acme.slack.com/" and answer["is_enterprise_install"] is False


def test_revoked_tokens_answer_token_revoked(fake: SlackFake, client: WebClient) -> None:
    fake.revoke_tokens("T0ACME")
    assert refused(client.auth_test)["error"] == "token_revoked"
    assert WebClient(token=OTHER_BOT, base_url=fake.api_url).auth_test()["ok"]


@pytest.mark.parametrize("encoding", ["form", "json", "query"])
@pytest.mark.parametrize("token_in", ["header", "field"])
def test_arguments_arrive_as_form_json_or_query_and_json_fields_are_decoded(
    fake: SlackFake, encoding: str, token_in: str
) -> None:
    blocks = [section("*Imported* 3 customers")]
    args: dict[str, Any] = {"channel": "C0ACCOUNTS", "text": "Imported", "blocks": json.dumps(blocks)}
    headers = {"Authorization": f"Bearer {BOT}"} if token_in == "header" else {}
    if token_in == "field":
        args["token"] = BOT
    url = f"{fake.url}/api/chat.postMessage"
    with httpx2.Client() as http:
        if encoding == "form":
            answer = http.post(url, data=args, headers=headers)
        elif encoding == "json":
            answer = http.post(url, json=args | {"blocks": blocks}, headers=headers)
        else:
            answer = http.post(url, params=args, headers=headers)
    assert answer.status_code == 200 and answer.json()["ok"] is True
    call = fake.calls("chat.postMessage")[-1]
    assert call.token == BOT and "token" not in call.args
    assert call.args["blocks"] == blocks and call.ok
    assert fake.messages("C0ACCOUNTS")[-1]["blocks"][0]["text"]["text"] == "*Imported* 3 customers"


def test_unknown_methods_answer_unknown_method(fake: SlackFake, client: WebClient) -> None:
    assert refused(lambda: client.api_call("chat.teleport"))["error"] == "unknown_method"


# Web API: messages


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("C0GENERAL", "not_in_channel"),
        ("C0BOARD", "channel_not_found"),
        ("C0NOWHERE", "channel_not_found"),
        ("C0ELSEWHERE", "channel_not_found"),
        ("C0OLD", "is_archived"),
    ],
)
def test_posting_where_the_bot_cannot_is_refused(client: WebClient, channel: str, error: str) -> None:
    assert refused(lambda: client.chat_postMessage(channel=channel, text="hi"))["error"] == error


@pytest.mark.parametrize("channel", ["C0ACCOUNTS", "U0MEMBER"])
def test_posting_gives_a_ts_and_records_the_message(fake: SlackFake, client: WebClient, channel: str) -> None:
    answer = client.chat_postMessage(channel=channel, text="Import finished")
    assert answer["ts"] and answer["message"]["text"] == "Import finished"
    assert answer["message"]["bot_id"] == fake.workspace("T0ACME").bot_id
    assert [m["text"] for m in fake.messages(channel)] == ["Import finished"]
    assert fake.message(answer["channel"], answer["ts"])["ts"] == answer["ts"]


def test_direct_messages_go_to_a_stable_dm_channel(fake: SlackFake, client: WebClient) -> None:
    opened = client.conversations_open(users="U0MEMBER")["channel"]["id"]
    again = client.conversations_open(users="U0MEMBER")
    assert opened.startswith("D") and again["channel"]["id"] == opened and again["already_open"]
    assert opened == fake.dm_channel_id("T0ACME", "U0MEMBER")
    client.chat_postMessage(channel=opened, text="Your CSV")
    assert fake.messages("U0MEMBER") == fake.messages(opened)
    info = client.conversations_info(channel=opened)["channel"]
    assert info["is_im"] and info["user"] == "U0MEMBER"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, "no_text"),
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"text": "hi", "blocks": "not json"}, "invalid_blocks_format"),
    ],
)
def test_message_content_is_checked(client: WebClient, kwargs: dict[str, Any], error: str) -> None:
    # api_call: slack_sdk's chat_postMessage warns about a missing text before Slack can refuse it.
    call = lambda: client.api_call("chat.postMessage", json={"channel": "C0ACCOUNTS"} | kwargs)  # noqa: E731
    assert refused(call)["error"] == error


def test_text_of_exactly_40000_characters_is_accepted(client: WebClient) -> None:
    assert client.chat_postMessage(channel="C0ACCOUNTS", text="x" * 40_000)["ok"]


def test_thread_replies_record_thread_ts(fake: SlackFake, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C0ACCOUNTS", text="Importing customers")["ts"]
    first = client.chat_postMessage(channel="C0ACCOUNTS", thread_ts=parent, text="Page 1 done")["ts"]
    client.chat_postMessage(channel="C0ACCOUNTS", thread_ts=first, text="Page 2 done")
    client.chat_postMessage(channel="C0ACCOUNTS", thread_ts=parent, text="Done", reply_broadcast=True)
    assert [m["text"] for m in fake.thread("C0ACCOUNTS", parent)] == ["Page 1 done", "Page 2 done", "Done"]
    assert all(m["thread_ts"] == parent for m in fake.thread("C0ACCOUNTS", parent))
    assert [m["text"] for m in fake.messages("C0ACCOUNTS")] == ["Importing customers", "Done"]
    assert fake.message("C0ACCOUNTS", parent)["reply_count"] == 3
    replies = client.conversations_replies(channel="C0ACCOUNTS", ts=parent)["messages"]
    assert [m["text"] for m in replies] == ["Importing customers", "Page 1 done", "Page 2 done", "Done"]


def test_chat_update_edits_the_stored_message(fake: SlackFake, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C0ACCOUNTS", text="Importing: 0%")["ts"]
    answer = client.chat_update(channel="C0ACCOUNTS", ts=ts, text="Importing: 50%", blocks=[section("50%")])
    assert answer["ts"] == ts and answer["text"] == "Importing: 50%"
    stored = fake.message("C0ACCOUNTS", ts)
    assert stored["text"] == "Importing: 50%" and stored["blocks"][0]["text"]["text"] == "50%" and stored["edited"]
    assert len(fake.messages("C0ACCOUNTS")) == 1


@pytest.mark.parametrize(
    ("method", "error"), [("chat_update", "cant_update_message"), ("chat_delete", "cant_delete_message")]
)
def test_the_bot_cannot_change_what_people_wrote(fake: SlackFake, client: WebClient, method: str, error: str) -> None:
    ts = fake.add_message("C0ACCOUNTS", user_id="U0MEMBER", text="please import")["ts"]
    kwargs = {"text": "edited"} if method == "chat_update" else {}
    assert refused(lambda: getattr(client, method)(channel="C0ACCOUNTS", ts=ts, **kwargs))["error"] == error
    assert refused(lambda: getattr(client, method)(channel="C0ACCOUNTS", ts="1.000", **kwargs))["error"] == (
        "message_not_found"
    )


def test_chat_delete_removes_the_message(fake: SlackFake, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C0ACCOUNTS", text="oops")["ts"]
    client.chat_delete(channel="C0ACCOUNTS", ts=ts)
    assert fake.messages("C0ACCOUNTS") == []


def test_ephemeral_messages_reach_one_member(fake: SlackFake, client: WebClient) -> None:
    ts = client.chat_postEphemeral(channel="C0FEW", user="U0ADMIN", text="Only you")["message_ts"]
    assert [(e["user"], e["ts"], e["text"]) for e in fake.ephemerals("C0FEW")] == [("U0ADMIN", ts, "Only you")]
    assert fake.messages("C0FEW") == []
    error = refused(lambda: client.chat_postEphemeral(channel="C0FEW", user="U0MEMBER", text="x"))["error"]
    assert error == "user_not_in_channel"


def test_history_revoke_and_team_info(fake: SlackFake, client: WebClient) -> None:
    for text in ("one", "two"):
        client.chat_postMessage(channel="C0ACCOUNTS", text=text)
    assert [m["text"] for m in client.conversations_history(channel="C0ACCOUNTS")["messages"]] == ["two", "one"]
    assert refused(lambda: client.conversations_history(channel="C0GENERAL"))["error"] == "not_in_channel"
    assert client.team_info()["team"] == {"id": "T0ACME", "name": "Acme", "domain": "acme"}
    assert client.auth_revoke()["revoked"] is True
    assert refused(client.auth_test)["error"] == "token_revoked"


def test_unreadable_json_is_invalid_json(fake: SlackFake) -> None:
    answer = httpx2.post(
        f"{fake.api_url}chat.postMessage",
        content=b"{not json",
        headers={"Authorization": f"Bearer {BOT}", "Content-Type": "application/json"},
    )
    assert answer.json() == {"ok": False, "error": "invalid_json"}


# Web API: people and conversations


@pytest.mark.parametrize(
    ("user", "flags"),
    [
        ("U0ADMIN", (True, False, False)),
        ("U0OWNER", (True, True, True)),
        ("U0MEMBER", (False, False, False)),
    ],
)
def test_users_info_says_who_is_an_admin_or_owner(client: WebClient, user: str, flags: tuple[bool, ...]) -> None:
    person = client.users_info(user=user)["user"]
    assert (person["is_admin"], person["is_owner"], person["is_primary_owner"]) == flags
    assert person["id"] == user and person["team_id"] == "T0ACME" and isinstance(person["tz_offset"], int)


def test_users_info_knows_time_zones_and_refuses_strangers(client: WebClient) -> None:
    assert client.users_info(user="U0OWNER")["user"]["tz"] == "Pacific/Auckland"
    assert client.users_info(user="U0OWNER")["user"]["tz_offset"] >= 12 * 3600
    assert refused(lambda: client.users_info(user="U0STRANGER"))["error"] == "user_not_found"


@pytest.mark.parametrize(
    ("channel", "is_member", "error"),
    [
        ("C0ACCOUNTS", True, None),
        ("C0GENERAL", False, None),
        ("C0BOARD", None, "channel_not_found"),
        ("C0ELSEWHERE", None, "channel_not_found"),
    ],
)
def test_conversations_info(client: WebClient, channel: str, is_member: bool | None, error: str | None) -> None:
    if error:
        assert refused(lambda: client.conversations_info(channel=channel))["error"] == error
    else:
        assert client.conversations_info(channel=channel)["channel"]["is_member"] is is_member


@pytest.mark.parametrize(
    ("users", "error"),
    [("", "users_list_not_supplied"), ("U0NOBODY", "user_not_found"), ("U0STRANGER", "user_not_found")],
)
def test_conversations_open_refusals(client: WebClient, users: str, error: str) -> None:
    assert refused(lambda: client.conversations_open(users=users))["error"] == error


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("C0GENERAL", None),
        ("C0ACCOUNTS", None),
        ("C0BOARD", "channel_not_found"),
        ("C0OLD", "is_archived"),
        ("C0NOWHERE", "channel_not_found"),
    ],
)
def test_conversations_join(fake: SlackFake, client: WebClient, channel: str, error: str | None) -> None:
    if error:
        assert refused(lambda: client.conversations_join(channel=channel))["error"] == error
        return
    assert client.conversations_join(channel=channel)["channel"]["is_member"] is True
    assert client.chat_postMessage(channel=channel, text="hello")["ok"]


def test_conversations_members_pages_with_a_cursor(fake: SlackFake, client: WebClient) -> None:
    first = client.conversations_members(channel="C0ACCOUNTS", limit=2)
    rest = client.conversations_members(channel="C0ACCOUNTS", cursor=first["response_metadata"]["next_cursor"])
    members = first["members"] + rest["members"]
    assert set(members) == {"U0ADMIN", "U0OWNER", "U0MEMBER", fake.workspace("T0ACME").bot_user_id}
    assert rest["response_metadata"]["next_cursor"] == ""


# Web API: OAuth and Socket Mode URLs


def test_oauth_exchange_answers_the_documented_shape(fake: SlackFake) -> None:
    fake.add_workspace("T0NEW", "Newco", installed=False)
    fake.add_user("T0NEW", "U0INSTALLER", "ivy", is_admin=True)
    code = fake.issue_oauth_code("T0NEW", "U0INSTALLER")
    answer = WebClient(base_url=fake.api_url).oauth_v2_access(
        client_id=fake.client_id, client_secret=fake.client_secret, code=code
    )
    assert answer["access_token"].startswith("xoxb-") and answer["token_type"] == "bot"
    assert answer["team"] == {"id": "T0NEW", "name": "Newco"} and answer["authed_user"] == {"id": "U0INSTALLER"}
    assert answer["bot_user_id"] == fake.workspace("T0NEW").bot_user_id and answer["app_id"] == fake.app_id
    assert answer["enterprise"] is None and answer["is_enterprise_install"] is False and answer["scope"]
    installed = WebClient(token=answer["access_token"], base_url=fake.api_url)
    assert installed.auth_test()["team_id"] == "T0NEW"


@pytest.mark.parametrize(
    ("client_id", "client_secret", "code", "error"),
    [
        ("wrong", None, None, "invalid_client_id"),
        (None, "wrong", None, "bad_client_secret"),
        (None, None, "made-up", "invalid_code"),
    ],
)
def test_oauth_exchange_refusals(
    fake: SlackFake, client_id: str | None, client_secret: str | None, code: str | None, error: str
) -> None:
    # Credentials in the form this time (slack_sdk sends HTTP Basic).
    data = {
        "client_id": client_id or fake.client_id,
        "client_secret": client_secret or fake.client_secret,
        "code": code or fake.issue_oauth_code("T0ACME", "U0ADMIN"),
    }
    answer = httpx2.post(f"{fake.url}/api/oauth.v2.access", data=data).json()
    assert answer == {"ok": False, "error": error}


def test_an_oauth_code_works_once_and_expires(fake: SlackFake, clock: ManualClock) -> None:
    oauth = WebClient(base_url=fake.api_url)
    credentials = {"client_id": fake.client_id, "client_secret": fake.client_secret}
    code = fake.issue_oauth_code("T0ACME", "U0ADMIN")
    assert oauth.oauth_v2_access(code=code, **credentials)["access_token"] == BOT
    assert refused(lambda: oauth.oauth_v2_access(code=code, **credentials))["error"] == "invalid_code"
    late = fake.issue_oauth_code("T0ACME", "U0ADMIN")
    clock.advance(601)
    assert refused(lambda: oauth.oauth_v2_access(code=late, **credentials))["error"] == "invalid_code"


def test_reinstalling_after_revocation_issues_a_new_token(fake: SlackFake) -> None:
    fake.revoke_tokens("T0ACME")
    code = fake.issue_oauth_code("T0ACME", "U0ADMIN")
    answer = WebClient(base_url=fake.api_url).oauth_v2_access(
        client_id=fake.client_id, client_secret=fake.client_secret, code=code
    )
    assert answer["access_token"] != BOT
    assert WebClient(token=answer["access_token"], base_url=fake.api_url).auth_test()["ok"]


def test_the_authorize_page_redirects_back_with_a_code_and_the_state(fake: SlackFake) -> None:
    fake.set_installer("T0ACME", "U0OWNER")
    params = {
        "client_id": fake.client_id,
        "scope": "commands,chat:write",
        "state": "s1",
        "redirect_uri": "http://bot/cb",
    }
    answer = httpx2.get(f"{fake.url}/oauth/v2/authorize", params=params)
    assert answer.status_code == 302
    location = httpx2.URL(answer.headers["location"])
    assert location.params["state"] == "s1" and str(location).startswith("http://bot/cb?")
    access = WebClient(base_url=fake.api_url).oauth_v2_access(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        code=location.params["code"],
        redirect_uri="http://bot/cb",
    )
    assert access["authed_user"]["id"] == "U0OWNER" and access["scope"] == "commands,chat:write"


def test_apps_connections_open_needs_an_app_token(fake: SlackFake, client: WebClient) -> None:
    url = WebClient(base_url=fake.api_url).apps_connections_open(app_token=APP)["url"]
    assert url.startswith(fake.api_url.replace("http://", "ws://").replace("/api/", "/socket?ticket="))
    assert refused(lambda: client.apps_connections_open(app_token=BOT))["error"] == "not_allowed_token_type"


# Rate limits and injected failures


@pytest.mark.parametrize(
    ("method", "kwargs", "allowed", "retry_after"),
    [
        ("chat_postMessage", {"channel": "C0ACCOUNTS", "text": "hi"}, 5, 1),
        ("chat_postEphemeral", {"channel": "C0ACCOUNTS", "user": "U0ADMIN", "text": "hi"}, 100, 1),
        ("conversations_info", {"channel": "C0ACCOUNTS"}, 50, 2),
        ("users_info", {"user": "U0ADMIN"}, 100, 1),
    ],
)
def test_rate_limits_answer_429_with_retry_after_until_the_clock_moves(
    client: WebClient, clock: ManualClock, method: str, kwargs: dict[str, Any], allowed: int, retry_after: int
) -> None:
    call = getattr(client, method)
    for _ in range(allowed):
        call(**kwargs)
    response = refused(lambda: call(**kwargs))
    assert (response.status_code, response["error"]) == (429, "ratelimited")
    assert int(response.headers["Retry-After"]) == retry_after
    clock.advance(retry_after)
    assert call(**kwargs)["ok"]


def test_chat_post_message_is_limited_per_channel(fake: SlackFake, client: WebClient) -> None:
    for _ in range(5):
        client.chat_postMessage(channel="C0ACCOUNTS", text="tick")
    assert refused(lambda: client.chat_postMessage(channel="C0ACCOUNTS", text="tick")).status_code == 429
    assert client.chat_postMessage(channel="U0ADMIN", text="other channel")["ok"]


def test_a_configured_limit_replaces_the_tier(fake: SlackFake, client: WebClient, clock: ManualClock) -> None:
    fake.set_rate_limit("auth.test", RateLimit(per_minute=20, burst=2))
    client.auth_test()
    client.auth_test()
    assert refused(client.auth_test).headers["Retry-After"] == "3"
    clock.advance(3)
    assert client.auth_test()["ok"]
    fake.set_rate_limit("auth.test", None)
    assert all(client.auth_test()["ok"] for _ in range(10))


def test_rate_limits_can_be_switched_off(clock: ManualClock) -> None:
    fake = SlackFake(clock=clock, rate_limits=False)
    fake.add_workspace("T0ACME", "Acme", BOT)
    fake.add_channel("T0ACME", "C0ACCOUNTS", "accounts")
    with fake.serve():
        client = WebClient(token=BOT, base_url=fake.api_url)
        assert all(client.chat_postMessage(channel="C0ACCOUNTS", text="x")["ok"] for _ in range(10))


@pytest.mark.parametrize(
    ("error", "status", "retry_after", "expected_status", "expected_retry_after"),
    [
        ("ratelimited", None, None, 429, "1"),
        ("ratelimited", None, 30, 429, "30"),
        ("channel_not_found", None, None, 200, None),
        ("fatal_error", 500, None, 500, None),
    ],
)
def test_fail_next_injects_one_failure(
    client: WebClient,
    fake: SlackFake,
    error: str,
    status: int | None,
    retry_after: int | None,
    expected_status: int,
    expected_retry_after: str | None,
) -> None:
    fake.fail_next("chat.postMessage", error, status=status, retry_after=retry_after)
    response = refused(lambda: client.chat_postMessage(channel="C0ACCOUNTS", text="hi"))
    assert (response.status_code, response["error"]) == (expected_status, error)
    assert response.headers.get("Retry-After") == expected_retry_after
    assert client.chat_postMessage(channel="C0ACCOUNTS", text="hi")["ok"]
    assert [c.ok for c in fake.calls("chat.postMessage")] == [False, True]


def test_slack_sdks_retry_handler_gets_through_an_injected_429(fake: SlackFake) -> None:
    client = WebClient(token=BOT, base_url=fake.api_url, retry_handlers=[RateLimitErrorRetryHandler(1)])
    fake.fail_next("chat.postMessage", "ratelimited", retry_after=0)
    assert client.chat_postMessage(channel="C0ACCOUNTS", text="eventually")["ok"]
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 200]


# Block Kit limits


def _options(count: int, text: str = "Sales", value: str = "200") -> list[dict[str, Any]]:
    return [option(f"{text}"[:75], f"{value}{i}"[-150:]) for i in range(count)]


MESSAGE_VIOLATIONS = [
    ("51 blocks", [section()] * 51, "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"),
    ("section text", [section("x" * 3001)], "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"),
    (
        "11 fields",
        [{"type": "section", "fields": [plain("f")] * 11}],
        "no more than 10 items allowed [json-pointer:/blocks/0/fields]",
    ),
    (
        "markdown",
        [{"type": "markdown", "text": "x" * 12_001}],
        "must be less than 12001 characters [json-pointer:/blocks/0/text]",
    ),
    (
        "header",
        [{"type": "header", "text": plain("x" * 151)}],
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
    ),
    (
        "button text",
        [{"type": "actions", "elements": [button(text=plain("x" * 76))]}],
        "[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
    ),
    (
        "button value",
        [{"type": "actions", "elements": [button(value="x" * 2001)]}],
        "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
    ),
    (
        "button url",
        [{"type": "actions", "elements": [button(url="https://x.test/" + "x" * 3000)]}],
        "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]",
    ),
    (
        "action_id",
        [{"type": "actions", "elements": [button(action_id="a" * 256)]}],
        "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
    ),
    ("block_id", [section(block_id="b" * 256)], "must be less than 256 characters [json-pointer:/blocks/0/block_id]"),
    (
        "duplicate block_id",
        [section(block_id="same"), section(block_id="same")],
        "duplicate block_id: same [json-pointer:/blocks/1/block_id]",
    ),
    (
        "context elements",
        [{"type": "context", "elements": [plain("c")] * 11}],
        "no more than 10 items allowed [json-pointer:/blocks/0/elements]",
    ),
    (
        "101 options",
        [section(accessory={"type": "static_select", "action_id": "s", "options": _options(101)})],
        "no more than 100 items allowed [json-pointer:/blocks/0/accessory/options]",
    ),
    (
        "option text",
        [section(accessory={"type": "static_select", "action_id": "s", "options": [option("x" * 76, "v")]})],
        "must be less than 76 characters [json-pointer:/blocks/0/accessory/options/0/text/text]",
    ),
    (
        "option value",
        [section(accessory={"type": "static_select", "action_id": "s", "options": [option("t", "v" * 151)]})],
        "must be less than 151 characters [json-pointer:/blocks/0/accessory/options/0/value]",
    ),
    (
        "101 option groups",
        [
            section(
                accessory={
                    "type": "static_select",
                    "action_id": "s",
                    "option_groups": [{"label": plain("g"), "options": _options(1)}] * 101,
                }
            )
        ],
        "no more than 100 items allowed [json-pointer:/blocks/0/accessory/option_groups]",
    ),
    (
        "group label",
        [
            section(
                accessory={
                    "type": "static_select",
                    "action_id": "s",
                    "option_groups": [{"label": plain("g" * 76), "options": _options(1)}],
                }
            )
        ],
        "must be less than 76 characters [json-pointer:/blocks/0/accessory/option_groups/0/label/text]",
    ),
    (
        "101 options in a group",
        [
            section(
                accessory={
                    "type": "static_select",
                    "action_id": "s",
                    "option_groups": [{"label": plain("g"), "options": _options(101)}],
                }
            )
        ],
        "no more than 100 items allowed [json-pointer:/blocks/0/accessory/option_groups/0/options]",
    ),
    ("header as mrkdwn", [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}], "/blocks/0/text/type]"),
    ("unknown block", [{"type": "carousel"}], "unsupported type: carousel [json-pointer:/blocks/0/type]"),
]


@pytest.mark.parametrize(
    ("blocks", "message"), [v[1:] for v in MESSAGE_VIOLATIONS], ids=[v[0] for v in MESSAGE_VIOLATIONS]
)
@pytest.mark.parametrize("method", ["chat_postMessage", "chat_update", "chat_postEphemeral"])
def test_messages_breaking_block_kit_limits_are_invalid_blocks(
    fake: SlackFake, client: WebClient, method: str, blocks: list[dict[str, Any]], message: str
) -> None:
    kwargs: dict[str, Any] = {"channel": "C0ACCOUNTS", "text": "fallback", "blocks": blocks}
    if method == "chat_update":
        kwargs["ts"] = client.chat_postMessage(channel="C0ACCOUNTS", text="before")["ts"]
    if method == "chat_postEphemeral":
        kwargs["user"] = "U0ADMIN"
    response = refused(lambda: getattr(client, method)(**kwargs))
    assert response["error"] == "invalid_blocks"
    assert any(message in m for m in response["response_metadata"]["messages"]), response["response_metadata"]
    assert all(m.startswith("[ERROR] ") for m in response["response_metadata"]["messages"])


VIEW_VIOLATIONS = [
    ("title", {"title": plain("x" * 25)}, "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"),
    ("submit", {"submit": plain("x" * 25)}, "must be less than 25 characters [json-pointer:/view/submit/text]"),
    ("close", {"close": plain("x" * 25)}, "must be less than 25 characters [json-pointer:/view/close/text]"),
    ("private_metadata", {"private_metadata": "m" * 3001}, "[json-pointer:/view/private_metadata]"),
    ("callback_id", {"callback_id": "c" * 256}, "must be less than 256 characters [json-pointer:/view/callback_id]"),
    (
        "101 blocks",
        {"blocks": [{"type": "divider"}] * 101},
        "no more than 100 items allowed [json-pointer:/view/blocks]",
    ),
    ("inputs without submit", {"submit": None, "blocks": [text_input()]}, "must provide submit"),
    ("no title", {"title": None}, "missing required field: title [json-pointer:/view]"),
    ("section text", {"blocks": [section("x" * 3001)]}, "[json-pointer:/view/blocks/0/text/text]"),
]


@pytest.mark.parametrize(("changes", "message"), [v[1:] for v in VIEW_VIOLATIONS], ids=[v[0] for v in VIEW_VIOLATIONS])
def test_modals_breaking_block_kit_limits_are_invalid_arguments(
    fake: SlackFake, client: WebClient, bare_bot: HttpBot, changes: dict[str, Any], message: str
) -> None:
    view = {k: v for k, v in (modal([section()]) | changes).items() if v is not None}
    response = refused(lambda: client.views_open(trigger_id=_trigger(fake), view=view))
    assert response["error"] == "invalid_arguments"
    assert any(message in m for m in response["response_metadata"]["messages"]), response["response_metadata"]
    # The checker answers the same on the bare view, with pointers from the view itself.
    assert blockkit.check_view(view) and all("/view" not in m for m in blockkit.check_view(view))


def big_valid_modal() -> dict[str, Any]:
    """Every limit reached and none passed."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain("h" * 150)},
        section("s" * 3000, block_id="b" * 255, fields=[plain("f" * 2000)] * 10),
        {
            "type": "input",
            "label": plain("Account"),
            "element": {
                "type": "static_select",
                "action_id": "a" * 255,
                "options": [option("o" * 75, f"{i:03d}" + "v" * 147) for i in range(100)],
            },
        },
        {
            "type": "input",
            "label": plain("Grouped"),
            "element": {
                "type": "static_select",
                "action_id": "grouped",
                "option_groups": [
                    {"label": plain("g" * 75), "options": [option("o", f"{g}-{i}") for i in range(100)]}
                    for g in range(100)
                ],
            },
        },
        {"type": "context", "elements": [plain("c")] * 10},
        {
            "type": "actions",
            "elements": [button(text=plain("t" * 75), value="v" * 2000, url="https://x.test/" + "u" * 2985)],
        },
    ]
    blocks += [{"type": "divider"}] * (100 - len(blocks))
    return modal(blocks, title=plain("t" * 24), submit=plain("s" * 24), close=plain("c" * 24)) | {
        "private_metadata": "m" * 3000,
        "callback_id": "c" * 255,
    }


def test_a_modal_at_every_limit_opens(fake: SlackFake, client: WebClient, bare_bot: HttpBot) -> None:
    view = big_valid_modal()
    assert blockkit.check_view(view) == []
    opened = client.views_open(trigger_id=_trigger(fake), view=view)["view"]
    assert opened["id"].startswith("V") and opened["hash"] and len(opened["blocks"]) == 100
    assert fake.last_view("U0ADMIN") == opened


def test_a_message_of_50_blocks_posts(client: WebClient) -> None:
    assert client.chat_postMessage(channel="C0ACCOUNTS", text="t", blocks=[section()] * 50)["ok"]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"options": _options(100)}, None),
        ({"options": _options(101)}, "no more than 100 items allowed [json-pointer:/options]"),
        ({"options": [option("x" * 76, "v")]}, "must be less than 76 characters [json-pointer:/options/0/text/text]"),
        ({"option_groups": [{"label": plain("g"), "options": _options(3)}]}, None),
        ({}, "missing required field: options"),
    ],
)
def test_check_options(answer: dict[str, Any], problem: str | None) -> None:
    problems = blockkit.check_options(answer)
    assert (problems == []) if problem is None else any(problem in p for p in problems)


# Views


def test_a_trigger_opens_one_view_within_three_seconds(fake: SlackFake, client: WebClient, bare_bot: HttpBot) -> None:
    trigger = _trigger(fake)
    assert client.views_open(trigger_id=trigger, view=modal([section()]))["ok"]
    assert refused(lambda: client.views_open(trigger_id=trigger, view=modal([section()])))["error"] == (
        "exchanged_trigger_id"
    )


@pytest.mark.parametrize(("wait", "error"), [(2.9, None), (3.1, "expired_trigger_id")])
def test_triggers_expire_by_the_fakes_clock(
    fake: SlackFake, client: WebClient, clock: ManualClock, bare_bot: HttpBot, wait: float, error: str | None
) -> None:
    trigger = _trigger(fake)
    clock.advance(wait)
    if error:
        assert refused(lambda: client.views_open(trigger_id=trigger, view=modal([section()])))["error"] == error
    else:
        assert client.views_open(trigger_id=trigger, view=modal([section()]))["ok"]


def test_triggers_the_fake_did_not_issue_to_this_workspace_are_invalid(
    fake: SlackFake, client: WebClient, bare_bot: HttpBot
) -> None:
    assert (
        refused(lambda: client.views_open(trigger_id="1.2.made-up", view=modal([section()])))["error"]
        == "invalid_trigger_id"
    )
    other = WebClient(token=OTHER_BOT, base_url=fake.api_url)
    assert refused(lambda: other.views_open(trigger_id=_trigger(fake), view=modal([section()])))["error"] == (
        "invalid_trigger_id"
    )


def test_views_update_refuses_a_stale_hash(fake: SlackFake, client: WebClient, bare_bot: HttpBot) -> None:
    opened = client.views_open(trigger_id=_trigger(fake), view=modal([section("Loading")], external_id="map-1"))["view"]
    updated = client.views_update(
        view_id=opened["id"], hash=opened["hash"], view=modal([section("Loaded")], external_id="map-1")
    )["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    stale = refused(lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal([section()])))
    assert stale["error"] == "hash_conflict"
    by_external = client.views_update(external_id="map-1", view=modal([section("Again")], external_id="map-1"))
    assert by_external["view"]["id"] == opened["id"]
    assert fake.view(opened["id"])["blocks"][0]["text"]["text"] == "Again"
    assert refused(lambda: client.views_update(view_id="V0NOPE", view=modal([section()])))["error"] == "not_found"


def test_views_push_stacks_at_most_two_views_above_the_root(
    fake: SlackFake, client: WebClient, bare_bot: HttpBot
) -> None:
    root = client.views_open(trigger_id=_trigger(fake), view=modal([section("root")]))["view"]
    second = client.views_push(trigger_id=_trigger(fake), view=modal([section("two")]))["view"]
    third = client.views_push(trigger_id=_trigger(fake), view=modal([section("three")]))["view"]
    assert (second["root_view_id"], second["previous_view_id"]) == (root["id"], root["id"])
    assert third["previous_view_id"] == second["id"]
    assert [v["id"] for v in fake.view_stack("U0ADMIN")] == [root["id"], second["id"], third["id"]]
    error = refused(lambda: client.views_push(trigger_id=_trigger(fake), view=modal([section("four")])))["error"]
    assert error == "push_limit_reached"


def test_duplicate_external_ids_are_refused(fake: SlackFake, client: WebClient, bare_bot: HttpBot) -> None:
    client.views_open(trigger_id=_trigger(fake), view=modal([section()], external_id="x"))
    assert refused(lambda: client.views_open(trigger_id=_trigger(fake), view=modal([section()], external_id="x")))[
        "error"
    ] == ("duplicate_external_id")


def test_views_publish_sets_the_app_home(fake: SlackFake, client: WebClient) -> None:
    home = {"type": "home", "blocks": [section("Connected to Xero")]}
    first = client.views_publish(user_id="U0ADMIN", view=home)["view"]
    again = client.views_publish(user_id="U0ADMIN", view=home | {"blocks": [section("Synced")]}, hash=first["hash"])
    assert again["view"]["id"] == first["id"] and again["view"]["type"] == "home"
    assert fake.home_view("U0ADMIN") == fake.view(first["id"])
    assert fake.view(first["id"])["blocks"][0]["text"]["text"] == "Synced"
    assert refused(lambda: client.views_publish(user_id="U0ADMIN", view=home, hash=first["hash"]))["error"] == (
        "hash_conflict"
    )
    assert refused(lambda: client.views_publish(user_id="U0STRANGER", view=home))["error"] == "invalid_arguments"
    assert refused(lambda: client.views_publish(user_id="U0ADMIN", view=modal([section()])))["error"] == (
        "invalid_arguments"
    )
    assert fake.home_view("U0MEMBER") is None


# Files


def test_files_upload_v2_stores_the_bytes_and_shares_them_in_a_thread(fake: SlackFake, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C0ACCOUNTS", text="Import finished")["ts"]
    answer = client.files_upload_v2(
        content=b"name,email\nAda,ada@acme.test\n",
        filename="new-customers.csv",
        title="New customers",
        channel="C0ACCOUNTS",
        thread_ts=parent,
        initial_comment="The full list",
    )
    assert answer["file"]["title"] == "New customers"
    [uploaded] = fake.uploaded_files
    assert uploaded.content == b"name,email\nAda,ada@acme.test\n" and uploaded.length == len(uploaded.content)
    assert (uploaded.filename, uploaded.channels, uploaded.thread_ts) == ("new-customers.csv", ["C0ACCOUNTS"], parent)
    assert uploaded.initial_comment == "The full list" and uploaded.completed
    [shared] = fake.thread("C0ACCOUNTS", parent)
    assert shared["text"] == "The full list" and shared["files"][0]["id"] == uploaded.file_id


def test_files_upload_v2_to_a_dm(fake: SlackFake, client: WebClient) -> None:
    dm = client.conversations_open(users="U0ADMIN")["channel"]["id"]
    client.files_upload_v2(content="a,b\n", filename="x.csv", channel=dm)
    assert fake.messages("U0ADMIN")[0]["files"][0]["name"] == "x.csv"


def test_the_upload_url_takes_a_multipart_post_too(fake: SlackFake, client: WebClient) -> None:
    target = client.files_getUploadURLExternal(filename="x.csv", length=4)
    assert httpx2.post(target["upload_url"], files={"file": ("x.csv", b"a,b\n")}).text == "OK - 4"
    client.files_completeUploadExternal(files=[{"id": target["file_id"], "title": "X"}], channel_id="C0ACCOUNTS")
    assert [(f.content, f.title) for f in fake.uploaded_files] == [(b"a,b\n", "X")]
    assert httpx2.post(target["upload_url"], content=b"again").status_code == 404


@pytest.mark.parametrize(("channel", "error"), [("C0GENERAL", "not_in_channel"), ("C0NOWHERE", "invalid_channel")])
def test_completing_an_upload_where_the_bot_cannot_post_is_refused(client: WebClient, channel: str, error: str) -> None:
    assert refused(lambda: client.files_upload_v2(content=b"x", filename="x.csv", channel=channel))["error"] == error


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"filename": "x.csv", "length": 0}, "missing_argument"), ({"length": 3}, "invalid_arguments")],
)
def test_get_upload_url_refusals(client: WebClient, kwargs: dict[str, Any], error: str) -> None:
    assert refused(lambda: client.api_call("files.getUploadURLExternal", params=kwargs))["error"] == error


def test_completing_a_file_that_was_never_uploaded_is_refused(client: WebClient) -> None:
    file_id = client.files_getUploadURLExternal(filename="x.csv", length=3)["file_id"]
    assert refused(lambda: client.files_completeUploadExternal(files=[{"id": file_id}]))["error"] == "file_not_found"


# Deliveries


def test_a_command_arrives_as_slack_sends_it(fake: SlackFake, bot: HttpBot | SocketBot) -> None:
    delivery = fake.send_command("/accounts import now", user_id="U0ADMIN", channel_id="C0ACCOUNTS")
    assert delivery.acked and delivery.transport == bot.transport
    [(kind, payload)] = bot.received
    assert kind == "slash_commands"
    assert {k: payload[k] for k in ("command", "text", "user_id", "user_name", "channel_id", "channel_name")} == {
        "command": "/accounts",
        "text": "import now",
        "user_id": "U0ADMIN",
        "user_name": "ada",
        "channel_id": "C0ACCOUNTS",
        "channel_name": "accounts",
    }
    assert payload["team_id"] == "T0ACME" and payload["team_domain"] == "acme" and payload["api_app_id"] == fake.app_id
    assert payload["response_url"].startswith(f"{fake.url}/response/") and payload["trigger_id"]
    assert payload["is_enterprise_install"] == "false"


@pytest.mark.parametrize(
    ("answer", "ephemeral", "in_channel"),
    [
        (None, [], []),
        ({"text": "Starting the import"}, ["Starting the import"], []),
        ({"text": "Import started by ada", "response_type": "in_channel"}, [], ["Import started by ada"]),
    ],
)
def test_a_commands_immediate_answer_is_posted_like_slack(
    fake: SlackFake, bot: HttpBot | SocketBot, answer: Any, ephemeral: list[str], in_channel: list[str]
) -> None:
    bot.answer = lambda kind, payload: answer
    delivery = fake.send_command("/accounts import", user_id="U0ADMIN", channel_id="C0GENERAL")
    assert delivery.ack == answer and delivery.problems == ()
    assert [e["text"] for e in fake.ephemerals("C0GENERAL", "U0ADMIN")] == ephemeral
    assert [m["text"] for m in fake.messages("C0GENERAL")] == in_channel


def test_a_button_click_arrives_with_container_message_and_a_fresh_trigger(
    fake: SlackFake, client: WebClient, bot: HttpBot | SocketBot
) -> None:
    blocks = [
        section("Connect Xero?"),
        {"type": "actions", "elements": [button("connect", value="xero", style="primary")]},
    ]
    posted = client.chat_postMessage(channel="C0ACCOUNTS", text="Connect?", blocks=blocks)
    delivery = fake.send_action("connect", user_id="U0ADMIN", channel_id="C0ACCOUNTS", message_ts=posted["ts"])
    [(kind, payload)] = bot.received
    assert kind == "interactive" and payload["type"] == "block_actions"
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C0ACCOUNTS",
        "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == posted["ts"] and payload["channel"] == {"id": "C0ACCOUNTS", "name": "accounts"}
    [action] = payload["actions"]
    assert (action["action_id"], action["value"], action["type"]) == ("connect", "xero", "button")
    assert action["block_id"] == posted["message"]["blocks"][1]["block_id"] and action["action_ts"]
    assert payload["user"]["id"] == "U0ADMIN" and payload["team"]["id"] == "T0ACME"
    assert client.views_open(trigger_id=delivery.trigger_id, view=modal([section()]))["ok"]


def test_a_click_on_an_ephemeral_message_or_the_app_home(
    fake: SlackFake, client: WebClient, bot: HttpBot | SocketBot
) -> None:
    blocks = [{"type": "actions", "elements": [button("retry")]}]
    ts = client.chat_postEphemeral(channel="C0ACCOUNTS", user="U0ADMIN", text="Failed", blocks=blocks)["message_ts"]
    fake.send_action("retry", user_id="U0ADMIN", channel_id="C0ACCOUNTS", message_ts=ts)
    home = client.views_publish(user_id="U0ADMIN", view={"type": "home", "blocks": blocks})["view"]
    fake.send_action("retry", user_id="U0ADMIN", view_id=home["id"])
    [(_, ephemeral), (_, in_home)] = bot.received
    assert ephemeral["container"]["is_ephemeral"] is True and "message" not in ephemeral and ephemeral["response_url"]
    assert in_home["container"] == {"type": "view", "view_id": home["id"]} and in_home["view"]["type"] == "home"
    with pytest.raises(LookupError, match="sees no message"):
        fake.send_action("retry", user_id="U0MEMBER", channel_id="C0ACCOUNTS", message_ts=ts)


def test_an_element_the_surface_does_not_show_cannot_be_used(fake: SlackFake, client: WebClient) -> None:
    posted = client.chat_postMessage(
        channel="C0ACCOUNTS", text="t", blocks=[{"type": "actions", "elements": [button("a")]}]
    )
    with pytest.raises(LookupError, match="no element with action_id 'b'"):
        fake.send_action("b", user_id="U0ADMIN", channel_id="C0ACCOUNTS", message_ts=posted["ts"])


def test_a_select_in_a_modal_sends_the_chosen_option(
    fake: SlackFake, client: WebClient, bot: HttpBot | SocketBot
) -> None:
    view = modal(
        [
            select_input("account"),
            {
                "type": "actions",
                "block_id": "filters",
                "elements": [{"type": "static_select", "action_id": "kind", "options": [option("Income", "income")]}],
            },
        ]
    )
    opened = client.views_open(trigger_id=_trigger(fake), view=view)["view"]
    bot.received.clear()
    fake.send_action(
        "kind", user_id="U0ADMIN", view_id=opened["id"], value="income", values={"account": {"account_select": "201"}}
    )
    [(_, payload)] = bot.received
    assert payload["container"] == {"type": "view", "view_id": opened["id"]} and "response_url" not in payload
    assert payload["actions"][0]["selected_option"] == option("Income", "income")
    assert payload["view"]["state"]["values"]["account"]["account_select"]["selected_option"]["value"] == "201"


RESPONSE_ACTIONS = [
    ("none", None, 0, ()),
    ("clear", {"response_action": "clear"}, 0, ()),
    ("errors", {"response_action": "errors", "errors": {"name": "Name is taken"}}, 1, ()),
    ("errors for a section", {"response_action": "errors", "errors": {"intro": "x"}}, 1, ("not an input block",)),
    ("update", {"response_action": "update", "view": modal([section("Saved")], submit=None)}, 1, ()),
    ("push", {"response_action": "push", "view": modal([section("Next step")], submit=None)}, 2, ()),
    (
        "update breaking limits",
        {"response_action": "update", "view": modal([section()], title=plain("x" * 25))},
        1,
        ("must be less than 25 characters [json-pointer:/view/title/text]",),
    ),
]


@pytest.mark.parametrize(
    ("answer", "open_views", "problems"), [r[1:] for r in RESPONSE_ACTIONS], ids=[r[0] for r in RESPONSE_ACTIONS]
)
def test_view_submission_answers_are_applied_like_slack(
    fake: SlackFake,
    client: WebClient,
    bot: HttpBot | SocketBot,
    answer: Any,
    open_views: int,
    problems: tuple[str, ...],
) -> None:
    view = modal([section("Who?", block_id="intro"), text_input("name"), select_input("account")])
    opened = client.views_open(trigger_id=_trigger(fake), view=view)["view"]
    bot.received.clear()
    bot.answer = lambda kind, payload: answer
    delivery = fake.send_view_submission(
        opened["id"], {"name": {"name_input": "Ada"}, "account": {"account_select": "202"}}
    )
    [(kind, payload)] = bot.received
    assert kind == "interactive" and payload["type"] == "view_submission"
    assert payload["view"]["id"] == opened["id"] and payload["view"]["callback_id"] == "mapping"
    values = payload["view"]["state"]["values"]
    assert values["name"]["name_input"] == {"type": "plain_text_input", "value": "Ada"}
    assert values["account"]["account_select"]["selected_option"] == option("Account 2", "202")
    assert delivery.ack == answer
    assert len(fake.view_stack("U0ADMIN")) == open_views
    assert len(delivery.problems) == len(problems)
    assert all(any(p in got for got in delivery.problems) for p in problems)


def test_slack_does_not_submit_a_view_with_a_required_input_empty(
    fake: SlackFake, client: WebClient, bare_bot: HttpBot
) -> None:
    view = modal([text_input("name"), text_input("note", "n", optional=True)])
    opened = client.views_open(trigger_id=_trigger(fake), view=view)["view"]
    with pytest.raises(ValueError, match="name: required"):
        fake.send_view_submission(opened["id"], {"note": {"n": "x"}})


@pytest.mark.parametrize("notify", [True, False])
def test_closing_a_modal_notifies_only_when_asked(
    fake: SlackFake, client: WebClient, bot: HttpBot | SocketBot, notify: bool
) -> None:
    opened = client.views_open(trigger_id=_trigger(fake), view=modal([section()], notify_on_close=notify))["view"]
    bot.received.clear()
    delivery = fake.close_view(opened["id"])
    assert fake.view_stack("U0ADMIN") == []
    if notify:
        assert delivery is not None and delivery.acked and bot.received[0][1]["type"] == "view_closed"
    else:
        assert delivery is None and bot.received == []


OPTION_ANSWERS = [
    ("fine", {"options": [option("Sales", "200")]}, ()),
    ("too many", {"options": _options(101)}, ("no more than 100 items allowed",)),
    ("text too long", {"options": [option("x" * 76, "v")]}, ("must be less than 76 characters",)),
]


@pytest.mark.parametrize(("answer", "problems"), [o[1:] for o in OPTION_ANSWERS], ids=[o[0] for o in OPTION_ANSWERS])
def test_options_requests_and_their_answers(
    fake: SlackFake, client: WebClient, bot: HttpBot | SocketBot, answer: dict[str, Any], problems: tuple[str, ...]
) -> None:
    element = {"type": "external_select", "action_id": "customer", "min_query_length": 2}
    input_block = {"type": "input", "block_id": "who", "label": plain("Customer"), "element": element}
    opened = client.views_open(trigger_id=_trigger(fake), view=modal([input_block]))["view"]
    bot.received.clear()
    bot.answer = lambda kind, payload: answer
    delivery = fake.send_options("customer", "Ad", user_id="U0ADMIN", view_id=opened["id"])
    [(kind, payload)] = bot.received
    assert payload["type"] == "block_suggestion" and (payload["action_id"], payload["block_id"], payload["value"]) == (
        "customer",
        "who",
        "Ad",
    )
    assert len(delivery.problems) == len(problems) and all(p in " ".join(delivery.problems) for p in problems)
    with pytest.raises(ValueError, match="from 2 characters"):
        fake.send_options("customer", "A", user_id="U0ADMIN", view_id=opened["id"])


def test_an_event_arrives_in_slacks_wrapper(fake: SlackFake, client: WebClient, bot: HttpBot | SocketBot) -> None:
    client.views_publish(user_id="U0ADMIN", view={"type": "home", "blocks": [section("Home")]})
    delivery = fake.send_event({"type": "app_home_opened", "user": "U0ADMIN", "channel": "D0ADMIN", "tab": "home"})
    assert delivery.acked and delivery.ack is None
    [(kind, payload)] = bot.received
    assert kind == "events_api" and payload["type"] == "event_callback"
    assert payload["team_id"] == "T0ACME" and payload["api_app_id"] == fake.app_id
    assert payload["event_id"].startswith("Ev") and isinstance(payload["event_time"], int)
    assert payload["authorizations"][0]["user_id"] == fake.workspace("T0ACME").bot_user_id
    assert payload["event"]["view"]["blocks"][0]["text"]["text"] == "Home" and payload["event"]["event_ts"]


def test_wait_for_sees_work_the_bot_does_after_acknowledging(fake: SlackFake, bot: HttpBot | SocketBot) -> None:
    def answer(kind: str, payload: dict[str, Any]) -> None:
        later = WebClient(token=BOT, base_url=fake.api_url)
        threading.Thread(target=lambda: later.chat_postMessage(channel=payload["channel_id"], text="Done")).start()

    bot.answer = answer
    fake.send_command("/accounts import", user_id="U0ADMIN", channel_id="C0ACCOUNTS")
    assert fake.wait_for(lambda: fake.messages("C0ACCOUNTS"))[0]["text"] == "Done"
    with pytest.raises(TimeoutError, match="no reply"):
        fake.wait_for(lambda: fake.messages("C0GENERAL"), timeout=0.1, message="no reply")


# Response URLs


@pytest.fixture
def clicked(fake: SlackFake, client: WebClient, bare_bot: HttpBot) -> tuple[str, Delivery]:
    """A message with a button, and the delivery of a click on it."""
    blocks = [section("Cancel the import?"), {"type": "actions", "elements": [button("cancel")]}]
    ts = client.chat_postMessage(channel="C0ACCOUNTS", text="Cancel?", blocks=blocks)["ts"]
    return ts, fake.send_action("cancel", user_id="U0ADMIN", channel_id="C0ACCOUNTS", message_ts=ts)


def test_replace_original_edits_the_clicked_message(fake: SlackFake, clicked: tuple[str, Delivery]) -> None:
    ts, delivery = clicked
    answer = WebhookClient(str(delivery.response_url)).send(text="Import cancelled", replace_original=True)
    assert answer.status_code == 200
    assert fake.message("C0ACCOUNTS", ts)["text"] == "Import cancelled" and "blocks" not in fake.message(
        "C0ACCOUNTS", ts
    )
    [post] = fake.responses
    assert post.payload["replace_original"] is True and post.status == 200


def test_delete_original_removes_the_clicked_message(fake: SlackFake, clicked: tuple[str, Delivery]) -> None:
    _, delivery = clicked
    assert WebhookClient(str(delivery.response_url)).send_dict({"delete_original": True}).status_code == 200
    assert fake.messages("C0ACCOUNTS") == []


@pytest.mark.parametrize(
    ("response_type", "where"), [(None, "ephemeral"), ("ephemeral", "ephemeral"), ("in_channel", "channel")]
)
def test_responses_without_replace_post_anew(
    fake: SlackFake, clicked: tuple[str, Delivery], response_type: str | None, where: str
) -> None:
    _, delivery = clicked
    WebhookClient(str(delivery.response_url)).send(text="Cancelling", response_type=response_type)
    if where == "ephemeral":
        assert [e["text"] for e in fake.ephemerals("C0ACCOUNTS", "U0ADMIN")] == ["Cancelling"]
    else:
        assert [m["text"] for m in fake.messages("C0ACCOUNTS")][-1] == "Cancelling"


@pytest.mark.parametrize(
    ("payload", "status", "body"),
    [
        ({"text": "t", "blocks": [section("x" * 3001)]}, 400, "invalid_blocks"),
        ({}, 400, "no_text"),
    ],
)
def test_bad_responses_are_refused(
    clicked: tuple[str, Delivery], payload: dict[str, Any], status: int, body: str
) -> None:
    answer = WebhookClient(str(clicked[1].response_url)).send_dict(payload)
    assert (answer.status_code, answer.body) == (status, body)


def test_a_response_url_works_five_times_for_thirty_minutes(
    fake: SlackFake, clock: ManualClock, clicked: tuple[str, Delivery]
) -> None:
    webhook = WebhookClient(str(clicked[1].response_url))
    assert [webhook.send(text=str(i)).status_code for i in range(6)] == [200] * 5 + [404]
    fresh = fake.send_action("cancel", user_id="U0ADMIN", channel_id="C0ACCOUNTS", message_ts=clicked[0])
    clock.advance(30 * 60 + 1)
    assert WebhookClient(str(fresh.response_url)).send(text="late").status_code == 404


# Signed HTTP and Socket Mode specifics


@pytest.mark.parametrize(
    ("secret", "age", "status"),
    [(None, 0, 200), ("not-the-secret", 0, 401), (None, 6 * 60, 401)],
    ids=["signed", "bad secret", "old timestamp"],
)
def test_http_deliveries_are_signed_for_slack_sdks_verifier(
    fake: SlackFake, bare_bot: HttpBot, secret: str | None, age: int, status: int
) -> None:
    delivery = fake.send_event(
        {"type": "app_mention", "user": "U0ADMIN", "text": "hi"}, secret=secret, timestamp=int(time.time()) - age
    )
    assert delivery.status == status and delivery.acked is (status == 200)
    assert len(bare_bot.received) == (1 if status == 200 else 0)


def test_url_verification_expects_the_challenge_echoed(fake: SlackFake, bare_bot: HttpBot) -> None:
    bare_bot.answer = lambda kind, payload: {"challenge": payload["challenge"]}
    assert fake.send_url_verification().problems == ()
    bare_bot.answer = lambda kind, payload: None
    assert fake.send_url_verification().problems == ("the challenge was not echoed",)


def test_a_slow_http_bot_is_not_acknowledged(fake: SlackFake, bare_bot: HttpBot) -> None:
    release = threading.Event()
    bare_bot.answer = lambda kind, payload: release.wait(5) and None
    fake.ack_timeout = 0.2
    try:
        delivery = fake.send_command("/accounts", user_id="U0ADMIN", channel_id="C0ACCOUNTS")
    finally:
        release.set()
    assert delivery.acked is False and delivery.status is None


def test_socket_mode_says_hello_then_sends_envelopes_and_returns_the_ack(
    fake: SlackFake, socket_bot: SocketBot
) -> None:
    fake.wait_for(lambda: socket_bot.messages)
    hello = socket_bot.messages[0]
    assert (
        hello["type"] == "hello" and hello["connection_info"]["app_id"] == fake.app_id and hello["num_connections"] == 1
    )
    socket_bot.answer = lambda kind, payload: {"text": "On it"}
    delivery = fake.send_command("/accounts sync", user_id="U0ADMIN", channel_id="C0ACCOUNTS")
    assert (delivery.transport, delivery.acked, delivery.ack, delivery.status) == (
        "socket",
        True,
        {"text": "On it"},
        None,
    )
    envelope = socket_bot.messages[1]
    assert envelope["type"] == "slash_commands" and envelope["accepts_response_payload"] is True
    assert (envelope["retry_attempt"], envelope["retry_reason"]) == (0, "") and envelope["envelope_id"]
    blocks = [{"type": "actions", "elements": [button("go")]}]
    ts = WebClient(token=BOT, base_url=fake.api_url).chat_postMessage(channel="C0ACCOUNTS", text="t", blocks=blocks)[
        "ts"
    ]
    fake.send_action("go", user_id="U0ADMIN", channel_id="C0ACCOUNTS", message_ts=ts)
    assert (
        socket_bot.messages[2]["type"] == "interactive" and socket_bot.messages[2]["accepts_response_payload"] is False
    )
    fake.send_event({"type": "app_mention", "user": "U0ADMIN"}, retry_attempt=1, retry_reason="timeout")
    events = socket_bot.messages[3]
    assert (events["type"], events["accepts_response_payload"], events["retry_attempt"]) == ("events_api", False, 1)


def test_socket_mode_without_an_ack_times_out(fake: SlackFake, socket_bot: SocketBot) -> None:
    socket_bot.client.socket_mode_request_listeners.clear()
    fake.ack_timeout = 0.3
    delivery = fake.send_event({"type": "app_mention", "user": "U0ADMIN"})
    assert delivery.acked is False and delivery.ack is None


def test_a_refresh_request_makes_the_client_reconnect(fake: SlackFake, socket_bot: SocketBot) -> None:
    fake.disconnect_socket()
    fake.wait_for(lambda: len(fake.calls("apps.connections.open")) == 2)
    fake.wait_for_socket()
    # slack_sdk reads the new connection only once its old one's 3-second receive timeout runs out.
    fake.ack_timeout = 10
    assert fake.send_event({"type": "app_mention", "user": "U0ADMIN"}).acked


def test_a_socket_with_an_unknown_ticket_is_refused(fake: SlackFake) -> None:
    with pytest.raises(InvalidStatus) as refusal:
        connect(fake.api_url.replace("http://", "ws://").replace("/api/", "/socket?ticket=forged"), open_timeout=5)
    assert refusal.value.response.status_code == 403


# Bolt end to end, both transports


@pytest.fixture(params=["http", "socket"])
def bolt(request: pytest.FixtureRequest, fake: SlackFake) -> Iterator[App]:
    """A Bolt app that opens a modal on /accounts, checks its submission and answers a button by respond()."""
    app = App(client=WebClient(token=BOT, base_url=fake.api_url), signing_secret=SECRET)

    @app.command("/accounts")
    def command(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = modal([text_input("name")], private_metadata=body["channel_id"])
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view("mapping")
    def submitted(ack: Any, view: dict[str, Any], client: WebClient) -> None:
        name = view["state"]["values"]["name"]["name_input"]["value"]
        if name == "taken":
            ack(response_action="errors", errors={"name": "That name is taken"})
            return
        ack()
        blocks = [section(f"Saved {name}"), {"type": "actions", "elements": [button("undo")]}]
        client.chat_postMessage(channel=view["private_metadata"], text=f"Saved {name}", blocks=blocks)

    @app.action("undo")
    def undo(ack: Any, respond: Any) -> None:
        ack()
        respond(text="Undone", replace_original=True)

    if request.param == "http":
        handler = SlackRequestHandler(app)

        async def events(req: Request) -> Response:
            return await handler.handle(req)

        mount, url = request.getfixturevalue("bot_server")
        mount.app = Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
        fake.request_url = f"{url}/slack/events"
        yield app
        return
    socket = SocketModeHandler(app, APP)
    socket.connect()
    fake.wait_for_socket()
    try:
        yield app
    finally:
        close_socket_client(socket.client, fake)


def test_bolt_runs_a_whole_interaction_against_the_fake(fake: SlackFake, bolt: App) -> None:
    assert fake.send_command("/accounts map", user_id="U0ADMIN", channel_id="C0ACCOUNTS").acked
    view = fake.wait_for(lambda: fake.last_view("U0ADMIN"))
    refused_name = fake.send_view_submission(view, {"name": {"name_input": "taken"}})
    assert refused_name.ack == {"response_action": "errors", "errors": {"name": "That name is taken"}}
    assert fake.last_view("U0ADMIN") is not None
    assert fake.send_view_submission(view, {"name": {"name_input": "Sales"}}).acked
    assert fake.last_view("U0ADMIN") is None
    [saved] = fake.wait_for(lambda: fake.messages("C0ACCOUNTS"))
    fake.send_action("undo", user_id="U0ADMIN", channel_id="C0ACCOUNTS", message_ts=saved["ts"])
    fake.wait_for(lambda: fake.message("C0ACCOUNTS", saved["ts"])["text"] == "Undone")


# The stand-alone fake


def test_python_m_serves_a_demo_workspace_and_says_how_to_use_it() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.slack", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        output = ""
        for line in iter(process.stdout.readline, ""):
            output += line
            if "SLACK_CLIENT_SECRET" in line:
                break
        assert f"http://127.0.0.1:{port}" in output and f"SLACK_API_URL=http://127.0.0.1:{port}/api/" in output
        token = output.split("SLACK_BOT_TOKEN=", 1)[1].split()[0]
        # The server starts after it prints; the transport retries the connection until it listens.
        with httpx2.Client(transport=httpx2.HTTPTransport(retries=8)) as http:
            answer = http.post(f"http://127.0.0.1:{port}/api/auth.test", headers={"Authorization": f"Bearer {token}"})
        assert answer.json()["team"] == "Demo Workspace"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def test_a_latency_holds_each_answer_and_calls_in_flight_together_are_counted(
    fake: SlackFake, client: WebClient
) -> None:
    """`latency` stands for Slack's round trip: each call waits it out before its answer, and `most_at_once` counts
    the calls in flight together (what a test of the bot's end looks at)."""
    fake.latency = 0.3
    started = time.monotonic()
    assert client.auth_test()["ok"]
    assert time.monotonic() - started >= 0.3 and fake.most_at_once == 1

    threads = [threading.Thread(target=client.auth_test) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake.most_at_once == 3 and [c.status for c in fake.calls("auth.test")] == [200] * 4


def test_a_held_method_is_answered_once_released_and_the_others_meanwhile(fake: SlackFake, client: WebClient) -> None:
    release = fake.hold("chat.postMessage")
    posted = threading.Thread(target=client.chat_postMessage, kwargs={"channel": "C0ACCOUNTS", "text": "held"})
    posted.start()
    fake.wait_for(lambda: fake.most_at_once == 1)  # in flight, not answered
    assert client.auth_test()["ok"] and fake.calls("chat.postMessage") == []
    release.set()
    posted.join(10)
    [call] = fake.calls("chat.postMessage")
    assert call.ok and call.args["text"] == "held"
