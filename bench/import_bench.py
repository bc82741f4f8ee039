"""Benchmark: import customers end to end against the local fakes, and print the figures.

    python -m bench.import_bench                      # 1,000 and 100,000 customers, SQLite and PostgreSQL
    python -m bench.import_bench --sizes 1000 20000 --databases sqlite
    python -m bench.import_bench --limited 100000     # Xero's real limits and 300 ms latency vs the lower bound
    python -m bench.import_bench --sizes 10000 --slack-latency 0.15   # Slack a round trip away, as from a server
    BENCH_TRACE=1 python -m bench.import_bench --limited 100000   # ... and when each API call reached the fake
    python -m bench.import_bench --cpu 100000 --rounds 3   # where the time goes: each thread's CPU in a first import
    git worktree add /tmp/before HEAD~1 && python -m bench.import_bench --sizes 10000 --rounds 8 --servers static \
        --baseline /tmp/before                        # a change against the code before it, interleaved

Each run: a fresh database, a Xero fake (in a child process, so its 100,000 contacts don't count against the
bot's memory) seeded with N contacts, a Slack fake receiving the progress messages, the bot's own connect flow to
get tokens, the import's reading process started as the bot's server starts it, then the importer (fetch, parse,
upsert, progress) timed from queueing to the summary. Each measurement runs in a process of its own, whose peak
resident memory (ru_maxrss) is reported, and that of the import's reading process (`bot.imports.reading`) beside it.
PostgreSQL is used when BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/test) answers; each run makes a database of its own and drops it.

The contenders take turns round after round, in an order rotated from one round to the next, so that a busy moment
of the machine falls on each in turn; medians are reported. `--baseline DIR` adds the bot of another checkout (its
imports on each database, as "before"), measured in the same rounds: the host's pace moves 20-35 % from one hour to
the next, so a change is judged against the code before it in the same minutes, not against an earlier table.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bot import workspaces
from bot.connections import connect
from bot.connections.links import link_for
from bot.imports.runner import ImportRunner
from bot.imports.runs import ImportPolicy, claim, start_import
from bot.runtime import Runtime, build_providers
from bot.server import settle_heap
from bot.settings import load_settings
from bot.slack.import_reports import slack_reporters
from storage import migrate
from storage.crypto import SecretBox
from storage.db import Database
from storage.models import Connection, Customer
from tests.fakes.server import free_port

TEAM, ADMIN, CHANNEL, BOT_TOKEN = "T0BENCH001", "U0BENCHADM", "C0BENCHGEN", "xoxb-bench-bot-token"
CLIENT_ID, CLIENT_SECRET = "BENCHXEROCLIENT00000000000000001", "bench-xero-client-secret"
CALLBACK = "http://127.0.0.1:9/oauth/xero/callback"  # never opened: the benchmark reads the redirect itself
PAGE_SIZE = 1000  # XERO_PAGE_SIZE's default: Xero's largest page (its default is 100)


def serve_fakes(contacts: int, limited: bool, latency: float, pipe: Any, slack_latency: float = 0.0) -> None:
    """Child process: a Xero fake with `contacts` customers and a Slack fake (each call answered after
    `slack_latency` seconds), until the parent hangs up."""
    from tests.fakes.server import ServerThread
    from tests.fakes.slack import SlackFake
    from tests.fakes.xero import XeroFake, XeroLimits

    limits = (
        XeroLimits() if limited else XeroLimits(concurrent=50, per_minute=10**9, per_day=10**9, app_per_minute=10**9)
    )
    xero = XeroFake(limits=limits, latency=latency)
    xero.register_client(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[CALLBACK])
    tenant = xero.add_organisation("Bench Plumbing Ltd")
    xero.seed_contacts(tenant, contacts)
    xero.index_contacts(tenant)  # as Xero's indexes are: the walk's first page costs the fake what the others do
    slack = SlackFake(rate_limits=False, latency=slack_latency)
    slack_server = slack.serve().start()
    slack.add_workspace(TEAM, "Bench", bot_token=BOT_TOKEN)
    slack.add_user(TEAM, ADMIN, "ada", is_admin=True)
    slack.add_channel(TEAM, CHANNEL, "general")
    with ServerThread(xero.app) as xero_server:
        pipe.send((xero_server.url, slack_server.url))
        pipe.recv()  # the parent is done
        api = [c for c in xero.calls if c.path.lower().startswith("/api.xro/")]
        pipe.send([(c.at, c.status, c.path) for c in api])  # when each Accounting API call came, its answer, what
    slack_server.stop()


@contextmanager
def fakes_running(
    contacts: int, *, limited: bool, latency: float, slack_latency: float = 0.0
) -> Iterator[tuple[str, str, list[Any]]]:
    """`serve_fakes` in a child process: the Xero fake's and the Slack fake's URLs, and a list that holds, once the
    block ends, when each Accounting API call came, its status and its path."""
    parent, child = multiprocessing.Pipe()
    fakes = multiprocessing.get_context("spawn").Process(
        target=serve_fakes, args=(contacts, limited, latency, child, slack_latency)
    )
    fakes.start()
    xero_url, slack_url = parent.recv()
    calls: list[Any] = []
    try:
        yield xero_url, slack_url, calls
    finally:
        parent.send("done")
        calls.extend(parent.recv())
        fakes.join(timeout=30)


@dataclass
class Figures:
    database: str
    customers: int
    stored: int
    seconds: float
    reimport_seconds: float
    setup_mib: float
    peak_mib: float
    reader_mib: float  # the reading process's peak, 0 where none was started

    @property
    def per_second(self) -> float:
        return self.customers / self.seconds

    @property
    def reimport_per_second(self) -> float:
        return self.customers / self.reimport_seconds


def database_url(kind: str, workdir: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        return f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}", None
    admin_url = make_url(
        "postgresql+psycopg://"
        + os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test").split("://", 1)[1]
    )
    name = f"accounts_bot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    # BENCH_ICU_LOCALE (`en-US`, say): the database compares text by that language's rules, as a server made with
    # a language's locale does (most are: `en_US.UTF-8`), where this machine's compares code points (`C.UTF-8`).
    locale = os.environ.get("BENCH_ICU_LOCALE", "").replace("'", "''")  # a literal in the statement
    made = f" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '{locale}'" if locale else ""
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"{made}'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


# The Xero fake's limits when the bench compares contenders (`serve_fakes` unlimited): the bot is told the same,
# as it would be told a package's real limits. Left at Xero's 60 calls a minute, the shared budget (PostgreSQL)
# paced the bot's calls while the SDK's and the fake's were not: at 100,000 contacts (101 calls an import) the
# re-import waited some 40 s for the minute's window that the first import had filled.
UNLIMITED = {"xero_calls_per_minute": 10**9, "xero_app_calls_per_minute": 10**9}


def connected_runtime(
    url: str, xero_url: str, slack_url: str, *, api_url: str | None = None, limited: bool = False
) -> tuple[Runtime, int]:
    """A runtime pointed at the fakes, with Xero connected through the bot's own connect flow; with Xero's real
    limits (`limited`) or the unlimited fake's."""
    from tests.fakes.xero import click_through_consent

    package_settings: dict[str, Any] = {
        "xero_authorize_url": f"{xero_url}/identity/connect/authorize",
        "xero_token_url": f"{xero_url}/connect/token",
        "xero_revoke_url": f"{xero_url}/connect/revocation",
        "xero_connections_url": f"{xero_url}/connections",
        "xero_api_url": api_url or f"{xero_url}/api.xro/2.0",
        **({} if limited else UNLIMITED),
    }
    return connect_through_consent(url, slack_url, "xero", package_settings, click_through_consent, CALLBACK)


