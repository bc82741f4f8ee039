"""The Slack request boundary end to end, through real HTTP and Socket Mode to the running bot: whatever arrives
is answered 2xx, 400, 401 or 413 within Slack's 3 seconds, with no traceback in the log, and changes nothing
unless it was a valid request; what was acted on once is not acted on again."""

from __future__ import annotations

import copy
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlparse

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage.models import AuditEvent, Connection, HandledRequest, ImportRun, SlackInstallation, Workspace
from tests.conftest import ADMIN, CHANNEL, STAFF, TEAM, RunningBot
from tests.fakes.slack.delivery import sign
from tests.flows import all_text, becomes, click, command, connected, connection_rows, log_in, login_url, seen, shown
from tests.test_slack_envelope import HOSTILE_VALUES, JSON_VALUES, KEYS

ACTIONS = [
    "import_start", "import_not_now", "import_cancel", "import_retry", "connect_provider:xero", "connect_replace",
    "connect_keep", "connect_login", "choose_organisation_0", "choose_organisation_select", "customers_next",
    "customers_previous", "customers_export", "disconnect_start", "disconnect_confirm", "disconnect_cancel",
    "open_mapping", "mapping_refresh", "notification_channel", "sync_on", "sync_off",
]  # fmt: skip
COMMANDS = [
    "", "help", "status", "connect", "connect xero", "disconnect", "map", "admins", "admins add <@U0STAFF01>",
    "audit", "import", "import staff on", "import contacts", "channel here", "sync every 30m", "customers acme",
]  # fmt: skip
RESPONSE_URL, TRIGGER = "{response_url}", "{trigger_id}"  # filled in per request, so each has fresh ones


def command_payload(text: str, *, user_id: str = ADMIN, team_id: str = TEAM) -> dict[str, Any]:
    return {
        "token": "x",
        "team_id": team_id,
        "team_domain": "acme-plumbing",
        "channel_id": CHANNEL,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": "ada",
        "command": "/accounts",
        "text": text,
        "api_app_id": "A0APP",
        "is_enterprise_install": "false",
        "response_url": RESPONSE_URL,
        "trigger_id": TRIGGER,
    }


def click_payload(action_id: str, value: Any = None, *, user_id: str = ADMIN, ts: str | None = None) -> dict[str, Any]:
    action = {"action_id": action_id, "block_id": "b1", "type": "button", "action_ts": ts or f"{time.time():.6f}"}
    if value is not None:
        action["value"] = value
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": "ada", "team_id": TEAM},
        "api_app_id": "A0APP",
        "team": {"id": TEAM, "domain": "acme-plumbing"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": CHANNEL},
        "channel": {"id": CHANNEL, "name": "general"},
        "trigger_id": TRIGGER,
        "response_url": RESPONSE_URL,
        "actions": [action],
    }


def event_payload(event: dict[str, Any], event_id: str = "Ev0TEST01") -> dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": TEAM,
        "api_app_id": "A0APP",
        "event": event,
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": "U0BOT", "is_bot": True, "is_enterprise_install": False}],
    }


TEMPLATES: list[tuple[str, dict[str, Any]]] = [
    *[("slash_commands", command_payload(text)) for text in COMMANDS],
    *[("interactive", click_payload(action_id, "1")) for action_id in ACTIONS],
    (
        "interactive",
        {
            "type": "view_submission",
            "user": {"id": ADMIN, "team_id": TEAM},
            "team": {"id": TEAM},
            "trigger_id": TRIGGER,
            "view": {
                "id": "V0MODAL",
                "type": "modal",
                "callback_id": "mapping_save",
                "hash": "1.a",
                "private_metadata": json.dumps({"c": 1, "ch": CHANNEL, "h": False}),
                "state": {"values": {"category_labour": {"account_labour": {"selected_option": {"value": "x"}}}}},
            },
        },
    ),
    (
        "interactive",
        {
            "type": "block_suggestion",
            "user": {"id": ADMIN, "team_id": TEAM},
            "team": {"id": TEAM},
            "action_id": "account_labour",
            "block_id": "category_labour",
            "value": "sal",
            "view": {"id": "V0MODAL", "private_metadata": json.dumps({"c": 1})},
        },
    ),
    ("events_api", event_payload({"type": "app_home_opened", "user": STAFF, "tab": "home"})),
    ("events_api", event_payload({"type": "tokens_revoked", "tokens": {"oauth": [ADMIN]}})),
    ("events_api", event_payload({"type": "member_joined_channel", "user": STAFF})),
]


