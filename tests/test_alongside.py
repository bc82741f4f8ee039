"""Steps beside an import's walk (bot.imports.alongside): `Alongside` run once, in its thread or where it is waited
for; `Coalesced` run each time asked, one run at a time, asks while it runs making one more run."""

from __future__ import annotations

import threading

import pytest

from bot.imports.alongside import Alongside, Coalesced, on_last_page
from providers.base import Cursor, Page


def test_a_started_step_runs_in_its_own_thread_once_and_is_waited_for() -> None:
    ran_in: list[str] = []
    step = Alongside(lambda: ran_in.append(threading.current_thread().name), name="chart")

    step.start()
    step.start()
    step.finish()

    assert ran_in == ["chart"]


def test_a_step_never_started_runs_where_it_is_waited_for() -> None:
    ran_in: list[str] = []
    step = Alongside(lambda: ran_in.append(threading.current_thread().name), name="chart")

    step.finish()

    assert ran_in == [threading.current_thread().name]


def test_what_the_step_raised_in_its_thread_is_raised_where_it_is_waited_for() -> None:
    def step() -> None:
        raise LookupError("gone")

    beside = Alongside(step, name="chart")
    beside.start()

    with pytest.raises(LookupError, match="gone"):
        beside.finish()


def test_the_last_page_is_told_before_it_is_handed_on() -> None:
    told: list[int] = []
    seen: list[Page] = []
    pages = [Page(customers=[], cursor=Cursor({"page": 2})), Page(customers=[], cursor=None)]

    for page in on_last_page(iter(pages), lambda: told.append(len(seen))):
        seen.append(page)

    assert seen == pages and told == [1]  # told once, after the first page and before the last was handed on


class Gate:
    """A step that records each run and holds it until let go."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.entered = threading.Semaphore(0)
        self.go = threading.Event()

    def __call__(self) -> None:
        self.runs.append(threading.current_thread().name)
        self.entered.release()
        assert self.go.wait(10)


def test_asks_while_a_run_is_at_work_make_one_more_run_after_it() -> None:
    gate = Gate()
    step = Coalesced(gate, name="statistics")

    step.start()
    assert gate.entered.acquire(timeout=10)  # the first run is at work
    step.start()
    step.start()
    step.start()
    assert gate.runs == ["statistics"]  # nothing runs beside it
    gate.go.set()
    step.wait()

    assert gate.runs == ["statistics", "statistics"]  # three asks meanwhile: one more run, begun after them


def test_an_ask_after_the_runs_ended_runs_again() -> None:
    gate = Gate()
    gate.go.set()
    step = Coalesced(gate, name="statistics")

    step.start()
    step.wait()
    step.start()
    step.wait()

    assert gate.runs == ["statistics", "statistics"]


def test_the_block_ends_only_once_the_run_asked_for_has_ended() -> None:
    gate = Gate()
    step = Coalesced(gate, name="statistics")
    threading.Timer(0.2, gate.go.set).start()

    with step.joined():
        step.start()
        assert gate.entered.acquire(timeout=10)

    assert gate.go.is_set() and gate.runs == ["statistics"]


def test_a_step_that_raises_is_logged_and_runs_again_when_asked(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    def step() -> None:
        runs.append(len(runs))
        raise LookupError("gone")

    beside = Coalesced(step, name="statistics")
    beside.start()
    beside.wait()
    beside.start()
    beside.wait()

    assert runs == [0, 1]
    assert [r.getMessage() for r in caplog.records] == ["statistics failed", "statistics failed"]