def connect_through_consent(
    url: str,
    slack_url: str,
    package: str,
    package_settings: dict[str, Any],
    click_through_consent: Callable[[httpx2.Client, str], httpx2.Response],
    callback: str,
    client: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET),
) -> tuple[Runtime, int]:
    """A runtime on the database at `url`, pointed at the Slack fake and at a package's fake (`package_settings`,
    plus the `client` id and secret), with the package connected through the bot's own connect flow: the
    consent page clicked through by `click_through_consent`, the redirect to `callback` read, not followed."""
    settings = load_settings(
        None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret="bench",
        slack_api_url=f"{slack_url}/api/",
        database_url=url,
        encryption_key=SecretBox.generate_key(),
        public_url="http://127.0.0.1:9",
        **{f"{package}_client_id": client[0], f"{package}_client_secret": client[1]},
        **package_settings,
    )
    assert settings.encryption_key
    runtime = Runtime(
        settings=settings, db=Database(url, SecretBox(settings.encryption_key)), providers=build_providers(settings)
    )
    migrate.upgrade(runtime.db.engine)
    provider = runtime.providers[package]
    now = datetime.now(UTC)
    with runtime.db.session() as s:
        workspace = workspaces.ensure(s, team_id=TEAM, name="Bench")
        link = connect.begin(
            s,
            runtime.db,
            workspace_id=workspace.id,
            user_id=ADMIN,
            channel_id=CHANNEL,
            provider=provider,
            redirect_uri=callback,
            now=now,
        )
    with httpx2.Client(timeout=30) as browser:
        answer = click_through_consent(browser, link.url)
    params = dict(httpx2.URL(answer.headers["location"]).params)
    outcome = connect.finish_callback(runtime.db, provider=provider, params=params, redirect_uri=callback, now=now)
    assert outcome.kind == "connected" and outcome.connection_id, outcome.message
    return runtime, outcome.connection_id


