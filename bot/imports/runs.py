"""The importer's runs: starting, cancelling and retrying one, claiming one under a lease (row locks with SKIP
LOCKED on PostgreSQL, the write lock on SQLite), and a snapshot of a run for reporting. Listeners, the schedule
and the job runner call these; `bot.imports.job` runs a claimed run; sync settings are in `bot.imports.sync`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, bindparam, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import workspaces
from bot.customers.lists import KeptFrom, customer_tally
from bot.customers.matching import OUTCOMES
from bot.customers.rows import DEFAULT_CUSTOMER_FILTER
from bot.imports.sync import SyncPlan, plan_of, stored_settings
from storage.db import Database
from storage.models import Connection, ImportRun, RunPriority, RunStatus, Workspace
from storage.models.import_runs import ACTIVE_RUN_STATUSES, CLAIMABLE, ENDED_RUN_STATUSES
from storage.wakeups import notify

log = logging.getLogger(__name__)

RUNS_QUEUED = "import_runs_queued"  # the notice every process hears when a run is queued (PostgreSQL)


@dataclass(frozen=True)
class ImportPolicy:
    """How patient an import is; tests shrink these."""

    lease: timedelta = timedelta(seconds=60)  # renewed every quarter of it while working, waiting or telling
    poll: float = 1.0  # seconds between looks for a Cancel (or a lost lease) while working or waiting
    retries: int = 3  # of a package that is unavailable, after the provider's own short retries
    backoff: float = 5.0  # seconds before the first of those retries, doubling after
    long_wait: float = 15 * 60.0  # a longer "wait" (a daily limit) releases the run and reschedules it, paused
    sleep_at_most: float = 5.0  # a "wait" up to this is slept in the worker; a longer one requeues the run
    max_claims: int = 10  # a run claimed this often without finishing is failed, not claimed again
    since_margin: timedelta = timedelta(minutes=5)  # overlap of incremental syncs, for clock differences
    report_retry: timedelta = timedelta(seconds=30)  # an end Slack did not take is told again after this
    report_give_up: timedelta = timedelta(days=1)  # ...until the run ended this long ago: then it is let go
    keep_ended: timedelta = timedelta(days=90)  # ended runs older than this go (`prune_ended`)
    # Pages that are here already are written in one transaction, up to this many records or seconds: on SQLite a
    # commit writes every index page the transaction touched to the log, a page of 1,000 random keys touching most
    # of an index's pages again, so fewer commits write far fewer pages. A page not yet here is never waited for
    # with the transaction open (nor the write lock held), and a crash loses at most these uncommitted pages: the
    # run resumes from the cursor of the last commit. A later import's pages that write nothing (every record left
    # unread as judged) open no transaction: the run's row waits for the next page up to `batch_seconds` (one commit
    # a page was most of a re-import's writing thread on SQLite), and a crash has those pages judged again.
    batch_records: int = 5_000
    batch_seconds: float = 0.5
    # Pages on their way while one is written (fetched, and read in the reading process where there is one). With
    # one, the reading process sat idle once it had read the next page until the page before was written, and the
    # writer then waited for the page after (20-30 ms of every page, a fifth of the time of an import of 100,000);
    # with three the two take turns less and the pages that are here already share a transaction (100 pages: 32
    # commits against 80-90). Memory: a page's body and its prepared records each.
    pages_ahead: int = 3
    # A run of at least this many records (by the package's total) starts a process of its own that reads and
    # prepares pages (`bot.imports.reading`), kept for later runs, whose pages go to it too; the bot's server starts
    # it once up (`ImportRunner.start_reader`). None: every page is read here. Below it, starting the process (0.1 s
    # of a core; 24 MiB idle, 33-40 MiB at its peak in an import) would not be won back.
    read_apart_from: int | None = 10_000


@dataclass(frozen=True)
class RunView:
    """A snapshot of a run with what reporting about it needs."""

    id: int
    team_id: str
    workspace_id: int
    connection_id: int
    provider: str
    organisation: str
    connected_by: str | None
    kind: str
    trigger: str
    started_by: str | None
    status: str
    counts: Mapping[str, int]
    total: int | None
    pages: int
    channel_id: str | None
    parent_ts: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    not_before: datetime | None
    error: str | None
    cancelled_by: str | None
    cancel_requested: bool
    attempts: int
    reported_parts: frozenset[str] = frozenset()  # the parts of its end already told (`record_reported_part`)

    def count(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    @property
    def processed(self) -> int:
        return sum(self.count(o) for o in OUTCOMES)

    @property
    def changed(self) -> int:
        return self.count("new") + self.count("updated")

    @property
    def percent(self) -> int | None:
        if self.status == RunStatus.SUCCEEDED:
            return 100
        if not self.total:
            return None
        return min(100, self.processed * 100 // self.total)

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or self.started_at) - self.started_at

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


def view_of(session: Session, run: ImportRun) -> RunView:
    connection = session.get(Connection, run.connection_id)
    workspace = session.get(Workspace, run.workspace_id)
    assert connection is not None and workspace is not None
    return _view(
        run,
        team_id=workspace.team_id,
        provider=connection.provider,
        organisation=connection.organisation_name,
        connected_by=connection.connected_by,
    )


def moved_on(view: RunView, run: ImportRun | Row[Any]) -> RunView:
    """The view of the run again from its row alone (an ORM object, or a row an `UPDATE ... RETURNING` gave back),
    with the connection's and the workspace's facts of `view`: a page's transaction reads nothing back to tell it."""
    return _view(
        run,
        team_id=view.team_id,
        provider=view.provider,
        organisation=view.organisation,
        connected_by=view.connected_by,
    )


