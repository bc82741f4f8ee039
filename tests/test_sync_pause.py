"""A connection's scheduled sync has no next time while it cannot run (disconnected, needing a reconnect, the app
removed from Slack), so the planner's index does not walk it; a reconnect or a reinstall plans it again, one
interval after its last sync or at once when that passed. End to end with Xero's fake, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import select

from bot.imports.runner import plan_syncs
from bot.imports.sync import SyncState, current_plan, set_sync
from bot.views.importing import sync_words
from bot.workspaces.installations import SqlInstallationStore
from providers.base import NeedsReconnect
from storage.models import SyncSettings, Workspace
from tests.conftest import TEAM, RunningBot
from tests.fakes.xero import FakeClock, XeroFake
from tests.flows import all_text, becomes, click, command, connected, keeper, log_in, login_url, url_in, xero_driver
from tests.providers.packages import Resource


def synced(bot: RunningBot, connection_id: int, *, ago: timedelta) -> datetime:
    """The connection as if its first import ended `ago` and its next sync were planned; returns the end.

    The planned time is never in the past here: the running bot's own tick would sync the connection before the test
    stops it (a race the tests lost now and then); what they look at is the time planned again from the last sync."""
    now = datetime.now(UTC)
    last = now - ago
    with bot.db.session() as s:
        s.add(
            SyncSettings(
                connection_id=connection_id,
                enabled=True,
                interval_minutes=60,
                reconcile_hours=24,
                customer_filter="all_but_suppliers",
                last_synced_at=last,
                modified_since=last,
                next_sync_at=max(last + timedelta(minutes=60), now + timedelta(minutes=10)),
            )
        )
    return last


def next_sync(bot: RunningBot, connection_id: int) -> datetime | None:
    with bot.db.session() as s:
        return s.scalar(select(SyncSettings.next_sync_at).where(SyncSettings.connection_id == connection_id))


def workspace_id(bot: RunningBot) -> int:
    with bot.db.session() as s:
        return s.scalars(select(Workspace.id)).one()


def test_a_disconnect_clears_the_next_sync_and_a_reconnect_keeps_its_time(
    connect_bot: RunningBot, xero: XeroFake
) -> None:
    row, _ = connected(connect_bot, xero)
    last = synced(connect_bot, row.id, ago=timedelta(minutes=10))
    question = command(connect_bot, "/accounts disconnect", "Disconnect Acme Plumbing Ltd")
    click(connect_bot, question, "disconnect_confirm")
    becomes(connect_bot, question, "Disconnected")
    assert next_sync(connect_bot, row.id) is None
    assert plan_syncs(connect_bot.db, {"xero"}, now=datetime.now(UTC) + timedelta(days=1)) == []
    log_in(connect_bot, login_url(connect_bot))  # the same organisation again: its row comes back
    connect_bot.slack.wait_for(lambda: next_sync(connect_bot, row.id) is not None)
    assert next_sync(connect_bot, row.id) == last + timedelta(minutes=60)  # its time had not come: kept
    assert "the next one runs" in all_text(command(connect_bot, "/accounts status", "Scheduled sync"))


def test_a_dead_login_clears_the_next_sync_and_a_reconnect_catches_up_at_once(
    connect_bot: RunningBot, xero: XeroFake, xero_clock: FakeClock
) -> None:
    row, _ = connected(connect_bot, xero)
    synced(connect_bot, row.id, ago=timedelta(hours=5))
    xero_driver(xero, xero_clock).fail_next(Resource.TOKEN, 400, {"error": "invalid_grant"})
    with pytest.raises(NeedsReconnect):
        keeper(connect_bot, row.id).refresh_now()
    assert next_sync(connect_bot, row.id) is None
    with connect_bot.db.session() as s:
        plan = current_plan(s, workspace_id=workspace_id(connect_bot))
        assert plan is not None and plan.state == SyncState.ON and plan.paused is not None  # not "after first import"
        assert "not running" in sync_words(plan)
        # turning it on again while it cannot run gives it no next time either
        set_sync(s, connection_id=row.id, enabled=True, minutes=30, user_id="U1", now=datetime.now(UTC))
    assert next_sync(connect_bot, row.id) is None
    question = command(connect_bot, "/accounts connect xero", "already connected")
    click(connect_bot, question, "connect_replace")
    before = datetime.now(UTC)
    log_in(connect_bot, url_in(becomes(connect_bot, question, "Log in to Xero")))
    connect_bot.slack.wait_for(lambda: next_sync(connect_bot, row.id) is not None)
    due = next_sync(connect_bot, row.id)
    assert due is not None and before <= due <= datetime.now(UTC)  # hours past its time: due at once
    assert plan_syncs(connect_bot.db, {"xero"}, now=datetime.now(UTC)) != []


@pytest.mark.parametrize("contacts", [None, "all"])
def test_a_connection_never_imported_gets_no_next_time_on_reconnecting(
    connect_bot: RunningBot, xero: XeroFake, contacts: str | None
) -> None:
    row, _ = connected(connect_bot, xero)
    if contacts is not None:  # an admin chose which contacts to import: that sets no schedule
        command(connect_bot, f"/accounts import contacts {contacts}", "Contacts imported as customers are now")
    question = command(connect_bot, "/accounts connect xero", "already connected")
    click(connect_bot, question, "connect_replace")
    log_in(connect_bot, url_in(becomes(connect_bot, question, "Log in to Xero")))
    command(connect_bot, "/accounts status", "Scheduled sync")
    assert next_sync(connect_bot, row.id) is None
    with connect_bot.db.session() as s:
        plan = current_plan(s, workspace_id=workspace_id(connect_bot))
        assert plan is not None and plan.state == SyncState.AFTER_FIRST_IMPORT


def test_uninstalling_clears_the_next_sync_and_installing_again_plans_it(
    connect_bot: RunningBot, xero: XeroFake
) -> None:
    row, _ = connected(connect_bot, xero)
    last = synced(connect_bot, row.id, ago=timedelta(minutes=90))
    connect_bot.slack.send_event({"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}, team_id=TEAM)
    connect_bot.slack.wait_for(lambda: next_sync(connect_bot, row.id) is None)
    with connect_bot.db.session() as s:
        plan = current_plan(s, workspace_id=workspace_id(connect_bot))
        assert plan is not None and plan.state == SyncState.ON and plan.next_at is None and plan.paused is not None
    SqlInstallationStore(connect_bot.db).save(
        Installation(
            user_id="U1", team_id=TEAM, team_name="Acme", bot_token="xoxb-again", bot_id="B1", bot_user_id="UBOT"
        )
    )
    due = next_sync(connect_bot, row.id)
    assert due is not None and due > last + timedelta(minutes=60)  # its time passed while removed: at once
    assert due <= datetime.now(UTC)
