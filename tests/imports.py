"""Helpers of the import suites: a connected bot made quick to import, and reading what the import said."""

from __future__ import annotations

import csv
import dataclasses
import io
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.imports import runs as import_runs
from bot.imports.runs import ImportPolicy, RunView, load_view
from bot.slack.import_reports import slack_reporters
from providers import registry
from storage.models import Customer, CustomerReference, ImportRun, SyncSettings
from storage.models.import_runs import ACTIVE_RUN_STATUSES
from tests.conftest import ADMIN, CHANNEL, TEAM, RunningBot
from tests.fakes.slack import UploadedFile
from tests.fakes.slack.records import Call
from tests.fakes.xero import FakeClock, XeroFake
from tests.flows import all_text

QUICK = ImportPolicy(lease=timedelta(seconds=30), poll=0.02, retries=2, backoff=0.01)


class RecordingWaiter:
    """Waits no time at all and remembers what it was asked to wait (the runner's `Waiter` seam)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        self.waits.append(seconds)
        return not stop.is_set()


def quick(
    bot: RunningBot,
    *,
    page_size: int = 1000,
    progress_every: float = 0.0,
    waiter: Any = None,
    xero_clock: FakeClock | None = None,
    concurrency: int | None = None,
    batch_records: int = QUICK.batch_records,
    batch_seconds: float = QUICK.batch_seconds,
    read_apart_from: int | None = QUICK.read_apart_from,
    pages_ahead: int = QUICK.pages_ahead,
) -> Any:
    """Short leases, polls and back-offs; each provider's own retries back off for milliseconds too. With
    `xero_clock` (a package's fake clock), the providers pace themselves under the package's limits on that clock,
    not in real time. `concurrency`: how many pages a provider fetches at once (its default when None).
    `batch_records`: 1 writes (and tells) each page in a transaction of its own, as when a package's pages come
    slower than they are written; by default pages already fetched share one, up to the policy's records and
    `batch_seconds`. `read_apart_from`: runs of this many records have their pages read in the reading process
    (`bot.imports.reading`); None: never. `pages_ahead`: pages on their way while one is written."""
    runner = bot.server.imports
    runner.policy = dataclasses.replace(
        QUICK,
        batch_records=batch_records,
        batch_seconds=batch_seconds,
        read_apart_from=read_apart_from,
        pages_ahead=pages_ahead,
    )
    runner.reporters = slack_reporters(bot.server.runtime, progress_every=progress_every)
    runner.waiter = waiter or RecordingWaiter()
    providers = bot.server.runtime.providers
    seams: dict[str, Any] = {"clock": xero_clock, "sleep": xero_clock.sleep} if xero_clock is not None else {}
    for name, old in list(providers.items()):
        settings = old.settings  # type: ignore[attr-defined]
        quicker = {
            k: v
            for k, v in {"backoff": 0.001, "page_size": page_size, "concurrency": concurrency}.items()
            if k in type(settings).model_fields and v is not None
        }
        providers[name] = registry.get_provider(name, settings.model_copy(update=quicker), **seams)
        old.close()
    return runner.waiter


def expected_customers(xero: XeroFake, tenant: str) -> list[dict[str, Any]]:
    """The contacts a first import keeps: active ones that are not only suppliers."""
    contacts = [xero.contact(tenant, c) for c in xero.contact_ids(tenant)]
    return [
        c for c in contacts if c["ContactStatus"] == "ACTIVE" and not (c.get("IsSupplier") and not c.get("IsCustomer"))
    ]


def runs(bot: RunningBot) -> list[ImportRun]:
    with bot.db.session() as s:
        return list(s.scalars(select(ImportRun).order_by(ImportRun.id)))


def run_view(bot: RunningBot, run_id: int | None = None) -> RunView:
    view = load_view(bot.db, run_id if run_id is not None else runs(bot)[-1].id)
    assert view is not None
    return view


def finished(bot: RunningBot, run_id: int | None = None, timeout: float = 60.0) -> RunView:
    """Wait until the run (the latest by default) has ended and its reporting is done."""

    wanted = select(ImportRun.id, ImportRun.status)
    wanted = wanted.where(ImportRun.id == run_id) if run_id is not None else wanted.order_by(ImportRun.id.desc())

    def done() -> RunView | None:
        # Asked at every change Slack sees (each progress edit): the run's status alone, and its whole view (six
        # ORM queries) once it has ended.
        if run_id is not None and run_id in bot.server.imports.running:
            return None
        with bot.db.session() as s:
            row = s.execute(wanted.limit(1)).first()
        if row is None or row.status in ACTIVE_RUN_STATUSES or row.id in bot.server.imports.running:
            return None
        view = run_view(bot, row.id)
        return view if not view.active and view.id not in bot.server.imports.running else None

    return bot.slack.wait_for(done, timeout=timeout, message="the import did not finish")  # type: ignore[no-any-return]


def queue_import(bot: RunningBot, connection_id: int) -> import_runs.Started:
    """An import queued as `/accounts import` by the admin in #general would, for a runner to claim."""
    return import_runs.start_import(
        bot.db,
        connection_id=connection_id,
        trigger="command",
        started_by=ADMIN,
        channel_id=CHANNEL,
        now=bot.server.runtime.clock(),
    )


def due_run_claimed(bot: RunningBot, after: timedelta, *clocks: Any) -> int:
    """Move the bot's clock `after` on (each package's fake clock in `clocks` first, as time passes there too), tick,
    and return the run the scheduler queued. The runs before are counted before the clock moves: the scheduler's
    own background tick may queue and claim the run as soon as it does, before this tick."""
    before = max((r.id for r in runs(bot)), default=0)
    runtime = bot.server.runtime
    later = runtime.clock() + after
    for clock in clocks:
        clock.advance(after.total_seconds())
    runtime.clock = lambda: later  # type: ignore[method-assign]
    bot.server.imports.tick()
    return int(bot.slack.wait_for(lambda: [r.id for r in runs(bot) if r.id > before])[0])


def customer_count(bot: RunningBot) -> int:
    with bot.db.session() as s:
        return s.scalar(select(func.count()).select_from(Customer)) or 0


def reference_count(bot: RunningBot) -> int:
    with bot.db.session() as s:
        return s.scalar(select(func.count()).select_from(CustomerReference)) or 0


def parent(bot: RunningBot, run: RunView, channel: str = CHANNEL) -> dict[str, Any]:
    assert run.parent_ts is not None
    return bot.slack.message(channel, run.parent_ts)


def thread_text(bot: RunningBot, run: RunView, channel: str = CHANNEL) -> str:
    assert run.parent_ts is not None
    return "\n".join(all_text(m) for m in bot.slack.thread(channel, run.parent_ts))


def bot_said(bot: RunningBot, *, after: int = 0, mrkdwn_only: bool = False) -> str:
    """Everything the bot posted or edited (after the first `after` Web API calls), as Slack received it.
    `mrkdwn_only`: leave out rich text blocks, whose text elements Slack never parses (a name there is as written)."""
    methods = ("chat.postMessage", "chat.update", "chat.postEphemeral")
    calls = [c for c in bot.slack.calls()[after:] if c.method in methods]

    def blocks(call: Call) -> str:
        given = call.args.get("blocks") or []
        return str([b for b in given if not (mrkdwn_only and b.get("type") == "rich_text")])

    return "\n".join(str(c.args.get("text", "")) + blocks(c) for c in calls)


def csv_rows(file: UploadedFile) -> list[dict[str, str]]:
    assert file.content is not None
    return list(csv.DictReader(io.StringIO(file.content.decode("utf-8"))))


def dm(bot: RunningBot, user: str = ADMIN) -> str:
    return bot.slack.dm_channel_id(TEAM, user)


def customers_by_external_id(bot: RunningBot) -> dict[str, Customer]:
    with bot.db.session() as s:
        rows = s.execute(
            select(CustomerReference.external_id, Customer).join(Customer, Customer.id == CustomerReference.customer_id)
        )
        return {external_id: customer for external_id, customer in rows}


def sync_settings(bot: RunningBot) -> SyncSettings:
    with bot.db.session() as s:
        return s.scalars(select(SyncSettings)).one()
