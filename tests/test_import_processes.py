"""Imports across processes: a worker killed mid-import and resumed elsewhere, the bot stopped by SIGTERM letting go
of its import, and two workers on PostgreSQL claiming runs side by side. The workers are real subprocesses
(`tests/import_worker.py`, `accounts-bot run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from bot.imports import runs as import_runs
from bot.imports.runner import ImportRunner
from bot.imports.runs import ImportPolicy, claim
from bot.slack.import_reports import slack_reporters
from providers import registry
from providers.xero.client import SLOT_LEASE
from storage.models import CallBudget, Connection, Customer, CustomerReference, ImportRun, Workspace
from tests.conftest import ADMIN, CHANNEL, DATABASES, RunningBot
from tests.fakes.server import free_port
from tests.fakes.xero import FakeClock, XeroFake
from tests.flows import command, connected
from tests.import_worker import LEASE
from tests.imports import (
    QUICK,
    RecordingWaiter,
    csv_rows,
    dm,
    expected_customers,
    finished,
    parent,
    queue_import,
    quick,
    run_view,
    runs,
    thread_text,
)


def start_worker(bot: RunningBot, *, page_size: int, batch_records: int | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "XERO_", "DATABASE_"))}
    env |= bot.settings.environment()
    batch = [str(batch_records)] if batch_records is not None else []
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.import_worker", str(page_size), *batch],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    return worker


def go(*workers: subprocess.Popen[str]) -> None:
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()


def table(bot: RunningBot) -> list[tuple[Any, ...]]:
    """The customers as an import leaves them, by external id, without our ids and timestamps."""
    with bot.db.session() as s:
        survivors = {ref.customer_id: ref.external_id for ref in s.scalars(select(CustomerReference))}
        rows = s.execute(
            select(CustomerReference, Customer).join(Customer, Customer.id == CustomerReference.customer_id)
        )
        return sorted(
            (
                ref.external_id,
                ref.digest,
                ref.provider_updated_at,
                ref.merged_into_external_id,
                c.name,
                c.first_name,
                c.last_name,
                c.company,
                c.email,
                str(c.phones),
                str(c.addresses),
                c.number,
                c.active,
                c.email_key,
                c.name_key,
                survivors.get(c.merged_into_id or 0),
                c.possible_duplicate_of_id is not None,
                c.erased_at is not None,
            )
            for ref, c in rows
        )


def test_a_worker_killed_mid_import_is_taken_over_with_an_identical_result(
    connect_bot: RunningBot, xero: XeroFake, xero_clock: FakeClock
) -> None:
    bot = connect_bot
    bot.server.imports.shutdown()  # this process only takes over, when told below
    quick(bot, page_size=100, xero_clock=xero_clock)  # as the worker reads them: the cursor is a page number
    connection, tenant = connected(bot, xero)
    ids = xero.seed_contacts(tenant, 1200)
    xero.merge_contacts(tenant, ids[10], into_id=ids[1100])
    expected = expected_customers(xero, tenant)
    runtime = bot.server.runtime
    started = queue_import(bot, connection.id)
    xero.latency = 0.05
    # up to three pages a transaction: the kill may land with pages written and not yet committed
    worker = start_worker(bot, page_size=100, batch_records=300)
    go(worker)
    assert worker.stdout is not None and worker.stdout.readline().strip() == f"claimed {started.run.id}"
    bot.slack.wait_for(lambda: run_view(bot).pages >= 3, timeout=60)
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=10)  # reaps it and closes its pipes
    assert worker.returncode == -signal.SIGKILL
    xero.latency = 0.0

    killed = run_view(bot)
    assert killed.status == "running" and 3 <= killed.pages < 12
    taker = ImportRunner(runtime, reporters=slack_reporters(runtime), policy=QUICK, waiter=RecordingWaiter())
    assert claim(bot.db, owner=taker.owner, now=runtime.clock(), policy=QUICK) is None  # its lease still holds
    # past the run's lease, and past the slots of Xero's calls at once the killed worker held (killed with five
    # calls in flight, it held them all; the clock stands still from here, so they would never come back)
    later = runtime.clock() + max(LEASE, timedelta(seconds=SLOT_LEASE)) + timedelta(seconds=1)
    runtime.clock = lambda: later
    run_id = claim(bot.db, owner=taker.owner, now=runtime.clock(), policy=QUICK)
    assert run_id == started.run.id
    resumed = taker.run_claimed(run_id)
    taker.shutdown()
    assert resumed is not None and resumed.status == "succeeded" and resumed.attempts == 2
    assert resumed.count("new") == len(expected) and resumed.processed == resumed.total == 1200
    assert "Picked up again after an interruption" in thread_text(bot, resumed)
    pages = [c.query["page"] for c in xero.calls_to("/contacts") if c.status == 200]
    # at most the pages in flight at the kill read twice: five fetched at once (Xero's concurrency), the policy's
    # pages on their way, and up to three (300 records) written in the transaction the kill cut short
    assert len(set(pages)) == 12 and len(pages) <= 12 + 5 + ImportPolicy().pages_ahead + 3
    after_crash = table(bot)

    with bot.db.session() as s:  # the same import again, from nothing and without interruption
        s.execute(delete(CustomerReference))
        s.execute(delete(Customer))
        s.execute(delete(ImportRun))
    again = import_runs.start_import(
        bot.db, connection_id=connection.id, trigger="command", started_by=ADMIN, channel_id=CHANNEL, now=later
    )
    plain = ImportRunner(runtime, reporters=slack_reporters(runtime), policy=QUICK, waiter=RecordingWaiter())
    assert claim(bot.db, owner=plain.owner, now=later, policy=QUICK) == again.run.id
    uninterrupted = plain.run_claimed(again.run.id)
    plain.shutdown()
    assert uninterrupted is not None and dict(uninterrupted.counts) == dict(resumed.counts)
    assert table(bot) == after_crash


def test_a_bot_stopped_by_its_service_manager_lets_go_of_its_import_at_once(
    connect_bot: RunningBot, xero: XeroFake
) -> None:
    """`accounts-bot run` stopped with SIGTERM (systemd, Docker, Kubernetes) stops as Ctrl-C stops it: its import
    stops at a page and lets go of the run, which another process takes up at once (not once the lease ran out) and
    finishes with every customer, and the process ends with status 0."""
    bot = connect_bot
    bot.server.imports.shutdown()  # this process only takes over, when told below
    connection, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 2000)
    expected = expected_customers(xero, tenant)
    # twenty pages of 100, five at once, each 0.6 s late: the walk takes 2.4 s at least, and its calls and the
    # taker's stay within Xero's 60 a minute
    xero.latency = 0.6
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "XERO_", "DATABASE_"))}
    env |= bot.settings.environment() | {"PORT": str(port), "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    env |= {"XERO_PAGE_SIZE": "100", "LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None and "accounts-bot is running" in process.stdout.readline()
        bot.slack.request_url = f"http://127.0.0.1:{port}/slack/events"  # Slack now sends to that process
        command(bot, "/accounts import", "Starting the import")
        bot.slack.wait_for(lambda: run_view(bot).pages >= 2, timeout=60)
        process.send_signal(signal.SIGTERM)
        _, logged = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        xero.latency = 0.0
    assert process.returncode == 0, logged[-2000:]
    assert "Stopping" in logged

    stopped = run_view(bot)
    assert stopped.status == "running" and 2 <= stopped.pages < 20
    runtime = bot.server.runtime
    taker = ImportRunner(runtime, reporters=slack_reporters(runtime), policy=QUICK, waiter=RecordingWaiter())
    try:
        run_id = claim(bot.db, owner=taker.owner, now=runtime.clock(), policy=QUICK)  # at once: its lease let go
        assert run_id == stopped.id
        resumed = taker.run_claimed(run_id)
    finally:
        taker.shutdown()
    assert resumed is not None and resumed.status == "succeeded" and resumed.count("new") == len(expected)
    assert resumed.processed == resumed.total == 2000


def reported(bot: RunningBot, run_id: int) -> tuple[Any, str | None] | None:
    """When the run's end was told and who holds the run now, once told."""
    with bot.db.session() as s:
        row = s.get(ImportRun, run_id)
        assert row is not None
        return (row.reported_at, row.lease_owner) if row.reported_at is not None else None


