"""Benchmark: many workspaces on several processes, on PostgreSQL, with the bot's runner and the local fakes.

    python -m bench.scale_bench plan                        # a tick with 100,000 sync rows, 1 % due; a claim
                                                            # with 1,000,000 ended runs (timings and EXPLAIN)
    python -m bench.scale_bench run --workspaces 200 --processes 1 3
    python -m bench.scale_bench run --workspaces 200 --processes 3 --app-limit 300   # the shared budget binds

`run`: a Xero fake (in a child process) with one organisation of 300 contacts per workspace, 300 ms per call,
its per-app limit `--app-limit` a minute (429 above it), and a Slack fake; the workspaces connected (the bot's
own connect flow once, its tokens shared by every workspace's connection), every sync due at once; then N worker
processes (each an `ImportRunner` with 2 workers that listens for NOTIFY and ticks every 10 s) are woken, and a
person's import is queued once 200 scheduled syncs wait. Figures, in a line per process count: when every run's end
was told, the ratio to one process, runs (and their share) per process, runs at once per process, a run's median
time, runs claimed twice and pages read twice, how long the person's import waited, the fake's 429s, the busiest
minute of API calls against the app limit, CPU per run (the bot's and the fakes'), database statements and pool
checkouts per run, and the load average.
PostgreSQL from BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test); a database of its own.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import event, func, insert, select, text, update

from bench.import_bench import (
    ADMIN,
    BOT_TOKEN,
    CALLBACK,
    CHANNEL,
    CLIENT_ID,
    CLIENT_SECRET,
    TEAM,
    database_url,
)
from bot.connections import connect
from bot.imports.runner import PLAN_BATCH, ImportRunner, _plan_row_by_row, plan_syncs
from bot.imports.runs import RUNS_QUEUED, ImportPolicy, claim, start_import
from bot.runtime import Runtime, build_providers
from bot.settings import load_settings
from bot.slack.import_reports import slack_reporters
from storage import migrate
from storage.crypto import SecretBox
from storage.db import Database
from storage.models import Connection, ImportRun, SyncSettings, Workspace

CONTACTS = 300
LATENCY = 0.3


# --- plan: the tick and the claim at scale -------------------------------------------------------------------------


def timed(fn: Any, rounds: int = 20) -> float:
    """Median milliseconds of `fn()`."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def explain(db: Database, sql: str) -> str:
    with db.engine.connect() as c:
        return "\n".join(row[0] for row in c.exec_driver_sql("EXPLAIN ANALYZE " + sql))