@st.composite
def hostile_payloads(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """One of the payloads the bot takes, with a few fields at any depth replaced by hostile values or removed."""
    kind, template = draw(st.sampled_from(TEMPLATES))
    body = json.loads(json.dumps(template))
    for _ in range(draw(st.integers(0, 3))):
        place = body
        while isinstance(place, dict) and place and draw(st.booleans()):
            inner = place[draw(st.sampled_from(sorted(place)))]
            if not isinstance(inner, (dict, list)) or not inner:
                break
            place = inner if isinstance(inner, dict) else inner[0]
        if not isinstance(place, dict):
            continue
        key = draw(st.sampled_from(sorted(place) + KEYS))
        if draw(st.booleans()) and key in place:
            del place[key]
        else:
            # A copy: a later step may change inside it, and the sampled value must stay as it was for the next draw.
            place[key] = copy.deepcopy(draw(st.sampled_from(HOSTILE_VALUES) | JSON_VALUES))
    return kind, body


def fill_in(bot: RunningBot, body: Any) -> Any:
    """Fresh response URLs and trigger ids from the Slack fake where the payload has the placeholders."""
    if isinstance(body, dict):
        return {k: fill_in(bot, v) for k, v in body.items()}
    if isinstance(body, list):
        return [fill_in(bot, v) for v in body]
    if body == RESPONSE_URL:
        return bot.slack._issue_response_url(TEAM, CHANNEL, ADMIN)
    if body == TRIGGER:
        return bot.slack._issue_trigger(TEAM, ADMIN)
    return body


def form_fields(body: dict[str, Any]) -> dict[str, str]:
    """What a form can carry of `body`: its values as text, lone surrogates replaced."""
    text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
    return {k: v.encode("utf-8", "replace").decode() for k, v in text.items() if k.encode("utf-8", "replace")}


def encode(kind: str, body: Any) -> tuple[bytes, str]:
    if kind == "events_api":
        return json.dumps(body).encode(), "application/json"
    if kind == "slash_commands" and isinstance(body, dict):
        return urlencode(form_fields(body)).encode(), FORM
    return urlencode({"payload": json.dumps(body)}).encode(), FORM


FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def http_bot(start_bot: Any) -> RunningBot:
    return start_bot("http")


def next_response(bot: RunningBot, after: int) -> dict[str, Any]:
    """The payload of the first post to a response URL after the first `after`."""
    return dict(bot.slack.wait_for(lambda: bot.slack.responses[after:])[0].payload)


# --- What is looked at after each request ---------------------------------------------------------------------------


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at INFO and above, uvicorn's too (it does not propagate to the root logger)."""
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.addHandler(caplog.handler)
    with caplog.at_level(logging.INFO):
        yield caplog
    uvicorn.removeHandler(caplog.handler)


def tracebacks(log: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}\n{r.exc_text or ''}"
        for r in log.records
        if r.exc_info or r.exc_text or "Traceback" in r.getMessage() or r.levelno >= logging.ERROR
    ]


def settle(bot: RunningBot) -> None:
    """Wait until every listener running after its acknowledgement has finished: all the workers of an executor at
    once waiting on one barrier means none is still busy with earlier work. HTTP requests' listeners run on the web
    side's dispatcher, Socket Mode's on Bolt's executor."""
    for executor in (bot.server.web.state.dispatcher.executor, bot.server.app.listener_runner.listener_executor):
        workers = executor._max_workers
        barrier = threading.Barrier(workers + 1)
        for _ in range(workers):
            executor.submit(barrier.wait, 30)
        barrier.wait(30)


def state(bot: RunningBot) -> tuple[int, ...]:
    with bot.db.session() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Workspace, AuditEvent, HandledRequest, Connection, ImportRun, SlackInstallation)
        )


def outbound(bot: RunningBot) -> int:
    return len(bot.slack.calls()) + len(bot.slack.responses)


# --- Any body, signed or not ----------------------------------------------------------------------------------------

