"""The Slack fake's control API (`/fake/...`) and `python -m tests.fakes.slack.say`, over real HTTP, against a small
Bolt app connected in Socket Mode and over HTTP; and the stand-alone fake with `--request-url`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette import SlackRequestHandler
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import Mount, ServerThread, free_port
from tests.fakes.slack import DEMO_BOT_TOKEN, SlackFake, say
from tests.fakes.slack.render import block_lines, mrkdwn, view_text

SECRET = "control-signing-secret"
BOT = "xoxb-T0ACME-control"
APP = "xapp-1-T0ACME-control"
ROOT = Path(__file__).resolve().parents[1]
QUIET = 0.5  # seconds without a Web API call after which the bot is taken to be done


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
def fake(slack_server: tuple[Mount, str]) -> Iterator[SlackFake]:
    """Acme: Ada (admin) and Mia; the bot is in #accounts, not in #general."""
    mount, url = slack_server
    fake = SlackFake(signing_secret=SECRET, url=url)
    mount.app = fake.asgi_app
    fake.add_workspace("T0ACME", "Acme", BOT, APP)
    fake.add_user("T0ACME", "U0ADA", "ada", is_admin=True)
    fake.add_user("T0ACME", "U0MIA", "mia")
    fake.add_channel("T0ACME", "C0GENERAL", "general", bot_member=False)
    fake.add_channel("T0ACME", "C0ACCOUNTS", "accounts")
    yield fake
    fake.close_sockets()


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(action_id: str, label: str) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": label}}


MAPPING_MODAL = {
    "type": "modal",
    "callback_id": "mapping",
    "title": {"type": "plain_text", "text": "Map accounts"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "sales",
            "label": {"type": "plain_text", "text": "Sales account"},
            "element": {"type": "plain_text_input", "action_id": "sales_code"},
        }
    ],
}


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