def plan(rows: int, ended: int, batch: int) -> None:
    url, drop = database_url("postgresql", Path(tempfile.gettempdir()))
    db = Database(url, SecretBox(SecretBox.generate_key()))
    try:
        migrate.upgrade(db.engine)
        now = datetime.now(UTC)
        with db.engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO workspaces (team_id, name, created_at, staff_may_import) "
                    "SELECT 'T' || n, 'Workspace ' || n, now(), false FROM generate_series(1, :rows) n"
                ),
                {"rows": rows},
            )
            c.execute(
                text(
                    "INSERT INTO connections (workspace_id, provider, status, organisation_id, organisation_name, "
                    "connected_at) SELECT id, 'xero', 'active', 'org-' || id, 'Org ' || id, now() FROM workspaces"
                )
            )
            # 1 % due (over the last ten minutes), the rest spread over the coming hour
            c.execute(
                text(
                    "INSERT INTO sync_settings (connection_id, enabled, interval_minutes, reconcile_hours, "
                    "customer_filter, next_sync_at, next_full_at, modified_since, updated_at) "
                    "SELECT id, true, 60, 24, 'all_but_suppliers', "
                    "CASE WHEN id % 100 = 0 THEN :now - (id % 600) * interval '1 second' "
                    "ELSE :now + (id % 3600) * interval '1 second' END, :now + interval '12 hours', "
                    ":now - interval '1 hour', :now FROM connections"
                ),
                {"now": now},
            )
            c.exec_driver_sql("ANALYZE")
        due = rows // 100
        with db.session() as s:
            assert s.scalar(select(func.count()).where(SyncSettings.next_sync_at <= now)) == due
        before = explain(db, _due_sql(now))
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda _c, _r, sql, *_: statements.append(sql))
        ticks = []
        print(f"load average {os.getloadavg()[0]:.1f}")
        while True:  # each tick plans its batch; the last ones find fewer, then none
            statements.clear()
            started, cpu = time.perf_counter(), time.process_time()
            queued = plan_syncs(db, {"xero"}, now=now, batch=batch)
            ticks.append(
                (
                    (time.perf_counter() - started) * 1000,
                    (time.process_time() - cpu) * 1000,
                    len(queued),
                    len(statements),
                )
            )
            if not queued:
                break
        print(
            f"tick, {rows:,} sync rows, {due:,} due ({batch} a tick), wall ms (this process's CPU ms) [runs queued, "
            "statements sent]: " + ", ".join(f"{ms:.1f} ({cpu_ms:.1f}) [{n}, {k}]" for ms, cpu_ms, n, k in ticks)
        )
        full = sorted(ms for ms, _, n, _ in ticks if n)
        cpu_full = sorted(cpu_ms for _, cpu_ms, n, _ in ticks if n)
        print(
            f"ticks that queued runs: median {statistics.median(full):.1f} ms wall, fastest {full[0]:.1f} ms; "
            f"this process's CPU median {statistics.median(cpu_full):.1f} ms; load average {os.getloadavg()[0]:.1f}"
        )
        # the reference, on the same rows again: the rows read into Python and written back (SQLite's way)
        with db.engine.begin() as c:
            c.execute(text("DELETE FROM import_runs"))
            c.execute(
                text(
                    "UPDATE sync_settings SET next_sync_at = :now - (id % 600) * interval '1 second' WHERE id % 100 = 0"
                ),
                {"now": now},
            )
        reference = []
        while True:
            statements.clear()
            started, cpu = time.perf_counter(), time.process_time()
            queued = _plan_row_by_row(db, {"xero"}, now=now, batch=batch)
            if not queued:
                break
            reference.append(
                ((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000, len(statements))
            )
        print(
            f"reference, row by row in Python: median {statistics.median(ms for ms, _, _ in reference):.1f} ms wall, "
            f"CPU {statistics.median(c for _, c, _ in reference):.1f} ms, {reference[0][2]} statements a tick; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(before)

        with db.engine.begin() as c:  # the runs those ticks queued end; then a long history
            c.execute(text("UPDATE import_runs SET status = 'succeeded', finished_at = now(), reported_at = now()"))
            c.execute(
                text(
                    "INSERT INTO import_runs (workspace_id, connection_id, kind, trigger, priority, status, counts, "
                    "pages, attempts, created_at, started_at, finished_at, reported_at) "
                    "SELECT c.id, c.id, 'incremental', 'schedule', 1, "
                    "(ARRAY['succeeded', 'failed', 'cancelled'])[1 + n % 3], '{}', 1, 1, now(), now(), now(), now() "
                    "FROM generate_series(1, :ended) n JOIN connections c ON c.id = 1 + n % :rows"
                ),
                {"ended": ended, "rows": rows},
            )
            c.exec_driver_sql("ANALYZE")
        policy = ImportPolicy()
        empty = timed(lambda: claim(db, owner="bench", now=now, policy=policy))
        print(
            f"claim with nothing due, {ended:,} ended runs: {empty:.2f} ms (median of 20), load average "
            f"{os.getloadavg()[0]:.1f}"
        )
        print(explain(db, _claim_sql(now)))
    finally:
        db.dispose()
        if drop:
            drop()


def _due_sql(now: datetime) -> str:
    return (
        "SELECT s.id FROM sync_settings s JOIN connections c ON c.id = s.connection_id "
        "JOIN workspaces w ON w.id = c.workspace_id WHERE s.enabled IS true "
        f"AND s.next_sync_at <= '{now.isoformat()}' AND c.status = 'active' AND w.uninstalled_at IS NULL "
        "ORDER BY s.next_sync_at LIMIT 200 FOR UPDATE OF s SKIP LOCKED"
    )


def _claim_sql(now: datetime) -> str:
    at = now.isoformat()
    return (
        "SELECT id FROM import_runs WHERE status IN ('queued', 'running') AND ("
        f"(status = 'queued' AND (not_before IS NULL OR not_before <= '{at}')) OR "
        f"(status = 'running' AND lease_expires_at < '{at}')) ORDER BY priority, id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )


# --- run: N processes x M workspaces ---------------------------------------------------------------------------------


def bench_runtime(url: str, xero_url: str, slack_url: str) -> Runtime:
    """A runtime pointed at the fakes and the database, migrated."""
    settings = load_settings(
        None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret="bench",
        slack_api_url=f"{slack_url}/api/",
        database_url=url,
        encryption_key=SecretBox.generate_key(),
        public_url="http://127.0.0.1:9",
        xero_client_id=CLIENT_ID,
        xero_client_secret=CLIENT_SECRET,
        xero_authorize_url=f"{xero_url}/identity/connect/authorize",
        xero_token_url=f"{xero_url}/connect/token",
        xero_revoke_url=f"{xero_url}/connect/revocation",
        xero_connections_url=f"{xero_url}/connections",
        xero_api_url=f"{xero_url}/api.xro/2.0",
    )
    assert settings.encryption_key
    runtime = Runtime(
        settings=settings, db=Database(url, SecretBox(settings.encryption_key)), providers=build_providers(settings)
    )
    migrate.upgrade(runtime.db.engine)
    return runtime


def serve_fakes(organisations: int, app_limit: int, pipe: Any) -> None:
    """Child process: a Xero fake with `organisations` organisations of 300 contacts, and a Slack fake."""
    from tests.fakes.server import ServerThread
    from tests.fakes.slack import SlackFake
    from tests.fakes.xero import XeroFake, XeroLimits

    xero = XeroFake(limits=XeroLimits(app_per_minute=app_limit), latency=LATENCY)
    xero.register_client(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[CALLBACK])
    tenants = [xero.add_organisation(f"Plumbing {n}") for n in range(organisations)]
    for tenant in tenants:
        xero.seed_contacts(tenant, CONTACTS)
    slack = SlackFake(rate_limits=False)
    slack_server = slack.serve().start()
    slack.add_workspace(TEAM, "Bench", bot_token=BOT_TOKEN)
    slack.add_user(TEAM, ADMIN, "ada", is_admin=True)
    slack.add_channel(TEAM, CHANNEL, "general")
    with ServerThread(xero.app) as xero_server:
        pipe.send((xero_server.url, slack_server.url, tenants))
        pipe.recv()
        api = [c for c in xero.calls if c.path.lower().startswith("/api.xro/")]
        pipe.send(([(c.at, c.status, c.path, c.headers.get("xero-tenant-id")) for c in api], time.process_time()))
    slack_server.stop()


def worker() -> None:
    """A worker process: the bot's runner (2 workers, NOTIFY and a 10 s tick), until its standard input closes;
    then the runs it claimed."""
    claimed: list[str] = []  # run id:when

    class Claims(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg == "Claimed import run %s (attempt %s)":
                claimed.append(f"{record.args[0]}:{record.created}")  # type: ignore[index]

    logging.getLogger("bot.imports.runs").addHandler(Claims())
    logging.getLogger("bot.imports.runs").setLevel(logging.INFO)
    runtime = Runtime.from_settings(load_settings(None))
    sent = Counter[str]()  # statements sent and connections taken from the pool (each a round trip or more)
    event.listen(runtime.db.engine, "before_cursor_execute", lambda *_: sent.update(["statements"]))
    event.listen(runtime.db.engine, "checkout", lambda *_: sent.update(["checkouts"]))
    runner = ImportRunner(runtime, reporters=slack_reporters(runtime), workers=2)
    runner.listen()
    assert runner.listener is not None and runner.listener.listening.wait(10)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(runner.tick_every):
            runner.wake()

    threading.Thread(target=tick, daemon=True).start()
    ready = time.process_time()  # starting (imports, connections) is not the runs' work
    print("ready", flush=True)
    sys.stdin.read()
    stop.set()
    runner.shutdown()
    runtime.close()
    print(
        f"{time.process_time() - ready:.3f}", sent["statements"], sent["checkouts"], " ".join(claimed), flush=True
    )  # CPU seconds running, then claims


def run(workspaces: int, processes: int, app_limit: int) -> dict[str, Any]:
    parent, child = multiprocessing.Pipe()
    fakes = multiprocessing.Process(target=serve_fakes, args=(workspaces + 1, app_limit, child), daemon=True)
    fakes.start()
    xero_url, slack_url, tenants = parent.recv()
    url, drop = database_url("postgresql", Path(tempfile.gettempdir()))
    runtime = bench_runtime(url, xero_url, slack_url)
    try:
        person = _connect_all(runtime, tenants)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "XERO_", "DATABASE_"))}
        env |= runtime.settings.environment() | {"XERO_APP_CALLS_PER_MINUTE": str(app_limit)}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.scale_bench", "worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(processes)
        ]
        for w in workers:
            assert w.stdout is not None and w.stdout.readline().strip() == "ready"
        started = time.perf_counter()
        with runtime.db.session() as s:  # every sync due at once, and every process told
            s.execute(update(SyncSettings).values(next_sync_at=datetime.now(UTC) - timedelta(minutes=1)))
            s.execute(text(f"NOTIFY {RUNS_QUEUED}"))
        waited = None
        while True:
            with runtime.db.session() as s:
                queued = s.scalar(select(func.count()).where(ImportRun.trigger == "schedule")) or 0
                ended = s.scalar(  # ended and its end told: the run's work is all done
                    select(func.count()).where(
                        ImportRun.trigger == "schedule",
                        ImportRun.status == "succeeded",
                        ImportRun.reported_at.is_not(None),
                    )
                )
                failed = s.scalar(
                    select(func.count()).where(ImportRun.trigger == "schedule", ImportRun.status == "failed")
                )
            if waited is None and queued >= min(200, workspaces):
                waited = _persons_import(runtime, person)
            if (ended or 0) + (failed or 0) >= workspaces:
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        outputs, worker_cpu, sent = [], 0.0, Counter[str]()
        for w in workers:
            out, _ = w.communicate("", timeout=60)
            cpu, statements, checkouts, *claimed = out.split()
            worker_cpu += float(cpu)
            sent.update(statements=int(statements), checkouts=int(checkouts))
            outputs.append([(int(x.split(":")[0]), float(x.split(":")[1])) for x in claimed])  # run id, when
        with runtime.db.session() as s:
            attempts = Counter(s.scalars(select(ImportRun.attempts).where(ImportRun.trigger == "schedule")))
            spans = {
                run_id: (begun, ended_at)
                for run_id, begun, ended_at in s.execute(
                    select(ImportRun.id, ImportRun.started_at, ImportRun.reported_at)  # claimed, and all done
                )
            }
        claims = sorted((at, run_id, n) for n, out in enumerate(outputs) for run_id, at in out)
        last_claim = {run_id: n for _, run_id, n in claims}  # the process that ran it to its end
        parent.send("done")
        calls, fakes_cpu = parent.recv()
        durations = {r: (e - b).total_seconds() for r, (b, e) in spans.items() if b is not None and e is not None}
        in_flight = [  # runs at once in each process, on average: its runs' durations over the wall time
            round(sum(d for r, d in durations.items() if last_claim.get(r) == p) / seconds, 2) for p in range(processes)
        ]
        times = sorted(at for at, status, _, _ in calls if status != 429)
        busiest = max((sum(1 for u in times if t - 60 < u <= t) for t in times), default=0)
        pages = Counter(tenant for _, status, path, tenant in calls if status == 200 and "contacts" in path.lower())
        return {
            "workspaces": workspaces,
            "processes": processes,
            "seconds": round(seconds, 1),
            "runs_per_process": [sum(1 for n in last_claim.values() if n == p) for p in range(processes)],
            "claims": sum(len(out) for out in outputs),  # more than the runs: runs put back after a budget wait
            "pages_read_twice": sum(1 for n in pages.values() if n > 1),
            "attempts": dict(attempts),
            "failed": failed,
            "calls": len(calls),
            "http_429": sum(1 for _, status, _, _ in calls if status == 429),
            "busiest_minute": busiest,
            "app_limit": app_limit,
            "person_waited_s": waited,
            "run_seconds_median": round(statistics.median(durations.values()), 2) if durations else None,
            "runs_in_flight_per_process": in_flight,
            "bot_cpu_per_run_ms": round(worker_cpu * 1000 / max(1, len(spans)), 1),
            "fakes_cpu_per_run_ms": round(fakes_cpu * 1000 / max(1, len(spans)), 1),
            "statements_per_run": round(sent["statements"] / max(1, len(spans)), 1),
            "checkouts_per_run": round(sent["checkouts"] / max(1, len(spans)), 1),
        }
    finally:
        runtime.close()
        if drop:
            drop()
        fakes.terminate()