def _view(
    run: ImportRun | Row[Any], *, team_id: str, provider: str, organisation: str, connected_by: str | None
) -> RunView:
    return RunView(
        id=run.id,
        team_id=team_id,
        workspace_id=run.workspace_id,
        connection_id=run.connection_id,
        provider=provider,
        organisation=organisation,
        connected_by=connected_by,
        kind=run.kind,
        trigger=run.trigger,
        started_by=run.started_by,
        status=run.status,
        counts=dict(run.counts or {}),
        total=run.total,
        pages=run.pages,
        channel_id=run.channel_id,
        parent_ts=run.parent_ts,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        not_before=run.not_before,
        error=run.error,
        cancelled_by=run.cancelled_by,
        cancel_requested=run.cancel_requested_at is not None,
        attempts=run.attempts,
        reported_parts=frozenset(run.reported_parts or ()),
    )


def load_view(db: Database, run_id: int) -> RunView | None:
    with db.session() as s:
        run = s.get(ImportRun, run_id)
        return view_of(s, run) if run is not None else None


def active_run(session: Session, *, connection_id: int) -> ImportRun | None:
    return session.scalar(
        select(ImportRun).where(ImportRun.connection_id == connection_id, ImportRun.status.in_(ACTIVE_RUN_STATUSES))
    )


_LATEST = (  # built once: read by status and App Home
    select(ImportRun)
    .where(ImportRun.connection_id == bindparam("connection_id"))
    .order_by(ImportRun.id.desc())
    .limit(1)
)


def latest_run(session: Session, *, connection_id: int) -> ImportRun | None:
    return session.scalar(_LATEST, {"connection_id": connection_id})


@dataclass(frozen=True)
class ImportState:
    """What App Home shows about importing: the latest run, the customers held, and the sync schedule."""

    customers: int  # the connected organisation's
    kept: tuple[KeptFrom, ...]  # customers kept from organisations no longer connected, by organisation
    latest: RunView | None
    sync: SyncPlan
    notification_channel_id: str | None
    customer_filter: str = DEFAULT_CUSTOMER_FILTER  # which contacts an import makes customers


def import_state(session: Session, *, connection: Connection, workspace: Workspace) -> ImportState:
    settings = stored_settings(session, connection_id=connection.id)  # read once: the plan and the filter
    customers, kept = customer_tally(session, workspace_id=workspace.id, connection_id=connection.id)
    latest = latest_run(session, connection_id=connection.id)
    return ImportState(
        customers=customers,
        kept=tuple(kept),
        latest=view_of(session, latest) if latest is not None else None,
        sync=plan_of(settings, connection=connection, workspace=workspace),
        notification_channel_id=workspace.notification_channel_id,
        customer_filter=(settings.customer_filter if settings is not None else None) or DEFAULT_CUSTOMER_FILTER,
    )


# --- Starting, cancelling, retrying: what listeners and the schedule call ----------------------------------------


@dataclass(frozen=True)
class Started:
    run: RunView
    created: bool  # False: one was already queued or running for the connection, and this is it


def start_import(
    db: Database,
    *,
    connection_id: int,
    trigger: str,
    started_by: str | None,
    channel_id: str | None,
    now: datetime,
    kind: str = "full",
    since: datetime | None = None,
) -> Started:
    """Queue a run for the connection, unless one is queued or running already: then that one is returned.
    A run someone started is audited."""
    try:
        with db.session(write_lock=True) as s:
            running = active_run(s, connection_id=connection_id)
            if running is not None:
                return Started(view_of(s, running), created=False)
            connection = s.get(Connection, connection_id)
            assert connection is not None
            run = ImportRun(
                workspace_id=connection.workspace_id,
                connection_id=connection_id,
                kind=kind,
                trigger=trigger,
                started_by=started_by,
                priority=RunPriority.PERSON if started_by is not None else RunPriority.SCHEDULE,
                status=RunStatus.QUEUED,
                since=since,
                counts={},
                channel_id=channel_id,
                created_at=now,
            )
            s.add(run)
            s.flush()
            notify(s, RUNS_QUEUED)
            if started_by is not None:
                workspaces.record(
                    s, workspace_id=run.workspace_id, actor=started_by, action="import.started", detail={"run": run.id}
                )
            return Started(view_of(s, run), created=True)
    except IntegrityError:  # another process queued one between our look and our insert
        with db.session() as s:
            running = active_run(s, connection_id=connection_id)
            assert running is not None
            return Started(view_of(s, running), created=False)


