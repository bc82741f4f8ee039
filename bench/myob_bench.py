"""Benchmark: import customers from the MYOB fake end to end, for the MYOB row beside Xero's (bench.import_bench).

    python -m bench.myob_bench                          # 10,000 customers, SQLite
    python -m bench.myob_bench --sizes 10000 100000 --databases sqlite postgresql

Each run: a fresh database, a MYOB fake in a child process (MYOB's real limit of 8 calls a second, no added latency)
seeded with N customer cards, a Slack fake receiving the progress messages, the bot's own connect flow (consent page,
callback with businessId) to get tokens, then a full import and a re-import timed from queueing to the summary, in a
process of its own whose peak resident memory is reported. The lower bound is MYOB's limit alone: N / 1,000 pages at
8 calls a second.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
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

CLIENT_ID, CLIENT_SECRET = "bench-myob-key-0000-000000000001", "bench-myob-client-secret"
CALLBACK = "http://127.0.0.1:9/oauth/myob/callback"  # never opened: the benchmark reads the redirect itself


def serve_fakes(customers: int, pipe: Any) -> None:
    """Child process: a MYOB fake with `customers` cards and a Slack fake, until the parent hangs up."""
    from tests.fakes.myob import MyobFake
    from tests.fakes.server import ServerThread
    from tests.fakes.slack import SlackFake

    myob = MyobFake()
    myob.register_client(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[CALLBACK])
    file_id = myob.add_company_file("Bench Plumbing Pty Ltd")
    myob.seed_customers(file_id, customers)
    slack = SlackFake(rate_limits=False)
    slack_server = slack.serve().start()
    slack.add_workspace(TEAM, "Bench", bot_token=BOT_TOKEN)
    slack.add_user(TEAM, ADMIN, "ada", is_admin=True)
    slack.add_channel(TEAM, CHANNEL, "general")
    with ServerThread(myob.app) as myob_server:
        pipe.send((myob_server.url, slack_server.url))
        pipe.recv()
    slack_server.stop()


def connected_runtime(url: str, myob_url: str, slack_url: str) -> tuple[Runtime, int]:
    """A runtime pointed at the fakes, with a MYOB company file connected through the bot's own connect flow."""
    from tests.fakes.oauth2 import click_through_consent

    package_settings = {
        "myob_authorize_url": f"{myob_url}/oauth2/account/authorize",
        "myob_token_url": f"{myob_url}/oauth2/v1/authorize",
        "myob_api_url": f"{myob_url}/accountright",
    }
    return connect_through_consent(
        url, slack_url, "myob", package_settings, click_through_consent, CALLBACK, (CLIENT_ID, CLIENT_SECRET)
    )


def bench(kind: str, customers: int, workdir: Path, myob_url: str, slack_url: str) -> Figures:
    url, drop = database_url(kind, workdir)
    try:
        runtime, connection_id = connected_runtime(url, myob_url, slack_url)
        setup = peak_rss_mib()
        seconds, stored = timed_import(runtime, connection_id)
        again, _ = timed_import(runtime, connection_id)
        runtime.close()
    finally:
        if drop:
            drop()
    # no reading process: this package's pages come read (`page_reader`)
    return Figures(kind, customers, stored, seconds, again, setup, peak_rss_mib(), reader_mib=0.0)


def compare(sizes: list[int], databases: list[str]) -> None:
    rows = []
    for size in sizes:
        parent, child = multiprocessing.Pipe()
        server = multiprocessing.Process(target=serve_fakes, args=(size, child), daemon=True)
        server.start()
        myob_url, slack_url = parent.recv()
        try:
            for kind in databases:
                command = [sys.executable, "-m", "bench.myob_bench", "--one", kind, str(size), myob_url, slack_url]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        finally:
            parent.send("done")
            server.join(timeout=30)
    print("| customers | server | contender | customers/s | bound s | import s | re-import / import | peak RSS MiB |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        bound = math.ceil(row["customers"] / 1000) / 8
        print(
            f"| {row['customers']:,} | MYOB fake | accounts-bot, {row['database']} "
            f"| {row['customers'] / row['seconds']:,.0f} | {bound:.1f} | {row['seconds']:.1f} "
            f"| {row['reimport_seconds'] / row['seconds']:.2f} | {row['peak_mib']:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--databases", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"])
    parser.add_argument("--one", nargs=4, metavar=("DATABASE", "N", "MYOB", "SLACK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.one:
            kind, size, myob_url, slack_url = args.one
            print(json.dumps(asdict(bench(kind, int(size), workdir, myob_url, slack_url))))
        else:
            compare(args.sizes, args.databases)


if __name__ == "__main__":
    main()