def report(results: list[dict[str, Any]]) -> None:
    """What the targets need, in words."""
    base = next((r for r in results if r["processes"] == 1), None)
    for r in results:
        runs = sum(r["runs_per_process"])
        shares = " / ".join(f"{n * 100 / runs:.0f} %" for n in r["runs_per_process"])
        ratio = f" ({r['seconds'] / base['seconds']:.2f}x one process)" if base and r is not base else ""
        twice = sum(n for a, n in r["attempts"].items() if a > 1)
        print(
            f"{r['processes']} process(es), {r['workspaces']} workspaces: all synced after {r['seconds']} s{ratio}; "
            f"runs per process {r['runs_per_process']} ({shares}); runs at once per process "
            f"{r['runs_in_flight_per_process']}, a run {r['run_seconds_median']} s (median); run twice {twice}, "
            f"pages read twice {r['pages_read_twice']}, failed {r['failed']}; the person's import started after "
            f"{r['person_waited_s']} s; {r['calls']} calls, {r['http_429']} answered 429, the busiest minute "
            f"{r['busiest_minute']} calls for an app limit of {r['app_limit']}; CPU per run: bot "
            f"{r['bot_cpu_per_run_ms']} ms, fakes {r['fakes_cpu_per_run_ms']} ms; database statements per run "
            f"{r['statements_per_run']} in {r['checkouts_per_run']} checkouts; load average {r['load']}",
            flush=True,
        )