def test_an_end_its_process_did_not_tell_is_told_by_another(
    connect_bot: RunningBot, xero: XeroFake, xero_clock: FakeClock
) -> None:
    """The worker commits the last page, then dies before the summary: another process tells the end
    (result, summary, CSV) once the lease runs out, exactly once."""
    bot = connect_bot
    bot.server.imports.shutdown()
    quick(bot, page_size=100, xero_clock=xero_clock)
    connection, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 250)
    expected = expected_customers(xero, tenant)
    runtime = bot.server.runtime
    started = queue_import(bot, connection.id)
    accounts_before = len(xero.calls_to("/Accounts"))
    release = xero.hold("/Accounts")  # the chart refresh between the last page and the summary
    worker = start_worker(bot, page_size=100)
    go(worker)
    try:
        bot.slack.wait_for(  # the last page is committed and the worker is in the chart refresh that follows it
            lambda: run_view(bot).status == "succeeded" and len(xero.calls_to("/Accounts")) > accounts_before,
            timeout=60,
        )
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=10)
    finally:
        release.set()
    ended = run_view(bot)
    assert ended.status == "succeeded" and ended.count("new") == len(expected)
    assert "Import finished" not in thread_text(bot, ended) and bot.slack.uploaded_files == []
    with bot.db.session() as s:
        row = s.get(ImportRun, started.run.id)
        assert row is not None and row.reported_at is None and row.lease_owner is not None

    teller = ImportRunner(runtime, reporters=slack_reporters(runtime), policy=QUICK, waiter=RecordingWaiter())
    try:
        assert teller.tick() == [] and teller.running == []  # its lease still holds: nothing to tell yet
        later = runtime.clock() + LEASE + timedelta(seconds=1)
        runtime.clock = lambda: later
        teller.tick()
        bot.slack.wait_for(lambda: reported(bot, started.run.id), timeout=60)
        teller.tick()  # told once: nothing more to claim
    finally:
        teller.shutdown()
    thread = thread_text(bot, ended)
    assert thread.count("Import finished") == 1 and f"*New*\\n{len(expected):,}" in thread
    assert parent(bot, ended)["text"].startswith(":white_check_mark: Imported customers from Xero")
    [upload] = bot.slack.uploaded_files
    assert upload.channels == [dm(bot)] and len(csv_rows(upload)) == len(expected)
    assert reported(bot, started.run.id) == (later, None)