RAW = st.one_of(
    st.binary(max_size=400),
    st.builds(lambda kind_body: encode(*kind_body)[0], hostile_payloads()),
    st.builds(lambda v: json.dumps(v).encode(), JSON_VALUES),
    st.builds(lambda v: b"payload=" + json.dumps(v).encode(), JSON_VALUES),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    raw=RAW,
    content_type=st.sampled_from([FORM, "application/json", "text/plain", ""]),
    signed=st.booleans(),
    timestamp=st.sampled_from(["now", "abc", "", "1.7e9", "old"]),
)
def test_any_body_is_answered_2xx_400_401_or_413_and_changes_nothing_unless_valid(
    http_bot: RunningBot, log: pytest.LogCaptureFixture, raw: bytes, content_type: str, signed: bool, timestamp: str
) -> None:
    bot = http_bot
    log.clear()  # one bot and one log for all examples: each example looks at its own records
    now = int(time.time())
    stamp = {"now": str(now), "old": str(now - 400)}.get(timestamp, timestamp)
    signature = sign(raw, secret=bot.slack.signing_secret, timestamp=int(stamp)) if stamp.isdigit() else "v0=00"
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp}
    if signed:
        headers["X-Slack-Signature"] = signature
    before, calls = state(bot), outbound(bot)
    started = time.monotonic()
    answer = bot.slack.post_raw(raw, headers)
    assert time.monotonic() - started < 3
    assert answer.status_code in (200, 400, 401, 413), answer.text
    if not (signed and timestamp == "now"):
        assert answer.status_code == 401
    if answer.status_code != 200:
        assert state(bot) == before and outbound(bot) == calls
    settle(bot)
    assert tracebacks(log) == []


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(request=hostile_payloads())
def test_any_payload_slack_signs_is_acknowledged_in_time_without_a_traceback(
    bot: RunningBot, mode: str, log: pytest.LogCaptureFixture, request: tuple[str, dict[str, Any]]
) -> None:
    """Both transports: a payload of any shape, as Slack delivers it (signed, or over the socket). One bot serves
    all of a run's examples, as hypothesis runs them in one fixture scope."""
    log.clear()
    kind, body = request
    if kind == "slash_commands" and mode == "http":
        body = form_fields(body)  # a form carries text only, and UTF-8 only
    delivery = bot.slack.send_payload(kind, fill_in(bot, body))  # type: ignore[arg-type]
    assert delivery.elapsed < 3
    if mode == "http":
        assert delivery.status in (200, 400, 401), delivery.body
    else:
        assert delivery.acked
    settle(bot)
    assert tracebacks(log) == []


# --- Named cases ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("timestamp", ["abc", "", "1.7e9"])
def test_a_timestamp_that_is_not_a_number_is_401_and_no_response_url_is_called(
    start_bot: Any, log: pytest.LogCaptureFixture, timestamp: str
) -> None:
    """Once, such a request made signature checking raise, and the error handler answered the response_url named
    in the unverified body: anyone could make the bot POST anywhere."""
    bot = start_bot("http")
    body = fill_in(bot, command_payload("status"))
    answer = bot.slack.post_raw(
        urlencode(body).encode(),
        {"Content-Type": FORM, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + "0" * 64},
    )
    assert answer.status_code == 401
    assert bot.slack.responses == [] and bot.slack.calls("chat.postEphemeral") == []
    assert tracebacks(log) == []


def test_a_body_over_a_mebibyte_is_refused_before_it_is_read(start_bot: Any) -> None:
    bot = start_bot("http")
    host, port = urlparse(bot.url).hostname or "", urlparse(bot.url).port or 80

    def ask(head: bytes, chunks: Iterator[bytes]) -> tuple[bytes, int]:
        """Send the head, then chunks until the bot answers; the answer's status line and the bytes sent."""
        sent = 0
        with socket.create_connection((host, port), timeout=5) as connection:
            connection.sendall(head)
            connection.settimeout(0.05)
            for chunk in chunks:
                try:
                    answer = connection.recv(200)
                    if answer:
                        return answer.split(b"\r\n")[0], sent
                except TimeoutError:
                    pass
                try:
                    connection.sendall(chunk)
                except OSError:
                    break
                sent += len(chunk)
            connection.settimeout(5)
            return connection.recv(200).split(b"\r\n")[0], sent

    head = b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    hundred_megabytes = head + b"Content-Length: 100000000\r\n\r\n"
    status, sent = ask(hundred_megabytes, iter([b"{" * 65536] * 1600))
    assert b"413" in status and sent < 10 * 1024 * 1024

    def chunked() -> Iterator[bytes]:
        while True:
            yield b"10000\r\n" + b"x" * 65536 + b"\r\n"

    status, sent = ask(head + b"Transfer-Encoding: chunked\r\n\r\n", chunked())
    assert b"413" in status and sent < 10 * 1024 * 1024


