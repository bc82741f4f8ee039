"""How the bot answers Slack quickly (issue 12): one kept-open connection for the Web API and response URLs,
acknowledgements handed back the moment `ack()` is called, no replay record for commands that only show
something, and the start-up heap kept out of the collector's way while the bot runs."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from typing import Any
from urllib.error import URLError

import pytest
from slack_bolt import Ack, App, BoltRequest, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select

from bot.imports.memory import COLLECTOR_THRESHOLDS
from bot.server import BotServer
from bot.slack.listeners.commands import changes_nothing
from bot.slack.middleware import VerifiedOnce
from bot.slack.requests import VERIFIED
from bot.slack.respond import PooledRespond
from bot.slack.runner import Answering, AnsweringAck, answer_on_ack
from bot.slack_http import PooledWebClient, SlackConnections
from bot.web.dispatch import Dispatcher
from storage.models import HandledRequest
from tests.conftest import ADMIN, BOT_TOKEN, CHANNEL, STAFF, TEAM, RunningBot, bot_settings
from tests.fakes.server import ServerThread, free_port
from tests.fakes.slack import RESPONSE_URL_USES, SlackFake


def peers_recorded(app: Any, peers: list[tuple[str, int]]) -> Any:
    """ASGI: `app`, noting the client address (host, port) of every HTTP request: one port is one connection."""

    async def recording(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            peers.append(tuple(scope["client"]))  # type: ignore[arg-type]
        await app(scope, receive, send)

    return recording


@pytest.fixture
def watched_slack() -> Iterator[tuple[SlackFake, list[tuple[str, int]]]]:
    fake, peers = SlackFake(), []
    server = ServerThread(peers_recorded(fake.asgi_app, peers))
    fake.url = server.url
    server.start()
    fake.add_workspace(TEAM, "Acme Plumbing", bot_token=BOT_TOKEN)
    fake.add_user(TEAM, ADMIN, "ada", is_admin=True)
    fake.add_channel(TEAM, CHANNEL, "general")
    yield fake, peers
    server.stop()


def test_web_api_calls_and_responses_share_one_kept_open_connection(watched_slack: Any) -> None:
    slack, peers = watched_slack
    with SlackConnections() as http:
        client = PooledWebClient(http=http, token=BOT_TOKEN, base_url=slack.api_url)
        assert client.auth_test()["team_id"] == TEAM
        client.chat_postMessage(channel=CHANNEL, text="Import finished")
        respond = PooledRespond(response_url=slack._issue_response_url(TEAM, CHANNEL, ADMIN), http=http)
        assert respond(text="Connected to Xero", response_type="ephemeral").status_code == 200
    assert [m["text"] for m in slack.messages(CHANNEL)] == ["Import finished"]
    assert [e["text"] for e in slack.ephemerals(CHANNEL, ADMIN)] == ["Connected to Xero"]
    assert len(peers) == 3 and len(set(peers)) == 1, peers


def test_slack_refusals_come_back_as_slack_sdk_gives_them(watched_slack: Any) -> None:
    """A Web API error, a response URL used up (an HTTP 404), and no server at all: as with slack_sdk's urllib."""
    slack, _ = watched_slack
    with SlackConnections() as http:
        client = PooledWebClient(http=http, token=BOT_TOKEN, base_url=slack.api_url)
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="C0NOTHERE1", text="hello")
        assert refused.value.response["error"] == "channel_not_found"
        respond = PooledRespond(response_url=slack._issue_response_url(TEAM, CHANNEL, ADMIN), http=http)
        answers = [respond(text=f"answer {n}") for n in range(RESPONSE_URL_USES + 1)]
        assert [a.status_code for a in answers] == [200] * RESPONSE_URL_USES + [404]
        assert answers[-1].body == "used_url"
        nowhere = PooledWebClient(http=http, token=BOT_TOKEN, base_url=f"http://127.0.0.1:{free_port()}/api/")
        with pytest.raises(URLError):
            nowhere.auth_test()


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """Servers close idle keep-alive connections when they like; the next call goes out on a new one, untroubled."""
    import socket

    closed = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_two_connections() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                answer = b'{"ok": true}'
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(answer)}\r\n\r\n"
                conn.sendall(head.encode() + answer)
            closed.set()  # closed after answering, without saying so in the answer

    server = threading.Thread(target=serve_two_connections, daemon=True)
    server.start()
    with SlackConnections() as http, listener:
        client = PooledWebClient(
            http=http, token=BOT_TOKEN, base_url=f"http://127.0.0.1:{port}/api/", retry_handlers=[]
        )  # no retries: the second call must not need one
        client.api_call("api.test")
        assert closed.wait(10)
        assert client.api_call("api.test")["ok"]  # on a new connection: the server accepted a second one
    server.join(10)
    assert not server.is_alive()


def test_after_closing_nothing_more_is_sent(watched_slack: Any) -> None:
    slack, peers = watched_slack
    http = SlackConnections()
    client = PooledWebClient(http=http, token=BOT_TOKEN, base_url=slack.api_url)
    client.auth_test()
    http.close()
    with pytest.raises(URLError):
        client.auth_test()
    assert len(peers) == 1