def timed_import(runtime: Runtime, connection_id: int, runner: ImportRunner | None = None) -> tuple[float, int]:
    """Seconds and customers stored for one full import, from queueing to the summary. `runner`: the bot's (kept
    from one import to the next, with its reading process); by default one of its own, for this import only."""
    own = runner is None
    runner = runner or ImportRunner(runtime, reporters=slack_reporters(runtime), policy=ImportPolicy(), workers=1)
    started = time.perf_counter()
    queued = start_import(
        runtime.db,
        connection_id=connection_id,
        trigger="bench",
        started_by=ADMIN,
        channel_id=CHANNEL,
        now=runtime.clock(),
    )
    run_id = claim(runtime.db, owner=runner.owner, now=runtime.clock(), policy=runner.policy)
    assert run_id == queued.run.id
    view = runner.run_claimed(run_id)
    seconds = time.perf_counter() - started
    if own:
        runner.shutdown()
    assert view is not None and view.status == "succeeded", view
    with runtime.db.session() as s:
        stored = int(s.scalar(select(func.count()).select_from(Customer)) or 0)
    return seconds, stored


def reader_up(runner: ImportRunner, timeout: float = 30.0) -> None:
    """Wait until the runner's reading process is up (`ImportRunner.start_reader`)."""
    deadline = time.monotonic() + timeout
    while not runner.reader.ready():
        if time.monotonic() > deadline:
            raise RuntimeError("the reading process did not start")
        time.sleep(0.005)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def children_peak_mib(pid: int) -> float:
    """A running child's peak resident set since it started its program (the reading process,
    `bot.imports.reading`): `VmHWM`. Not `RUSAGE_CHILDREN`, which counts this process's size when it forked the
    child, before the child's own program began."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def bot_ready(
    kind: str, workdir: Path, xero_url: str, slack_url: str, api_url: str
) -> Iterator[tuple[Runtime, int, ImportRunner]]:
    """A database of its own (`kind`) with Xero connected, and the bot's import runner on it (one for every import,
    as the bot has), its reading process up and the heap settled as the bot's server leaves them once started
    (`bot.server.BotServer.start`); the database dropped after."""
    url, drop = database_url(kind, workdir)
    try:
        runtime, connection_id = connected_runtime(url, xero_url, slack_url, api_url=api_url)
        runner = ImportRunner(runtime, reporters=slack_reporters(runtime), policy=ImportPolicy(), workers=1)
        try:
            assert runner.start_reader()
            reader_up(runner)
            settle_heap()
            yield runtime, connection_id, runner
        finally:
            runner.shutdown()
            runtime.close()
    finally:
        if drop:
            drop()


def bench(kind: str, contacts: int, workdir: Path, xero_url: str, slack_url: str, api_url: str) -> Figures:
    """One measurement against running servers, meant to run in a process of its own (see `compare`): a first import
    and the same again (the re-import finds the reading process the first used)."""
    with bot_ready(kind, workdir, xero_url, slack_url, api_url) as (runtime, connection_id, runner):
        setup = peak_rss_mib()
        seconds, stored = timed_import(runtime, connection_id, runner)
        again, _ = timed_import(runtime, connection_id, runner)
        reading = max((children_peak_mib(c.pid) for c in multiprocessing.active_children() if c.pid), default=0.0)
    return Figures(kind, contacts, stored, seconds, again, setup, peak_rss_mib(), reading)


def write_pages(runtime: Runtime, connection_id: int, directory: Path) -> tuple[str, str]:
    """Every page of contacts (and the chart of accounts and the tax rates) exactly as the Xero fake sends them,
    written to `directory` for the pre-serialised server; returns the organisation's id and an access token for the
    SDK."""
    provider = runtime.providers["xero"]
    with runtime.db.session() as s:
        connection = s.get(Connection, connection_id)
        assert connection is not None
        link = link_for(runtime, connection)
    page, count = 1, 1
    while page <= count:
        body = provider._contacts(link, page, PAGE_SIZE, {})  # type: ignore[attr-defined]
        (directory / f"contacts-{page}.json").write_bytes(body)
        if page == 1:
            count = json.loads(body)["pagination"]["pageCount"]
        page += 1
    for name in ("Accounts", "TaxRates"):  # the chart of accounts, and the tax rates read with it
        method, url, options = provider._accounting_call(f"/{name}", link, params=None, headers=None)  # type: ignore[attr-defined]
        answer = provider._api.send(method, url, **options)  # type: ignore[attr-defined]
        assert answer.status_code == 200, (name, answer.status_code)
        (directory / f"{name.lower()}.json").write_bytes(answer.content)
    return link.organisation_id, link.tokens.access_token()


def lower_bound(calls: int, *, at_once: int, per_minute: int = 60, latency: float = 0.3) -> float:
    """The least time `calls` API calls can take under Xero's limits: at most `at_once` in flight, each taking
    `latency`, and no more than `per_minute` admitted in any 60 seconds (call n + per_minute waits for call n
    to age out of the window)."""
    first = min(calls, per_minute)
    if calls <= per_minute:
        return math.ceil(first / at_once) * latency
    return 60.0 + math.ceil((calls - per_minute) / at_once) * latency


def limited(contacts: int, workdir: Path, *, slack_latency: float = 0.0) -> None:
    """Xero's real limits (60 calls a minute, 5 at once) and 300 ms a call: how close to the lower bound?"""
    url, _ = database_url("sqlite", workdir)
    running = fakes_running(contacts, limited=True, latency=0.3, slack_latency=slack_latency)
    with running as (xero_url, slack_url, api_calls):
        runtime, connection_id = connected_runtime(url, xero_url, slack_url, limited=True)
        began = time.time()
        seconds, stored = timed_import(runtime, connection_id)
        runtime.close()
    during = [(at - began, status, path.lower()) for at, status, path in api_calls if at >= began]
    if os.environ.get("BENCH_TRACE"):
        print("calls at:", " ".join(f"{t:.1f}" for t, _, _ in during))
    calls, refused = len(during), sum(1 for _, status, _ in during if status == 429)
    # The calls an import needs: every page of contacts (Xero's pages hold the `pageSize` we ask for, at most
    # 1,000) and the chart (accounts and tax rates) refreshed at the end. The bound is taken for these, so that a
    # call made twice (a retry, a 429) counts against the import instead of raising its bound.
    pages = math.ceil(contacts / PAGE_SIZE)
    chart = sum(1 for _, _, path in during if path.endswith(("/accounts", "/taxrates")))
    needed = pages + chart
    one_by_one, five = lower_bound(needed, at_once=1), lower_bound(needed, at_once=5)
    print(f"\nWith Xero's limits (60 calls a minute, 5 at once) and 300 ms latency, {contacts:,} contacts:")
    print(f"  {stored:,} customers in {seconds:.1f} s with {calls} API calls ({refused} answered 429)")
    print(f"  calls needed: {needed} ({pages} pages of {PAGE_SIZE:,} contacts, {chart} for the chart of accounts)")
    print(f"  lower bound, one call at a time (as pages are walked): {one_by_one:.1f} s; {seconds / one_by_one:.2f}x")
    print(f"  lower bound, 5 calls at once: {five:.1f} s; {seconds / five:.2f}x")


