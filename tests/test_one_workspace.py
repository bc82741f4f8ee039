"""One-workspace mode (`SLACK_BOT_TOKEN`): an uninstall or revocation stops scheduled work and says so where the
sync is shown; a restart with a bot token that works brings the workspace back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.imports.runner import plan_syncs
from storage.models import AuditEvent, SyncSettings, Workspace
from tests.conftest import TEAM, RunningBot
from tests.fakes.xero import FakeClock, XeroFake
from tests.flows import all_text, command, connected, xero_driver
from tests.packages_e2e import start_with


def uninstalled_at(bot: RunningBot) -> Any:
    with bot.db.session() as s:
        return s.scalars(select(Workspace.uninstalled_at)).one()


def test_a_restart_with_a_working_token_brings_the_workspace_back(
    connect_bot: RunningBot, start_bot: Any, xero: XeroFake, xero_clock: FakeClock
) -> None:
    connected(connect_bot, xero)
    command(connect_bot, "/accounts sync every 30m", "the next one runs")
    connect_bot.slack.send_event({"type": "tokens_revoked", "tokens": {"bot": ["U0BOT"]}}, team_id=TEAM)
    connect_bot.slack.wait_for(lambda: uninstalled_at(connect_bot) is not None)

    status = all_text(command(connect_bot, "/accounts status", "Scheduled sync"))
    assert "*not running*: accounts-bot was removed from Slack" in status
    later = connect_bot.server.runtime.clock() + timedelta(hours=1)
    assert (
        plan_syncs(connect_bot.db, connect_bot.server.runtime.providers, now=later) == []
    )  # nothing runs for it meanwhile
    connect_bot.server.stop()

    bot = start_with(start_bot, xero_driver(xero, xero_clock))  # the same database, a token Slack accepts
    assert uninstalled_at(bot) is None
    status = all_text(command(bot, "/accounts status", "Scheduled sync"))
    assert "not running" not in status and "on, every 30 minutes; the next one runs" in status
    with bot.db.session() as s:
        assert "slack.token_works" in s.scalars(select(AuditEvent.action)).all()
        assert s.scalars(select(SyncSettings.enabled)).one() is True
    assert len(plan_syncs(bot.db, bot.server.runtime.providers, now=later)) == 1