if "postgresql" in DATABASES:  # several processes share a database only on PostgreSQL

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_two_workers_on_postgresql_never_run_one_run_twice(connect_bot: RunningBot, xero: XeroFake) -> None:
        bot = connect_bot
        bot.server.imports.shutdown()
        bot.slack.set_rate_limit("chat.postMessage", None)
        connection, tenant = connected(bot, xero)
        xero.seed_contacts(tenant, 300)
        expected = len(expected_customers(xero, tenant))
        now = bot.server.runtime.clock()
        with bot.db.session() as s:  # seven more workspaces with the same organisation connected
            source = s.get(Connection, connection.id)
            assert source is not None
            connection_ids = [connection.id]
            for n in range(7):
                workspace = Workspace(team_id=f"T0OTHER{n:03d}", name=f"Other {n}")
                s.add(workspace)
                s.flush()
                copy = Connection(
                    workspace_id=workspace.id,
                    provider="xero",
                    organisation_id=tenant,
                    organisation_name=f"Acme {n}",
                    remote_connection_id=source.remote_connection_id,
                    access_token_enc=source.access_token_enc,
                    refresh_token_enc=source.refresh_token_enc,
                    access_expires_at=source.access_expires_at,
                    connected_by=ADMIN,
                )
                s.add(copy)
                s.flush()
                connection_ids.append(copy.id)
        run_ids = [
            import_runs.start_import(
                bot.db, connection_id=cid, trigger="command", started_by=ADMIN, channel_id=CHANNEL, now=now
            ).run.id
            for cid in connection_ids
        ]
        xero.latency = 0.05
        workers = [start_worker(bot, page_size=100) for _ in range(2)]
        go(*workers)
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
        claimed = [{int(line.split()[1]) for line in out.splitlines() if line.startswith("claimed")} for out in outputs]
        assert claimed[0] and claimed[1] and not claimed[0] & claimed[1]
        assert claimed[0] | claimed[1] == set(run_ids)
        for run_id in run_ids:
            view = run_view(bot, run_id)
            assert (view.status, view.attempts, view.count("new"), view.pages) == ("succeeded", 1, expected, 3)
        pages = [c for c in xero.calls_to("/contacts") if c.status == 200]
        assert len(pages) == 3 * len(run_ids)  # no page of any run was read twice
        with bot.db.session() as s:
            assert len(s.scalars(select(Customer)).all()) == expected * len(run_ids)
        assert len(runs(bot)) == len(run_ids)