_LOOK_FOR_SERVER = 25  # samples between looks for the database server's processes (new connections' backends)


class ThreadClock:
    """Each thread's CPU seconds and minor page faults (pages the system mapped, zeroed, for it), of this process (by
    thread name, numbers folded: `xero-pages_3` is `xero-pages_N`) and of its children (each child whole, as
    `reading process`), from `/proc`, sampled every `every` seconds in a thread of its own (`cpu-sampler`, counted
    too: what measuring costs) until `stop()`: a thread that ends loses at most its last interval. With `server` (a
    program's name: `postgres`), every process of that program on this machine too, as `database server` (a local
    PostgreSQL's backends, WAL writer and checkpointer; the machine runs no other), with what the backends that ended
    meanwhile used (their parent's reaped children's time). Linux."""

    def __init__(self, every: float = 0.05, *, server: str | None = None) -> None:
        self._every, self._done, self._server = every, threading.Event(), server
        self._servers: list[int] = []  # the server's processes, looked for again every `_LOOK_FOR_SERVER` samples
        self._samples = 0
        self._names: dict[int, str] = {}
        self._first: dict[tuple[int, int], tuple[float, int]] = {}
        self._last: dict[tuple[int, int], tuple[str, float, int]] = {}
        self._sample()
        self._first = {key: (cpu, faults) for key, (_, cpu, faults) in self._last.items()}
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, tuple[float, int]]:
        """CPU seconds and minor page faults since the clock started, by thread (the children's: `reading process`;
        the clock's own thread as `cpu-sampler`, what measuring cost the process)."""
        self._done.set()
        self._thread.join()
        self._sample(look=True)  # the backends of connections made since the last look: the import's own
        used: dict[str, tuple[float, int]] = {}
        for key, (name, cpu, faults) in self._last.items():
            cpu_then, faults_then = self._first.get(key, (0.0, 0))
            so_far = used.get(name, (0.0, 0))
            used[name] = (so_far[0] + cpu - cpu_then, so_far[1] + faults - faults_then)
        return used

    def _run(self) -> None:
        while not self._done.wait(self._every):
            self._sample()

    def _sample(self, *, look: bool = False) -> None:
        me, tick = os.getpid(), os.sysconf("SC_CLK_TCK")
        self._names.update({t.native_id: re.sub(r"\d+", "N", t.name) for t in threading.enumerate() if t.native_id})
        tasks = [(me, int(tid)) for tid in os.listdir(f"/proc/{me}/task")]
        children = {c.pid for c in multiprocessing.active_children() if c.pid}
        tasks += [(pid, pid) for pid in children]
        if self._server is not None:
            if look or self._samples % _LOOK_FOR_SERVER == 0:  # every process's name read: some 2 ms
                self._servers = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in children]
            tasks += [(pid, pid) for pid in self._servers if pid != me]
        self._samples += 1
        for pid, tid in tasks:
            path = f"/proc/{pid}/task/{tid}/stat" if pid == me else f"/proc/{pid}/stat"
            try:
                head, _, tail = Path(path).read_text().rpartition(")")
            except (FileNotFoundError, ProcessLookupError):
                continue  # ended since listed
            if pid == me:
                name = self._names.get(tid, "unnamed")
            elif pid in children:
                name = "reading process"
            elif head.partition("(")[2] == self._server:
                name = "database server"
            else:
                self._servers = [p for p in self._servers if p != pid]  # not the server's: not read again
                continue
            fields = tail.split()
            used, faults = int(fields[11]) + int(fields[12]), int(fields[7])  # utime, stime; minflt
            if name == "database server":  # and its ended children's (the server's own: the postmaster's backends)
                used += int(fields[13]) + int(fields[14])  # cutime, cstime
                faults += int(fields[8])  # cminflt
            self._last[(pid, tid)] = (name, used / tick, faults)