def test_a_replayed_click_does_nothing_the_second_time(start_bot: Any, mode: str) -> None:
    bot = start_bot(mode)
    picked = fill_in(bot, click_payload("notification_channel"))
    picked["actions"][0] |= {"type": "conversations_select", "selected_conversation": CHANNEL}
    picked |= {"container": {"type": "view", "view_id": "V0HOME"}, "view": {"id": "V0HOME", "type": "home"}}
    del picked["channel"], picked["response_url"]
    first = bot.slack.send_payload("interactive", picked)
    assert first.acked
    bot.slack.wait_for(lambda: _audit(bot, "channel.set") == 1)
    for _ in range(2):
        again = bot.slack.send_payload("interactive", picked)
        assert again.acked and (again.status in (None, 200))
    settle(bot)
    assert _audit(bot, "channel.set") == 1


def test_a_replayed_start_import_click_starts_one_import(package_bot: RunningBot, package: Any) -> None:
    """The same signed "Import now" click sent twice, seconds apart: the second is acknowledged and ignored."""
    bot = package_bot
    connected(bot, package)
    click_ = fill_in(bot, click_payload("import_start", "home"))
    click_ |= {"container": {"type": "view", "view_id": "V0HOME"}, "view": {"id": "V0HOME", "type": "home"}}
    del click_["channel"], click_["response_url"]
    timestamp = int(time.time())
    assert bot.slack.send_payload("interactive", click_, timestamp=timestamp).status == 200
    bot.slack.wait_for(lambda: _runs(bot) == 1)
    assert bot.slack.send_payload("interactive", click_, timestamp=timestamp).status == 200
    settle(bot)
    assert _runs(bot) == 1


def test_a_disconnect_button_shown_for_a_replaced_connection_says_so(package_bot: RunningBot, package: Any) -> None:
    bot = package_bot
    connected(bot, package)
    question = command(bot, "/accounts disconnect", "Disconnect Acme Plumbing Ltd")
    # Meanwhile, the admin disconnects and connects again: the old question's button names the old connection.
    click(bot, command(bot, "/accounts disconnect", "Disconnect Acme Plumbing Ltd"), "disconnect_confirm")
    bot.slack.wait_for(lambda: connection_rows(bot)[0].status == "disconnected")
    log_in(bot, login_url(bot, package=package.name))  # the same organisation: its row again, a new connection
    new = bot.slack.wait_for(lambda: [r for r in connection_rows(bot) if r.status == "active"])[0]
    click(bot, question, "disconnect_confirm")
    answer = becomes(bot, question, "That button is for a connection that was replaced")
    assert "/accounts disconnect" in all_text(answer)
    assert [r.status for r in connection_rows(bot) if r.id == new.id] == ["active"]


@pytest.mark.parametrize("value", [None, "²", "99999999999999999999", "0"])
def test_a_disconnect_button_without_a_connection_of_ours_has_expired(
    package_bot: RunningBot, package: Any, value: Any
) -> None:
    bot = package_bot
    connected(bot, package)
    after = len(bot.slack.responses)
    bot.slack.send_payload("interactive", fill_in(bot, click_payload("disconnect_confirm", value)))
    assert next_response(bot, after)["text"] == "That button has expired: run `/accounts disconnect` again."
    assert connection_rows(bot)[0].status == "active"


def test_an_event_retry_is_answered_without_doing_the_work_again(start_bot: Any, mode: str) -> None:
    bot = start_bot(mode)
    bot.slack.send_command("/accounts help", user_id=STAFF, channel_id=CHANNEL)  # the workspace's row
    uninstalled = event_payload({"type": "app_uninstalled"}, event_id="Ev0UNINSTALL")
    assert bot.slack.send_payload("events_api", uninstalled).acked
    bot.slack.wait_for(lambda: _audit(bot, "slack.uninstalled") == 1)
    retry = bot.slack.send_payload("events_api", uninstalled, retry=(1, "http_timeout"))
    assert retry.acked and retry.status in (None, 200)
    settle(bot)
    assert _audit(bot, "slack.uninstalled") == 1


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ("²", "That button has expired: run `/accounts customers` again."),
        ({"page": 1}, "That button has expired: run `/accounts customers` again."),
    ],
)
def test_a_button_value_of_another_shape_gets_a_clear_answer(
    start_bot: Any, log: pytest.LogCaptureFixture, value: Any, answer: str
) -> None:
    bot = start_bot("http")
    delivery = bot.slack.send_payload("interactive", fill_in(bot, click_payload("customers_next", value)))
    assert delivery.status == 200
    assert next_response(bot, 0)["text"] == answer
    settle(bot)
    assert tracebacks(log) == []


def test_a_click_from_app_home_without_a_response_url_is_answered_by_dm(start_bot: Any) -> None:
    bot = start_bot("http")
    no_url = fill_in(bot, click_payload("disconnect_cancel"))
    del no_url["response_url"]
    assert bot.slack.send_payload("interactive", no_url).status == 200
    dm = bot.slack.dm_channel_id(TEAM, ADMIN)
    bot.slack.wait_for(lambda: [m for m in bot.slack.messages(dm) if "Still connected" in m.get("text", "")])