def request_cancel(db: Database, *, run_id: int, user_id: str | None, now: datetime) -> RunView | None:
    """A queued run is cancelled at once; a running one is asked to stop at its next page or wait. The request
    is audited while the run is active."""
    with db.session(write_lock=True) as s:
        run = s.scalar(select(ImportRun).where(ImportRun.id == run_id).with_for_update())
        if run is None:
            return None
        if run.status in ACTIVE_RUN_STATUSES:
            workspaces.record(
                s, workspace_id=run.workspace_id, actor=user_id, action="import.cancelled", detail={"run": run.id}
            )
        if run.status == RunStatus.QUEUED:
            run.status, run.finished_at, run.reported_at = "cancelled", now, now  # the caller tells it
            run.cancelled_by, run.cancel_requested_at = user_id, now
        elif run.status == RunStatus.RUNNING and run.cancel_requested_at is None:
            run.cancel_requested_at, run.cancelled_by = now, user_id
        return view_of(s, run)


def retry(db: Database, *, run_id: int, user_id: str | None, now: datetime) -> Started | None:
    """Queue a failed run again; it resumes from its cursor. If another run is active, that one is returned."""
    try:
        with db.session(write_lock=True) as s:
            run = s.scalar(select(ImportRun).where(ImportRun.id == run_id).with_for_update())
            if run is None:
                return None
            if run.status != RunStatus.FAILED:
                return Started(view_of(s, run), created=False)
            running = active_run(s, connection_id=run.connection_id)
            if running is not None:
                return Started(view_of(s, running), created=False)
            run.status, run.error, run.finished_at, run.not_before = "queued", None, None, None
            run.reported_at = run.lease_owner = run.lease_expires_at = None
            run.reported_parts = None  # its new end is told afresh
            run.attempts = 0
            s.flush()
            notify(s, RUNS_QUEUED)
            return Started(view_of(s, run), created=True)
    except IntegrityError:
        with db.session() as s:
            running = s.scalar(
                select(ImportRun).where(
                    ImportRun.status.in_(ACTIVE_RUN_STATUSES),
                    ImportRun.connection_id == select(ImportRun.connection_id).where(ImportRun.id == run_id),
                )
            )
            return Started(view_of(s, running), created=False) if running is not None else None


def release_leases(db: Database, *, now: datetime) -> int:
    """Let running runs, and ended ones whose end was not told yet, be claimed at once (their holder is known
    to be gone); returns how many."""
    with db.session(write_lock=True) as s:
        held = or_(ImportRun.status == RunStatus.RUNNING, and_(_ended_untold(), ImportRun.lease_owner.is_not(None)))
        runs = list(s.scalars(select(ImportRun).where(held).with_for_update()))
        for run in runs:
            run.lease_expires_at = now
        return len(runs)


def _ended_untold() -> ColumnElement[bool]:
    return and_(ImportRun.status.in_(ENDED_RUN_STATUSES), ImportRun.reported_at.is_(None))