def _connect_all(runtime: Runtime, tenants: list[str]) -> int:
    """One workspace per organisation, each connected with the tokens of one log-in that reaches them all (the
    package's consent, as the connect flow starts it); the last workspace is the person's (not scheduled).
    Returns its connection id."""
    from tests.fakes.xero import click_through_consent

    provider = runtime.providers["xero"]
    verifier, challenge = connect.pkce_pair()
    url = provider.authorization_url(state="bench", redirect_uri=CALLBACK, code_challenge=challenge)
    with httpx2.Client(timeout=30) as browser:
        answer = click_through_consent(browser, url)
    params = dict(httpx2.URL(answer.headers["location"]).params)
    grant = provider.exchange_code(code=params["code"], redirect_uri=CALLBACK, code_verifier=verifier, params=params)
    remote = {o.id: o.connection_id for o in provider.organisations(grant)}
    box, tokens = runtime.db.box, grant.tokens
    with runtime.db.session() as s:
        s.execute(
            insert(Workspace),
            [{"team_id": f"T0SCALE{n:05d}", "name": f"Scale {n}"} for n in range(len(tenants))],
        )
        ids = {t: w for t, w in s.execute(select(Workspace.team_id, Workspace.id))}
        s.execute(
            insert(Connection),
            [
                {
                    "workspace_id": ids[f"T0SCALE{n:05d}"],
                    "provider": "xero",
                    "status": "active",
                    "organisation_id": tenant,
                    "organisation_name": f"Plumbing {n}",
                    "remote_connection_id": remote[tenant],
                    "access_token_enc": box.encrypt(tokens.access_token),
                    "refresh_token_enc": box.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
                    "access_expires_at": tokens.expires_at,
                    "connected_by": ADMIN,
                }
                for n, tenant in enumerate(tenants)
            ],
        )
        connections = {o: c for o, c in s.execute(select(Connection.organisation_id, Connection.id))}
        s.execute(
            insert(SyncSettings),
            [
                {
                    "connection_id": connections[tenant],
                    "enabled": True,
                    "interval_minutes": 60,
                    "reconcile_hours": 24,
                    "customer_filter": "all_but_suppliers",
                    "next_sync_at": None,
                }
                for tenant in tenants[:-1]
            ],
        )
        return connections[tenants[-1]]


