"""`/accounts status` is never stale: its answer is kept per workspace (`bot.slack.status_answers`) while the
database's change counter (`storage.status_version`, bumped by triggers) says nothing it shows changed. Each thing
status shows is changed here, by this process's database and by another engine as a second process would, and
the next `/accounts status` shows it; so does the clock alone, when a log-in turns due for a refresh."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from bot import status, workspaces
from bot.categories import load_categories
from bot.runtime import Runtime
from bot.settings import load_settings
from bot.slack.status_answers import StatusAnswers
from bot.views.status import status_blocks
from storage.crypto import SecretBox
from storage.db import Database
from storage.models import (
    AccountMapping,
    ChartAccount,
    ChartTaxRate,
    Connection,
    ConnectionStatus,
    SyncSettings,
    Workspace,
)
from tests.conftest import ADMIN, CHANNEL, STAFF, TEAM, TEST_KEY, RunningBot
from tests.fakes.xero import XeroFake
from tests.flows import all_text, connected, seen

Change = Callable[[Session, int], None]  # (session, connection id)


def answer(bot: RunningBot, user: str = ADMIN) -> list[dict[str, Any]]:
    """Type `/accounts status` and return the blocks of the answer it gets, whatever they say."""
    before = len(seen(bot, user))
    bot.slack.send_command("/accounts status", user_id=user, channel_id=CHANNEL)
    blocks = bot.slack.wait_for(lambda: seen(bot, user)[before:])[0]["blocks"]
    return [{k: v for k, v in block.items() if k != "block_id"} for block in blocks]  # Slack names those not named


def truth(bot: RunningBot) -> list[dict[str, Any]]:
    """What status shows when read afresh from the database, nothing kept."""
    runtime = bot.server.runtime
    with runtime.db.session() as s:
        blocks = status_blocks(status.report_for(runtime, s, team_id=TEAM))
    return [{k: v for k, v in block.items() if k != "block_id"} for block in blocks]


@contextmanager
def writing(bot: RunningBot, elsewhere: bool) -> Iterator[Session]:
    """A transaction of this process's database, or of another engine on the same database (a second process)."""
    db = Database(bot.settings.database_url, SecretBox(TEST_KEY)) if elsewhere else bot.db
    try:
        with db.session(write_lock=True) as s:
            yield s
    finally:
        if elsewhere:
            db.dispose()


def change_connection(**values: Any) -> Change:
    def change(s: Session, connection_id: int) -> None:
        s.execute(update(Connection).where(Connection.id == connection_id).values(**values))

    return change


def change_rows(model: Any, **values: Any) -> Change:
    """Every row of `model` (a table whose rows belong to a connection) of the connection gets `values`."""

    def change(s: Session, connection_id: int) -> None:
        s.execute(update(model).where(model.connection_id == connection_id).values(**values))

    return change


def save_sync_settings(s: Session, connection_id: int) -> None:
    s.add(SyncSettings(connection_id=connection_id, enabled=True, interval_minutes=60, customer_filter="all"))


def save_mapping(s: Session, connection_id: int) -> None:
    category = next(c for c in load_categories() if c.required)
    s.add(
        ChartAccount(
            connection_id=connection_id,
            external_id="acc-1",
            code="200",
            name="Sales",
            kind=category.kinds[0],
            type="REVENUE",
        )
    )
    s.add(ChartTaxRate(connection_id=connection_id, code="OUTPUT2", name="GST on Income", rate=Decimal("15")))
    s.add(
        AccountMapping(
            connection_id=connection_id,
            category=category.key,
            account_external_id="acc-1",
            account_code="200",
            account_name="Sales",
            tax_code="OUTPUT2",
            saved_by=STAFF,
        )
    )


def delete_mapping(s: Session, connection_id: int) -> None:
    s.execute(delete(AccountMapping).where(AccountMapping.connection_id == connection_id))


def slack_removed(s: Session, connection_id: int) -> None:
    connection = s.get(Connection, connection_id)
    assert connection is not None
    s.execute(update(Workspace).where(Workspace.id == connection.workspace_id).values(uninstalled_at=datetime.now(UTC)))


def connect_another(s: Session, connection_id: int) -> None:
    connection = s.get(Connection, connection_id)
    assert connection is not None
    s.add(
        Connection(
            workspace_id=connection.workspace_id,
            provider="xero",
            organisation_id="another-organisation",
            organisation_name="Second Plumbing Ltd",
            connected_by=STAFF,
            connected_at=datetime.now(UTC),
        )
    )


