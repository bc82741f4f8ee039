"""Benchmark: the hourly pruning of ended import runs beside a large customer table, on the schema before revision
0025 (customers and their references pointing at their last run, a foreign key without an index) and on today's.

    python -m bench.prune_bench                                   # 200,000 customers, 1,000 runs, both databases
    python -m bench.prune_bench --customers 100000 --runs 200 --databases sqlite
    python -m bench.prune_bench --first-import-pruned   # the customers' first run among those deleted

Each measurement: a fresh database migrated to the revision, one workspace and connection, `--runs` ended syncs from
105 days ago, then its latest run, which first imported (and last wrote) `--customers` customers and their
references (with `--first-import-pruned` the oldest run first imported them); then `prune_ended` timed deleting
the old runs in one batch, as the hourly chore does. The two schemas run side by side in the same process and
database server, so the ratio holds on a busy machine. PostgreSQL from BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from bench.import_bench import database_url
from bot.imports.runs import ImportPolicy, prune_ended
from storage import migrate
from storage.crypto import SecretBox
from storage.db import Database

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
BEFORE = "0024"  # the last revision with `last_import_run_id`


def seed(db: Database, *, customers: int, runs: int, old_schema: bool, first_pruned: bool) -> None:
    """The workspace, its connection, the runs (`runs` ended ones to prune, then the latest) and the customers with
    their references, written by the database itself (a recursive count) to keep set-up short."""
    postgresql = db.engine.dialect.name == "postgresql"
    moment = "now()" if postgresql else "'2026-12-03 12:00:00.000000'"
    old = "'2026-08-20 12:00:00.000000'" if not postgresql else "now() - interval '105 days'"
    with db.engine.begin() as c:
        c.execute(
            text(f"INSERT INTO workspaces (id, team_id, staff_may_import, created_at) VALUES (1, 'T1', true, {moment})")
        )
        c.execute(
            text(
                "INSERT INTO connections (id, workspace_id, provider, status, organisation_id, organisation_name, "
                f"connected_at) VALUES (1, 1, 'xero', 'active', 'org', 'Org', {moment})"
            )
        )
        for run_id in range(1, runs + 2):  # 1..runs: pruned; runs + 1: the latest
            ended = old if run_id <= runs else moment
            c.execute(
                text(
                    "INSERT INTO import_runs (id, workspace_id, connection_id, kind, trigger, status, counts, pages, "
                    "attempts, priority, created_at, finished_at, reported_at) VALUES "
                    f"(:id, 1, 1, 'full', 'schedule', 'succeeded', '{{}}', 1, 1, 1, {old}, {ended}, {ended})"
                ),
                {"id": run_id},
            )
        latest = runs + 1
        last = ", last_import_run_id" if old_schema else ""
        last_value = f", {latest}" if old_schema else ""
        c.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
                "INSERT INTO customers (id, workspace_id, name, phones, addresses, active, email_key, name_key, "
                f"first_import_run_id{last}, created_at, updated_at) "
                f"SELECT i, 1, 'Customer ' || i, '[]', '[]', true, 'c' || i || '@example.com', 'customer ' || i, "
                f"{1 if first_pruned else latest}{last_value}, {moment}, {moment} FROM n"
            ),
            {"count": customers},
        )
        c.execute(
            text(
                "INSERT INTO customer_references (customer_id, connection_id, external_id, digest"
                f"{last}, created_at) SELECT id, 1, 'x' || id, 'd'{last_value}, {moment} FROM customers"
            )
        )
        if postgresql:
            c.execute(text("ANALYZE"))


def measure(kind: str, revision: str, customers: int, runs: int, workdir: Path, first_pruned: bool) -> float:
    url, drop = database_url(kind, workdir)
    try:
        db = Database(url, SecretBox(SecretBox.generate_key()))
        migrate.upgrade(db.engine, revision)
        seed(db, customers=customers, runs=runs, old_schema=revision == BEFORE, first_pruned=first_pruned)
        started = time.perf_counter()
        deleted = prune_ended(db, now=NOW, policy=ImportPolicy(), batch=runs)
        seconds = time.perf_counter() - started
        assert deleted == runs, (deleted, runs)
        db.dispose()
        return seconds
    finally:
        if drop:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=1000, help="ended runs deleted in one batch")
    parser.add_argument(
        "--first-import-pruned",
        action="store_true",
        help="the customers were first imported by the oldest run, deleted with the others (their first run is set "
        "to NULL)",
    )
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    print(f"`prune_ended` deleting {args.runs:,} ended runs beside {args.customers:,} customers and references")
    print("| database | schema | seconds | ms a run | before / now |")
    print("| --- | --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases:
            before = measure(kind, BEFORE, args.customers, args.runs, Path(tmp), args.first_import_pruned)
            now = measure(kind, "head", args.customers, args.runs, Path(tmp), args.first_import_pruned)
            for schema, seconds in ((f"before 0025 ({BEFORE})", before), ("now", now)):
                ratio = f"{before / now:,.0f}" if schema == "now" else ""
                print(f"| {kind} | {schema} | {seconds:.3f} | {1000 * seconds / args.runs:.2f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
