"""`/accounts status` is never stale: its answer is kept per workspace (`bot.slack.status_answers`) while the
database's log of changes (`storage.status_version`, written by triggers) says nothing it shows changed. Each thing
status shows is changed here, by this process's database and by another engine as a second process would, and
the next `/accounts status` shows it; so does the clock alone, when a log-in turns due for a refresh."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from bot import status, workspaces
from bot.categories import load_categories
from bot.runtime import Runtime
from bot.schedule import CHORES, do_chores
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
    StatusChange,
    SyncSettings,
    Workspace,
)
from storage.status_version import StatusVersions, prune_status_changes
from tests.conftest import ADMIN, CHANNEL, DATABASES, STAFF, TEAM, TEST_KEY, RunningBot
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


def workspace_with_chart(s: Session, team_id: str) -> Connection:
    """A workspace with a connection, its sync settings and two chart accounts."""
    workspace = workspaces.ensure(s, team_id=team_id)
    connection = Connection(
        workspace_id=workspace.id, provider="xero", organisation_id=f"org-{team_id}", organisation_name=team_id
    )
    s.add(connection)
    s.flush()
    save_sync_settings(s, connection.id)
    kind = next(c for c in load_categories() if c.required).kinds[0]
    for n in (1, 2):
        s.add(
            ChartAccount(
                connection_id=connection.id, external_id=f"acc-{n}", code=f"20{n}", name="Sales", kind=kind, type="R"
            )
        )
    return connection


def changes(db: Database) -> dict[int, list[int]]:
    """The log's ids by workspace."""
    with db.session() as s:
        rows = s.execute(select(StatusChange.workspace_id, StatusChange.id).order_by(StatusChange.id))
        logged: dict[int, list[int]] = {}
        for workspace_id, change_id in rows:
            logged.setdefault(workspace_id, []).append(change_id)
        return logged


