"""The packages' limits shared by every process through the database (`bot.budget.SharedBudget`): never more
calls than the limit in any span of its window, whoever calls, on SQLite and PostgreSQL; and Xero's provider
counting each call under its app-wide and per-organisation limits, so that two processes together stay under
the app's limit without a single 429."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event

from bot.budget import KEEP, SharedBudget, prune_budgets
from providers.base import Link, RateLimited, RateLimitScope
from providers.xero.client import XeroProvider
from storage.db import Database
from storage.models import CallSlot
from tests.fakes.xero import XeroLimits
from tests.keepers import MemoryKeeper
from tests.test_xero_provider import Env, make_env, served  # noqa: F401  (fixtures)

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def take(budget: SharedBudget, limit: str, *, calls: int, per: float) -> float:
    """One call counted under one limit (`SharedBudget.take_all`): 0.0, or the seconds until it may go."""
    return budget.take_all([(limit, calls, per)])[1]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def test_a_limit_lets_through_its_calls_then_says_how_long_to_wait(db: Database) -> None:
    clock = Clock()
    budget = SharedBudget(db, clock=clock)
    assert [take(budget, "pkg:app", calls=5, per=60) for _ in range(5)] == [0.0] * 5
    wait = take(budget, "pkg:app", calls=5, per=60)
    assert 61 < wait <= 62  # the 1-s slot of the first calls leaves the span after 61 to 62 s
    assert take(budget, "pkg:other", calls=5, per=60) == 0.0  # limits are apart
    clock.now += timedelta(seconds=wait)
    assert take(budget, "pkg:app", calls=5, per=60) == 0.0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_call_counted_on_sqlite_waits_its_turn_behind_the_write_in_progress(db: Database) -> None:
    """A page's fetch counts its call while an import writes its pages: on SQLite the count waits in this process's
    line of writers (`storage.db.WriterTurns`), handed the write lock as the transaction before it ends, not left to
    SQLite's busy loop to find a gap between the import's transactions."""
    assert db.writers is not None
    budget = SharedBudget(db, clock=Clock())
    waits: list[float] = []
    with db.session(write_lock=True):  # a page's transaction
        counting = threading.Thread(target=lambda: waits.append(take(budget, "pkg:app", calls=5, per=60)))
        counting.start()
        assert db.writers.until_waiting(1, timeout=10), "the count did not wait its turn"
    counting.join(10)
    assert waits == [0.0]


def test_a_call_is_counted_under_each_limit_in_turn_until_one_has_no_room(db: Database) -> None:
    """`take_all`: a call counted under its limits in order; the first without room, and those after it, count
    nothing, and it says how long until that one has room."""
    clock = Clock()
    budget = SharedBudget(db, clock=clock)
    first, second = ("pkg:org", 2, 60.0), ("pkg:app", 3, 60.0)
    assert [budget.take_all([first, second]) for _ in range(2)] == [(2, 0.0), (2, 0.0)]
    counted, wait = budget.take_all([second, first])  # the app's limit has room for one more, the org's none
    assert counted == 1 and 61 < wait <= 62
    assert take(budget, "pkg:app", calls=3, per=60) > 0  # the call above was counted under it
    spare = ("pkg:spare", 5, 60.0)
    counted, wait = budget.take_all([first, spare])
    assert counted == 0 and 61 < wait <= 62
    assert [budget.take_all([spare])[0] for _ in range(6)] == [1] * 5 + [0]  # the refused call took none of its five
    clock.now += timedelta(seconds=wait)
    assert budget.take_all([first, second]) == (2, 0.0)


def test_a_calls_limits_are_counted_in_one_round_trip(db: Database) -> None:
    """A call to Xero counts under its organisation's limit and the app's before it goes, in each fetching thread:
    one statement on PostgreSQL (a round trip each was some 5 % of a re-import of 10,000), one transaction on SQLite."""
    budget = SharedBudget(db, clock=Clock())
    statements: list[str] = []
    commits: list[object] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    event.listen(db.engine, "commit", commits.append)
    assert budget.take_all([("pkg:org", 5, 60.0), ("pkg:app", 5, 60.0)]) == (2, 0.0)
    if db.is_sqlite:
        assert statements[0] == "BEGIN IMMEDIATE" and len(statements) == 3 and len(commits) == 1
    else:
        assert len(statements) == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gaps=st.lists(st.floats(min_value=0, max_value=40, allow_nan=False), min_size=1, max_size=80))
def test_limits_counted_in_turn_each_hold_in_every_span(db: Database, gaps: list[float]) -> None:
    """Generated calls counted under an organisation's limit and then the app's, the app's the tighter (so that each
    limit turns calls away in its turn): no span of a minute holds more than either limit, a call goes only when
    both counted it, and one turned away waits at most the window's length and its margin."""
    clock = Clock()
    clock.now = START + timedelta(days=len(gaps) * 7 + sum(gaps))  # a fresh stretch of time for each example
    budget = SharedBudget(db, clock=clock)
    org, app = f"pkg:org:{clock.now.timestamp()}", f"pkg:app:{clock.now.timestamp()}"
    by_org: list[float] = []
    by_app: list[float] = []
    for gap in gaps:
        clock.now += timedelta(seconds=gap)
        counted, wait = budget.take_all([(org, 6, 60.0), (app, 4, 60.0)])
        assert (wait == 0.0) == (counted == 2) and 0.0 <= wait <= 62
        by_org += [clock.now.timestamp()] if counted >= 1 else []  # counted under the organisation's, gone or not
        by_app += [clock.now.timestamp()] if counted == 2 else []
    assert all(sum(1 for u in by_org if t - 60 < u <= t) <= 6 for t in by_org)
    assert all(sum(1 for u in by_app if t - 60 < u <= t) <= 4 for t in by_app)