def _persons_import(runtime: Runtime, connection_id: int) -> float:
    """Queue a person's import behind the scheduled syncs; seconds until a process started it."""
    queued = start_import(
        runtime.db,
        connection_id=connection_id,
        trigger="command",
        started_by=ADMIN,
        channel_id=CHANNEL,
        now=datetime.now(UTC),
    )
    started = time.perf_counter()
    while True:
        with runtime.db.session() as s:
            run = s.get(ImportRun, queued.run.id)
            if run is not None and run.started_at is not None:
                return round(time.perf_counter() - started, 2)
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="part", required=True)
    p = sub.add_parser("plan")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--ended", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, default=PLAN_BATCH, help="due syncs a tick plans")
    r = sub.add_parser("run")
    r.add_argument("--workspaces", type=int, default=200)
    r.add_argument("--processes", type=int, nargs="+", default=[1, 3])
    r.add_argument("--app-limit", type=int, default=10_000)
    sub.add_parser("worker")
    args = parser.parse_args()
    if args.part == "plan":
        plan(args.rows, args.ended, args.batch)
    elif args.part == "worker":
        worker()
    else:
        results = []
        for processes in args.processes:
            load = os.getloadavg()[0]
            result = run(args.workspaces, processes, args.app_limit)
            result["load"] = f"{load:.1f}-{os.getloadavg()[0]:.1f}"
            print(result, flush=True)
            results.append(result)
        report(results)


if __name__ == "__main__":
    main()