def cpu_of_import(kind: str, workdir: Path, xero_url: str, slack_url: str, api_url: str) -> dict[str, Any]:
    """A first import as `bench` times it, with each thread's CPU seconds and page faults meanwhile (`ThreadClock`)."""
    with bot_ready(kind, workdir, xero_url, slack_url, api_url) as (runtime, connection_id, runner):
        clock = ThreadClock(server="postgres" if kind == "postgresql" else None)
        seconds, _ = timed_import(runtime, connection_id, runner)
        threads = clock.stop()
    return {"seconds": seconds, "threads": threads}


def where_the_time_goes(
    size: int, databases: list[str], rounds: int, workdir: Path, *, slack_latency: float = 0.0
) -> None:
    """A first import of `size` contacts from the pre-serialised server on each database, `rounds` times each
    (interleaved): its wall time, and the CPU seconds and minor page faults of each of its threads and of its
    reading process (medians)."""
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in databases}
    with servers(size, workdir, slack_latency=slack_latency) as (urls, _, _):
        for round_ in range(rounds):
            for kind in databases:
                command = ["-m", "bench.import_bench", "--one-cpu", kind, urls["xero"], urls["slack"], urls["static"]]
                out = subprocess.run([sys.executable, *command], check=True, capture_output=True, text=True).stdout
                found[kind].append(json.loads(out.strip().splitlines()[-1]))
                print(f"  {size:>7,} {kind:10} round {round_ + 1}: {found[kind][-1]['seconds']:.2f} s", flush=True)
    for kind, runs in found.items():
        print(f"\n{size:,} contacts, {kind}: medians of {rounds} first imports, by thread")
        print(f"  {'':32} {'CPU s':>6} {'page faults':>12}")
        print(f"  {'the import, wall':32} {statistics.median(r['seconds'] for r in runs):6.2f}")
        names = {name for r in runs for name in r["threads"]}
        cpu = {name: statistics.median(r["threads"].get(name, (0.0, 0))[0] for r in runs) for name in names}
        for name in sorted(cpu, key=lambda n: -cpu[n]):
            faults = statistics.median(r["threads"].get(name, (0.0, 0))[1] for r in runs)
            if cpu[name] >= 0.01:
                print(f"  {name:32} {cpu[name]:6.2f} {faults:12,.0f}")