def test_calls_seen_by_the_package_count_too(db: Database) -> None:
    clock = Clock()
    budget = SharedBudget(db, clock=clock)
    assert take(budget, "pkg:app", calls=10, per=60) == 0.0
    budget.observe("pkg:app", remaining=2, calls=10, per=60)  # others used 7 more of ours
    assert [take(budget, "pkg:app", calls=10, per=60) for _ in range(3)][:2] == [0.0, 0.0]
    assert take(budget, "pkg:app", calls=10, per=60) > 0
    budget.observe("pkg:app", remaining=9, calls=10, per=60)  # never lowers what was counted
    assert take(budget, "pkg:app", calls=10, per=60) > 0


def test_old_counts_are_pruned(db: Database) -> None:
    clock = Clock()
    budget = SharedBudget(db, clock=clock)
    take(budget, "pkg:app", calls=5, per=60)
    assert prune_budgets(db, now=START + KEEP) == 0
    assert prune_budgets(db, now=START + KEEP + timedelta(minutes=1)) == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gaps=st.lists(st.floats(min_value=0, max_value=40, allow_nan=False), min_size=1, max_size=120))
def test_no_span_of_the_window_ever_holds_more_than_the_limit(db: Database, gaps: list[float]) -> None:
    clock = Clock()
    clock.now = START + timedelta(days=len(gaps) * 7 + sum(gaps))  # a fresh stretch of time for each example
    budget = SharedBudget(db, clock=clock)
    key = f"pkg:{clock.now.timestamp()}"
    granted: list[float] = []
    for gap in gaps:
        clock.now += timedelta(seconds=gap)
        if take(budget, key, calls=7, per=60) == 0.0:
            granted.append(clock.now.timestamp())
    assert all(sum(1 for u in granted if t - 60 < u <= t) <= 7 for t in granted)


def test_processes_taking_at_once_share_one_budget(db: Database) -> None:
    clock = Clock()
    budgets = [SharedBudget(db, clock=clock) for _ in range(6)]  # as six processes would
    barrier = threading.Barrier(6)

    def spend(budget: SharedBudget) -> int:
        barrier.wait()
        return sum(1 for _ in range(20) if take(budget, "pkg:app", calls=50, per=60) == 0.0)

    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(spend, budgets)) == 50


