"""Benchmark: refreshing a connection's chart of accounts (what the mapping modal waits for, and an import's end)
against a Xero fake that answers each call after `--latency` seconds, as Xero's servers do.

    python -m bench.chart_bench                    # 300 ms a call, 5 rounds
    python -m bench.chart_bench --latency 0.6 --rounds 3

Each round times `bot.mapping.account_mapping.refresh_chart` (the chart and the tax rates fetched, then stored) and,
as the reference in the same run, the same two calls made one after the other through the same client, nothing
stored. The fakes run in a child process with Xero's limits; the bot connects through its own consent flow.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds before the fake answers each call")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from bench.import_bench import connected_runtime, fakes_running
    from bot.connections.links import link_for
    from bot.mapping import account_mapping, tax_codes
    from storage.models import Connection

    with (
        fakes_running(10, limited=True, latency=args.latency) as (xero_url, slack_url, _),
        tempfile.TemporaryDirectory() as workdir,
    ):
        runtime, connection_id = connected_runtime(f"sqlite:///{Path(workdir) / 'chart.db'}", xero_url, slack_url)
        provider = runtime.providers["xero"]
        invoicing = tax_codes.invoicing_of(provider)
        assert invoicing is not None
        refreshed, serial = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            account_mapping.refresh_chart(runtime, connection_id=connection_id)
            refreshed.append(time.perf_counter() - started)
            with runtime.db.session() as s:
                connection = s.get(Connection, connection_id)
                assert connection is not None
                link = link_for(runtime, connection)
            started = time.perf_counter()
            provider.accounts(link)
            invoicing.tax_rates(link)
            serial.append(time.perf_counter() - started)
        runtime.close()
    ours, reference = statistics.median(refreshed), statistics.median(serial)
    print(f"Xero fake answering after {args.latency * 1000:.0f} ms a call; medians of {args.rounds} rounds")
    print(f"  refresh_chart (chart and tax rates, stored)     {ours:.3f} s")
    print(f"  the two calls one after the other (reference)   {reference:.3f} s")
    print(f"  ratio                                           {ours / reference:.2f}")


if __name__ == "__main__":
    main()
