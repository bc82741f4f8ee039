"""Running one claimed import run: walking the provider's pages from the run's cursor, and finishing the run.

Each page is written in one transaction together with the run's cursor and counts (pages already fetched share
one: `ImportPolicy.batch_records`), so a run picked up again (by this process after a wait, or by another after
this one died) continues from its last committed page and ends with the same table as an uninterrupted run. A later
import's page that writes nothing (its records left unread as judged) moves the run on in memory, its row written
with a later page's or as its batch ends (`_Batch.quiet`).
A process works on a run only while it holds the run's lease; a heartbeat renews it and notices a Cancel, so
cancelling works from any process.
Plain Python: the job runner (`bot.imports.runner`) drives it, a `Reporter` (Slack) hears how it goes.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session

from bot.customers.csv_lines import NewCustomers
from bot.customers.matching import (
    Lacks,
    Stale,
    Unread,
    apply_prepared,
    count_left_unread,
    may_leave_unread,
    resolve_merges,
)
from bot.customers.rows import DEFAULT_CUSTOMER_FILTER, REFUSED, Prepared
from bot.imports.alongside import Alongside, Coalesced, on_last_page
from bot.imports.memory import release_free_memory
from bot.imports.prefetch import Prefetched
from bot.imports.reading import PageReader, PageRecords, ReadPage, read_ahead, take_back_while_waiting
from bot.imports.runs import ImportPolicy, RunView, load_view, mark_reported, moved_on, report_later, view_of
from bot.imports.sync import sync_settings
from bot.mapping import account_mapping
from bot.runtime import Runtime
from providers.base import (
    Cursor,
    Glance,
    Link,
    Page,
    Provider,
    ProviderError,
    RateLimited,
    RateLimitScope,
    Skipped,
    Unavailable,
)
from providers.records import clean_text
from storage.db import Database
from storage.models import (
    Connection,
    ConnectionStatus,
    Customer,
    CustomerReference,
    ImportRun,
    ImportRunSkip,
    RunStatus,
    SyncSettings,
)
from storage.sync_pause import sync_may_run

log = logging.getLogger(__name__)

# A scheduled sync reads the chart of accounts again only when it is older than this (a person's import always
# does): charts change rarely, and reading one at every sync doubled the calls of a sync with nothing to do.
SCHEDULED_CHART_EVERY = timedelta(days=1)
# The chart of accounts is fetched once no more than this many pages remain (by the package's total), so that its
# calls go while the last pages are written instead of after them, and after the pages before (whose calls go first
# should the package's budget run short).
CHART_WITH_THE_LAST = 2
# The customer tables' statistics are refreshed (PostgreSQL) while a run adds at least this many customers: a
# sync that changes a few leaves the planner's picture right, and ANALYZE costs every run a scan of samples.
ANALYSE_FROM_NEW = 1000
# Seconds an import waits for its next page before what its pages freed goes back to the system (`malloc_trim`:
# `bot.imports.memory`). A page that comes sooner (read by the reading process, or judged in a re-import, a few
# milliseconds after the one before) reuses it: given back, it is mapped and zeroed again for the next page's fetch,
# reading and writing, some 1,000 page faults a page of 1,000 contacts in this process, 1.2 µs each. Where the package
# is slower than the writes (its real limits: a page a second or so), it goes back after every page.
GIVE_BACK_AFTER = 0.05
# ... looking at a sample of 3,000 rows (a statistics target of 10, against the server's 100: 30,000 rows): the look
# is for the tables' sizes as they grow, which the plans hinged on, and for rough spreads of the columns below
# (tests/test_import_plans.py). One look at 80,000 customers took 20-23 ms against 120-133 ms; the five of an import of
# 100,000 0.12-0.13 s of the server against 0.31-0.38 s. Autovacuum takes its full sample later.
ANALYSE_SAMPLE = 10
# ... of the columns the import's look-ups filter and join on, and the end's list of new customers by run: ANALYZE
# of these takes half the time of every column (0.14 against 0.25-0.31 s at 80,000 customers). The table's size,
# which the plans hinged on, is counted either way; autovacuum looks at every column later.
ANALYSED = {
    Customer.__tablename__: ("workspace_id", "matchable", "email_key", "name_key", "first_import_run_id"),
    CustomerReference.__tablename__: ("connection_id", "external_id", "customer_id", "merged_into_external_id"),
}
# The tables a page's transaction writes through Core: no ORM objects for the run's row or its skipped records.
_RUNS = cast(Table, ImportRun.__table__)
_SKIPS = cast(Table, ImportRunSkip.__table__)


class Reporter(Protocol):
    """Hears how a run goes (the Slack reporter posts and edits messages); must not raise."""

    def started(self, run: RunView, *, resumed: bool) -> None: ...

    def progressed(self, run: RunView) -> None: ...

    def waiting(self, run: RunView, *, seconds: float, limit: str | None) -> None: ...

    def retrying(self, run: RunView, *, attempt: int, retries: int, seconds: float, error: ProviderError) -> None: ...

    def paused(self, run: RunView, *, until: datetime, limit: str | None) -> None: ...

    def finished(self, run: RunView, *, made: NewCustomers | None = None) -> bool:
        """Tell the run's end; True once it was told (or there is nothing to tell), False when the chat could
        not be reached: the run then stays untold and its end is told again later. `made`: the CSV lines of the
        run's new customers, where the process that ran it gathered them (`lists.new_customer_lines` tells
        whether they stand for them)."""
        ...


class Waiter(Protocol):
    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait `seconds` or until `stop` is set; True if the time passed."""
        ...