def test_two_processes_stay_under_xeros_app_limit_together(make_env: Callable[..., Env], db: Database) -> None:  # noqa: F811
    """Xero only: its fake counts calls per app a minute and answers 429 above 12; each provider (a process of
    ours) calls its own organisation and hands in the shared budget."""
    env = make_env(
        organisations=("North Plumbing", "South Plumbing"),
        fake_options={"limits": XeroLimits(app_per_minute=12)},
        app_calls_per_minute=12,
    )
    other = env.variant()
    budget = SharedBudget(db, clock=lambda: datetime.fromtimestamp(env.clock(), UTC))
    grant, _, keeper = env.connect()
    north, south = env.provider.organisations(grant)[:2]
    links = [
        (env.provider, Link(north.id, keeper, north.connection_id, budget=budget)),
        (other, Link(south.id, MemoryKeeper(other, grant.tokens), south.connection_id, budget=budget)),
    ]
    try:
        made = 0
        with pytest.raises(RateLimited) as caught:
            while True:
                provider, link = links[made % 2]
                provider.accounts(link)
                made += 1
        assert made == 12 and caught.value.scope == RateLimitScope.APP and 61 < caught.value.retry_after <= 62
        calls = env.fake.calls_to("/api.xro/2.0/Accounts")
        assert len(calls) == 12 and all(c.status == 200 for c in calls)  # the 13th was never sent
        env.clock.advance(caught.value.retry_after)
        links[1][0].accounts(links[1][1])  # its time came: it goes
    finally:
        other.close()


def test_two_processes_stay_under_an_organisations_minute_together(
    make_env: Callable[..., Env],  # noqa: F811
    db: Database,
) -> None:
    """Xero's 60 calls a rolling minute per organisation, counted by both processes (each its own provider and
    pacer) calling one organisation at once: never more than 60 in any minute at the fake, not a single 429, and
    the limit waited for in the calling thread (no RateLimited) at about the limit's own pace."""
    env = make_env()
    other = env.variant()
    budget = SharedBudget(db, clock=lambda: datetime.fromtimestamp(env.clock(), UTC))
    grant, link, keeper = env.connect()
    links = [
        (env.provider, Link(link.organisation_id, keeper, link.connection_id, budget=budget)),
        (other, Link(link.organisation_id, MemoryKeeper(other, grant.tokens), link.connection_id, budget=budget)),
    ]
    barrier = threading.Barrier(2)

    def spend(pair: tuple[object, Link]) -> int:
        provider, process_link = pair
        barrier.wait()
        for _ in range(75):
            provider.accounts(process_link)  # type: ignore[attr-defined]
        return 75

    try:
        with ThreadPoolExecutor(2) as pool:
            assert sum(pool.map(spend, links)) == 150
    finally:
        other.close()
    calls = env.fake.calls_to("/api.xro/2.0/Accounts")
    assert len(calls) == 150 and all(c.status == 200 for c in calls)
    times = sorted(c.at for c in calls)
    assert max(sum(1 for u in times if t - 60 < u <= t) for t in times) <= 60
    # 150 calls: two full waits of the 62-s span and a part, not a crawl; both threads' waits move the one fake
    # clock, so a wait they share may count twice
    assert times[-1] - times[0] <= 2 * 3 * 62
    assert env.clock.slept and all(s <= 62 for s in env.clock.slept)


# --- Calls at once ------------------------------------------------------------------------------------------------


def test_calls_at_once_are_held_by_every_process_and_a_dead_holders_slot_comes_back(db: Database) -> None:
    clock = Clock()
    first, second = SharedBudget(db, clock=clock), SharedBudget(db, clock=clock)  # as two processes would
    held = [(budget, budget.hold("pkg:at_once:org", calls=5, lease=120)) for budget in (first, second) * 3][:5]
    assert all(slot is not None for _, slot in held)
    assert first.hold("pkg:at_once:org", calls=5, lease=120) is None
    assert second.hold("pkg:at_once:org", calls=5, lease=120) is None
    assert second.hold("pkg:at_once:other", calls=5, lease=120) is not None  # organisations are apart
    budget, slot = held[0]
    assert slot is not None
    budget.release("pkg:at_once:org", slot)
    budget.release("pkg:at_once:org", slot)  # letting go twice frees nothing more
    assert second.hold("pkg:at_once:org", calls=5, lease=120) is not None
    assert first.hold("pkg:at_once:org", calls=5, lease=120) is None
    # the holders die without letting go: their slots come back once their lease ran out, not before
    clock.now += timedelta(seconds=119)
    assert first.hold("pkg:at_once:org", calls=5, lease=120) is None
    clock.now += timedelta(seconds=2)
    assert [first.hold("pkg:at_once:org", calls=5, lease=120) is not None for _ in range(6)] == [True] * 5 + [False]