def claim_report(db: Database, *, owner: str, now: datetime, policy: ImportPolicy) -> int | None:
    """Take an ended run whose end was never told in Slack (its process died between the last page and the
    summary) under a lease, so exactly one process tells it."""
    with db.session(write_lock=True) as s:
        lapsed = or_(ImportRun.lease_expires_at.is_(None), ImportRun.lease_expires_at < now)
        run = s.scalar(
            select(ImportRun)
            .where(_ended_untold(), lapsed)
            .order_by(ImportRun.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if run is None:
            return None
        run.lease_owner, run.lease_expires_at = owner, now + policy.lease
        log.info("Telling the end of import run %s, which its process did not", run.id)
        return run.id


def mark_reported(db: Database, *, run_id: int, owner: str, now: datetime) -> None:
    """The run's end was told: let the run go."""
    with db.session(write_lock=True) as s:
        run = s.scalar(select(ImportRun).where(ImportRun.id == run_id).with_for_update())
        if run is not None and run.lease_owner == owner:
            run.reported_at, run.lease_owner, run.lease_expires_at = now, None, None


def report_later(db: Database, *, run_id: int, owner: str, now: datetime, policy: ImportPolicy) -> None:
    """Slack did not take the run's end: let the run go untold, for any process's tick to tell it again once
    `policy.report_retry` has passed (`claim_report`)."""
    with db.session(write_lock=True) as s:
        run = s.scalar(select(ImportRun).where(ImportRun.id == run_id).with_for_update())
        if run is not None and run.lease_owner == owner and run.reported_at is None:
            run.lease_owner, run.lease_expires_at = None, now + policy.report_retry
            log.info("The end of import run %s was not told; telling it again after %s", run_id, policy.report_retry)


def record_reported_part(db: Database, *, run_id: int, part: str) -> None:
    """One part of the run's end (the CSV, the summary, ...) was told: it is not sent again."""
    with db.session(write_lock=True) as s:
        add_reported_part(s, run_id=run_id, part=part)


def add_reported_part(session: Session, *, run_id: int, part: str) -> None:
    """`record_reported_part` in the caller's transaction (opened with the write lock), beside what goes with it."""
    run = session.scalar(select(ImportRun).where(ImportRun.id == run_id).with_for_update())
    if run is not None and part not in (run.reported_parts or []):
        run.reported_parts = [*(run.reported_parts or []), part]


def renew_lease(db: Database, *, run_id: int, owner: str, now: datetime, policy: ImportPolicy) -> bool:
    """Renew the run's lease while this owner holds it; False when it does not any more."""
    with db.session(write_lock=True) as s:
        run = s.scalar(select(ImportRun).where(ImportRun.id == run_id).with_for_update())
        if run is None or run.lease_owner != owner:
            return False
        run.lease_expires_at = now + policy.lease
        return True


def record_parent(db: Database, *, run_id: int, channel_id: str, parent_ts: str | None) -> None:
    """Where the run's progress message is (and so where its thread is)."""
    with db.session(write_lock=True) as s:
        run = s.get(ImportRun, run_id)
        if run is not None:
            run.channel_id, run.parent_ts = channel_id, parent_ts


def claim(db: Database, *, owner: str, now: datetime, policy: ImportPolicy) -> int | None:
    """Take the first due run under a lease: a queued one whose time has come, or a running one whose holder
    stopped renewing its lease; a person's before the schedule's (`RunPriority`), then the oldest. Row locks
    with SKIP LOCKED (PostgreSQL) or SQLite's write lock make sure that two processes never take the same run.
    Only the queued and running runs are looked at (a partial index), however many ended ones are kept."""
    with db.session(write_lock=True) as s:
        due = or_(
            and_(
                ImportRun.status == RunStatus.QUEUED, or_(ImportRun.not_before.is_(None), ImportRun.not_before <= now)
            ),
            and_(ImportRun.status == RunStatus.RUNNING, ImportRun.lease_expires_at < now),
        )
        run = s.scalar(
            select(ImportRun)
            .where(CLAIMABLE, due)  # the index's own words, so that the planner sees it applies
            .order_by(ImportRun.priority, ImportRun.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if run is None:
            return None
        if run.attempts >= policy.max_claims:
            run.status, run.finished_at, run.lease_owner, run.lease_expires_at = "failed", now, None, None
            run.error = "The import was interrupted too many times, so it was stopped. Retry when ready."
            log.error("Import run %s was claimed %s times; failing it", run.id, run.attempts)
            return None
        run.status, run.lease_owner, run.lease_expires_at = "running", owner, now + policy.lease
        run.not_before = None
        run.started_at = run.started_at or now
        run.attempts += 1
        log.info("Claimed import run %s (attempt %s)", run.id, run.attempts)
        return run.id


def prune_ended(db: Database, *, now: datetime, policy: ImportPolicy, batch: int = 1000) -> int:
    """Delete up to `batch` runs that ended more than `policy.keep_ended` ago and whose end was told, with the
    records they skipped; returns how many. Each connection's latest run stays whatever its age (App Home shows
    it, and a failed one can be retried); the audit log keeps who started and cancelled what."""
    newer = ImportRun.__table__.alias("newer")
    with db.session(write_lock=True) as s:
        old = (
            select(ImportRun.id)
            .where(
                ImportRun.status.in_(ENDED_RUN_STATUSES),
                ImportRun.reported_at.is_not(None),
                ImportRun.finished_at < now - policy.keep_ended,
                exists().where(newer.c.connection_id == ImportRun.connection_id, newer.c.id > ImportRun.id),
            )
            .order_by(ImportRun.id)
            .limit(batch)
        )
        ids = list(s.scalars(old))
        if ids:
            s.execute(delete(ImportRun).where(ImportRun.id.in_(ids)))
        return len(ids)