class EventWaiter:
    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return not stop.wait(seconds)


class LeaseLost(Exception):
    """Another process holds the run now (ours expired); we stop without writing anything more."""


class Interrupted(Exception):
    """This process is shutting down; the run is released for whoever starts next."""


@dataclass
class _Flags:
    stop: threading.Event = field(default_factory=threading.Event)  # wakes waits
    done: threading.Event = field(default_factory=threading.Event)  # ends the heartbeat
    cancel: bool = False
    lost: bool = False
    shutdown: bool = False
    # when a page's transaction last renewed the lease and looked for a Cancel (time.monotonic()): the
    # heartbeat has nothing to do until a renewal or a look is due again
    written: float = float("-inf")


class ImportJob:
    """Runs one claimed run to its end (or to a reschedule, or until this process stops)."""

    def __init__(
        self,
        runtime: Runtime,
        run_id: int,
        *,
        owner: str,
        policy: ImportPolicy,
        waiter: Waiter,
        reporter: Reporter,
        link: Callable[[Connection], Link],
        reader: PageReader | None = None,
    ) -> None:
        """`reader`: the process that reads large runs' pages (`bot.imports.reading`); None reads them here."""
        self.runtime, self.db, self.run_id = runtime, runtime.db, run_id
        self.owner, self.policy, self.waiter, self.reporter = owner, policy, waiter, reporter
        self.link, self.reader = link, reader
        self.flags = _Flags()
        # While a connection's first import runs from its first page, the ids it wrote: the others need no
        # look-up (`_Written`); None when the connection had records already, or the run was picked up midway.
        self.written: _Written | None = None
        # While a later import runs, the ids it read (and so may write): a record left unread with one of them is
        # looked up again in the page's transaction, the others are taken as judged (`apply_prepared`'s
        # `as_judged`); None on a first import.
        self.read: _Written | None = None
        # While a run a person started goes on from its first page, the CSV lines of the customers it created (its
        # end writes its CSV from them, in the order the database gives); None where the run was picked up midway,
        # or a page was written record by record.
        self.new: NewCustomers | None = None

    def interrupt(self) -> None:
        """Stop soon and release the run (this process is shutting down)."""
        self.flags.shutdown = True
        self.flags.stop.set()

    def run(self) -> RunView | None:
        heartbeat = threading.Thread(target=self._heartbeat, name=f"import-{self.run_id}-lease", daemon=True)
        heartbeat.start()
        try:
            return self._run()
        except LeaseLost:
            log.warning("Import run %s was taken over by another process; stopping here", self.run_id)
            return load_view(self.db, self.run_id)
        except Interrupted:
            self.release()
            return load_view(self.db, self.run_id)
        except Exception:
            log.exception("Import run %s failed unexpectedly", self.run_id)
            try:
                view = self._finish("failed", error="Something went wrong on our side while importing.")
            except (LeaseLost, SQLAlchemyError):
                return None
            self._report_end(view)
            return view
        finally:
            self.flags.done.set()
            heartbeat.join(timeout=5)
            self._no_new_lines()
            release_free_memory()  # what the run freed goes back to the system, however it ended (`bot.imports.memory`)

    def _run(self) -> RunView:
        with self.db.session() as s:  # one transaction for what the run starts from: each is a round trip or more
            run = s.get(ImportRun, self.run_id)
            assert run is not None
            view = view_of(s, run)
            # where the first read starts: the run as read here, not read again (`_position`, after a wait)
            position: tuple[RunView, dict[str, Any] | None, datetime | None] | None = (view, run.cursor, run.since)
            connection = s.get(Connection, run.connection_id)
            assert connection is not None
            settings = s.scalar(select(SyncSettings).where(SyncSettings.connection_id == connection.id))
            customer_filter = settings.customer_filter if settings is not None else DEFAULT_CUSTOMER_FILTER
            first_import = view.pages == 0 and not _has_records(s, connection.id)
            s.expunge(connection)
        provider = self.runtime.providers.get(connection.provider)
        if view.cancel_requested:
            return self._end("cancelled")
        if connection.status == ConnectionStatus.DISCONNECTED or provider is None:
            return self._end("failed", error=f"{connection.organisation_name} is no longer connected.")
        # Told once the first pages are on their way (`_read`), not before they are asked for: Slack's answer (a
        # round trip; seconds when it says to slow down) no longer holds up the package's first call.
        # Told once (`functools.cache`: the first call tells, the later ones return what it returned).
        started = functools.cache(
            functools.partial(self._tell, self.reporter.started, view, resumed=view.pages > 0 or view.attempts > 1)
        )
        if first_import:
            self.written = _Written()
        else:
            self.read = _Written(bits=1 << 22)
        if view.pages == 0 and view.started_by:  # a person's import sends its CSV of new customers
            self.new = NewCustomers()
        link, attempt = self.link(connection), 0
        while True:
            if (ended := self._stopping()) is not None:
                return ended
            view, cursor, since = position or self._position()
            position = None
            try:
                return self._read(
                    provider, link, view, since=since, cursor=cursor, customer_filter=customer_filter, started=started
                )
            except RateLimited as exc:
                started()  # what the run waits for is told after its start, as ever
                # The app's limit is every organisation's, and a package's "wait" longer than a moment (a
                # package's minute) would hold the worker: the run goes back to the queue with its time to wait, and the
                # worker takes other work (another package's, or a run due sooner) meanwhile.
                if exc.scope in (RateLimitScope.DAY, RateLimitScope.APP) or exc.retry_after > self.policy.sleep_at_most:
                    return self._reschedule(exc)
                self._tell(self.reporter.waiting, view, seconds=exc.retry_after, limit=exc.scope)
                self.waiter.wait(exc.retry_after, self.flags.stop)
            except Unavailable as exc:
                started()
                attempt += 1
                if attempt > self.policy.retries:
                    return self._end("failed", error=exc.format_message())
                delay = self.policy.backoff * 2 ** (attempt - 1)
                log.info("Import run %s: %s; retry %s in %.1fs", self.run_id, exc.message, attempt, delay)
                self._tell(
                    self.reporter.retrying, view, attempt=attempt, retries=self.policy.retries, seconds=delay, error=exc
                )
                self.waiter.wait(delay, self.flags.stop)
            except ProviderError as exc:  # needs reconnecting, refused: waiting will not help
                return self._end("failed", error=exc.format_message())

    def _no_new_lines(self) -> None:
        if self.new is not None:
            self.new.close()
            self.new = None

    def _refresh_chart(self, view: RunView) -> None:
        """Each import a person started also refreshes the stored chart of accounts, so stale mappings get flagged;
        a scheduled sync does when the stored chart is older than `SCHEDULED_CHART_EVERY`."""
        if view.trigger == "schedule":
            with self.db.session() as s:
                stored = s.scalar(select(Connection.chart_refreshed_at).where(Connection.id == view.connection_id))
            if stored is not None and self.runtime.clock() - stored < SCHEDULED_CHART_EVERY:
                return
        try:
            account_mapping.refresh_chart(self.runtime, connection_id=view.connection_id)
        except (ProviderError, LookupError) as exc:
            log.info("Import run %s: the chart of accounts was not refreshed (%s)", self.run_id, exc)

    def _position(self) -> tuple[RunView, dict[str, Any] | None, datetime | None]:
        """Where the run stands: its view, the cursor after its last committed page, and its `since`."""
        with self.db.session() as s:
            run = s.get(ImportRun, self.run_id)
            assert run is not None
            return view_of(s, run), run.cursor, run.since

    def _read(
        self,
        provider: Provider,
        link: Link,
        view: RunView,
        *,
        since: datetime | None,
        cursor: dict[str, Any] | None,
        customer_filter: str,
        started: Callable[[], object],
    ) -> RunView:
        """Read pages from the cursor on, committing each; returns the view of the run once it ended. The chart of
        accounts is fetched beside the writes of the last pages, once they are on their way (or the last came).
        `started` tells Slack the run started, while the first pages are fetched."""
        chart = Alongside(functools.partial(self._refresh_chart, view), name=f"import-{self.run_id}-chart")
        apart = self.policy.read_apart_from if self.reader is not None else None
        resume = Cursor(cursor) if cursor else None
        source = read_ahead(
            on_last_page(provider.customers(link, since=since, resume=resume, encoded=apart is not None), chart.start),
            self.reader,
            from_records=apart,
            # records read before may be left unread; a first import has none (`_Written`)
            leave=functools.partial(self._may_leave, view.connection_id, customer_filter)
            if self.written is None
            else None,
            lines=customer_filter if self.new is not None else None,  # the lines of the customers it may create
        )
        # PostgreSQL looks at the tables in a thread beside the pages (ANALYZE took 0.1-0.3 s a time at 100,000, the
        # run waiting); its lock lets the pages' inserts go on meanwhile
        statistics = Coalesced(self._refresh_statistics, name=f"import-{self.run_id}-statistics")
        records, first = 0, 1
        looked_at = 0  # the run's new customers when the tables were last looked at (`statistics`)
        if self.new is not None:
            self.new.discard()  # what a transaction of a read that ended in a retry gathered: rolled back
        with (
            chart.joined(),
            statistics.joined(),
            Prefetched(source, name=f"import-{self.run_id}-pages", ahead=self.policy.pages_ahead) as pages,
            _Batch(self.db) as batch,
        ):  # the next pages come meanwhile (and are read in the reading process, where there is one)
            started()  # while the first pages are asked for (no transaction is open yet: `_Batch` opens one lazily)
            for read, item in enumerate(pages, start=1):
                if not item.done() and self.reader is not None:  # the reading process is behind: read here
                    self.reader.took_back(take_back_while_waiting(item, pages.waiting))  # what it has not started
                page, got = item.page, item.records()
                records += len(got.prepared) + len(got.skipped) + len(got.left)
                if page.total is not None and page.total - records <= CHART_WITH_THE_LAST * records / read:
                    chart.start()  # the last pages are on their way: the chart's calls go beside them
                if not batch.records:
                    first = view.pages + 1  # the transaction's first page
                try:
                    view, done = self._commit_page(batch, page, got, customer_filter, view)
                except Stale as exc:  # nothing of the page was written: read whole, it is written as any other
                    log.info(
                        "Import run %s: %s records changed since glanced at; page read here",
                        self.run_id,
                        len(exc.args[0]),
                    )
                    view, done = self._commit_page(batch, page, item.read_here(), customer_filter, view)
                # a page that wrote nothing adds nothing to the transaction: its batch is bounded by its age
                batch.records += 1 if batch.quiet else max(1, len(got.prepared) + len(got.skipped) + len(got.left))
                more = batch.records < self.policy.batch_records and batch.age() < self.policy.batch_seconds
                more = more and not self.flags.stop.is_set()
                if not done and more and pages.ready(ReadPage.done):
                    continue  # the next page is here already: it goes in the same transaction
                if not done and more and batch.quiet and pages.arrives(self.policy.batch_seconds - batch.age()):
                    # no transaction is open (the batch's pages wrote nothing): the run's row waits for the next page,
                    # with nothing held, as long as the batch may last (what it raises comes after the row is written)
                    continue
                new = view.count("new")
                analyse = _power_of_two_in(first, view.pages) and new >= ANALYSE_FROM_NEW
                # not at the last commit where the run looked at the tables at half their size or more: its look-ups
                # are over (the end waited 9 ms for it at 10,000), the planner reads a table's size as it is, and
                # autovacuum looks at the tables after the run
                analyse = analyse and not (done and 2 * looked_at >= new)
                view = self._write_moves(batch, view)
                batch.commit()
                if self.new is not None:
                    self.new.committed()
                self.flags.written = time.monotonic()
                if analyse and not self.db.is_sqlite:  # pages 1, 2, 4, 8... (or a commit past one): tables grow fast
                    statistics.start()
                    looked_at = new
                if done:
                    if not self.flags.shutdown or chart.started:  # stopping: the next run reads it
                        chart.finish()
                    statistics.wait()  # before the end is told: a run told ended leaves nothing at work
                    self._report_end(view)
                    return view
                self._tell(self.reporter.progressed, view)
                if (ended := self._stopping()) is not None:
                    return ended
                if not pages.ready(ReadPage.done) and not pages.arrives(GIVE_BACK_AFTER):
                    release_free_memory()  # the next page is slow to come: what the pages freed goes back meanwhile
            view = self._write_moves(batch, view)  # the pages of a transaction still open (none: each is committed)
        return self._end("succeeded")  # a provider that ended without saying "last page"

    def _may_leave(self, connection_id: int, customer_filter: str, glances: list[Glance]) -> Unread:
        """`bot.imports.reading.Leave`, in the threads that judge the pages beside the one that hands them over
        (`bot.imports.reading.JUDGES`). A look-up that fails leaves every record to be read."""
        try:
            with self.db.session() as s:
                return may_leave_unread(
                    s, connection_id=connection_id, glances=glances, customer_filter=customer_filter
                )
        except SQLAlchemyError as exc:
            log.warning("Import run %s: could not tell which records to leave unread: %s", self.run_id, exc)
            return {}

    def _refresh_statistics(self) -> None:
        try:
            self.db.refresh_statistics(ANALYSED, sample=ANALYSE_SAMPLE)
        except SQLAlchemyError as exc:
            log.warning("Import run %s: could not refresh the table statistics: %s", self.run_id, exc)

    def _stopping(self) -> RunView | None:
        """Between pages and after waits: the final view if cancelled; raises if taken over or shutting down."""
        if self.flags.lost:
            raise LeaseLost
        if self.flags.cancel:
            return self._end("cancelled")
        if self.flags.shutdown:
            raise Interrupted
        return None

    def _commit_page(
        self,
        batch: _Batch,
        page: Page,
        records: PageRecords,
        customer_filter: str,
        view: RunView,
    ) -> tuple[RunView, bool]:
        """The page's customers, the records it could not use, the cursor after it and the counts, in the batch's
        transaction (committed with it: `_read`). Should the database still refuse a record, the page is written
        again record by record, so that only the refused record is skipped; pages before it in the transaction
        stay (the page is written in a savepoint after them). `view` is the run as its last page (or `_position`)
        left it. Raises `Stale`, having written nothing, for records left unread that are not as glanced at."""
        if (judged := self._left_as_judged(page, records)) is not None:
            # every record left unread as judged: counted, and the run moved on with no transaction opened for it
            # (`_Batch.quiet`); the run's row is written with a later page's, or as its batch ends (`_read`)
            counts: Counter[str] = Counter()
            count_left_unread(counts, records.left, judged, customer_filter)
            return batch.move_on(view, self._moves(view, page, counts, self.runtime.clock())), False
        alone = not batch.records  # no page before it in the transaction: no savepoint needed
        s = batch.session()
        try:
            # nor for a page whose records were all left unread: it writes nothing but the run's row (once a
            # transaction: `_write_moves`), which is not refused (two round trips less a page of a later import)
            if alone or not (records.prepared or records.skipped):
                return self._write_page(batch, page, records, customer_filter, view, by_record=False)
            with s.begin_nested():
                return self._write_page(batch, page, records, customer_filter, view, by_record=False)
        except (SQLAlchemyError, TypeError, ValueError) as exc:
            if not refused(exc):
                raise
            self.written = None  # and each record is looked up: should another writer have come, it is seen
            self._no_new_lines()  # the page's lines may hold records the savepoint's rollback took back
            log.warning(
                "Import run %s: the database refused a record (%s); writing the page record by record",
                self.run_id,
                type(exc.orig if isinstance(exc, DBAPIError) else exc).__name__,
            )
            if alone:
                batch.rollback()
            return self._write_page(batch, page, records, customer_filter, view, by_record=True)

    def _write_page(
        self,
        batch: _Batch,
        page: Page,
        records: PageRecords,
        customer_filter: str,
        view: RunView,
        *,
        by_record: bool,
    ) -> tuple[RunView, bool]:
        s, now = batch.session(), self.runtime.clock()
        prepared, skipped = records.prepared, list(records.skipped)

        look_up: list[str] | None = None  # all the page's ids
        if (written := self.written) is not None and not by_record:
            # added before the writes (should they be undone, the ids are looked up), in the pass that finds them
            look_up = written.add(r.id for r in prepared)
        as_judged: dict[str, Lacks | None] | None = None  # None: each record left unread is looked up
        if (read := self.read) is not None:
            if records.left and not by_record:  # nothing but this run writes the connection's references meanwhile
                again = set(read.maybe(g.id for g in records.left))
                as_judged = {i: lacks for i, lacks in records.judged.items() if i not in again}
            read.add(r.id for r in prepared)  # before the writes, as above

        def apply(some: list[Prepared], left: list[Glance]) -> Counter[str]:
            return apply_prepared(
                s,
                workspace_id=view.workspace_id,
                connection_id=view.connection_id,
                run_id=self.run_id,
                records=some,
                customer_filter=customer_filter,
                now=now,
                look_up=look_up,
                left=left,
                as_judged=as_judged,
                new=self.new,
            )

        if by_record:
            counts = apply([], records.left)  # first: should one be stale (`Stale`), nothing is written yet
            for record in prepared:
                try:
                    with s.begin_nested():
                        counts.update(apply([record], []))
                except (SQLAlchemyError, TypeError, ValueError) as exc:
                    if not refused(exc):
                        raise
                    log.warning("Import run %s: record %r was refused: %s", self.run_id, record.id, exc)
                    skipped.append(Skipped(id=record.id, name=record.name, reason=REFUSED))
        else:
            counts = apply(prepared, records.left)
        counts["unreadable"] += len(skipped)
        if skipped:
            s.execute(
                insert(_SKIPS),
                [
                    {
                        "run_id": self.run_id,
                        "external_id": clean_text(k.id),
                        "name": clean_text(k.name),
                        "reason": clean_text(k.reason) or "it could not be read",
                    }
                    for k in skipped
                ],
            )
        values = self._moves(view, page, counts, now)
        if page.cursor is not None:
            return batch.move_on(view, values), False
        view = self._moved_on(s, batch.as_written(view), batch.moved | values | self._ended("succeeded", now=now))
        batch.row_written()
        self._complete(s, view, now=now)
        return view, True

    def _left_as_judged(self, page: Page, records: PageRecords) -> Unread | None:
        """How a later import's page was judged, where the page writes nothing: not the last (which ends the run),
        every record left unread (each with its judgement: `PageReader.judged`), and none read by this run since
        (which `_write_page` would look up again: its `as_judged`); None for any other page."""
        read = self.read
        if read is None or page.cursor is None or records.prepared or records.skipped or not records.left:
            return None
        return None if read.maybe(g.id for g in records.left) else records.judged

    def _moves(self, view: RunView, page: Page, counts: Counter[str], now: datetime) -> dict[str, Any]:
        """The run's row after `page`. The counts are merged here, from those of `view`: only the lease's holder
        writes them, and the update finds the run only where `view` left it (`_moved_on`)."""
        values: dict[str, Any] = {
            "counts": dict(Counter(view.counts) + counts),
            "pages": view.pages + 1,
            "lease_expires_at": now + self.policy.lease,
        }
        if page.total is not None:
            values["total"] = page.total
        if page.cursor is not None:
            values["cursor"] = page.cursor.value
        return values

    def _write_moves(self, batch: _Batch, view: RunView) -> RunView:
        """The run's row as the open transaction's pages moved it (`_Batch.move_on`), written before it commits."""
        if not batch.moved:
            return view
        view = self._moved_on(batch.session(), batch.as_written(view), batch.moved)
        batch.row_written()
        if view.cancel_requested:  # seen here as the heartbeat would
            self.flags.cancel = True
            self.flags.stop.set()
        return view

    def _moved_on(self, session: Session, view: RunView, values: dict[str, Any]) -> RunView:
        """Write `values` to the run's row in one statement that also checks this process still holds the run
        (running, with the lease ours, and as `view` left it: no other writer in between), locks the row until
        the commit and gives the row back for the new view; raises LeaseLost (and the transaction is rolled
        back, whatever it wrote) if not. This replaces reading the run locked, writing it through the ORM and
        reading the connection and workspace again: on PostgreSQL each of those was a round trip a page."""
        row = session.execute(
            update(_RUNS)
            .where(
                _RUNS.c.id == self.run_id,
                _RUNS.c.lease_owner == self.owner,
                _RUNS.c.status == RunStatus.RUNNING,
                _RUNS.c.pages == view.pages,
            )
            .values(values)
            .returning(*_RUNS.c)
        ).one_or_none()
        if row is None:
            self.flags.lost = True
            raise LeaseLost
        return moved_on(view, row)

    def _owned(self, session: Session, *, ended: bool = False) -> ImportRun:
        """The run, locked, if this process still holds it (and it is running, unless `ended` allows an ended
        run whose end is still to be told)."""
        run = session.scalar(select(ImportRun).where(ImportRun.id == self.run_id).with_for_update())
        if run is None or run.lease_owner != self.owner or (run.status != RunStatus.RUNNING and not ended):
            self.flags.lost = True
            raise LeaseLost
        return run

    def _ended(self, status: str, *, now: datetime, error: str | None = None) -> dict[str, Any]:
        """The run's columns at its end; the lease is kept until the end is told (`_report_end`)."""
        return {"status": status, "finished_at": now, "error": error, "lease_expires_at": now + self.policy.lease}

    def _complete(self, session: Session, view: RunView, *, now: datetime) -> None:
        """What a run that succeeded moves on, in the transaction that ends it: merges resolved, and the
        connection's sync settings (the next incremental sync starts from when this run started)."""
        resolve_merges(session, connection_id=view.connection_id)
        settings = sync_settings(session, connection_id=view.connection_id)
        started = view.started_at or now
        settings.modified_since = started - self.policy.since_margin
        settings.last_synced_at, settings.failure_notified_at = now, None
        # a sync turned off, or stopped meanwhile (`storage.sync_pause`), has no next time
        if settings.enabled and sync_may_run(session, connection_id=view.connection_id):
            settings.next_sync_at = settings.next_sync_at or now + timedelta(minutes=settings.interval_minutes)
        if view.kind == "full" or settings.next_full_at is None:
            settings.next_full_at = now + timedelta(hours=settings.reconcile_hours)

    def _finish(self, status: str, *, error: str | None = None) -> RunView:
        now = self.runtime.clock()
        with self.db.session(write_lock=True) as s:
            run = self._owned(s)
            for name, value in self._ended(status, now=now, error=error).items():
                setattr(run, name, value)
            view = view_of(s, run)
            if status == RunStatus.SUCCEEDED:
                self._complete(s, view, now=now)
            return view

    def _end(self, status: str, *, error: str | None = None) -> RunView:
        view = self._finish(status, error=error)
        log.info("Import run %s %s%s", self.run_id, status, f": {error}" if error else "")
        self._report_end(view)
        return view

    def _report_end(self, view: RunView) -> None:
        """Tell the end in Slack, then let the run go. Should Slack not take it, the run stays untold and is
        told later (`bot.imports.runs.claim_report`, from any process's tick, this one's too); should this
        process die before, the lease it still holds runs out and another process tells it."""
        if tell_end(self.reporter, view, made=self.new):
            mark_reported(self.db, run_id=self.run_id, owner=self.owner, now=self.runtime.clock())
        else:
            report_later(self.db, run_id=self.run_id, owner=self.owner, now=self.runtime.clock(), policy=self.policy)

    def _reschedule(self, exc: RateLimited) -> RunView:
        until = self.runtime.clock() + timedelta(seconds=exc.retry_after)
        with self.db.session(write_lock=True) as s:
            run = self._owned(s)
            run.status, run.not_before = "queued", until
            run.lease_owner = run.lease_expires_at = None
            paused = exc.scope == RateLimitScope.DAY or exc.retry_after > self.policy.long_wait
            if not paused:  # waiting its turn (the app's budget, a package's minute) is no interruption: it
                run.attempts = max(0, run.attempts - 1)  # does not count towards `policy.max_claims`
            view = view_of(s, run)
        log.info("Import run %s back in the queue until %s (%s limit)", self.run_id, until, exc.scope)
        if paused or exc.scope == RateLimitScope.APP:
            self._tell(self.reporter.paused, view, until=until, limit=exc.scope)
        else:  # the package asked for a minute or so: told as any "slow down" is
            self._tell(self.reporter.waiting, view, seconds=exc.retry_after, limit=exc.scope)
        return view

    def release(self) -> None:
        """Let the next process take the run at once (it resumes from the cursor): this process is stopping."""
        try:
            with self.db.session(write_lock=True) as s:
                run = self._owned(s)
                run.lease_expires_at = self.runtime.clock()
        except (LeaseLost, SQLAlchemyError):
            pass

    def _heartbeat(self) -> None:
        """Renew the lease every quarter of it (waits and telling the end included: this is a thread of its own),
        and look for a Cancel (or a lost lease) every `poll` seconds. Each transaction of pages does both as it
        commits (`_write_moves`), so while pages come faster than that the heartbeat sends nothing: no transaction
        beside the pages' (a renewal's waits for the write lock on SQLite, and takes the GIL from the writer)."""
        renew_every = self.policy.lease.total_seconds() / 4
        renewed = time.monotonic()
        while not self.flags.done.wait(self.policy.poll):
            written = self.flags.written
            if time.monotonic() - written < self.policy.poll:
                continue
            try:
                if time.monotonic() - max(renewed, written) >= renew_every:
                    with self.db.session(write_lock=True) as s:
                        run = self._owned(s, ended=True)
                        run.lease_expires_at = self.runtime.clock() + self.policy.lease
                        cancel = run.cancel_requested_at is not None
                    renewed = time.monotonic()
                else:
                    with self.db.session() as s:
                        row = s.execute(
                            select(ImportRun.lease_owner, ImportRun.status, ImportRun.cancel_requested_at).where(
                                ImportRun.id == self.run_id
                            )
                        ).one_or_none()
                    if row is None or row.lease_owner != self.owner:
                        self.flags.lost = True
                    cancel = row is not None and row.cancel_requested_at is not None
            except LeaseLost:
                cancel = False
            except SQLAlchemyError as exc:
                log.warning("Import run %s: could not renew its lease: %s", self.run_id, exc)
                continue
            if cancel:
                self.flags.cancel = True
            if self.flags.cancel or self.flags.lost:
                self.flags.stop.set()

    def _tell(self, what: Callable[..., object], *args: object, **kwargs: object) -> None:
        """Reporting never stops an import."""
        try:
            what(*args, **kwargs)
        except Exception:
            log.exception("Reporting on import run %s failed", self.run_id)