CUSTOMERS = ["Alpine Builders", "Alpine Café", "Kauri Plumbing"]
# A modal as the mapping one is: a dropdown grouped by account type (options by id), and a typeahead.
ACCOUNTS_MODAL = {
    "type": "modal",
    "callback_id": "accounts",
    "title": {"type": "plain_text", "text": "Choose accounts"},
    "submit": {"type": "plain_text", "text": "Save"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "notify_on_close": True,
    "blocks": [
        {
            "type": "input",
            "block_id": "category_sales",
            "label": {"type": "plain_text", "text": "Sales"},
            "element": {
                "type": "static_select",
                "action_id": "account_sales",
                "placeholder": {"type": "plain_text", "text": "Choose an account"},
                "option_groups": [
                    {
                        "label": {"type": "plain_text", "text": "Revenue"},
                        "options": [option("200 – Sales", "id-200"), option("260 – Other Revenue", "id-260")],
                    },
                    {
                        "label": {"type": "plain_text", "text": "Sales"},
                        "options": [option("205 – Online Sales", "id-205")],
                    },
                ],
            },
        },
        {
            "type": "input",
            "block_id": "customer",
            "label": {"type": "plain_text", "text": "Customer"},
            "element": {"type": "external_select", "action_id": "customer_pick", "min_query_length": 2},
        },
    ],
}


def build_bolt(api_url: str, *, token: str = BOT, secret: str = SECRET) -> App:
    """`/accounts help` answers in its ack, `status` through the response URL, `announce` in the channel,
    `map` opens a modal; the `more` button replaces its message; App Home is published when opened."""
    app = App(client=WebClient(token=token, base_url=api_url), signing_secret=secret)

    @app.command("/accounts")
    def accounts(ack: Any, body: dict[str, Any], respond: Any, client: WebClient) -> None:
        words = body["text"]
        if words == "help":
            ack(
                text="Commands",
                blocks=[section("*Commands*: help, status"), {"type": "actions", "elements": [button("more", "More")]}],
            )
        elif words == "status":
            ack()
            respond(text="All good", blocks=[section(":large_green_circle: All good")])
        elif words == "announce":
            ack()
            client.chat_postMessage(channel=body["channel_id"], text="Hello, <!channel>")
        elif words == "map":
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=MAPPING_MODAL)
        elif words == "accounts":
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=ACCOUNTS_MODAL)
        elif words == "thread":
            ack()
            parent = client.chat_postMessage(channel=body["channel_id"], text="Import started")
            client.chat_postMessage(channel=body["channel_id"], thread_ts=parent["ts"], text="Import finished: 3 new")
        elif words == "picker":
            ack()
            client.chat_postEphemeral(
                channel=body["channel_id"],
                user=body["user_id"],
                text="Which organisation?",
                blocks=[section("Pick one")],
            )
        elif words == "export":
            ack()
            dm = client.conversations_open(users=body["user_id"])["channel"]["id"]
            client.files_upload_v2(channel=dm, filename="customers.csv", content="name\nAlpine Café\n")

    @app.action("more")
    def more(ack: Any, respond: Any) -> None:
        ack()
        respond(text="Here is more", replace_original=True)

    @app.view("mapping")
    def mapped(ack: Any, view: dict[str, Any], client: WebClient) -> None:
        code = view["state"]["values"]["sales"]["sales_code"]["value"]
        if not code.isdigit():
            ack(response_action="errors", errors={"sales": "An account code is digits"})
            return
        ack()
        client.chat_postMessage(channel="C0ACCOUNTS", text=f"Sales now maps to {code}")

    @app.options("customer_pick")
    def customers(ack: Any, payload: dict[str, Any]) -> None:
        typed = payload["value"].casefold()
        ack(options=[option(name, f"c-{n}") for n, name in enumerate(CUSTOMERS) if typed in name.casefold()])

    @app.view("accounts")
    def accounts_saved(ack: Any, view: dict[str, Any], client: WebClient) -> None:
        values = view["state"]["values"]
        sales = values["category_sales"]["account_sales"]["selected_option"]
        customer = values["customer"]["customer_pick"]["selected_option"]
        if customer["value"] == "c-2":
            ack(response_action="errors", errors={"customer": "Kauri Plumbing is archived"})
            return
        ack()
        client.chat_postMessage(channel="C0ACCOUNTS", text=f"Sales {sales['value']}, customer {customer['value']}")

    @app.view_closed("accounts")
    def accounts_closed(ack: Any, client: WebClient) -> None:
        ack()
        client.chat_postMessage(channel="C0ACCOUNTS", text="Nothing saved")

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [section("Welcome home")]})

    return app


def serve_over_http(app: App, mount: Mount) -> None:
    handler = SlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    mount.app = Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


@pytest.fixture(params=["socket", "http"])
def bolt(request: pytest.FixtureRequest, fake: SlackFake) -> Iterator[str]:
    """The Bolt app, reached over Socket Mode or signed HTTP; the value is the transport."""
    app = build_bolt(fake.api_url)
    if request.param == "http":
        mount, url = request.getfixturevalue("bot_server")
        serve_over_http(app, mount)
        fake.request_url = f"{url}/slack/events"
        yield "http"
        return
    socket = SocketModeHandler(app, APP)
    socket.connect()
    fake.wait_for_socket()
    try:
        yield "socket"
    finally:
        # Close from Slack's side first: slack_sdk's own close waits out its 3-second receive timeout.
        socket.client.auto_reconnect_enabled = False
        fake.close_sockets()
        socket.client.close()