def test_the_bot_sends_everything_through_its_one_client_and_closes_it(slack: SlackFake, database_url: str) -> None:
    settings = bot_settings(slack, database_url, mode="http")
    server = BotServer(settings).start()
    slack.request_url = f"{server.url}/slack/events"
    try:
        http = server.runtime.slack_http
        assert isinstance(server.app.client, PooledWebClient) and server.app.client.http is http
        assert server.runtime.client_for(TEAM).http is http  # type: ignore[union-attr]
        slack.send_command("/accounts import", user_id=ADMIN, channel_id=CHANNEL)  # answered at the response URL
        [post] = slack.wait_for(lambda: slack.responses)
        assert post.status == 200 and "Nothing is connected yet" in str(post.payload)
        assert not http.is_closed
    finally:
        server.stop()
    assert http.is_closed


def test_while_the_bot_runs_its_start_up_heap_is_frozen(slack: SlackFake, database_url: str) -> None:
    before = gc.get_threshold()
    server = BotServer(bot_settings(slack, database_url, mode="http")).start()
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS
    finally:
        server.stop()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_bot_in_a_process_not_its_own_leaves_that_process_heap_alone(slack: SlackFake, database_url: str) -> None:
    before = gc.get_threshold()
    server = BotServer(bot_settings(slack, database_url, mode="http"), owns_process=False).start()
    try:
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == before
    finally:
        server.stop()
    assert gc.get_threshold() == before


@pytest.mark.parametrize(
    ("text", "remembered"),
    [
        ("/accounts", 0),
        ("/accounts help", 0),
        ("/accounts status", 0),
        ("/accounts audit", 0),
        ("/accounts admins", 0),
        ("/accounts admins list", 0),
        ("/accounts frobnicate", 0),
        ("/accounts admins add <@U0STAFF001>", 1),
        ("/accounts disconnect", 1),
        ("/accounts import", 1),
    ],
)
def test_only_commands_that_act_are_remembered_against_replays(bot: RunningBot, text: str, remembered: int) -> None:
    bot.slack.send_command(text, user_id=ADMIN, channel_id=CHANNEL)
    bot.slack.wait_for(lambda: bot.slack.responses or bot.slack.ephemerals(CHANNEL))
    with bot.db.session() as s:
        assert s.scalar(select(func.count()).select_from(HandledRequest)) == remembered


@pytest.mark.parametrize(
    "body",
    [
        {"command": "/accounts", "text": "admins add <@U0STAFF001>"},
        {"command": "/accounts", "text": "ADMINS remove <@U0STAFF001>"},
        {"command": "/accounts", "text": "connect xero"},
        {"command": "/other", "text": "help"},
        {"type": "block_actions", "actions": [{"action_id": "x"}]},
        {"type": "event_callback", "event_id": "Ev01"},
    ],
)
def test_what_may_act_is_never_taken_for_showing(body: dict[str, Any]) -> None:
    assert not changes_nothing(body)


@pytest.fixture
def bolt_app(slack: SlackFake) -> Iterator[App]:
    app = App(
        signing_secret="unused",
        client=WebClient(token=BOT_TOKEN, base_url=slack.api_url),
        request_verification_enabled=False,
        token_verification_enabled=False,
    )
    answer_on_ack(app)
    yield app
    app.listener_runner.listener_executor.shutdown(wait=True)


def command(text: str) -> BoltRequest:
    return BoltRequest(
        body=f"command=/accounts&team_id={TEAM}&user_id={ADMIN}&channel_id={CHANNEL}&text={text}"
        "&response_url=http://127.0.0.1:9/response/x&trigger_id=1.2.3",
        headers={},
    )


def test_slack_has_its_answer_while_the_listener_goes_on_working(bolt_app: App) -> None:
    may_finish, finished = threading.Event(), threading.Event()

    @bolt_app.command("/accounts")
    def accounts(ack: Ack, respond: Respond) -> None:
        ack(text="On it")
        may_finish.wait(10)  # the work after the acknowledgement, still going when Slack has its answer
        finished.set()

    dispatcher = Dispatcher(bolt_app)
    try:
        answer = asyncio.run(dispatcher.acknowledgement(command("status")))
        assert (answer.status, answer.body) == (200, "On it")
        assert not finished.is_set()
        may_finish.set()
        assert finished.wait(10)
    finally:
        may_finish.set()
        dispatcher.close()


