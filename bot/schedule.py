"""The clock of the background work: APScheduler (in memory) calls the jobs that look for due work.

What is due lives in our tables (import runs, next sync times, token ages, chores), so restarts lose nothing;
the housekeeping chores are taken through the database (`bot.chores`), so several processes do each once.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.budget import prune_budgets
from bot.chores import take_chore
from bot.connections.upkeep import keep_connections_alive, sweep_expired
from bot.imports.runner import ImportRunner
from bot.imports.runs import ImportPolicy, prune_ended
from bot.invoices.tracking import TRACK_EVERY, track_all
from bot.runtime import Runtime
from bot.slack.shown_views import prune_shown_views
from storage.status_version import prune_status_changes

log = logging.getLogger(__name__)

CHORES_LOOK_EVERY = timedelta(minutes=1)
PRUNE_BATCHES = 50  # of `prune_ended`'s batch each time, so one pass stays short; the rest goes next time


def prune_runs(runtime: Runtime) -> int:
    """Delete ended runs past their keeping time, a batch at a time; returns how many."""
    pruned = 0
    for _ in range(PRUNE_BATCHES):
        deleted = prune_ended(runtime.db, now=runtime.clock(), policy=ImportPolicy())
        pruned += deleted
        if deleted == 0:
            break
    if pruned:
        log.info("Deleted %s ended import run(s) past their keeping time", pruned)
    return pruned


@dataclass(frozen=True)
class ChoreSpec:
    name: str
    every: timedelta
    work: Callable[[Runtime], object]


CHORES = (
    ChoreSpec("keep_connections_alive", timedelta(hours=6), keep_connections_alive),
    ChoreSpec("sweep_expired", timedelta(minutes=10), sweep_expired),
    ChoreSpec("prune_runs", timedelta(hours=1), prune_runs),
    ChoreSpec("prune_budgets", timedelta(hours=1), lambda runtime: prune_budgets(runtime.db, now=runtime.clock())),
    # the log of what status shows, each workspace's rows folded into one
    ChoreSpec("prune_status_changes", timedelta(hours=1), lambda runtime: prune_status_changes(runtime.db)),
    # invoices raised from Slack: their state read back, their threads told
    ChoreSpec("track_invoices", TRACK_EVERY, track_all),
    # the invoice forms' views kept for changes made at once (`bot.slack.shown_views`), a day after their last
    ChoreSpec("prune_shown_views", timedelta(hours=1), lambda rt: prune_shown_views(rt.db, now=rt.clock())),
)


def do_chores(runtime: Runtime, *, owner: str, chores: tuple[ChoreSpec, ...] = CHORES) -> list[str]:
    """Do each chore that is due and that no other process took first; returns the names of those done."""
    done: list[str] = []
    for chore in chores:
        try:
            if not take_chore(runtime.db, name=chore.name, every=chore.every, now=runtime.clock(), owner=owner):
                continue
            chore.work(runtime)
            done.append(chore.name)
        except Exception:
            log.exception("Chore %s failed; it is tried again in its next period", chore.name)
    return done


def start_scheduler(runtime: Runtime, *, imports: ImportRunner | None = None) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    if imports is not None:  # claims due import runs and queues scheduled syncs; listeners wake it too
        imports.recover()
        imports.listen()  # PostgreSQL: any process queueing a run wakes this one
        scheduler.add_job(
            imports.wake,
            "interval",
            seconds=imports.tick_every,
            id="import_tick",
            max_instances=1,
            coalesce=True,
            next_run_time=runtime.clock(),
        )
    owner = imports.owner if imports is not None else f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    scheduler.add_job(
        do_chores,
        "interval",
        args=[runtime],
        kwargs={"owner": owner},
        seconds=CHORES_LOOK_EVERY.total_seconds(),
        id="chores",
        max_instances=1,
        coalesce=True,
        next_run_time=runtime.clock() + timedelta(minutes=1),
    )
    scheduler.start()
    return scheduler
