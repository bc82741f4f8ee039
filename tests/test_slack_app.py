"""The walking skeleton end to end: the bot against the Slack fake, over HTTP and over Socket Mode."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.models import SlackInstallation, Workspace
from tests.conftest import ADMIN, CHANNEL, STAFF, TEAM, RunningBot
from tests.fakes.blockkit import check_message, check_view


def texts(blocks: list[dict[str, Any]]) -> str:
    out = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            out.append(block["text"].get("text", ""))
        for element in block.get("elements", []):
            if isinstance(element.get("text"), (dict, str)):
                out.append(element["text"]["text"] if isinstance(element["text"], dict) else element["text"])
    return "\n".join(out)


def test_help_is_answered_in_the_acknowledgement(bot: RunningBot) -> None:
    delivery = bot.slack.send_command("/accounts help", user_id=STAFF, channel_id=CHANNEL)
    assert delivery.acked and not delivery.problems
    assert delivery.ack["response_type"] == "ephemeral"
    body = texts(delivery.ack["blocks"])
    for command in ("/accounts connect xero", "/accounts map", "/accounts import", "/accounts status"):
        assert command in body
    assert "quickbooks" in body and "QuickBooks" in body  # every package in the registry is offered
    assert check_message(delivery.ack["blocks"]) == []


def test_an_empty_command_means_help(bot: RunningBot) -> None:
    delivery = bot.slack.send_command("/accounts", user_id=STAFF, channel_id=CHANNEL)
    assert "/accounts status" in texts(delivery.ack["blocks"])


def test_status_answers_in_its_acknowledgement_over_http_and_through_the_response_url_in_socket_mode(
    bot: RunningBot,
) -> None:
    delivery = bot.slack.send_command("/accounts status", user_id=STAFF, channel_id=CHANNEL)
    assert delivery.acked
    if bot.settings.socket_mode:
        assert not delivery.ack  # an empty acknowledgement: the answer follows
        answer = bot.slack.wait_for(lambda: bot.slack.responses)[0].payload
    else:
        answer = delivery.ack
        assert bot.slack.responses == []  # nothing more to send: Slack had the answer with the acknowledgement
    assert answer["response_type"] == "ephemeral"
    assert "No accounting package is connected yet" in texts(answer["blocks"])
    with bot.db.session() as s:
        assert s.scalars(select(Workspace.team_id)).all() == [TEAM]


def test_unknown_subcommand_gets_a_helpful_answer(bot: RunningBot) -> None:
    delivery = bot.slack.send_command("/accounts frobnicate <!channel>", user_id=STAFF, channel_id=CHANNEL)
    body = texts(delivery.ack["blocks"])
    assert "I don't know `frobnicate &lt;!channel&gt;`" in body
    assert "<!channel>" not in body
    assert "/accounts help" in str(delivery.ack)


def test_import_before_connecting_says_what_to_do(bot: RunningBot) -> None:
    bot.slack.send_command("/accounts import", user_id=ADMIN, channel_id=CHANNEL)
    answer = bot.slack.wait_for(
        lambda: [m for m in bot.slack.ephemerals(CHANNEL, ADMIN) if "Nothing is connected yet" in m.get("text", "")]
    )
    assert "/accounts connect" in answer[-1]["text"]


def test_app_home_is_published_when_opened(bot: RunningBot) -> None:
    bot.slack.send_event({"type": "app_home_opened", "user": STAFF, "channel": "D0HOME", "tab": "home"}, team_id=TEAM)
    view = bot.slack.wait_for(lambda: bot.slack.home_view(STAFF))
    assert view["type"] == "home"
    assert "No accounting package is connected yet" in texts(view["blocks"])
    assert check_view(view) == []


def test_messages_tab_opening_does_not_publish_home(bot: RunningBot) -> None:
    bot.slack.send_event(
        {"type": "app_home_opened", "user": STAFF, "channel": "D0HOME", "tab": "messages"}, team_id=TEAM
    )
    bot.slack.send_command("/accounts help", user_id=STAFF, channel_id=CHANNEL)  # something the bot surely handles
    assert bot.slack.home_view(STAFF) is None


# --- Requests that are not from Slack -------------------------------------------------------------------------


def _state(bot: RunningBot) -> tuple[int, int]:
    with bot.db.session() as s:
        from storage.models import AuditEvent

        return len(s.scalars(select(Workspace)).all()), len(s.scalars(select(AuditEvent)).all())


def test_a_forged_signature_is_refused_and_changes_nothing(start_bot: Any) -> None:
    bot = start_bot("http")
    before = _state(bot)
    delivery = bot.slack.send_command("/accounts status", user_id=STAFF, channel_id=CHANNEL, secret="not-the-secret")
    assert delivery.status == 401
    assert _state(bot) == before
    assert bot.slack.responses == [] and bot.slack.calls("chat.postEphemeral") == []


def test_an_old_timestamp_is_refused(start_bot: Any) -> None:
    import time

    bot = start_bot("http")
    delivery = bot.slack.send_command(
        "/accounts status", user_id=STAFF, channel_id=CHANNEL, timestamp=int(time.time()) - 6 * 60
    )
    assert delivery.status == 401
    assert bot.slack.responses == []


def test_a_request_without_signature_headers_is_refused(start_bot: Any) -> None:
    import httpx2

    bot = start_bot("http")
    answer = httpx2.post(f"{bot.url}/slack/events", data={"command": "/accounts", "text": "status"})
    assert answer.status_code == 401


def test_health_check(start_bot: Any) -> None:
    import httpx2

    bot = start_bot("http")
    assert httpx2.get(f"{bot.url}/healthz").json() == {"ok": True, "mode": "http"}


# --- Multi-workspace install and uninstall --------------------------------------------------------------------


def install(bot: RunningBot, team_id: str = TEAM, user_id: str = ADMIN) -> Any:
    """A browser's trip: our install page, Slack's authorize page (approved by `user_id`), our redirect URI.

    Bolt's state cookie is `Secure`; a browser sends it to http://localhost, httpx does not, so it is carried here.
    """
    import re

    import httpx2

    bot.slack.set_installer(team_id, user_id)
    with httpx2.Client(timeout=10) as browser:
        page = browser.get(f"{bot.url}/slack/install")
        assert page.status_code == 200
        cookie = page.headers["set-cookie"].split(";")[0]
        link = re.search(r'href="([^"]+/oauth/v2/authorize[^"]+)"', page.text)
        assert link, page.text
        slack_answer = browser.get(link.group(1).replace("&amp;", "&"))
        assert slack_answer.status_code == 302
        return browser.get(slack_answer.headers["location"], headers={"cookie": cookie})


def test_a_workspace_installs_through_slack_oauth(start_bot: Any) -> None:
    bot = start_bot("http", multi=True)
    landing = install(bot)
    assert landing.status_code == 200
    assert "accounts-bot is installed" in landing.text
    assert bot.slack.calls("oauth.v2.access")[-1].ok
    with bot.db.session() as s:
        row = s.scalars(select(SlackInstallation)).one()
        assert row.team_id == TEAM and row.installer_user_id == ADMIN
        token = bot.db.box.decrypt(row.bot_token_enc or "")
        assert token.startswith("xoxb-") and token not in (row.bot_token_enc or "")
    # The stored token now authorises requests from that workspace.
    delivery = bot.slack.send_command("/accounts help", user_id=STAFF, channel_id=CHANNEL)
    assert "/accounts status" in texts(delivery.ack["blocks"])


def test_the_install_state_works_once(start_bot: Any) -> None:
    import httpx2

    bot = start_bot("http", multi=True)
    landing = install(bot)
    replay = httpx2.get(str(landing.url), headers={"cookie": landing.request.headers["cookie"]})
    assert replay.status_code == 401
    assert "expired or was already used" in replay.text
    assert "accounts-bot is installed" not in replay.text


def test_bot_token_is_not_stored_in_plain_text(start_bot: Any, database_url: str) -> None:
    bot = start_bot("http", multi=True)
    install(bot)
    token = bot.slack.calls("oauth.v2.access")[-1].response["access_token"]
    with bot.db.engine.connect() as connection:
        from sqlalchemy import text

        dump = " ".join(
            str(row)
            for table in ("slack_installations", "workspaces", "audit_events", "oauth_states")
            for row in connection.execute(text(f"SELECT * FROM {table}"))
        )
    assert token not in dump
    if database_url.startswith("sqlite:///"):
        from pathlib import Path

        path = Path(database_url.removeprefix("sqlite:///"))
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                assert token.encode() not in file.read_bytes()


def test_uninstall_deletes_the_workspace_tokens(start_bot: Any, mode: str) -> None:
    bot = start_bot(mode, multi=True)
    install(bot)
    bot.slack.send_event({"type": "app_uninstalled"}, team_id=TEAM)
    bot.slack.wait_for(lambda: _installation_count(bot) == 0)
    with bot.db.session() as s:
        workspace = s.scalars(select(Workspace)).one()
        assert workspace.uninstalled_at is not None


def test_tokens_revoked_for_the_bot_deletes_them(start_bot: Any) -> None:
    bot = start_bot("http", multi=True)
    install(bot)
    bot.slack.send_event({"type": "tokens_revoked", "tokens": {"oauth": [ADMIN]}}, team_id=TEAM)
    bot.slack.send_command("/accounts help", user_id=STAFF, channel_id=CHANNEL)
    assert _installation_count(bot) == 1  # only a user token was revoked: the install still works
    bot.slack.send_event({"type": "tokens_revoked", "tokens": {"bot": ["U0BOT"]}}, team_id=TEAM)
    bot.slack.wait_for(lambda: _installation_count(bot) == 0)


def _installation_count(bot: RunningBot) -> int:
    with bot.db.session() as s:
        return len(s.scalars(select(SlackInstallation)).all())