def test_pruning_folds_each_workspace_into_one_newer_row_and_status_stays_right(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(
        None, database_url=db.url, encryption_key=TEST_KEY, slack_bot_token="xoxb-test", slack_signing_secret="s"
    )
    runtime = Runtime(settings=settings, db=db)
    with db.session() as s:
        busy = workspace_with_chart(s, "T0BUSY0001")
        quiet_id = workspaces.ensure(s, team_id="T0QUIET001").id
        s.flush()
        s.execute(update(SyncSettings).where(SyncSettings.connection_id == busy.id).values(enabled=False))
    with db.session() as s:  # one change of its own, in a transaction of its own: nothing to fold
        quiet = Connection(workspace_id=quiet_id, provider="xero", organisation_id="org-q", organisation_name="Quiet")
        s.add(quiet)
    before = changes(db)
    assert len(before[busy.workspace_id]) > 1 and len(before[quiet_id]) == 1
    answers = StatusAnswers(runtime)
    kept = answers.answer(team_id="T0BUSY0001", workspace_id=busy.workspace_id)

    pruning = tuple(chore for chore in CHORES if chore.name == "prune_status_changes")
    assert do_chores(runtime, owner="process-1", chores=pruning) == ["prune_status_changes"]  # the hourly chore
    after = changes(db)
    assert after[quiet_id] == before[quiet_id]
    assert len(after[busy.workspace_id]) == 1 and after[busy.workspace_id][0] > max(max(ids) for ids in before.values())
    assert prune_status_changes(db) == 0  # each workspace one row: nothing to fold

    with db.session() as s:
        s.execute(update(SyncSettings).where(SyncSettings.connection_id == busy.id).values(enabled=True))
    shown = answers.answer(team_id="T0BUSY0001", workspace_id=busy.workspace_id)
    assert shown.blocks != kept.blocks
    with db.session() as s:
        fresh = status_blocks(status.report_for(runtime, s, team_id="T0BUSY0001"))
    assert list(shown.blocks) == list(fresh)


if "postgresql" in DATABASES:  # several writers at once only on PostgreSQL (SQLite writes one transaction at a time)

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_writers_of_two_tables_in_opposite_orders_both_commit(db: Database) -> None:
        """The scheduler's tick (sync settings, then the chart) and a chart refresh (the chart, then sync
        settings), each touching rows of its own in two workspaces: logging a change locks nothing of theirs, so
        neither waits on the other (a counter on the workspace's row had PostgreSQL abort one: deadlock)."""
        with db.session() as s:
            first, second = workspace_with_chart(s, "T0FIRST001"), workspace_with_chart(s, "T0SECOND01")
        other = Database(db.url, SecretBox(TEST_KEY))  # a second process
        both_wrote_once = threading.Barrier(2, timeout=30)
        failures: list[BaseException] = []

        def chart_then_settings() -> None:
            try:
                with other.session() as s:
                    s.execute(
                        update(ChartAccount)
                        .where(ChartAccount.connection_id == second.id, ChartAccount.external_id == "acc-2")
                        .values(active=False)
                    )
                    both_wrote_once.wait()
                    s.execute(update(SyncSettings).where(SyncSettings.connection_id == first.id).values(enabled=False))
            except BaseException as error:  # noqa: BLE001 - reported by the test's thread
                failures.append(error)
                both_wrote_once.abort()

        thread = threading.Thread(target=chart_then_settings)
        try:
            with db.session() as s:
                s.execute(
                    update(SyncSettings)
                    .where(SyncSettings.connection_id == first.id)
                    .values(customer_filter="customers_only")
                )
                thread.start()
                both_wrote_once.wait()
                s.execute(
                    update(ChartAccount)
                    .where(ChartAccount.connection_id == second.id, ChartAccount.external_id == "acc-1")
                    .values(active=False)
                )
            thread.join()
        finally:
            thread.join()
            other.dispose()
        assert failures == []
        with db.session() as s:
            settings = s.scalars(select(SyncSettings).where(SyncSettings.connection_id == first.id)).one()
            assert (settings.enabled, settings.customer_filter) == (False, "customers_only")
            assert not any(s.scalars(select(ChartAccount.active).where(ChartAccount.connection_id == second.id)))

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_a_change_committed_after_a_later_one_still_changes_the_version(db: Database) -> None:
        """Ids are taken in one order and committed in another: the change that took the earlier id becomes
        visible without the newest id moving, and the version moves all the same; pruning waits for it."""
        with db.session() as s:
            connection = workspace_with_chart(s, "T0ORDER001")
        other = Database(db.url, SecretBox(TEST_KEY))
        versions = StatusVersions(db)
        try:
            with other.session() as late:
                late.execute(
                    update(ChartAccount).where(ChartAccount.connection_id == connection.id).values(active=False)
                )  # takes its id now, commits last
                with db.session() as s:
                    s.execute(
                        update(SyncSettings).where(SyncSettings.connection_id == connection.id).values(enabled=False)
                    )
                read = versions.read(workspace_id=connection.workspace_id)
                assert prune_status_changes(db) is None  # a writer in flight all along: tried again next time
            assert versions.read(workspace_id=connection.workspace_id) != read
            read = versions.read(workspace_id=connection.workspace_id)
            assert prune_status_changes(db) and versions.read(workspace_id=connection.workspace_id) != read
        finally:
            versions.close()
            other.dispose()


def test_a_kept_version_connection_the_server_closed_is_replaced(db: Database) -> None:
    """Status reads its version on connections it keeps open (`StatusVersions`); one closed meanwhile (PostgreSQL
    restarted, a proxy's idle timeout) is dropped and the read made again on a new one, not failed."""
    with db.session() as s:
        workspace_id = workspaces.ensure(s, team_id="T0KEPT0001").id
    versions = StatusVersions(db)
    try:
        read = versions.read(workspace_id=workspace_id)
        kept = versions._idle[-1]
        if db.is_sqlite:
            kept.dbapi_connection.close()
        else:
            with db.session() as s:
                s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": kept.dbapi_connection.info.backend_pid})
        with db.session() as s:  # a commit elsewhere: on SQLite an unchanged database is not asked again
            workspaces.ensure(s, team_id="T0OTHER001")
        assert versions.read(workspace_id=workspace_id) == read
        assert versions._idle == [versions._idle[-1]] and versions._idle[-1] is not kept
    finally:
        versions.close()