class _Written:
    """The ids a connection's first import has written (and may have: it holds every id it was given), kept as a
    Bloom filter of 2**25 bits (4 MiB however many records) with two hashes, the two halves of the id's `hash`: an
    id not in it cannot be known at the connection, which had no records when the run began, so a page's look-up
    (`matching._known`, a probe of the references' index for each of a page's thousand ids) is made only for ids
    that hit the filter: about one in 28,000 at 100,000 records, one in 1,200 at 500,000, by chance, and those written
    before (a contact on two pages of a walk). The hashes are this process's, as is the filter: a run taken over
    looks every page up. A later import keeps a smaller one (`bits`) of the ids it read: those it may write."""

    def __init__(self, *, bits: int = 1 << 25) -> None:
        self._size = bits
        self._bits = bytearray(bits // 8)

    def add(self, ids: Iterable[str]) -> list[str]:
        """Add `ids`; returns those that may have been added before (`maybe`, in the same pass: a page's ids are
        each hashed and looked at once, not twice)."""
        bits, mask, before = self._bits, self._size - 1, []
        for external_id in ids:
            h = hash(external_id)
            low, high = h & mask, (h >> 32) & mask
            low_bit, high_bit = 1 << (low & 7), 1 << (high & 7)
            if bits[low >> 3] & low_bit and bits[high >> 3] & high_bit:
                before.append(external_id)
            bits[low >> 3] |= low_bit
            bits[high >> 3] |= high_bit
        return before

    def maybe(self, ids: Iterable[str]) -> list[str]:
        """The ids that may have been written: all that were, and a few by chance."""
        bits, mask = self._bits, self._size - 1
        return [
            i
            for i in ids
            if bits[(low := (h := hash(i)) & mask) >> 3] & (1 << (low & 7))
            and bits[(high := (h >> 32) & mask) >> 3] & (1 << (high & 7))
        ]


class _Batch:
    """Consecutive pages written in one transaction (`ImportJob._read`): begun with the write lock at the first
    page's writes, committed after the last with the cursor after it. Rolled back if the block raises."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.records = 0  # written in the open transaction (at least 1 a page)
        # The run's columns as the open transaction's pages left them, written once before it commits
        # (`ImportJob._write_moves`), and the run's view as its row holds them until then: a statement a page less.
        self.moved: dict[str, Any] = {}
        self._written: RunView | None = None
        self._open: AbstractContextManager[Session] | None = None
        self._session: Session | None = None
        self._began: float | None = None  # when its first page came

    def move_on(self, view: RunView, values: dict[str, Any]) -> RunView:
        """A page moved the run on to `values` from `view`: kept to be written with the transaction's last page, and
        the run's view as it will then be."""
        if self._written is None:
            self._written = view  # no page of the transaction wrote the row: it holds `view`
        if self._began is None:
            self._began = time.monotonic()
        self.moved = values
        return replace(view, counts=values["counts"], pages=values["pages"], total=values.get("total", view.total))

    def as_written(self, view: RunView) -> RunView:
        """The run's view as its row holds it (`view` where no page of the open transaction moved it on)."""
        return self._written or view

    def row_written(self) -> None:
        """The run's row was written (or the transaction ended): nothing is kept to write."""
        self.moved, self._written = {}, None

    def session(self) -> Session:
        if self._open is None or self._session is None:
            self._open = self.db.session(write_lock=True)
            self._session = self._open.__enter__()
            if self._began is None:
                self._began = time.monotonic()
        return self._session

    @property
    def quiet(self) -> bool:
        """No transaction is open: the batch's pages (if any) wrote nothing, and only the run's row is to be
        written (`ImportJob._left_as_judged`)."""
        return self._open is None

    def age(self) -> float:
        """Seconds since the batch's first page came (its transaction began, or the first page that wrote nothing
        moved the run on)."""
        return 0.0 if self._began is None else time.monotonic() - self._began

    def commit(self) -> None:
        self._close(None, None, None)

    def rollback(self) -> None:
        """Undo the open transaction (a page that was alone in it, to be written again record by record)."""
        self._close(_RolledBack, _RolledBack(), None)

    def _close(self, *raised: Any) -> None:
        opened, self._open, self._session, self.records, self._began = self._open, None, None, 0, None
        self.row_written()  # written before a commit (`ImportJob._write_moves`); undone with a rollback
        if opened is not None:
            opened.__exit__(*raised)

    def __enter__(self) -> _Batch:
        return self

    def __exit__(self, *raised: Any) -> None:
        self._close(*raised)


class _RolledBack(Exception):
    """Thrown into a batch's transaction to roll it back (`_Batch.rollback`)."""


def _has_records(session: Session, connection_id: int) -> bool:
    # one row asked for: without the limit, PostgreSQL's driver took every reference of the connection before the
    # first was looked at (6 ms at 10,000, each sync of a connection imported before)
    found = session.scalar(
        select(CustomerReference.id).where(CustomerReference.connection_id == connection_id).limit(1)
    )
    return found is not None


def _power_of_two_in(first: int, last: int) -> bool:
    """Whether a power of two lies in first..last (pages numbered from 1)."""
    return last >= 1 and 1 << (last.bit_length() - 1) >= first


def tell_end(reporter: Reporter, view: RunView, *, made: NewCustomers | None = None) -> bool:
    """Whether the reporter told the run's end. A reporter that raises did not: the end is told again later.
    `made`: the CSV lines of the run's new customers, gathered as its pages were written."""
    try:
        return reporter.finished(view, made=made)
    except Exception:
        log.exception("Telling the end of import run %s failed", view.id)
        return False


def refused(exc: Exception) -> bool:
    """Whether the database refused a value we wrote (a constraint, a value it cannot hold), as opposed to not
    answering: only then does writing the records one by one help."""
    if isinstance(exc, IntegrityError | DataError | TypeError | ValueError):  # the last two: a value our types
        return True  # could not bind (a JSON column's encoder), which the driver may raise unwrapped
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)