def test_an_expired_trigger_gets_a_clear_answer(package_bot: RunningBot, package: Any) -> None:
    bot = package_bot
    connected(bot, package)
    opening = fill_in(bot, click_payload("open_mapping"))
    opening["trigger_id"] = "12345.67890.not-a-trigger"
    after = len(bot.slack.responses)
    assert bot.slack.send_payload("interactive", opening).status == 200
    assert "run `/accounts map` again" in next_response(bot, after)["text"]


def test_one_workspace_mode_refuses_another_team_and_creates_nothing(start_bot: Any, mode: str) -> None:
    bot = start_bot(mode)
    bot.slack.add_workspace("T0OTHER01", "Other Co", bot_token="xoxb-other-token-1", domain="other")
    bot.slack.add_user("T0OTHER01", "U0OTHER01", "olga", is_admin=True)
    before = state(bot)
    stranger = fill_in(bot, command_payload("import staff on", user_id="U0OTHER01", team_id="T0OTHER01"))
    delivery = bot.slack.send_payload("slash_commands", stranger)
    assert delivery.status in (None, 401)
    event = event_payload({"type": "app_home_opened", "user": "U0OTHER01", "tab": "home"}) | {"team_id": "T0OTHER01"}
    event["authorizations"][0]["team_id"] = "T0OTHER01"
    bot.slack.send_payload("events_api", event)
    settle(bot)
    assert state(bot) == before
    with bot.db.session() as s:
        assert s.scalars(select(Workspace.team_id)).all() in ([], [TEAM])


def test_an_enterprise_grid_uninstall_is_not_lost(start_bot: Any, mode: str) -> None:
    from tests.test_slack_app import install

    bot = start_bot(mode, multi=True)
    install(bot)
    grid = event_payload({"type": "app_uninstalled"}, event_id="Ev0GRID") | {"enterprise_id": "E0GRID01"}
    del grid["team_id"]
    grid["authorizations"] = [{"enterprise_id": "E0GRID01", "team_id": TEAM, "is_enterprise_install": False}]
    assert bot.slack.send_payload("events_api", grid).acked
    bot.slack.wait_for(lambda: state(bot)[-1] == 0)
    with bot.db.session() as s:
        assert s.scalars(select(Workspace)).one().uninstalled_at is not None


def test_a_forged_user_id_is_refused_and_never_shown_as_a_mention(start_bot: Any) -> None:
    bot = start_bot("http")
    forged = fill_in(bot, command_payload("connect", user_id="<!channel>"))
    assert bot.slack.send_payload("slash_commands", forged).status == 400
    command(bot, "/accounts connect xero", "Only", user=STAFF)  # a refusal the audit log shows, by someone real
    answer = bot.slack.send_command("/accounts audit", user_id=ADMIN, channel_id=CHANNEL)
    assert answer.acked
    latest = shown(bot, "Latest changes")
    assert "<!channel>" not in all_text(latest)


def test_bolt_reads_no_settings_from_the_environment(start_bot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """docker-compose sets SLACK_CLIENT_ID and SLACK_CLIENT_SECRET empty: Bolt took that for an OAuth app with a
    file installation store, and answered every command "your installation is no longer available"."""
    for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_SCOPES", "SLACK_INSTALL_PATH"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-ours-0")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "not-ours")
    bot = start_bot("http")
    assert bot.server.app.oauth_flow is None and bot.server.app.installation_store is None
    delivery = bot.slack.send_command("/accounts help", user_id=STAFF, channel_id=CHANNEL)
    assert "/accounts status" in str(delivery.ack)
    assert httpx2.get(f"{bot.url}/slack/install").status_code == 404


def test_a_command_without_a_team_or_user_is_refused_clearly(start_bot: Any, mode: str) -> None:
    bot = start_bot(mode)
    body = fill_in(bot, command_payload("status"))
    del body["team_id"], body["user_id"]
    delivery = bot.slack.send_payload("slash_commands", body)
    if mode == "http":
        assert delivery.status == 400
    else:
        assert delivery.acked and "incomplete" in str(delivery.ack)
    assert state(bot)[0] == 0


def _audit(bot: RunningBot, action: str) -> int:
    with bot.db.session() as s:
        return len(s.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


def _runs(bot: RunningBot) -> int:
    with bot.db.session() as s:
        return len(s.scalars(select(ImportRun)).all())


__all__ = ["seen"]