def test_on_start_a_run_left_running_is_taken_up_at_once_only_on_sqlite(
    connect_bot: RunningBot, xero: XeroFake, database_url: str
) -> None:
    """SQLite serves one process, so a run still marked running belonged to this process before a restart;
    on PostgreSQL another process may hold it, so its lease must run out first."""
    bot = connect_bot
    bot.server.imports.shutdown()
    quick(bot)
    connection, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 30)
    runtime = bot.server.runtime
    started = queue_import(bot, connection.id)
    with bot.db.session() as s:  # as a process that died mid-import leaves it
        run = s.get(ImportRun, started.run.id)
        assert run is not None
        run.status, run.lease_owner = "running", "host:4242:deadbeef"
        run.started_at, run.lease_expires_at, run.attempts = runtime.clock(), runtime.clock() + LEASE, 1
    restarted = ImportRunner(runtime, reporters=slack_reporters(runtime), policy=QUICK, waiter=RecordingWaiter())
    restarted.recover()
    claimed = restarted.tick()
    if database_url.startswith("sqlite"):
        assert claimed == [started.run.id]
        bot.slack.wait_for(lambda: run_view(bot).status == "succeeded" and not restarted.running)
    else:
        assert claimed == [] and run_view(bot).status == "running"
    restarted.shutdown()


