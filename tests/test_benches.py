"""Every bench in `bench/` runs end to end, at sizes that take seconds.

The benches are scripts that nothing else runs, so one that stopped working is found by whoever next measures: on
2026-12-05 three had (the MYOB and QuickBooks benches' figures lacked a field the import bench had added, and the
acknowledgement bench ran the bot in a daemon process, which may not start the import's reading process). Here each
is run as the README says to run it, on SQLite, and its table or summary is looked for: the figures themselves are
the machine's, and are not judged here (they go in the README with the command that gave them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

BENCHES = {
    # the SDK against the pre-serialised server, the bot, and the bot of a checkout given as the baseline (this one)
    "import, compared": (
        ["bench.import_bench", "--sizes", "1000", "--databases", "sqlite", "--rounds", "1", "--servers", "static"]
        + ["--baseline", str(ROOT)],
        [
            "| 1,000 | static | xero-python, fetch only |",
            "| 1,000 | static | accounts-bot, sqlite |",
            "| 1,000 | static | before: accounts-bot, sqlite |",
            "Round by round against the baseline",
            "| 1,000 | static | sqlite | ",
        ],
    ),
    "import, Slack a round trip away": (
        ["bench.import_bench", "--sizes", "1000", "--databases", "sqlite", "--rounds", "1", "--servers", "static"]
        + ["--slack-latency", "0.05"],
        ["Slack answering each call after 50 ms", "| 1,000 | static | accounts-bot, sqlite |"],
    ),
    "import, where the time goes": (
        ["bench.import_bench", "--cpu", "2000", "--rounds", "1", "--databases", "sqlite"],
        ["2,000 contacts, sqlite: medians of 1 first imports", "CPU s  page faults", "reading process", "MainThread"],
    ),
    # instructions counted by callgrind: the SDK's a page, the reading process's and the importing thread's, and a
    # baseline's (this checkout)
    "instructions a page": (
        ["bench.instructions", "--contacts", "2000", "--pages", "1", "--baseline", str(ROOT)],
        [
            "| xero-python deserialising the page |",
            "| reading (the reading process) |",
            "| writing (the importing thread) |",
            "| ours / baseline's |",
        ],
    ),
    "chart of accounts": (
        ["bench.chart_bench", "--latency", "0.01", "--rounds", "1"],
        ["refresh_chart (chart and tax rates, stored)", "the two calls one after the other (reference)"],
    ),
    "MYOB": (
        ["bench.myob_bench", "--sizes", "300", "--databases", "sqlite"],
        ["| 300 | MYOB fake | accounts-bot, sqlite |"],
    ),
    "QuickBooks": (
        ["bench.quickbooks_bench", "--sizes", "100", "--databases", "sqlite", "--rounds", "1"],
        ["| 100 | QuickBooks fake | accounts-bot, sqlite |"],
    ),
    "pruning": (
        ["bench.prune_bench", "--customers", "200", "--runs", "5", "--databases", "sqlite"],
        ["| sqlite | now |"],
    ),
    "several processes": (
        ["bench.scale_bench", "run", "--workspaces", "2", "--processes", "1"],
        ["1 process(es), 2 workspaces: all synced after", "failed 0"],
    ),
    "acknowledging Slack": (
        ["bench.ack_bench", "--rounds", "1", "--passes", "1", "--slice", "0.2", "--settle", "0.05"]
        + ["--connections", "5"],
        # the table's rows, and status's answers (counted over the whole run: a slice this short, on a loaded
        # machine, may count none of its requests)
        ["| bare AsyncApp, ack() |", "| bot: /accounts help |", "| bot: /accounts status |", "in acknowledgements"],
    ),
}


@pytest.mark.parametrize(("command", "expected"), BENCHES.values(), ids=BENCHES.keys())
def test_the_bench_runs_and_prints_its_figures(command: list[str], expected: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    # what it started it also ended: no semaphore of a process pool left for the resource tracker to clean up
    assert "leaked" not in done.stderr, done.stderr[-4000:]
    for text in expected:
        assert text in done.stdout, (text, done.stdout[-3000:])


def test_the_cpu_clock_counts_a_server_process_that_came_and_went_meanwhile(tmp_path: Path) -> None:
    """`--cpu`'s clock counts the database server's processes (their CPU and page faults), those started after it
    did and those that ended before it stopped too: a connection the import opens starts a backend, which an earlier
    look did not list (the clock reported 0.02 s of PostgreSQL's CPU for an import that cost it 0.15 s). Here the
    "server" is a program of its own name that starts a child of that name, which spins for a while, writes 64 MiB
    and ends before the clock stops; its parent lives on, as the postmaster does."""
    from bench.import_bench import ThreadClock

    server = tmp_path / "benchsrvtest"
    server.symlink_to(sys.executable)  # a process's name is its program's file name
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    spin += "\nmemory = bytes(range(256)) * (1 << 18)"  # 64 MiB written: some 16,000 pages mapped and zeroed
    # the parent lives until its standard input closes, once the clock has stopped
    parent = f"import subprocess, sys\nsubprocess.run([{str(server)!r}, '-c', {spin!r}])\nprint(flush=True)\n"
    parent += "sys.stdin.read()"
    clock = ThreadClock(server=server.name)
    with subprocess.Popen(
        [str(server), "-c", parent], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as started:  # leaving the block closes its standard input and waits for it to end
        assert started.stdout is not None and started.stdout.readline() == "\n"  # the child ended, reaped
        used = clock.stop()
    assert started.returncode == 0
    cpu, faults = used.get("database server", (0.0, 0))
    assert cpu >= 0.3 and faults >= 10_000
