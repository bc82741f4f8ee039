"""A step beside an import's walk (bot.imports.alongside): run once, in its thread or where it is waited for."""

from __future__ import annotations

import threading

import pytest

from bot.imports.alongside import Alongside, on_last_page
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
