"""The clock of the background work: APScheduler (in memory) calls the jobs that look for due work.

What is due lives in our tables (import runs, next sync times, token ages), so restarts lose nothing.
"""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.connections.upkeep import keep_connections_alive, sweep_expired
from bot.imports.runner import ImportRunner
from bot.invoices.tracking import TRACK_EVERY, track_all
from bot.runtime import Runtime

KEEPALIVE_EVERY = timedelta(hours=6)
SWEEP_EVERY = timedelta(minutes=10)


def start_scheduler(runtime: Runtime, *, imports: ImportRunner | None = None) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    if imports is not None:  # claims due import runs and queues scheduled syncs; listeners wake it too
        imports.recover()
        scheduler.add_job(
            imports.wake,
            "interval",
            seconds=imports.tick_every,
            id="import_tick",
            max_instances=1,
            coalesce=True,
            next_run_time=runtime.clock(),
        )
    scheduler.add_job(
        keep_connections_alive,
        "interval",
        args=[runtime],
        seconds=KEEPALIVE_EVERY.total_seconds(),
        id="keep_connections_alive",
        max_instances=1,
        coalesce=True,
        next_run_time=runtime.clock() + timedelta(minutes=1),
    )
    scheduler.add_job(
        track_all,  # invoices raised from Slack: their state read back, their threads told
        "interval",
        args=[runtime],
        seconds=TRACK_EVERY.total_seconds(),
        id="track_invoices",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        sweep_expired,
        "interval",
        args=[runtime],
        seconds=SWEEP_EVERY.total_seconds(),
        id="sweep_expired",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler
