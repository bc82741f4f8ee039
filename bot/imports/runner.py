"""The import job runner: a tick that queues scheduled syncs and claims due runs, which run in worker threads.

APScheduler only calls `ImportRunner.wake` on an interval (and listeners call `wake()` after queueing a run,
so it starts at once); what is due lives in our tables (import runs, sync settings), so restarts lose
nothing, and claims under row locks mean two processes never run one thing twice.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import weakref
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Interval,
    Select,
    Table,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.connections.links import link_for
from bot.imports.job import EventWaiter, ImportJob, Reporter, Waiter, tell_end
from bot.imports.reading import PageReader
from bot.imports.runs import (
    RUNS_QUEUED,
    ImportPolicy,
    RunView,
    claim,
    claim_report,
    load_view,
    mark_reported,
    release_leases,
    renew_lease,
    report_later,
)
from bot.runtime import Runtime
from storage.db import Database
from storage.models import (
    Connection,
    ConnectionStatus,
    ImportRun,
    RunPriority,
    RunStatus,
    SyncSettings,
    UTCDateTime,
    Workspace,
)
from storage.models.import_runs import ACTIVE_RUN_STATUSES, CLAIMABLE
from storage.wakeups import Listener, notify

log = logging.getLogger(__name__)

TICK_EVERY = 10.0  # seconds between looks for due work, besides the wake-ups

_runners: weakref.WeakSet[ImportRunner] = weakref.WeakSet()


def wake() -> None:
    """Look for due work now, in every runner of this process (after a listener queued a run)."""
    for runner in list(_runners):
        runner.wake()


PLAN_BATCH = 200  # due syncs queued per tick, in one short transaction; the next tick takes the next ones
SPREAD = 0.1  # each next sync comes up to this share of its interval early, so syncs planned together spread out


def next_sync(
    now: datetime, interval: timedelta, *, spread: float = SPREAD, rng: random.Random | None = None
) -> datetime:
    """When a sync planned at `now` comes up again: one interval on, less a random part of `spread` of it (never
    later than the interval promises), so that syncs that came due together do not stay one burst."""
    return now + interval - (rng or _rng).uniform(0, spread) * interval


_rng = random.Random()


def plan_syncs(db: Database, packages: Collection[str], *, now: datetime, batch: int = PLAN_BATCH) -> list[int]:
    """Queue the scheduled sync of up to `batch` connections that are due, the longest due first: a full
    reconciliation when that is due (or nothing was imported yet), otherwise an incremental one since the last
    sync. Never beside an active run. One short transaction whatever the number due, and an index lookup
    (`sync_settings.next_sync_at`). A connection to a package this deployment does not have (`packages`) waits.
    PostgreSQL does it in one statement (`_plan_in_one_statement`); SQLite, one process, row by row in Python."""
    if not db.is_sqlite:
        return _plan_in_one_statement(db, packages, now=now, batch=batch)
    return _plan_row_by_row(db, packages, now=now, batch=batch)


def _due(query: Select[*tuple[Any, ...]], at: Any, batch: int) -> Select[*tuple[Any, ...]]:
    """`query` (columns of sync settings, their connection and workspace) over the schedules due at `at` that may
    run, the longest due first, `batch` at most, locked (skipping those another process is planning)."""
    return (
        query.join(Connection, Connection.id == SyncSettings.connection_id)
        .join(Workspace, Workspace.id == Connection.workspace_id)
        .where(
            SyncSettings.enabled.is_(True),
            SyncSettings.next_sync_at <= at,
            Connection.status == ConnectionStatus.ACTIVE,
            Workspace.uninstalled_at.is_(None),
        )
        .order_by(SyncSettings.next_sync_at)
        .limit(batch)
        .with_for_update(skip_locked=True, of=SyncSettings)
    )


def _plan_row_by_row(db: Database, packages: Collection[str], *, now: datetime, batch: int) -> list[int]:
    """`plan_syncs` with the rows read into Python (SQLite has neither row locks nor data-modifying CTEs)."""
    with db.session(write_lock=True) as s:
        due = s.execute(
            _due(
                select(
                    SyncSettings.id,
                    SyncSettings.connection_id,
                    SyncSettings.interval_minutes,
                    SyncSettings.reconcile_hours,
                    SyncSettings.modified_since,
                    SyncSettings.next_full_at,
                    Connection.provider,
                    Workspace.id.label("workspace_id"),
                    Workspace.notification_channel_id,
                ),
                now,
                batch,
            )
        ).all()
        if not due:
            return []
        busy = set(
            s.scalars(
                select(ImportRun.connection_id).where(
                    CLAIMABLE, ImportRun.connection_id.in_([row.connection_id for row in due])
                )
            )
        )
        next_at: dict[int, datetime] = {}
        full_at: dict[int, datetime] = {}
        runs: list[dict[str, object]] = []
        for row in due:
            next_at[row.id] = next_sync(now, timedelta(minutes=row.interval_minutes))
            if row.provider not in packages or row.connection_id in busy:
                continue
            full = row.modified_since is None or (row.next_full_at is not None and row.next_full_at <= now)
            if full:
                full_at[row.id] = now + timedelta(hours=row.reconcile_hours)
            runs.append(
                {
                    "workspace_id": row.workspace_id,
                    "connection_id": row.connection_id,
                    "kind": "full" if full else "incremental",
                    "trigger": "schedule",
                    "priority": RunPriority.SCHEDULE,
                    "status": RunStatus.QUEUED,
                    "since": None if full else row.modified_since,
                    "counts": {},
                    "pages": 0,
                    "attempts": 0,
                    "channel_id": row.notification_channel_id,
                    "created_at": now,
                }
            )
        s.execute(  # one statement for the whole batch
            update(SyncSettings)
            .where(SyncSettings.id.in_(next_at))
            .values(
                next_sync_at=case(_typed(next_at), value=SyncSettings.id),
                next_full_at=case(_typed(full_at), value=SyncSettings.id, else_=SyncSettings.next_full_at)
                if full_at
                else SyncSettings.next_full_at,
            )
            .execution_options(synchronize_session=False)
        )
        queued = _insert_runs(s, runs)
        if queued:
            notify(s, RUNS_QUEUED)  # the other processes claim them too, now rather than at their next tick
    if queued:
        log.info("Queued %s scheduled sync(s): runs %s", len(queued), queued)
    return queued


def _plan_in_one_statement(db: Database, packages: Collection[str], *, now: datetime, batch: int) -> list[int]:
    """`plan_syncs` as one statement, so a tick costs one round trip and no row comes back but the runs' ids: the
    due rows (locked, skipping those another process is planning), their next times moved on (`next_sync`'s
    spread, drawn by PostgreSQL), and the runs of those that may run inserted."""
    at = literal(now, UTCDateTime())
    active = exists().where(
        ImportRun.connection_id == SyncSettings.connection_id, ImportRun.status.in_(ACTIVE_RUN_STATUSES)
    )
    due = _due(
        select(
            SyncSettings.id,
            SyncSettings.connection_id,
            SyncSettings.interval_minutes,
            SyncSettings.reconcile_hours,
            SyncSettings.modified_since,
            or_(SyncSettings.modified_since.is_(None), SyncSettings.next_full_at <= at).label("full"),
            and_(Connection.provider.in_(sorted(packages)), ~active).label("queue"),
            Connection.workspace_id,
            Workspace.notification_channel_id,
        ),
        at,
        batch,
    ).cte("due")
    seconds = due.c.interval_minutes * 60 * (1 - func.random() * SPREAD)  # as `next_sync`: up to SPREAD early
    moved = (
        update(SyncSettings)
        .where(SyncSettings.id == due.c.id)
        .values(
            next_sync_at=at + func.make_interval(0, 0, 0, 0, 0, 0, seconds, type_=Interval()),
            next_full_at=case(
                (
                    and_(due.c.full, due.c.queue),
                    at + func.make_interval(0, 0, 0, 0, due.c.reconcile_hours, type_=Interval()),
                ),
                else_=SyncSettings.next_full_at,
            ),
        )
        .cte("moved")
    )
    runs = ImportRun.__table__
    assert isinstance(runs, Table)
    statement = (
        postgresql_insert(runs)
        .from_select(
            [
                "workspace_id",
                "connection_id",
                "kind",
                "trigger",
                "priority",
                "status",
                "since",
                "counts",
                "pages",
                "attempts",
                "channel_id",
                "created_at",
            ],
            select(
                due.c.workspace_id,
                due.c.connection_id,
                case((due.c.full, "full"), else_="incremental"),
                literal("schedule"),
                literal(int(RunPriority.SCHEDULE)),
                literal(RunStatus.QUEUED.value),
                case((due.c.full, null()), else_=due.c.modified_since),
                literal({}, runs.c.counts.type),
                literal(0),
                literal(0),
                due.c.notification_channel_id,
                at,
            ).where(due.c.queue),
        )
        .on_conflict_do_nothing()  # another process queued one meanwhile (the partial unique index of active runs)
        .returning(runs.c.id)
        .add_cte(moved)
    )
    with db.session(write_lock=True) as s:
        # Not waiting for the disk at commit: should PostgreSQL stop before it wrote the tick, the tick is lost whole
        # (its rows are due again and the next tick plans them), and the commit no longer waits for the busy disk.
        s.execute(text("SET LOCAL synchronous_commit = off"))
        queued = sorted(s.scalars(statement))
        if queued:
            notify(s, RUNS_QUEUED)
    if queued:
        log.info("Queued %s scheduled sync(s): runs %s", len(queued), queued)
    return queued


def _typed(moments: dict[int, datetime]) -> dict[int, ColumnElement[datetime]]:
    """The moments bound as our UTC column type, as the column itself would bind them."""
    return {key: literal(moment, UTCDateTime()) for key, moment in moments.items()}


def _insert_runs(session: Session, runs: list[dict[str, object]]) -> list[int]:
    """Insert the runs in one statement; a connection whose run another process queued meanwhile is skipped
    (the partial unique index of active runs)."""
    if not runs:
        return []
    table = ImportRun.__table__
    assert isinstance(table, Table)
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).on_conflict_do_nothing().returning(table.c.id)  # compiled once, sent in batches
    return sorted(session.scalars(statement, runs))


class ImportRunner:
    """This process's share of the import work: at most `workers` runs at a time, each in its own thread."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        reporters: Callable[[], Reporter],
        policy: ImportPolicy | None = None,
        waiter: Waiter | None = None,
        workers: int = 2,
        tick_every: float = TICK_EVERY,
    ) -> None:
        """`reporters` makes the reporter of each run (the Slack side hands in `bot.slack.import_reports`'s)."""
        self.runtime = runtime
        self.reporters = reporters
        self.policy = policy or ImportPolicy()
        self.waiter: Waiter = waiter or EventWaiter()
        self.workers = workers
        self.tick_every = tick_every
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        # started by the first large run (`ImportPolicy.read_apart_from`), or ahead of it (`start_reader`)
        self.reader = PageReader()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="import")
        self._ticker = ThreadPoolExecutor(1, thread_name_prefix="import-tick")
        self._lock = threading.Lock()  # guards the fields below
        self._ticking = threading.Lock()
        self._jobs: dict[int, ImportJob] = {}
        self._working: set[Future[None]] = set()  # runs and ends being told in the worker threads
        self._tick_pending = False
        self._closed = False
        self.listener: Listener | None = None
        self.ticked = threading.Event()  # set once a tick has run (for tests and the bench)
        self.stopping = threading.Event()  # set once `shutdown` began
        _runners.add(self)

    def start_reader(self) -> bool:
        """Start the reading process now, in the background, where a configured package's pages can be read in it
        and the policy reads large runs there: the first large import after the bot starts then finds it up instead
        of reading its first pages here while it starts (0.1-0.15 s of a core), and the packages' readers imported
        there (the first page waited 7-13 ms more for them, at 10,000 contacts). The bot's server does this once
        started (`bot.server.BotServer`). Returns whether it runs or is starting (`PageReader.start`: not where the
        system would not start a process now, which the bot goes on without)."""
        if self.policy.read_apart_from is None or self.stopping.is_set():
            return False
        readers = [p.page_reader for p in self.runtime.providers.values() if p.page_reader is not None]
        if not readers:
            return False
        return self.reader.start(*readers)  # imported there as it starts, not as the first page waits for them

    def recover(self) -> None:
        """On start: with SQLite (one process by design) a run left running was this process's before it
        stopped, so it is taken up at once; with PostgreSQL, other processes may hold theirs, so leases expire."""
        if self.runtime.db.is_sqlite:
            released = release_leases(self.runtime.db, now=self.runtime.clock())
            if released:
                log.info("Picking up %s import run(s) left running when the bot last stopped", released)

    def listen(self) -> None:
        """Tick whenever any process queues a run (PostgreSQL); SQLite has one process, whose tick suffices."""
        if self.listener is None and not self._closed:
            self.listener = Listener(self.runtime.db, RUNS_QUEUED, self.wake).start()

    def wake(self) -> None:
        """Tick soon in the background; wake-ups while one is pending are folded into it."""
        with self._lock:
            if self._closed or self._tick_pending:
                return
            self._tick_pending = True
        try:
            self._ticker.submit(self._tick_in_background)
        except RuntimeError:  # shut down meanwhile (`shutdown`): nothing more is looked for
            pass

    def _tick_in_background(self) -> None:
        with self._lock:
            self._tick_pending = False
        try:
            self.tick()
        except Exception:
            log.exception("The import tick failed")

    def tick(self) -> list[int]:
        """Queue due scheduled syncs, then claim due runs while a worker is free; returns the runs claimed.

        One tick at a time: a tick reading the clock before another's claim could otherwise hand out a
        lease that the other already counts as expired."""
        with self._ticking:
            if self._closed:
                return []
            now = self.runtime.clock()
            plan_syncs(self.runtime.db, self.runtime.providers, now=now)
            claimed: list[int] = []
            while True:
                with self._lock:
                    if self._closed or len(self._jobs) >= self.workers:
                        break
                run_id = claim(self.runtime.db, owner=self.owner, now=now, policy=self.policy)
                if run_id is None:
                    break
                job = self._job(run_id)
                with self._lock:  # `shutdown` interrupts the jobs it finds here: one added once it began is not
                    stopping = self._closed
                    if not stopping:
                        self._jobs[run_id] = job
                if stopping or not self._submit(self._work, job):
                    # claimed while this process began to stop (the claim waited for the database): let it go at
                    # once for the next process, rather than run it uninterrupted while the stop waits for it
                    with self._lock:
                        self._jobs.pop(run_id, None)
                    job.release()
                    break
                claimed.append(run_id)
            while not self._closed:  # ends that a process which died did not tell
                told = claim_report(self.runtime.db, owner=self.owner, now=now, policy=self.policy)
                if told is None:
                    break
                if not self._submit(self.report_ended, told):
                    break  # stopping: told by the next process once the report's lease lapses
            self.ticked.set()
            return claimed

    def run_claimed(self, run_id: int) -> RunView | None:
        """Run a run this runner claimed, in the calling thread (the worker threads and tests use it)."""
        job = self._job(run_id)
        with self._lock:
            self._jobs[run_id] = job
        try:
            return job.run()
        finally:
            with self._lock:
                self._jobs.pop(run_id, None)

    def report_ended(self, run_id: int) -> None:
        """Tell the end of a run this runner claimed with `claim_report` (its process died before, or Slack did not
        take it then), renewing the lease meanwhile. Should Slack still not take it, it is told again later."""
        stop = threading.Event()
        keeper = threading.Thread(target=self._keep_lease, args=(run_id, stop), name=f"report-{run_id}-lease")
        keeper.daemon = True
        keeper.start()
        try:
            view = load_view(self.runtime.db, run_id)
            told = view is None or tell_end(self.reporters(), view) or self._give_up(view)
        except SQLAlchemyError:
            log.exception("Telling the end of import run %s failed", run_id)
            told = False
        finally:
            stop.set()
            keeper.join(timeout=5)
        now = self.runtime.clock()
        if told:
            mark_reported(self.runtime.db, run_id=run_id, owner=self.owner, now=now)
        else:
            report_later(self.runtime.db, run_id=run_id, owner=self.owner, now=now, policy=self.policy)

    def _give_up(self, view: RunView) -> bool:
        """An end Slack has not taken for `policy.report_give_up` is let go (a workspace gone for good)."""
        ended = view.finished_at or view.created_at
        if self.runtime.clock() - ended < self.policy.report_give_up:
            return False
        log.error("Import run %s ended at %s and its end could not be told since; giving up", view.id, ended)
        return True

    def _keep_lease(self, run_id: int, stop: threading.Event) -> None:
        every = self.policy.lease.total_seconds() / 4
        while not stop.wait(every):
            try:
                now = self.runtime.clock()
                if not renew_lease(self.runtime.db, run_id=run_id, owner=self.owner, now=now, policy=self.policy):
                    return
            except SQLAlchemyError as exc:
                log.warning("Import run %s: could not renew its lease: %s", run_id, exc)

    def _job(self, run_id: int) -> ImportJob:
        return ImportJob(
            self.runtime,
            run_id,
            owner=self.owner,
            policy=self.policy,
            waiter=self.waiter,
            reporter=self.reporters(),
            link=lambda connection: link_for(self.runtime, connection),
            reader=self.reader,
        )

    def _submit(self, work: Callable[..., None], *args: object) -> bool:
        """Run `work` in a worker; False once the workers are shut down (`shutdown`). Handed over and counted under
        the lock, so that `shutdown`, which shuts the workers down before it reads what is working, waits for it."""
        with self._lock:
            try:
                future = self._pool.submit(work, *args)
            except RuntimeError:  # cannot schedule new futures after shutdown
                return False
            self._working.add(future)
        future.add_done_callback(self._done)  # called here at once if it is done already (outside the lock)
        return True

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._working.discard(future)

    def _work(self, job: ImportJob) -> None:
        try:
            job.run()
        finally:
            with self._lock:
                self._jobs.pop(job.run_id, None)
            self.wake()  # a worker is free: anything else due?

    @property
    def running(self) -> list[int]:
        with self._lock:
            return list(self._jobs)

    def shutdown(self, *, wait: float = 30.0) -> None:
        """Stop claiming; running imports stop at their next page or wait and release their runs (one past its last
        page ends and tells its end). Waits up to `wait` seconds for that, so that the clients they use (the
        package's, Slack's, the database's) are closed only after: a call in flight ends within moments."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            jobs_ = list(self._jobs.values())
        self.stopping.set()
        if self.listener is not None:
            self.listener.stop()
        for job in jobs_:
            job.interrupt()
        self._ticker.shutdown(wait=False, cancel_futures=True)
        self._pool.shutdown(wait=False, cancel_futures=True)  # what has not started yet never will
        with self._lock:
            working = list(self._working)
        _, still = wait_for_futures(working, timeout=wait)
        if still:
            log.warning("%s import run(s) did not stop within %.0fs; stopping without them", len(still), wait)
        self.reader.close()
        _runners.discard(self)