def post(fake: SlackFake, path: str, body: Any, status: int = 200) -> dict[str, Any]:
    content = body if isinstance(body, bytes) else json.dumps(body | {"quiet": QUIET}).encode()
    answer = httpx2.post(f"{fake.url}{path}", content=content, headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == status, answer.text
    result: dict[str, Any] = answer.json()
    return result


def get(fake: SlackFake, path: str, **params: str) -> dict[str, Any]:
    answer = httpx2.get(f"{fake.url}{path}", params=params)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


# Commands


def test_a_command_answers_with_the_ack_and_what_the_bot_posted(fake: SlackFake, bolt: str) -> None:
    answer = post(fake, "/fake/command", {"text": "/accounts status", "user_id": "U0ADA", "channel_id": "C0ACCOUNTS"})
    assert answer["ok"] and answer["acked"] and answer["transport"] == bolt
    assert (answer["user_id"], answer["channel_id"], answer["ack"], answer["problems"]) == (
        "U0ADA",
        "C0ACCOUNTS",
        None,
        [],
    )
    [reply] = answer["posted"]
    assert reply["method"] == "response_url" and reply["ok"] and reply["text"] == "All good"
    assert fake.ephemerals("C0ACCOUNTS", "U0ADA")[-1]["text"] == "All good"


def test_an_answer_in_the_ack_is_returned_and_shown_to_the_person(fake: SlackFake, bolt: str) -> None:
    answer = post(fake, "/fake/command", {"text": "/accounts help"})
    assert answer["ack"]["text"] == "Commands" and answer["posted"] == []
    [shown] = get(fake, "/fake/ephemerals", user="ada")["ephemerals"]
    assert shown["text"] == "Commands" and shown["channel"] == "C0ACCOUNTS"


@pytest.mark.parametrize("bolt", ["socket"], indirect=True)
def test_the_person_and_channel_default_and_may_be_named(fake: SlackFake, bolt: str) -> None:
    default = post(fake, "/fake/command", {"text": "/accounts announce"})
    # The person who installs the app (the first one added), in the first channel the bot is in with them.
    assert (default["user_id"], default["channel_id"]) == ("U0ADA", "C0ACCOUNTS")
    [posted] = default["posted"]
    assert (posted["method"], posted["channel"], posted["text"]) == (
        "chat.postMessage",
        "C0ACCOUNTS",
        "Hello, <!channel>",
    )
    assert posted["ts"] == fake.messages("C0ACCOUNTS")[0]["ts"]

    named = post(fake, "/fake/command", {"text": "/accounts announce", "user_id": "@mia", "channel_id": "#accounts"})
    assert (named["user_id"], named["channel_id"]) == ("U0MIA", "C0ACCOUNTS")
    assert [m["text"] for m in get(fake, "/fake/messages", channel="accounts")["messages"]] == ["Hello, <!channel>"] * 2

    in_dm = post(fake, "/fake/command", {"text": "/accounts announce", "channel_id": "ada"})
    assert in_dm["channel_id"] == fake.dm_channel_id("T0ACME", "U0ADA")
    assert get(fake, "/fake/messages", channel="U0ADA")["messages"][0]["text"] == "Hello, <!channel>"


# Actions, modals, events


def test_an_action_uses_the_newest_message_showing_the_element(fake: SlackFake, bolt: str) -> None:
    post(fake, "/fake/command", {"text": "/accounts help"})
    [shown] = fake.ephemerals(user_id="U0ADA")
    answer = post(fake, "/fake/action", {"action_id": "more"})
    assert answer["acked"] and (answer["channel_id"], answer["message_ts"]) == ("C0ACCOUNTS", shown["ts"])
    [replaced] = answer["posted"]
    assert replaced["method"] == "response_url" and replaced["replace_original"] is True
    assert [e["text"] for e in get(fake, "/fake/ephemerals", user="U0ADA")["ephemerals"]] == ["Here is more"]


def test_a_modal_is_opened_refused_then_submitted(fake: SlackFake, bolt: str) -> None:
    opened = post(fake, "/fake/command", {"text": "/accounts map"})
    [views_open] = opened["posted"]
    assert views_open["method"] == "views.open" and views_open["view"]["title"]["text"] == "Map accounts"
    [modal] = get(fake, "/fake/modals", user="ada")["views"]
    assert modal["id"] == views_open["view"]["id"]

    refused = post(fake, "/fake/submit", {"fields": {"sales_code": "sales"}})
    assert refused["ack"] == {"response_action": "errors", "errors": {"sales": "An account code is digits"}}
    assert refused["view_id"] == modal["id"] and get(fake, "/fake/modals")["views"]

    saved = post(fake, "/fake/submit", {"values": {"sales": {"sales_code": "200"}}})
    assert saved["acked"] and saved["ack"] is None
    assert [(p["method"], p["text"]) for p in saved["posted"]] == [("chat.postMessage", "Sales now maps to 200")]
    assert get(fake, "/fake/modals")["views"] == []


def test_an_event_reaches_the_bot_and_app_home_can_be_read(fake: SlackFake, bolt: str) -> None:
    answer = post(fake, "/fake/event", {"type": "app_home_opened", "user": "mia"})
    assert answer["acked"] and answer["event"] == {"type": "app_home_opened", "user": "U0MIA", "tab": "home"}
    [published] = answer["posted"]
    assert published["method"] == "views.publish" and published["user_id"] == "U0MIA"
    home = get(fake, "/fake/home", user="mia")
    assert home["view"]["blocks"][0]["text"]["text"] == "Welcome home"
    assert get(fake, "/fake/home")["view"] is None  # Ada never opened it


def test_a_thread_is_read_under_its_parent(fake: SlackFake, bolt: str) -> None:
    post(fake, "/fake/command", {"text": "/accounts thread"})
    [parent] = get(fake, "/fake/messages", channel="accounts")["messages"]
    assert parent["reply_count"] == 1
    thread = get(fake, "/fake/thread", channel="accounts", ts=parent["ts"])
    assert (thread["channel"], thread["ts"]) == ("C0ACCOUNTS", parent["ts"])
    assert [m["text"] for m in thread["replies"]] == ["Import finished: 3 new"]


def test_a_typeahead_asks_the_bot_and_its_option_is_submitted(fake: SlackFake, bolt: str) -> None:
    post(fake, "/fake/command", {"text": "/accounts accounts"})
    offered = post(fake, "/fake/options", {"action_id": "customer_pick", "value": "alp"})
    assert offered["acked"] and offered["problems"] == []
    assert [(o["text"]["text"], o["value"]) for o in offered["options"]] == [
        ("Alpine Builders", "c-0"),
        ("Alpine Café", "c-1"),
    ]
    too_short = post(fake, "/fake/options", {"action_id": "customer_pick", "value": "a"}, status=400)
    assert "from 2 characters" in too_short["error"]

    chosen = offered["options"][1]
    saved = post(fake, "/fake/submit", {"fields": {"account_sales": "id-205", "customer_pick": chosen}})
    assert [p["text"] for p in saved["posted"]] == ["Sales id-205, customer c-1"]


@pytest.mark.parametrize("typed", ["260 – Other Revenue", "260 - other revenue", "  260 -  Other   Revenue "])
def test_an_option_is_named_by_its_text_as_well_as_its_value(fake: SlackFake, bolt: str, typed: str) -> None:
    post(fake, "/fake/command", {"text": "/accounts accounts"})
    saved = post(fake, "/fake/submit", {"fields": {"account_sales": typed, "customer_pick": "c-0"}})
    assert [p["text"] for p in saved["posted"]] == ["Sales id-260, customer c-0"]


@pytest.mark.parametrize("bolt", ["socket"], indirect=True)
def test_an_option_nobody_offered_is_refused_with_what_is_offered(fake: SlackFake, bolt: str) -> None:
    post(fake, "/fake/command", {"text": "/accounts accounts"})
    refused = post(fake, "/fake/submit", {"fields": {"account_sales": "999 – Nothing"}}, status=404)
    assert "offers no option '999 – Nothing'" in refused["error"] and "200 – Sales" in refused["error"]


def test_a_modal_is_closed_and_the_bot_told_when_it_asked(fake: SlackFake, bolt: str) -> None:
    post(fake, "/fake/command", {"text": "/accounts accounts"})
    [modal] = get(fake, "/fake/modals", user="ada")["views"]
    closed = post(fake, "/fake/close", {})
    assert closed == {"ok": True, "view_id": modal["id"], "notified": True}
    assert get(fake, "/fake/modals", user="ada")["views"] == []
    fake.wait_for(lambda: fake.messages("C0ACCOUNTS"))
    assert [m["text"] for m in fake.messages("C0ACCOUNTS")] == ["Nothing saved"]
    assert "has no modal open" in post(fake, "/fake/close", {}, status=404)["error"]


@pytest.mark.parametrize("bolt", ["socket"], indirect=True)
def test_a_shared_file_downloads_for_the_people_it_was_shared_with(fake: SlackFake, bolt: str) -> None:
    post(fake, "/fake/command", {"text": "/accounts export"})
    [shared] = [m for m in get(fake, "/fake/messages", channel="ada")["messages"] if m.get("files")]
    [file] = shared["files"]
    download = httpx2.get(f"{fake.url}/fake/file", params={"id": file["id"], "user": "ada"})
    assert download.status_code == 200 and download.content == "name\nAlpine Café\n".encode()
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''customers.csv"
    for user, file_id in (("mia", file["id"]), ("ada", "F0NOTHING"), ("nobody", file["id"])):
        refused = httpx2.get(f"{fake.url}/fake/file", params={"id": file_id, "user": user})
        assert refused.status_code == 404 and refused.json()["ok"] is False


# Refusals


@pytest.mark.parametrize("bolt", ["http"], indirect=True)
@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/fake/command", {"text": "/accounts help", "user_id": "nobody"}, 404, "no person 'nobody'"),
        ("/fake/command", {"text": "/accounts help", "channel_id": "C0NOWHERE"}, 404, "no channel C0NOWHERE"),
        ("/fake/command", {"text": "accounts help"}, 400, "a slash command starts with /"),
        ("/fake/action", {"action_id": "more"}, 404, "sees no element 'more'"),
        ("/fake/action", {}, 400, "action_id"),
        ("/fake/submit", {"fields": {"sales_code": "1"}}, 404, "has no modal open"),
        ("/fake/event", {"user": "U0ADA"}, 400, "an event has a type"),
        ("/fake/command", b"{not json", 400, "not JSON"),
        ("/fake/command", b"[1]", 400, "not a JSON object"),
    ],
)
def test_what_cannot_be_done_is_refused_with_a_reason(
    fake: SlackFake, bolt: str, path: str, body: Any, status: int, words: str
) -> None:
    answer = post(fake, path, body, status=status)
    assert answer["ok"] is False and words in answer["error"]


