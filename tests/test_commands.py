"""Each command does what `/accounts help` says: people and channels named as Slack links them (the command
escapes them) or as typed, the settings shown when asked without a choice, and help listing every command."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk import WebClient
from sqlalchemy import select

from bot.redact import configure_logging
from bot.slack.mentions import channel_link, user_link
from bot.status import ConnectionReport, StatusReport
from bot.views import connect as connect_views
from bot.views.status import status_blocks
from storage.models import Workspace, WorkspaceAdmin
from tests.conftest import ADMIN, BOT_TOKEN, CHANNEL, STAFF, TEAM, RunningBot
from tests.fakes.blockkit import check_message
from tests.fakes.slack import SlackFake
from tests.fakes.xero import XeroFake
from tests.flows import all_text, becomes, click, command, connected


@pytest.fixture
def http_bot(start_bot: Any) -> RunningBot:
    return start_bot("http")


def added_admins(bot: RunningBot) -> list[str]:
    with bot.db.session() as s:
        return list(s.scalars(select(WorkspaceAdmin.user_id)))


@pytest.mark.parametrize("typed", [f"<@{STAFF}|sam>", f"<@{STAFF}>", "@sam", "sam", "@Sam"])
def test_admins_add_takes_a_linked_or_a_typed_name(http_bot: RunningBot, typed: str) -> None:
    http_bot.slack.add_user(TEAM, "U0OTHER001", "olive", real_name="Olive Jones")
    http_bot.slack.add_user(TEAM, "U0GONE0001", "sam2", real_name="Sam Carter", deleted=True)  # never matched
    command(http_bot, f"/accounts admins add {typed}", "can now connect")
    assert added_admins(http_bot) == [STAFF]
    command(http_bot, f"/accounts admins remove {typed}", "can no longer manage")
    assert added_admins(http_bot) == []


def test_a_name_nobody_has_or_several_have_is_answered_plainly(http_bot: RunningBot) -> None:
    answer = command(http_bot, "/accounts admins add @nobody", "I can't find anyone called `@nobody`")
    assert "pick them from Slack's suggestions" in answer["text"]
    http_bot.slack.add_user(TEAM, "U0TWIN0001", "chris", real_name="Chris Lee")
    http_bot.slack.add_user(TEAM, "U0TWIN0002", "chris.l", real_name="Chris Lee")
    command(http_bot, "/accounts admins add @Chris Lee", "More than one person")
    command(http_bot, "/accounts admins add chris.l", "can now connect")
    command(http_bot, "/accounts admins add @chris", "can now connect")
    http_bot.slack.add_user(TEAM, "U0TWIN0003", "lee", real_name="chris")
    command(http_bot, "/accounts admins add <@U0TWIN0003|lee>", "can now connect")  # a link is never ambiguous
    command(http_bot, "/accounts admins add @chris", "More than one person")
    assert sorted(added_admins(http_bot)) == ["U0TWIN0001", "U0TWIN0002", "U0TWIN0003"]
    assert http_bot.slack.calls("users.list")


@pytest.mark.parametrize(
    "typed", ["<#C0DEMORANDM|random>", "<#C0DEMORANDM>", "#random", "random", "#Random", "<#C0DEMORANDM|Random>"]
)
def test_channel_takes_any_channel_linked_or_typed(http_bot: RunningBot, typed: str) -> None:
    http_bot.slack.add_channel(TEAM, "C0DEMORANDM", "random")
    http_bot.slack.add_channel(TEAM, "C0OLDRANDOM", "random-old", is_archived=True)
    command(http_bot, f"/accounts channel {typed}", "will report in <#C0DEMORANDM>")
    with http_bot.db.session() as s:
        assert s.scalars(select(Workspace.notification_channel_id)).one() == "C0DEMORANDM"


def test_channel_here_and_a_channel_that_is_not_there(http_bot: RunningBot) -> None:
    http_bot.slack.add_channel(TEAM, "C0SECRET01", "secret", is_private=True, bot_member=False)
    answer = command(http_bot, "/accounts channel", "Imports and syncs report in")
    assert "`/accounts channel here`" in answer["text"]
    command(http_bot, "/accounts channel #secret", "I can't find a channel called `#secret`")
    command(http_bot, "/accounts channel #elsewhere", "I can't find a channel called `#elsewhere`")
    command(http_bot, "/accounts channel here", f"will report in <#{CHANNEL}>")
    command(http_bot, "/accounts channel here", "Only Slack workspace admins", STAFF)


def test_help_lists_every_command_and_who_may_use_it(http_bot: RunningBot) -> None:
    answer = all_text(command(http_bot, "/accounts help", "accounts-bot"))
    for line in (
        "import staff on|off",
        "import contacts all|customers|not-suppliers",
        "admins remove @someone",
        "admins add @someone",
        "channel here",
        "channel #name",
        "sync on|off|every 30m",
        "customers [search]",
        "audit",
        "disconnect",
        "status",
        "map",
    ):
        assert f"/accounts {line}" in answer, line
    assert "(admins)" in answer and "Slack's workspace admins and owners" in answer


def test_sync_and_import_staff_alone_say_how_they_are_set(connect_bot: RunningBot, xero: XeroFake) -> None:
    command(connect_bot, "/accounts sync", "Nothing is connected yet")
    connected(connect_bot, xero)
    answer = command(connect_bot, "/accounts sync", "Scheduled sync:")
    assert "on, every hour. The first sync runs an hour after your first import ends" in answer["text"]
    assert "`/accounts sync off`" in answer["text"]
    command(connect_bot, "/accounts sync off", "*Scheduled sync:* off")
    command(connect_bot, "/accounts sync", "*Scheduled sync:* off", STAFF)  # anyone may ask
    command(connect_bot, "/accounts sync every 2h", "on, every 2 hours; the next one runs")
    command(connect_bot, "/accounts import staff", "*Who may import customers:* only admins")
    command(connect_bot, "/accounts import staff on", "Everyone in the workspace may now import")
    command(connect_bot, "/accounts import staff", "*Who may import customers:* everyone in the workspace", STAFF)


def test_status_names_the_sync_and_real_commands(connect_bot: RunningBot, xero: XeroFake) -> None:
    answer = all_text(command(connect_bot, "/accounts status", "No accounting package is connected yet"))
    assert "`/accounts connect xero`" in answer and "<package>" not in answer and "connect package" not in answer
    connected(connect_bot, xero)
    answer = all_text(command(connect_bot, "/accounts status", "Scheduled sync"))
    assert "The first sync runs an hour after your first import ends" in answer
    question = command(connect_bot, "/accounts disconnect", "Disconnect Acme Plumbing Ltd")
    click(connect_bot, question, "disconnect_confirm")
    becomes(connect_bot, question, "Disconnected")
    answer = all_text(command(connect_bot, "/accounts status", "Disconnected."))
    assert "(Acme Plumbing Ltd) was disconnected" in answer and "not connected yet" not in answer
    assert "`/accounts connect xero`" in answer


def test_list_methods_page_as_slack_does(slack: SlackFake) -> None:
    for n in range(5):
        slack.add_user(TEAM, f"U0PAGE000{n}", f"page{n}")
        slack.add_channel(TEAM, f"C0PAGE000{n}", f"page-{n}", is_private=n == 0, bot_member=n != 0)
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    people = [m["id"] for page in client.users_list(limit=2) for m in page["members"]]
    assert len(people) == len(set(people)) == 8 and "U0PAGE0004" in people  # the bot user too, as in Slack
    channels = [c["name"] for page in client.conversations_list(limit=2) for c in page["channels"]]
    assert "page-0" not in channels and {"general", "page-1", "page-4"} <= set(channels)  # private, not in it
    [message] = [client.chat_postMessage(channel=CHANNEL, text="hello")]
    link = client.chat_getPermalink(channel=CHANNEL, message_ts=message["ts"])["permalink"]
    assert link == f"https://acme-plumbing.slack.com/archives/{CHANNEL}/p{message['ts'].replace('.', '')}"


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_the_schedulers_every_tick_lines_are_below_info(level: str, shown: bool) -> None:
    root = logging.getLogger()
    handlers, was = list(root.handlers), root.level
    try:
        configure_logging(level)
        assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO) is shown
        assert logging.getLogger("bot.imports").isEnabledFor(logging.INFO)
    finally:
        logging.getLogger("apscheduler.executors").setLevel(logging.NOTSET)
        root.handlers[:] = handlers
        root.setLevel(was)


NAME = "*Bold* & _Italic_ Traders <!here>"


def test_names_from_the_package_read_exactly_as_written_where_we_bold_them() -> None:
    report = StatusReport(
        team_id=TEAM,
        workspace_name="Acme",
        connection=ConnectionReport("xero", "Xero", NAME, ADMIN, datetime(2026, 12, 2, tzinfo=UTC), "ok"),
        providers=(("xero", "Xero"),),
    )
    for blocks in (
        connect_views.connected_blocks("Xero", NAME, reconnected=False),
        connect_views.disconnect_confirm_blocks("Xero", NAME, version="1:1"),
        connect_views.disconnected_blocks("Xero", NAME, None),
        connect_views.replace_blocks("Xero", NAME, "xero", "Xero"),
        status_blocks(report),
    ):
        assert check_message(blocks) == []
        named = [
            e
            for b in blocks
            if b["type"] == "rich_text"
            for p in b["elements"]
            for e in p["elements"]
            if NAME in str(e)
        ]
        assert named == [{"type": "text", "text": NAME, "style": {"bold": True}}], blocks
        mrkdwn = str([b for b in blocks if b["type"] != "rich_text"])
        assert "*Bold*" not in mrkdwn and "<!here>" not in mrkdwn


@given(st.text(max_size=60))
def test_a_typed_word_is_a_link_only_when_slack_made_it_one(word: str) -> None:
    """Whatever follows `admins add` or `channel`, it is read as one of Slack's links or as a name to look up;
    it never becomes an id that is not one."""
    for found, sigil, kinds in ((user_link(word), "@", "UW"), (channel_link(word), "#", "CG")):
        if found is not None:
            assert word.strip().startswith(f"<{sigil}{found}") and found[0] in kinds and found.isalnum()


@pytest.mark.parametrize(
    ("word", "user", "channel"),
    [
        ("<@U0STAFF01|sam>", "U0STAFF01", None),
        ("<#C0DEMORANDM|random>", None, "C0DEMORANDM"),
        ("<#C0DEMORANDM|Random Stuff>", None, "C0DEMORANDM"),
        ("<@U0STAFF01|sam> <!here>", None, None),
        ("<!channel>", None, None),
        ("<#c0lower|x>", None, None),
    ],
)
def test_slack_links(word: str, user: str | None, channel: str | None) -> None:
    assert (user_link(word), channel_link(word)) == (user, channel)