STEPS: list[tuple[str, Change]] = [  # in order: each changes what status shows after the one before
    ("the organisation renamed", change_connection(organisation_name="Renamed Plumbing Ltd")),
    ("sync settings saved: every contact", save_sync_settings),
    ("the next sync planned", change_rows(SyncSettings, next_sync_at=datetime(2031, 5, 6, 7, 8, tzinfo=UTC))),
    ("the contacts imported: customers only", change_rows(SyncSettings, customer_filter="customers_only")),
    ("Slack removed", slack_removed),
    ("the sync turned off", change_rows(SyncSettings, enabled=False)),
    ("the account mapping saved", save_mapping),
    ("the default tax code archived", change_rows(ChartTaxRate, active=False)),
    ("the default tax code back", change_rows(ChartTaxRate, active=True)),
    ("the chart refreshed", change_connection(chart_refreshed_at=datetime(2030, 1, 2, tzinfo=UTC))),
    ("the mapped account archived", change_rows(ChartAccount, active=False)),
    ("the mapping deleted", delete_mapping),
    ("the log-in refused", change_connection(status=ConnectionStatus.NEEDS_RECONNECT, status_detail="Refused")),
    ("disconnected", change_connection(status=ConnectionStatus.DISCONNECTED, disconnected_at=datetime.now(UTC))),
    ("another organisation connected", connect_another),
]


@pytest.mark.parametrize("elsewhere", [False, True], ids=["this process", "another process"])
def test_status_shows_every_change_at_once(connect_bot: RunningBot, xero: XeroFake, elsewhere: bool) -> None:
    connection, _ = connected(connect_bot, xero, "Acme Plumbing Ltd")
    shown = answer(connect_bot)
    assert shown == truth(connect_bot) and "Acme Plumbing Ltd" in all_text({"blocks": shown})
    assert answer(connect_bot, STAFF) == shown  # kept: the same for whoever asks, until something changes
    for what, change in STEPS:
        with writing(connect_bot, elsewhere) as s:
            change(s, connection.id)
        now = answer(connect_bot)
        assert now != shown, f"{what}: status did not change"
        assert now == truth(connect_bot), what
        shown = now
    assert "Second Plumbing Ltd" in all_text({"blocks": shown})


def test_status_turns_due_for_a_refresh_by_the_clock_alone(connect_bot: RunningBot, xero: XeroFake) -> None:
    connection, _ = connected(connect_bot, xero)
    runtime = connect_bot.server.runtime
    refreshed = connection.refreshed_at or connection.connected_at
    idle = runtime.providers["xero"].refresh_token_idle_lifetime
    assert idle is not None
    due = refreshed + idle / 4  # the keep-alive's limit (`keepalive_after`)
    now = [refreshed]
    runtime.clock = lambda: now[0]
    assert "Healthy" in all_text({"blocks": answer(connect_bot)})
    now[0] = due
    assert "Healthy" in all_text({"blocks": answer(connect_bot)})
    now[0] = due + timedelta(seconds=1)
    later = all_text({"blocks": answer(connect_bot)})
    assert "Will refresh its log-in soon" in later and f"Last refreshed {(due - refreshed).days} days ago" in later
    now[0] = refreshed + timedelta(days=(due - refreshed).days + 1)
    assert f"Last refreshed {(due - refreshed).days + 1} days ago" in all_text({"blocks": answer(connect_bot)})


def test_answers_are_kept_for_the_latest_workspaces_only(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        None, database_url=db.url, encryption_key=TEST_KEY, slack_bot_token="xoxb-test", slack_signing_secret="s"
    )
    runtime = Runtime(settings=settings, db=db)
    with db.session() as s:
        ids = {team: workspaces.ensure(s, team_id=team).id for team in ("T0ONE00001", "T0TWO00002", "T0THREE003")}
    answers = StatusAnswers(runtime)
    monkeypatch.setattr(answers, "KEPT", 2)
    for team, workspace_id in ids.items():
        assert "No accounting package is connected yet" in str(answers.answer(team_id=team, workspace_id=workspace_id))
    assert list(answers._answers) == list(ids.values())[1:]  # the first built went when the third came
    again = answers.answer(team_id="T0TWO00002", workspace_id=ids["T0TWO00002"])
    assert again is answers._answers[ids["T0TWO00002"]]