def test_without_a_bot_the_fake_says_how_to_connect_one(fake: SlackFake) -> None:
    answer = post(fake, "/fake/command", {"text": "/accounts help"}, status=409)
    assert "SLACK_APP_TOKEN" in answer["error"] and "--request-url" in answer["error"]


def test_an_unreachable_request_url_is_reported(fake: SlackFake) -> None:
    fake.request_url = f"http://127.0.0.1:{free_port()}/slack/events"
    answer = post(fake, "/fake/command", {"text": "/accounts help"}, status=502)
    assert answer["error"].startswith(f"could not reach the bot at {fake.request_url}")


@pytest.mark.parametrize("bolt", ["socket"], indirect=True)
def test_the_overview_shows_people_channels_the_bot_and_the_endpoints(fake: SlackFake, bolt: str) -> None:
    overview = get(fake, "/fake")
    [acme] = overview["workspaces"]
    assert [u["name"] for u in acme["users"]] == ["ada", "mia"]
    assert [(c["name"], c["bot_member"]) for c in acme["channels"]] == [("general", False), ("accounts", True)]
    assert overview["bot"] == {"socket_mode": True, "request_url": None}
    assert overview["default"] == {"user_id": "U0ADA", "channel_id": "C0ACCOUNTS"}
    assert overview["endpoints"]["POST /fake/command"].startswith("Type a slash command")
    assert len(overview["endpoints"]) == 13
    assert overview["endpoints"]["GET /fake/file"].startswith("A file the bot shared, as a download")