@pytest.mark.parametrize("within", [0.0, 0.1], ids=["already past", "noted for the loop's look"])
def test_an_answer_later_than_the_deadline_the_listener_set_is_not_taken_and_slack_heard_at_it(
    bolt_app: App, monkeypatch: pytest.MonkeyPatch, within: float
) -> None:
    """A deadline already past is acknowledged empty at once; one no sooner than the loop's look is only noted (the
    listener does not wake the loop), and the look finds it: either way Slack hears an empty acknowledgement when
    it passes, while the listener is still at work, and the listener knows to post its answer instead."""
    monkeypatch.setattr(Answering, "LOOK_AFTER", 0.05)
    may_answer, told = threading.Event(), threading.Event()
    delivered: list[bool] = []

    @bolt_app.command("/accounts")
    def accounts(ack: Ack) -> None:
        assert isinstance(ack, AnsweringAck)
        ack.answer_within(within)
        may_answer.wait(10)
        ack(text="Here it is")
        delivered.append(ack.delivered)
        told.set()

    dispatcher = Dispatcher(bolt_app)
    try:
        answer = asyncio.run(dispatcher.acknowledgement(command("status")))
        assert (answer.status, answer.body) == (200, "")
        may_answer.set()
        assert told.wait(10)
        assert delivered == [False]  # the listener knows to post its answer to the response URL instead
    finally:
        may_answer.set()
        dispatcher.close()


def test_an_answer_within_the_deadline_is_the_acknowledgement(bolt_app: App) -> None:
    delivered: list[bool] = []

    @bolt_app.command("/accounts")
    def accounts(ack: Ack) -> None:
        assert isinstance(ack, AnsweringAck)
        ack.answer_within(60.0)
        ack(text="Here it is")
        delivered.append(ack.delivered)

    dispatcher = Dispatcher(bolt_app)
    try:
        answer = asyncio.run(dispatcher.acknowledgement(command("status")))
    finally:
        dispatcher.close()
    assert (answer.status, answer.body, delivered) == (200, "Here it is", [True])


def test_a_listener_that_fails_before_acknowledging_is_answered_500_and_reported(bolt_app: App) -> None:
    reported: list[Exception] = []

    @bolt_app.error
    def on_error(error: Exception) -> None:
        reported.append(error)

    @bolt_app.command("/accounts")
    def accounts(ack: Ack) -> None:
        raise ValueError("the database went away")

    dispatcher = Dispatcher(bolt_app)
    try:
        answer = asyncio.run(dispatcher.acknowledgement(command("status")))
    finally:
        dispatcher.close()
    assert answer.status == 500
    assert [str(e) for e in reported] == ["the database went away"]


def test_a_request_no_listener_takes_is_answered_by_dispatch(bolt_app: App) -> None:
    dispatcher = Dispatcher(bolt_app)
    try:
        answer = asyncio.run(dispatcher.acknowledgement(command("help")))
    finally:
        dispatcher.close()
    assert answer.status == 404


def test_a_request_looks_its_workspace_up_once(start_bot: Any) -> None:
    """Many workspaces: someone other than the installer asks; the installation is read once, not once more for
    the person."""
    from sqlalchemy import event

    from tests.test_slack_app import install

    bot = start_bot("http", multi=True)
    assert install(bot, user_id=ADMIN).status_code == 200
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(bot.db.engine, "before_cursor_execute", seen)
    try:
        delivery = bot.slack.send_command("/accounts help", user_id=STAFF, channel_id=CHANNEL)
    finally:
        event.remove(bot.db.engine, "before_cursor_execute", seen)
    assert delivery.acked and delivery.ack["blocks"]
    assert len([s for s in statements if "FROM slack_installations" in s]) == 1, statements


@pytest.mark.parametrize(("text", "answers"), [("/accounts import", 1), ("/accounts status", 2)])
def test_a_replayed_command_acts_once_unless_it_only_shows(bot: RunningBot, text: str, answers: int) -> None:
    """The same signed command twice: one that acts (here it answers that nothing is connected yet) is acted on
    once; status, which only shows, answers both times."""
    from tests.test_slack_boundary import command_payload, fill_in, settle

    sent = fill_in(bot, command_payload(text.removeprefix("/accounts ")))
    deliveries = [bot.slack.send_payload("slash_commands", sent) for _ in range(2)]
    assert all(d.acked for d in deliveries)
    in_acks = sum(1 for d in deliveries if d.ack)  # status answers in its acknowledgement

    def shown() -> int:
        return in_acks + len(bot.slack.responses)

    bot.slack.wait_for(lambda: shown() >= answers)
    settle(bot)
    assert shown() == answers, ([d.ack for d in deliveries], [r.payload.get("text") for r in bot.slack.responses])


@pytest.mark.parametrize(("mark", "status"), [({}, 401), ({VERIFIED: True}, 200)], ids=["unmarked", "verified"])
def test_bolt_checks_the_signature_of_what_the_web_side_did_not(
    slack: SlackFake, mark: dict[str, Any], status: int
) -> None:
    """The web side checks a request's signature before Bolt sees it and marks it; Bolt's own check skips only
    such a request (`VerifiedOnce`), so one dispatched any other way, here with no signature, is still refused."""
    app = App(
        signing_secret="secret",
        client=WebClient(token=BOT_TOKEN, base_url=slack.api_url),
        request_verification_enabled=False,
        before_authorize=VerifiedOnce("secret"),
        token_verification_enabled=False,
    )

    @app.command("/accounts")
    def accounts(ack: Ack) -> None:
        ack()

    request = command("help")
    request.context.update(mark)
    assert app.dispatch(request).status == status