CONTENDERS = ("sdk", "sqlite", "postgresql")


BEFORE = "@before"  # a contender's suffix: the bot of the `--baseline` checkout


def measure(
    contender: str,
    size: int,
    urls: dict[str, str],
    server: str,
    tenant: str,
    token: str,
    baseline: Path | None = None,
) -> dict[str, Any]:
    """One measurement in a process of its own: the SDK fetching every page, or a full import and re-import (by the
    bot of the `baseline` checkout for a contender named `...@before`)."""
    api_url = urls["static"] if server == "static" else f"{urls['xero']}/api.xro/2.0"
    kind, before = contender.removesuffix(BEFORE), contender.endswith(BEFORE)
    if kind == "sdk":
        command = ["-m", "bench.sdk_reference", api_url, tenant, token, str(PAGE_SIZE)]
    else:
        command = ["-m", "bench.import_bench", "--one", kind, str(size), urls["xero"], urls["slack"], api_url]
    where: dict[str, Any] = {}
    if before:  # `python -m` from that checkout finds its packages first (the installed ones are this checkout's)
        assert baseline is not None
        where = {"cwd": baseline, "env": {**os.environ, "PYTHONPATH": str(baseline)}}
    out = subprocess.run([sys.executable, *command], check=True, capture_output=True, text=True, **where).stdout
    last = out.strip().splitlines()[-1]
    if kind == "sdk":
        contacts, seconds = last.split()
        assert int(contacts) == size, (contacts, size)
        return {"seconds": float(seconds)}
    return json.loads(last)