# python -m tests.fakes.slack.say


@pytest.mark.parametrize("bolt", ["socket"], indirect=True)
def test_say_prints_what_the_bot_answered(fake: SlackFake, bolt: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = ["--url", str(fake.url), "--quiet", str(QUIET)]
    assert say.main([*url, "/accounts help"]) == 0
    shown = capsys.readouterr().out
    assert shown.splitlines()[0] == "/accounts help  (U0ADA in C0ACCOUNTS)"
    assert "Replied in its acknowledgement (only you see it):" in shown
    assert "*Commands*: help, status" in shown and "[More]  --click more" in shown

    assert say.main([*url, "--click", "more"]) == 0
    assert "Replaced the message it answered with:\n    Here is more" in capsys.readouterr().out

    assert say.main([*url, "--user", "mia", "/accounts map"]) == 0
    shown = capsys.readouterr().out
    assert "Opened:\n    [ Modal: Map accounts ]" in shown and "--field sales_code=..." in shown
    assert say.main([*url, "--user", "mia", "--submit", "--field", "sales_code=x"]) == 0
    # The error is shown next to the field, named by its label.
    assert "The modal stays open, showing:\n  Sales account: An account code is digits" in capsys.readouterr().out
    assert say.main([*url, "--user", "mia", "--submit", "--field", "sales_code=200"]) == 0
    assert "Posted in C0ACCOUNTS:\n    Sales now maps to 200" in capsys.readouterr().out

    assert say.main([*url, "--home"]) == 0
    assert "Published:\n    [ App Home ]\n    Welcome home" in capsys.readouterr().out

    assert say.main([*url, "--json", "/accounts status"]) == 0
    assert json.loads(capsys.readouterr().out)["posted"][0]["text"] == "All good"


@pytest.mark.parametrize("bolt", ["socket"], indirect=True)
def test_say_shows_modal_fields_by_label_and_group_and_takes_an_option_by_its_text(
    fake: SlackFake, bolt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--url", str(fake.url), "--quiet", str(QUIET)]
    assert say.main([*url, "/accounts accounts"]) == 0
    shown = capsys.readouterr().out
    assert (
        "Sales: [Choose an account v] options: Revenue: 200 – Sales, 260 – Other Revenue | Sales: 205 – Online Sales"
        "  --field account_sales=..."
    ) in shown
    assert "Customer: [external_select v] (type to search)  --field customer_pick=..." in shown
    fields = ["--field", "account_sales=200 - Sales", "--field", "customer_pick=c-2"]
    assert say.main([*url, "--submit", *fields]) == 0
    assert "The modal stays open, showing:\n  Customer: Kauri Plumbing is archived" in capsys.readouterr().out
    assert say.main([*url, "--submit", "--field", "account_sales=200 – Sales", "--field", "customer_pick=c-1"]) == 0
    assert "Posted in C0ACCOUNTS:\n    Sales id-200, customer c-1" in capsys.readouterr().out


@pytest.mark.parametrize("bolt", ["socket"], indirect=True)
def test_say_shows_the_messages_only_that_person_sees(
    fake: SlackFake, bolt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--url", str(fake.url)]
    assert say.main([*url, "--ephemeral"]) == 0
    assert capsys.readouterr().out == "Only U0ADA sees:\nNothing.\n"
    post(fake, "/fake/command", {"text": "/accounts picker", "user_id": "ada"})
    assert say.main([*url, "--ephemeral", "--channel", "accounts"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("Only U0ADA sees (in accounts):\n\nIn C0ACCOUNTS, ") and shown.endswith("\n    Pick one\n")
    assert say.main([*url, "--ephemeral", "--user", "mia"]) == 0
    assert capsys.readouterr().out == "Only U0MIA sees:\nNothing.\n"


def test_say_explains_what_went_wrong(fake: SlackFake, capsys: pytest.CaptureFixture[str]) -> None:
    assert say.main(["--url", str(fake.url), "/accounts help"]) == 1
    assert "The fake refused: no bot to deliver to" in capsys.readouterr().err
    assert say.main(["--url", f"http://127.0.0.1:{free_port()}", "/accounts help"]) == 2
    assert "Cannot reach the Slack fake" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        say.main(["--url", str(fake.url), "--home", "/accounts help"])
    assert "give one of" in capsys.readouterr().err


# The plain-text rendering


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Hi <@U0ADA>, see <#C0ACCOUNTS|accounts>", "Hi @U0ADA, see #accounts"),
        ("<@U0ADA|ada> and <!here> and <!subteam^S1|@team>", "@ada and @here and @@team"),
        ("<https://example.com|Example> <https://example.com>", "Example (https://example.com) https://example.com"),
        ("<!date^1700000000^{date}|14 Nov 2023>", "14 Nov 2023"),
        ("Tom &amp; Jerry &lt;Cheese&gt;", "Tom & Jerry <Cheese>"),
    ],
)
def test_mrkdwn_reads_as_a_person_sees_it(text: str, shown: str) -> None:
    assert mrkdwn(text) == shown


def test_blocks_read_top_to_bottom_with_how_to_use_each_control() -> None:
    select = {
        "type": "static_select",
        "action_id": "pick",
        "placeholder": {"type": "plain_text", "text": "Choose"},
        "options": [{"text": {"type": "plain_text", "text": f"Option {n}"}, "value": str(n)} for n in range(12)],
    }
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Status"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Connected to *Xero*"}, "accessory": button("go", "Go")},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "by <@U0ADA>"}]},
        {"type": "actions", "elements": [select]},
        {"type": "video"},
    ]
    assert block_lines(blocks) == [
        "Status",
        "======",
        "Connected to *Xero*",
        "  [Go]  --click go",
        "-" * 40,
        "by @U0ADA",
        "  [Choose v] options: "
        + ", ".join(f"Option {n}" for n in range(10))
        + ", ... 2 more  --click pick --value ...",
        "[video block]",
    ]
    assert view_text(MAPPING_MODAL).splitlines() == [
        "[ Modal: Map accounts ]",
        "Sales account: [plain_text_input]  --field sales_code=...",
        "[Save]  --submit",
    ]


