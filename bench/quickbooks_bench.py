"""Benchmark: the QuickBooks row. Import customers end to end against the QuickBooks fake, as `bench.import_bench`
does against Xero's, and print the figures.

    python -m bench.quickbooks_bench                          # 10,000 customers, SQLite and PostgreSQL
    python -m bench.quickbooks_bench --sizes 1000 --databases sqlite

Each run: a fresh database, a QuickBooks fake (in a child process) seeded with N customers with Intuit's real limits
(500 calls a minute, 10 at once, which a 1,000-a-page walk never reaches), a Slack fake receiving the progress, the
bot's own connect flow (consent, realmId, CompanyInfo), then the importer timed from queueing to the summary, and
the same customers imported again with nothing changed. Each measurement runs in a process of its own, whose peak
resident memory is reported.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.import_bench import (
    ADMIN,
    BOT_TOKEN,
    CHANNEL,
    TEAM,
    Figures,
    connect_through_consent,
    database_url,
    peak_rss_mib,
    timed_import,
)
from bot.runtime import Runtime

CLIENT_ID, CLIENT_SECRET = "BENCHQUICKBOOKSCLIENT000000000001", "bench-quickbooks-client-secret"
CALLBACK = "http://127.0.0.1:9/oauth/quickbooks/callback"  # never opened: the benchmark reads the redirect itself


def serve_fakes(customers: int, pipe: Any) -> None:
    """Child process: a QuickBooks fake with `customers` customers and a Slack fake, until the parent hangs up."""
    from tests.fakes.quickbooks import QuickBooksFake
    from tests.fakes.server import ServerThread
    from tests.fakes.slack import SlackFake

    quickbooks = QuickBooksFake()
    quickbooks.register_client(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[CALLBACK])
    realm_id = quickbooks.add_company("Bench Plumbing LLC")
    quickbooks.seed_customers(realm_id, customers)
    slack = SlackFake(rate_limits=False)
    slack_server = slack.serve().start()
    slack.add_workspace(TEAM, "Bench", bot_token=BOT_TOKEN)
    slack.add_user(TEAM, ADMIN, "ada", is_admin=True)
    slack.add_channel(TEAM, CHANNEL, "general")
    with ServerThread(quickbooks.app) as server:
        pipe.send((server.url, slack_server.url))
        pipe.recv()
    pipe.send("bye")
    slack_server.stop()


def connected_runtime(url: str, quickbooks_url: str, slack_url: str) -> tuple[Runtime, int]:
    """A runtime pointed at the fakes, with QuickBooks connected through the bot's own connect flow."""
    from tests.fakes.oauth2 import click_through_consent

    package_settings = {
        "quickbooks_authorize_url": f"{quickbooks_url}/connect/oauth2",
        "quickbooks_token_url": f"{quickbooks_url}/oauth2/v1/tokens/bearer",
        "quickbooks_revoke_url": f"{quickbooks_url}/v2/oauth2/tokens/revoke",
        "quickbooks_api_url": quickbooks_url,
    }
    return connect_through_consent(
        url, slack_url, "quickbooks", package_settings, click_through_consent, CALLBACK, (CLIENT_ID, CLIENT_SECRET)
    )


def bench(kind: str, customers: int, workdir: Path, quickbooks_url: str, slack_url: str) -> Figures:
    url, drop = database_url(kind, workdir)
    try:
        runtime, connection_id = connected_runtime(url, quickbooks_url, slack_url)
        setup = peak_rss_mib()
        seconds, stored = timed_import(runtime, connection_id)
        again, _ = timed_import(runtime, connection_id)
        runtime.close()
    finally:
        if drop:
            drop()
    # no reading process: this package's pages come read (`page_reader`)
    return Figures(kind, customers, stored, seconds, again, setup, peak_rss_mib(), reader_mib=0.0)


def compare(sizes: list[int], databases: list[str], rounds: int) -> None:
    rows = []
    for size in sizes:
        parent, child = multiprocessing.Pipe()
        fakes = multiprocessing.get_context("spawn").Process(target=serve_fakes, args=(size, child))
        fakes.start()
        quickbooks_url, slack_url = parent.recv()
        try:
            for kind in databases:
                runs = []
                for round_ in range(rounds):
                    command = [sys.executable, "-m", "bench.quickbooks_bench", "--one", kind, str(size)]
                    output = subprocess.run(
                        [*command, quickbooks_url, slack_url], capture_output=True, text=True, check=True
                    ).stdout
                    runs.append(json.loads(output.strip().splitlines()[-1]))
                    print(f"  {size:>7,} {kind:10} round {round_ + 1}: {runs[-1]['seconds']:.2f} s", flush=True)
                seconds = statistics.median(r["seconds"] for r in runs)
                reimport = statistics.median(r["reimport_seconds"] / r["seconds"] for r in runs)
                peak = max(r["peak_mib"] for r in runs)
                rows.append((size, kind, size / seconds, reimport, peak, runs[0]["stored"]))
        finally:
            parent.send("done")
            parent.recv()
            fakes.join(timeout=30)
    print(f"\nMedians of {rounds} rounds")
    print("| customers | server | contender | customers/s | re-import / import | peak RSS MiB | stored |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: |")
    for size, kind, per_second, reimport, peak, stored in rows:
        print(
            f"| {size:,} | QuickBooks fake | accounts-bot, {kind} | {per_second:,.0f} | {reimport:.2f} "
            f"| {peak:.0f} | {stored:,} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", nargs=4, metavar=("DATABASE", "N", "QUICKBOOKS", "SLACK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.one:
            kind, size, quickbooks_url, slack_url = args.one
            print(json.dumps(asdict(bench(kind, int(size), Path(tmp), quickbooks_url, slack_url))))
        else:
            compare(args.sizes, args.databases, args.rounds)


if __name__ == "__main__":
    main()
