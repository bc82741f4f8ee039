"""Many workspaces on one database: the schedule spreads out and is planned in bounded ticks, claims put a
person's import first and look only at claimable runs, and ended runs are pruned. On SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bot.chores import take_chore
from bot.imports import runs as import_runs
from bot.imports.runner import SPREAD, next_sync, plan_syncs
from bot.imports.runs import ImportPolicy, claim, prune_ended
from bot.locks import KeyedLocks
from providers.xero.pacing import MinutePacer
from storage.db import Database
from storage.models import Connection, ImportRun, ImportRunSkip, RunStatus, SyncSettings
from tests.scale import connected_workspaces

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
POLICY = ImportPolicy()


def queued(db: Database) -> list[ImportRun]:
    with db.session() as s:
        return list(s.scalars(select(ImportRun).where(ImportRun.status == RunStatus.QUEUED).order_by(ImportRun.id)))


def test_syncs_due_together_are_planned_apart_and_never_later_than_their_interval(db: Database) -> None:
    connected_workspaces(db, 300, due_at=NOW - timedelta(minutes=1))
    assert len(plan_syncs(db, {"xero"}, now=NOW, batch=300)) == 300
    with db.session() as s:
        planned = sorted(s.scalars(select(SyncSettings.next_sync_at)))
    offsets = [(t - NOW).total_seconds() / 60 for t in planned if t is not None]
    assert len(offsets) == 300 and all(60 * (1 - SPREAD) <= m <= 60 for m in offsets)
    # spread over the whole window, not one burst: every tenth of it holds some
    assert {int((60 - m) / (60 * SPREAD) * 10) for m in offsets} >= set(range(10))
    assert len(set(planned)) > 290


def test_the_next_sync_is_within_its_interval_for_any_draw() -> None:
    rng = random.Random(7)
    for minutes in (5, 60, 24 * 60):
        for _ in range(200):
            at = next_sync(NOW, timedelta(minutes=minutes), rng=rng)
            assert NOW + timedelta(minutes=minutes) * (1 - SPREAD) <= at <= NOW + timedelta(minutes=minutes)


def test_a_tick_plans_a_bounded_batch_the_longest_due_first(db: Database) -> None:
    late = connected_workspaces(db, 30, due_at=NOW - timedelta(hours=2))
    connected_workspaces(db, 70, due_at=NOW - timedelta(minutes=5), start=30)
    connected_workspaces(db, 20, due_at=NOW + timedelta(minutes=5), start=100)  # not due yet
    first = plan_syncs(db, {"xero"}, now=NOW, batch=40)
    assert len(first) == 40
    with db.session() as s:
        planned = set(s.scalars(select(ImportRun.connection_id).where(ImportRun.id.in_(first))))
    assert set(late) <= planned
    assert len(plan_syncs(db, {"xero"}, now=NOW, batch=40)) == 40
    assert len(plan_syncs(db, {"xero"}, now=NOW, batch=40)) == 20
    assert plan_syncs(db, {"xero"}, now=NOW, batch=40) == []
    runs = queued(db)
    assert len(runs) == 100 and len({r.connection_id for r in runs}) == 100
    assert all(r.trigger == "schedule" and r.kind == "incremental" and r.started_by is None for r in runs)


def test_a_tick_queues_a_full_reconciliation_when_it_is_due_and_for_a_package_it_lacks_queues_nothing(
    db: Database,
) -> None:
    [full_due, never_read, incremental, other] = connected_workspaces(db, 4, due_at=NOW - timedelta(minutes=1))
    with db.session() as s:
        s.execute(
            update(SyncSettings)
            .where(SyncSettings.connection_id == full_due)
            .values(next_full_at=NOW - timedelta(seconds=1))
        )
        s.execute(update(SyncSettings).where(SyncSettings.connection_id == never_read).values(modified_since=None))
        s.execute(update(Connection).where(Connection.id == other).values(provider="myob"))
    planned = plan_syncs(db, {"xero"}, now=NOW)
    with db.session() as s:
        runs = {r.connection_id: r for r in s.scalars(select(ImportRun).where(ImportRun.id.in_(planned)))}
        settings = {r.connection_id: r for r in s.scalars(select(SyncSettings))}
    assert {c: (r.kind, r.since) for c, r in runs.items()} == {
        full_due: ("full", None),
        never_read: ("full", None),
        incremental: ("incremental", NOW - timedelta(minutes=61)),
    }
    assert all(
        r.priority == 1 and r.status == "queued" and r.counts == {} and r.created_at == NOW for r in runs.values()
    )
    for c in (full_due, never_read):  # the next reconciliation a day on
        assert settings[c].next_full_at == NOW + timedelta(hours=24)
    assert settings[incremental].next_full_at == NOW - timedelta(minutes=1) + timedelta(hours=12)  # unchanged
    assert settings[other].next_full_at == NOW - timedelta(minutes=1) + timedelta(hours=12)  # not queued: unchanged
    assert all(s.next_sync_at is not None and s.next_sync_at > NOW for s in settings.values())  # all moved on


def test_a_connection_with_an_active_run_is_not_queued_twice(db: Database) -> None:
    [busy, free] = connected_workspaces(db, 2, due_at=NOW - timedelta(minutes=1))
    started = import_runs.start_import(
        db, connection_id=busy, trigger="command", started_by="U1", channel_id="C1", now=NOW
    )
    assert [r.connection_id for r in queued(db)] == [busy]
    planned = plan_syncs(db, {"xero"}, now=NOW)
    assert [r.connection_id for r in queued(db) if r.id in planned] == [free]
    with db.session() as s:  # both schedules moved on
        assert s.scalar(select(func.count()).where(SyncSettings.next_sync_at <= NOW)) == 0
    assert started.created


def test_a_persons_import_is_claimed_before_the_scheduled_backlog(db: Database) -> None:
    connections = connected_workspaces(db, 201, due_at=NOW - timedelta(minutes=1))
    person = connections.pop()
    with db.session() as s:  # the person's connection is not due
        s.execute(update(SyncSettings).where(SyncSettings.connection_id == person).values(next_sync_at=None))
    assert len(plan_syncs(db, {"xero"}, now=NOW, batch=500)) == 200
    started = import_runs.start_import(
        db, connection_id=person, trigger="command", started_by="U1", channel_id="C1", now=NOW + timedelta(seconds=1)
    )
    assert claim(db, owner="p1", now=NOW + timedelta(seconds=2), policy=POLICY) == started.run.id
    second = claim(db, owner="p1", now=NOW + timedelta(seconds=2), policy=POLICY)
    with db.session() as s:
        first_scheduled = s.scalar(select(func.min(ImportRun.id)).where(ImportRun.trigger == "schedule"))
    assert second == first_scheduled


def test_ended_runs_are_pruned_but_each_connections_latest_and_the_untold_stay(db: Database) -> None:
    [a, b] = connected_workspaces(db, 2, due_at=None)
    old, recent = NOW - POLICY.keep_ended - timedelta(days=1), NOW - timedelta(days=1)
    with db.session() as s:
        workspace_of = {c: w for c, w in s.execute(select(Connection.id, Connection.workspace_id))}

        def run(connection: int, finished: datetime, *, told: bool = True, status: str = "succeeded") -> ImportRun:
            row = ImportRun(
                workspace_id=workspace_of[connection],
                connection_id=connection,
                trigger="schedule",
                status=status,
                counts={},
                created_at=finished,
                finished_at=finished,
                reported_at=finished if told else None,
            )
            s.add(row)
            s.flush()
            return row

        gone = [run(a, old), run(a, old, status="failed"), run(b, old, status="cancelled")]
        untold = run(a, old, told=False)
        kept_recent = run(a, recent)
        latest_of_b = run(b, old)  # b's latest, however old
        s.add(ImportRunSkip(run_id=gone[0].id, external_id="x", reason="it could not be read"))
        ids = {r.id for r in gone}
        keep = {untold.id, kept_recent.id, latest_of_b.id}
    assert prune_ended(db, now=NOW, policy=POLICY, batch=2) == 2  # bounded
    assert prune_ended(db, now=NOW, policy=POLICY, batch=2) == 1
    assert prune_ended(db, now=NOW, policy=POLICY) == 0
    with db.session() as s:
        left = set(s.scalars(select(ImportRun.id)))
        assert left == keep and not left & ids
        assert s.scalar(select(func.count()).select_from(ImportRunSkip)) == 0


def test_a_chore_is_taken_once_per_period_whoever_asks(db: Database) -> None:
    every = timedelta(hours=6)
    assert take_chore(db, name="keep_alive", every=every, now=NOW, owner="a")  # the first ever
    assert not take_chore(db, name="keep_alive", every=every, now=NOW, owner="b")
    assert not take_chore(db, name="keep_alive", every=every, now=NOW + every - timedelta(seconds=1), owner="b")
    assert take_chore(db, name="prune", every=every, now=NOW, owner="b")  # chores are apart
    assert take_chore(db, name="keep_alive", every=every, now=NOW + every, owner="b")
    assert not take_chore(db, name="keep_alive", every=every, now=NOW + every, owner="a")


def test_processes_asking_at_once_get_a_chore_once(db: Database) -> None:
    barrier = threading.Barrier(8)

    def ask(owner: str) -> bool:
        barrier.wait()
        return take_chore(db, name="keep_alive", every=timedelta(hours=6), now=NOW, owner=owner)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, [f"p{n}" for n in range(8)]))
    assert answers.count(True) == 1


def test_per_key_locks_are_kept_only_while_used() -> None:
    locks: KeyedLocks[int] = KeyedLocks()
    with locks(1):
        assert locks(1).locked() and not locks(2).locked()
        assert len(locks) == 1  # the lock of 2 went with its last reference
    assert len(locks) == 0
    held = locks(3)
    assert locks(3) is held


def test_xeros_pacer_forgets_organisations_it_has_not_called_for_a_minute() -> None:
    now, waited = [0.0], list[float]()
    pacer = MinutePacer(clock=lambda: now[0], sleep=waited.append, per_minute=60)
    for n in range(1000):
        pacer.after(f"org-{n}", {"X-MinLimit-Remaining": "59"}, pacer.before(f"org-{n}"))
    assert pacer.tracked == 1000
    now[0] = 30.0
    pacer.after("org-busy", {"X-MinLimit-Remaining": "0"}, pacer.before("org-busy"))
    now[0] = 61.0
    pacer.after("org-late", {"X-MinLimit-Remaining": "58"}, pacer.before("org-late"))
    assert pacer.tracked == 2  # the busy one is still paced: its window has not ended
    assert waited == []
    now[0] = 70.0
    pacer.before("org-busy")  # its limit is spent: it waits for its slot to leave the window
    assert len(waited) == 1 and 70.0 + waited[0] >= 30.0 + 60.0