# The stand-alone fake


def test_the_standalone_fake_delivers_over_http_to_its_request_url(bot_server: tuple[Mount, str]) -> None:
    """What the README shows a newcomer: start the fake, point a bot at it, type with `say`."""
    port = free_port()
    mount, bot_url = bot_server
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "tests.fakes.slack",
        "--port",
        str(port),
        "--request-url",
        f"{bot_url}/slack/events",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        output = ""
        for line in iter(process.stdout.readline, ""):
            output += line
            if "control API" in line:
                break
        assert f"else to {bot_url}/slack/events" in output
        assert f'python -m tests.fakes.slack.say --url http://127.0.0.1:{port} "/accounts help"' in output
        # The server starts after it prints; the transport retries the connection until it listens.
        with httpx2.Client(transport=httpx2.HTTPTransport(retries=8)) as http:
            assert http.get(f"http://127.0.0.1:{port}/fake").json()["bot"]["request_url"] == f"{bot_url}/slack/events"
        # Bolt checks its token with auth.test as it starts, so the bot starts once the fake listens.
        bolt = build_bolt(f"http://127.0.0.1:{port}/api/", token=DEMO_BOT_TOKEN, secret="demo-signing-secret")
        serve_over_http(bolt, mount)
        said = subprocess.run(
            [sys.executable, "-m", "tests.fakes.slack.say", "--url", f"http://127.0.0.1:{port}", "/accounts status"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert said.returncode == 0, said.stderr
        assert said.stdout.splitlines()[:3] == [
            "/accounts status  (U0DEMOOWNER in C0DEMOGENRL)",
            "",
            "Replied (only you see it):",
        ]
        assert ":large_green_circle: All good" in said.stdout
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def test_the_app_redirect_opens_the_channel_in_the_page_at_the_root(fake: SlackFake) -> None:
    """ "Back to Slack" after a log-in: Slack's app redirect, here the demo's playground on that channel."""
    back = httpx2.get(f"{fake.url}/app_redirect", params={"team": "T0ACME", "channel": "C0ACCOUNTS"})
    assert (back.status_code, back.headers["location"]) == (302, "/?channel=C0ACCOUNTS")
    elsewhere = httpx2.get(f"{fake.url}/app_redirect", params={"team": "T0OTHER", "channel": "C0ACCOUNTS"})
    assert (elsewhere.status_code, elsewhere.headers["location"]) == (302, "/")