def test_a_limits_slots_are_made_once_a_process_and_again_should_they_be_gone(db: Database) -> None:
    """A budget is made for every link (an import's, its chart's): the limit's slot rows are made by the first, not
    before each import's first call; should they be gone since (the tables made anew), a call finds none free, makes
    them again and holds one. A budget whose calls find every slot held makes them again once, not at every look."""
    made: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("INSERT INTO call_slots"):
            made.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        first = SharedBudget(db, clock=Clock())
        slot = first.hold("pkg:at_once:org", calls=5, lease=120)
        assert slot is not None and len(made) == 1
        first.release("pkg:at_once:org", slot)
        assert SharedBudget(db, clock=Clock()).hold("pkg:at_once:org", calls=5, lease=120) is not None
        assert len(made) == 1  # the second link's budget made none
        with db.session() as s:
            s.execute(delete(CallSlot))
        assert SharedBudget(db, clock=Clock()).hold("pkg:at_once:org", calls=5, lease=120) is not None
        assert len(made) == 2
        busy = SharedBudget(db, clock=Clock())  # its calls find the rows, then every slot held: none made again
        assert [busy.hold("pkg:at_once:org", calls=5, lease=120) is None for _ in range(7)] == [False] * 4 + [True] * 3
        assert len(made) == 2
        late = SharedBudget(db, clock=Clock())  # every slot held at its first call: the rows made again once
        assert [late.hold("pkg:at_once:org", calls=5, lease=120) for _ in range(3)] == [None] * 3
        assert len(made) == 3
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


@pytest.mark.parametrize("shared", [True, False], ids=["two processes, shared", "one process, in memory"])
def test_calls_to_one_organisation_never_exceed_xeros_five_at_once(
    make_env: Callable[..., Env],  # noqa: F811
    db: Database,
    shared: bool,
) -> None:
    """Eight threads call one organisation at once (four in each of two processes sharing the database's slots, or
    all in one process without a budget); Xero's fake takes its time answering and answers 429 to a sixth call at
    once. Not one 429, and the fake never had more than five at once."""
    env = make_env(fake_options={"latency": 0.05})
    other = env.variant()
    budget = SharedBudget(db, clock=lambda: datetime.fromtimestamp(env.clock(), UTC)) if shared else None
    grant, link, keeper = env.connect()
    providers = [env.provider, other] if shared else [env.provider, env.provider]
    keepers = [keeper, MemoryKeeper(other, grant.tokens)] if shared else [keeper, keeper]
    callers = [
        (providers[n % 2], Link(link.organisation_id, keepers[n % 2], link.connection_id, budget=budget))
        for n in range(8)
    ]
    barrier = threading.Barrier(8)

    def spend(caller: tuple[XeroProvider, Link]) -> int:
        provider, caller_link = caller
        barrier.wait()
        for _ in range(6):
            provider.accounts(caller_link)
        return 6

    try:
        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(spend, callers)) == 48
    finally:
        other.close()
    calls = env.fake.calls_to("/api.xro/2.0/Accounts")
    assert len(calls) == 48 and all(c.status == 200 for c in calls)
    assert env.fake._org(link.organisation_id).most_in_flight <= 5


def test_a_call_waits_for_a_slot_a_dead_process_held_until_its_lease_runs_out(
    make_env: Callable[..., Env],  # noqa: F811
    db: Database,
) -> None:
    env = make_env()
    budget = SharedBudget(db, clock=lambda: datetime.fromtimestamp(env.clock(), UTC))
    _, link, keeper = env.connect()
    dead = SharedBudget(db, clock=lambda: datetime.fromtimestamp(env.clock(), UTC))
    assert all(dead.hold(f"xero:at_once:{link.organisation_id}", calls=5, lease=120) for _ in range(5))
    with ThreadPoolExecutor(1) as pool:
        called = pool.submit(env.provider.accounts, Link(link.organisation_id, keeper, link.connection_id, budget))
        with pytest.raises(TimeoutError):  # it waits while the dead process's slots hold
            called.result(timeout=0.5)
        assert env.fake.calls_to("/api.xro/2.0/Accounts") == []
        env.clock.advance(121)
        assert called.result(timeout=30)
    assert [c.status for c in env.fake.calls_to("/api.xro/2.0/Accounts")] == [200]