@contextmanager
def servers(size: int, workdir: Path, *, slack_latency: float = 0.0) -> Iterator[tuple[dict[str, str], str, str]]:
    """The Xero fake with `size` contacts and the Slack fake (in a child process), and the pre-serialised server
    sending the fake's pages: their URLs (`xero`, `slack`, `static`), the organisation's id and a token for the SDK."""
    pages = workdir / f"pages-{size}"
    pages.mkdir()
    with fakes_running(size, limited=False, latency=0.0, slack_latency=slack_latency) as (xero_url, slack_url, _):
        runtime, connection_id = connected_runtime(f"sqlite:///{workdir / f'pages-{size}.db'}", xero_url, slack_url)
        tenant, token = write_pages(runtime, connection_id, pages)
        runtime.close()
        port = free_port()
        static = subprocess.Popen(
            [sys.executable, "-m", "bench.static_xero", str(pages), str(port)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert static.stdout is not None and static.stdout.readline().strip() == "ready"
            urls = {"xero": xero_url, "slack": slack_url, "static": f"http://127.0.0.1:{port}/api.xro/2.0"}
            yield urls, tenant, token
        finally:
            static.terminate()
            static.wait()


def in_turn(contenders: list[str], round_: int) -> list[str]:
    """The contenders in the order of a round: rotated by one each round, so none always runs after the same one
    (a busy moment of the machine, or what the one before left in the page cache, falls on each in turn)."""
    turn = round_ % len(contenders)
    return contenders[turn:] + contenders[:turn]


def compare(
    sizes: list[int],
    databases: list[str],
    rounds: int,
    workdir: Path,
    *,
    on: tuple[str, ...] = ("static", "fake"),
    baseline: Path | None = None,
    slack_latency: float = 0.0,
) -> None:
    """For each size: the Xero fake and the pre-serialised server (`on`: those of them to measure on), then
    `rounds` rounds of every contender on each server in turn (interleaved, so a busy moment of the machine touches
    all of them), and the medians. `baseline`: the bot of that checkout too, on each database (`BEFORE`).
    `slack_latency`: Slack's round trip for each of the bot's calls (progress, the end's messages and CSV)."""
    contenders = ["sdk", *databases, *([f"{kind}{BEFORE}" for kind in databases] if baseline else [])]
    table, pairs = [], []
    for size in sizes:
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        with servers(size, workdir, slack_latency=slack_latency) as (urls, tenant, token):
            for round_ in range(rounds):
                for server in on:
                    for contender in in_turn(contenders, round_):
                        figures = measure(contender, size, urls, server, tenant, token, baseline)
                        results.setdefault((contender, server), []).append(figures)
                        print(
                            f"  {size:>7,} {server:6} {contender:18} round {round_ + 1}: {figures['seconds']:.2f} s",
                            flush=True,
                        )
        for server in on:
            sdk = statistics.median(r["seconds"] for r in results[("sdk", server)])
            for contender in contenders:
                runs = results[(contender, server)]
                seconds = statistics.median(r["seconds"] for r in runs)
                row = {"size": size, "server": server, "contender": contender, "per_second": size / seconds}
                row["ratio"] = sdk / seconds
                if contender != "sdk":
                    row["reimport"] = statistics.median(r["reimport_seconds"] / r["seconds"] for r in runs)
                    row["peak"] = max(r["peak_mib"] for r in runs)
                    row["reader"] = max(r["reader_mib"] for r in runs)
                table.append(row)
            if baseline is not None:
                for kind in databases:
                    now, then = results[(kind, server)], results[(f"{kind}{BEFORE}", server)]
                    pairs.append({"size": size, "server": server, "kind": kind, "now": now, "before": then})
    print(f"\nMedians of {rounds} rounds; ratio: contacts/s over the SDK's on the same server in the same run")
    if slack_latency:
        print(f"Slack answering each call after {slack_latency * 1000:.0f} ms")
    print("| contacts | server | contender | contacts/s | × SDK | re-import / import | peak RSS MiB | reading MiB |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for row in table:
        kind, before = row["contender"].removesuffix(BEFORE), row["contender"].endswith(BEFORE)
        what = "xero-python, fetch only" if kind == "sdk" else f"{'before: ' if before else ''}accounts-bot, {kind}"
        print(
            f"| {row['size']:,} | {row['server']} | {what} | {row['per_second']:,.0f} | {row['ratio']:.2f} "
            f"| {row.get('reimport', 0):.2f} | {row.get('peak', 0):.0f} | {row.get('reader', 0):.0f} |".replace(
                "| 0.00 | 0 | 0 |", "| | | |"
            )
        )
    if pairs:
        print_pairs(pairs)


def print_pairs(pairs: list[dict[str, Any]]) -> None:
    """Each round's import against the `--baseline` checkout's in the same round (its seconds over ours: above 1,
    ours was faster), first imports and re-imports: the two ran minutes apart at most, so the host's pace, which
    moves a fifth to a third from one hour to the next, mostly cancels out of each round's ratio."""
    print(
        "\nRound by round against the baseline: its seconds over ours (above 1: ours faster), median [lowest-highest]"
    )
    print("| contacts | server | database | first import | faster in | re-import | faster in |")
    print("| ---: | --- | --- | --- | ---: | --- | ---: |")
    for pair in pairs:
        cells = []
        for field in ("seconds", "reimport_seconds"):
            ratios = [b[field] / n[field] for n, b in zip(pair["now"], pair["before"], strict=True)]
            faster = sum(ratio > 1 for ratio in ratios)
            cells.append(
                f"{statistics.median(ratios):.3f} [{min(ratios):.3f}-{max(ratios):.3f}] | {faster} of {len(ratios)}"
            )
        print(f"| {pair['size']:,} | {pair['server']} | {pair['kind']} | {' | '.join(cells)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every contender; medians are reported")
    parser.add_argument("--limited", type=int, metavar="N", help="only the rate-limited run, with N contacts")
    parser.add_argument(
        "--cpu", type=int, metavar="N", help="where the time goes: each thread's CPU in a first import of N contacts"
    )
    parser.add_argument(
        "--servers", nargs="+", default=["static", "fake"], choices=["static", "fake"], help="the servers to read from"
    )
    parser.add_argument("--baseline", type=Path, help="also run the bot from this checkout (another commit)")
    parser.add_argument(
        "--slack-latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Slack's round trip for each call (0.1-0.3 s from a server; the local fake's is under a millisecond)",
    )
    parser.add_argument("--one", nargs=5, metavar=("DATABASE", "N", "XERO", "SLACK", "API"), help=argparse.SUPPRESS)
    parser.add_argument("--one-cpu", nargs=4, metavar=("DATABASE", "XERO", "SLACK", "API"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.limited:
            limited(args.limited, workdir, slack_latency=args.slack_latency)
        elif args.cpu:
            where_the_time_goes(args.cpu, args.databases, args.rounds, workdir, slack_latency=args.slack_latency)
        elif args.one_cpu:
            kind, xero_url, slack_url, api_url = args.one_cpu
            print(json.dumps(cpu_of_import(kind, workdir, xero_url, slack_url, api_url)))
        elif args.one:
            kind, size, xero_url, slack_url, api_url = args.one
            print(json.dumps(asdict(bench(kind, int(size), workdir, xero_url, slack_url, api_url))))
        else:
            baseline = args.baseline.resolve() if args.baseline else None
            compare(
                args.sizes,
                args.databases,
                args.rounds,
                workdir,
                on=tuple(args.servers),
                baseline=baseline,
                slack_latency=args.slack_latency,
            )


if __name__ == "__main__":
    main()