if "postgresql" in DATABASES:

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_a_run_queued_in_one_process_wakes_the_others_on_postgresql(
        connect_bot: RunningBot, xero: XeroFake
    ) -> None:
        """The worker never ticks by itself: only the notice sent when this process queues a run makes it claim."""
        bot = connect_bot
        bot.server.imports.shutdown()
        connection, tenant = connected(bot, xero)
        xero.seed_contacts(tenant, 20)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "XERO_", "DATABASE_"))}
        env |= bot.settings.environment()
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.wake_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "listening"
            started = queue_import(bot, connection.id)
            view = bot.slack.wait_for(
                lambda: (v := run_view(bot, started.run.id)).status == "succeeded" and v, timeout=15
            )
            assert view.attempts == 1 and view.count("new") == len(expected_customers(xero, tenant))
        finally:
            worker.communicate(timeout=20)
        assert worker.returncode == 0

    @pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
    def test_a_run_over_the_apps_shared_budget_goes_back_to_the_queue(connect_bot: RunningBot, xero: XeroFake) -> None:
        """Xero only: the budget every process shares lets 3 calls a minute through here; the fourth call is never
        sent, and the run waits in the queue (not in its worker) until its time, then carries on."""
        bot = connect_bot
        quick(bot, page_size=100, concurrency=1)
        runtime = bot.server.runtime
        connection, tenant = connected(bot, xero)
        xero.seed_contacts(tenant, 450)
        xero_provider = runtime.providers["xero"]
        limited = registry.get_provider(
            "xero",
            xero_provider.settings.model_copy(update={"app_calls_per_minute": 3}),  # type: ignore[attr-defined]
        )
        runtime.providers["xero"] = limited
        xero_provider.close()
        with bot.db.session() as s:  # what connecting spent is forgotten: the three calls are the import's
            s.execute(delete(CallBudget))
        before = len(xero.calls)
        started = queue_import(bot, connection.id)
        bot.server.imports.wake()
        paused = bot.slack.wait_for(
            lambda: (
                (v := run_view(bot, started.run.id)).not_before is not None
                and v.id not in bot.server.imports.running
                and v
            )
        )
        assert paused.status == "queued" and paused.pages == 3 and paused.attempts == 0
        assert timedelta(seconds=1) < paused.not_before - runtime.clock() <= timedelta(seconds=75)
        assert [c.status for c in xero.calls[before:] if "/Contacts" in c.path] == [200, 200, 200]
        assert "has reached its limit" in thread_text(bot, paused)
        assert bot.server.imports.tick() == []  # not before its time
        runtime.providers["xero"] = registry.get_provider("xero", xero_provider.settings)  # type: ignore[attr-defined]
        limited.close()
        later = paused.not_before + timedelta(seconds=1)
        runtime.clock = lambda: later
        bot.server.imports.tick()
        done = finished(bot, started.run.id)
        assert (done.status, done.pages, done.count("new")) == ("succeeded", 5, len(expected_customers(xero, tenant)))
        assert all(c.status == 200 for c in xero.calls[before:])


@pytest.mark.parametrize("taken_by", ["another process", "another job of this process"])
def test_a_run_taken_over_while_it_reads_a_page_writes_nothing_more(
    connect_bot: RunningBot, xero: XeroFake, taken_by: str
) -> None:
    """Its lease lapsed and another process claimed the run, or (its owner the same) another job of this process
    wrote a page meanwhile: the page this job then writes is rolled back, customers, cursor and counts alike."""
    bot = connect_bot
    bot.server.imports.shutdown()
    quick(bot, page_size=100)
    connection, tenant = connected(bot, xero)
    xero.seed_contacts(tenant, 250)
    runtime = bot.server.runtime
    runner = ImportRunner(runtime, reporters=slack_reporters(runtime), policy=QUICK, waiter=RecordingWaiter())
    started = queue_import(bot, connection.id)
    assert claim(bot.db, owner=runner.owner, now=runtime.clock(), policy=QUICK) == started.run.id
    release = xero.hold("/contacts")
    ended: list[Any] = []
    job = threading.Thread(target=lambda: ended.append(runner.run_claimed(started.run.id)), daemon=True)
    job.start()
    try:
        xero.wait_for_calls("/contacts", 0, "the first page asked for")
        # the write lock first, as the bot takes it: the job tells Slack it started meanwhile and notes its message
        with bot.db.session(write_lock=True) as s:
            run = s.get(ImportRun, started.run.id)
            assert run is not None
            if taken_by == "another process":
                run.lease_owner, run.attempts = "host:4242:deadbeef", run.attempts + 1
            else:
                run.pages, run.counts = 5, {"new": 500}
    finally:
        release.set()
    job.join(timeout=30)
    runner.shutdown()
    assert ended and ended[0] is not None and ended[0].status == "running"
    with bot.db.session() as s:
        run = s.get(ImportRun, started.run.id)
        assert run is not None and run.status == "running" and run.cursor is None
        assert (run.pages, run.counts) == ((0, {}) if taken_by == "another process" else (5, {"new": 500}))
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
