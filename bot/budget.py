"""The packages' rate limits shared by every process (a `providers.base.CallBudget` in the database).

Each limit ("calls in any `per` seconds") is counted in slots of a sixtieth of `per` (1 s of a minute), one row per
limit and slot, updated in one statement that also checks the limit. A call is let through only while the last 62
slots hold fewer than the limit, so it counts for 61 to 62 s of a minute after it was counted: the package's rolling
window is never exceeded, whichever process calls, with a second's margin for the call's way to the package and at
most two seconds' slack at the window's edge.

A limit of calls at once has one row per slot (`call_slots`): a call takes a free one (or one whose lease ran out,
its holder having died) and lets go of it when answered.
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    CTE,
    Connection,
    Insert,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.db import Database
from storage.models import CallBudget, CallSlot

SLOTS = 60  # slots a window is cut into
COUNTED = SLOTS + 2  # slots a call counts in: the window's, one it may straddle, and one of margin
KEEP = timedelta(days=1)  # slots older than this are deleted (`prune_budgets`)


class _Statements:
    """The budget's statements for one dialect, built once with a parameter for each value: building them for
    each call (ORM attributes, aliases, subqueries) cost some 1.5 ms of CPU a statement, and a call to a package
    makes three to five of them, in the importing process's fetching threads (PostgreSQL's counting of a call under
    several limits at once: `taken_in_turn`, made once for each number of limits)."""

    def __init__(self, dialect: str) -> None:
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        budgets, slots = cast(Table, CallBudget.__table__), cast(Table, CallSlot.__table__)
        key = bindparam("limit_key", type_=budgets.c.key.type)
        slot = bindparam("slot", type_=budgets.c.window_start.type)
        first = bindparam("first", type_=budgets.c.window_start.type)
        calls = bindparam("calls", type_=Integer)
        self._insert, self._budgets = insert, budgets
        self.take = self._take(key, slot, first, calls, "earlier")
        self._taken_in_turn: dict[int, Select[Any]] = {}
        counted = (
            select(func.coalesce(func.sum(budgets.c.used), 0))
            .where(budgets.c.key == key, budgets.c.window_start >= first)
            .scalar_subquery()
        )
        used = bindparam("used", type_=Integer)
        raised = insert(budgets).from_select(
            ["key", "window_start", "used"], select(key, slot, used - counted).where(used > counted)
        )
        self.observe = raised.on_conflict_do_update(
            index_elements=["key", "window_start"], set_={"used": budgets.c.used + raised.excluded.used}
        )
        self.counted = (
            select(budgets.c.window_start, budgets.c.used)
            .where(budgets.c.key == key, budgets.c.window_start >= first)
            .order_by(budgets.c.window_start)
        )
        self.make_slots = insert(slots).on_conflict_do_nothing(index_elements=["key", "slot"])
        now = bindparam("now", type_=slots.c.expires_at.type)
        free = (
            select(slots.c.slot)
            .where(
                slots.c.key == key,
                slots.c.slot < calls,
                or_(slots.c.holder.is_(None), slots.c.expires_at <= now),
            )
            .order_by(slots.c.slot)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        self.hold = (
            update(slots)
            .where(slots.c.key == key, slots.c.slot == free)
            .values(holder=bindparam("holder_id"), expires_at=bindparam("until"))
            .returning(slots.c.slot)
        )
        self.release = (
            update(slots)
            .where(slots.c.key == key, slots.c.slot == bindparam("number"), slots.c.holder == bindparam("holder_id"))
            .values(holder=None, expires_at=None)
        )

    def _take(self, key: Any, slot: Any, first: Any, calls: Any, name: str, *, after: Any = None) -> Insert:
        """A call counted under one limit, in its current slot: a fresh slot only while the earlier ones leave room,
        a slot counted only while it fits; and with `after` (a statement's result), only where that gave a row."""
        budgets = self._budgets
        earlier = budgets.alias(name)
        before = (
            select(func.coalesce(func.sum(earlier.c.used), 0))
            .where(earlier.c.key == key, earlier.c.window_start >= first, earlier.c.window_start < slot)
            .scalar_subquery()
        )
        gate = [] if after is None else [exists(select(literal(1)).select_from(after))]
        return (
            self._insert(budgets)
            .from_select(["key", "window_start", "used"], select(key, slot, literal(1)).where(before < calls, *gate))
            .on_conflict_do_update(
                index_elements=["key", "window_start"],
                set_={"used": budgets.c.used + 1},
                where=and_(budgets.c.used + before < calls, *gate),
            )
            .returning(budgets.c.used)
        )

    def taken_in_turn(self, limits: int) -> Select[Any]:
        """PostgreSQL: a call counted under `limits` limits in one statement, each only where the ones before it
        were (a counting of each, its parameters suffixed with its place, in a WITH that sees the one before's row);
        its one row says, for each, whether it was counted."""
        if (made := self._taken_in_turn.get(limits)) is not None:
            return made
        budgets, counted = self._budgets, list[CTE]()
        for n in range(limits):
            key = bindparam(f"limit_key_{n}", type_=budgets.c.key.type)
            slot = bindparam(f"slot_{n}", type_=budgets.c.window_start.type)
            first = bindparam(f"first_{n}", type_=budgets.c.window_start.type)
            calls = bindparam(f"calls_{n}", type_=Integer)
            after = counted[-1] if counted else None
            counted.append(self._take(key, slot, first, calls, f"earlier_{n}", after=after).cte(f"counted_{n}"))
        statement = cast(Select[Any], select(*(exists(select(literal(1)).select_from(c)) for c in counted)))
        self._taken_in_turn[limits] = statement
        return statement


_STATEMENTS = {name: _Statements(name) for name in ("sqlite", "postgresql")}
# The limits whose slot rows this process has made, by database: a budget is made for every connection's link (an
# import's, its chart's), and making the rows again cost each import's first call a statement, a round trip before it.
_SLOTS_MADE: WeakKeyDictionary[Database, set[tuple[str, int]]] = WeakKeyDictionary()


class SharedBudget:
    """Calls counted under each limit by every process, in the database.

    Each call's look-ups are one statement each (`take_all`, whatever the call's limits, `observe`, `hold`,
    `release`), sent on PostgreSQL without a transaction around them (autocommit): a statement is atomic by itself,
    and a call then costs one round trip per look-up instead of three (BEGIN, the statement, COMMIT), which added up
    to a tenth of a run's time."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime]) -> None:
        self.db, self.clock = db, clock
        self._sql = _STATEMENTS[db.engine.dialect.name]
        # SQLite: each in a transaction of its own that takes the write lock at once; PostgreSQL: alone
        self._engine = db.engine.execution_options(sqlite_begin="IMMEDIATE") if db.is_sqlite else db.statements
        self._slots_made = _SLOTS_MADE.setdefault(db, set())
        self._slots_seen: set[tuple[str, int]] = set()  # held through this budget, or made again by it

    @contextmanager
    def _statement(self) -> Iterator[Connection]:
        """Where one statement runs: on its own on PostgreSQL; on SQLite in a transaction holding the write lock, taken
        in this process's turn as every other writer's is (`storage.db.WriterTurns`), not left to SQLite's busy loop
        beside an import's back-to-back transactions."""
        if self.db.writers is None:
            with self._engine.connect() as c:
                yield c
            return
        with self.db.writers.turn(), self._engine.begin() as c:
            yield c

    def take_all(self, limits: Sequence[tuple[str, int, float]]) -> tuple[int, float]:
        """One call counted under each of `limits` (`limit`, `calls`, `per`) in turn, until one has no room: how
        many were counted, and the seconds until the next may count it (0.0 when all were). One statement on
        PostgreSQL, whatever their number (a package's call may count under its organisation's limit and the app's:
        a round trip each before it, in every fetching thread); on SQLite one transaction."""
        now = self.clock()
        slots = [self._slots(now, per) for _, _, per in limits]
        with self._statement() as c:
            # one at a time on SQLite (no round trips to save), and for limits of one name (a statement may not
            # count a row twice)
            if self.db.is_sqlite or len(limits) == 1 or len({limit for limit, _, _ in limits}) < len(limits):
                counted = 0
                for (limit, calls, _), (slot, first) in zip(limits, slots, strict=True):
                    values = {"limit_key": limit, "slot": slot, "first": first, "calls": calls}
                    if not c.execute(self._sql.take, values).first():
                        break
                    counted += 1
            else:
                values = {}
                for n, ((limit, calls, _), (slot, first)) in enumerate(zip(limits, slots, strict=True)):
                    values |= {f"limit_key_{n}": limit, f"slot_{n}": slot, f"first_{n}": first, f"calls_{n}": calls}
                row = c.execute(self._sql.taken_in_turn(len(limits)), values).one()
                counted = sum(1 for _ in itertools.takewhile(bool, row))
            if counted == len(limits):
                return counted, 0.0
            limit, calls, per = limits[counted]
            return counted, self._wait(limit, now=now, per=per, calls=calls, connection=c)

    def observe(self, limit: str, *, remaining: int, calls: int, per: float) -> None:
        """Raise the current slot so that the counted slots hold at least what the package says was used."""
        slot, first = self._slots(self.clock(), per)
        with self._statement() as c:
            c.execute(self._sql.observe, {"limit_key": limit, "slot": slot, "first": first, "used": calls - remaining})

    def hold(self, limit: str, *, calls: int, lease: float) -> str | None:
        now = self.clock()
        key = (limit, calls)
        if key not in self._slots_made:
            self._make_slots(key)
        holder = secrets.token_hex(8)
        expires = now + timedelta(seconds=lease)
        values = {"limit_key": limit, "calls": calls, "now": now, "holder_id": holder, "until": expires}
        with self._statement() as c:
            taken = c.execute(self._sql.hold, values).scalar()
        if taken is None and key not in self._slots_seen:
            # every slot held, or the rows this process made earlier gone (the tables made anew): looked at once a
            # budget, not at each look for a slot while calls are in flight
            self._make_slots(key)
            with self._statement() as c:
                taken = c.execute(self._sql.hold, values).scalar()
        self._slots_seen.add(key)
        return None if taken is None else f"{taken}:{holder}"

    def _make_slots(self, key: tuple[str, int]) -> None:
        limit, calls = key
        with self._statement() as c:
            c.execute(self._sql.make_slots, [{"key": limit, "slot": n} for n in range(calls)])
        self._slots_made.add(key)
        self._slots_seen.add(key)

    def release(self, limit: str, slot: str) -> None:
        number, holder = slot.split(":", 1)
        with self._statement() as c:
            c.execute(self._sql.release, {"limit_key": limit, "number": int(number), "holder_id": holder})

    def _wait(self, limit: str, *, now: datetime, per: float, calls: int, connection: Connection) -> float:
        """Seconds until enough of the oldest counted slots leave the span for one more call."""
        slot_length = per / SLOTS
        _, first = self._slots(now, per)
        rows = connection.execute(self._sql.counted, {"limit_key": limit, "first": first}).all()
        total = sum(used for _, used in rows)
        for start, used in rows:
            total -= used
            if total < calls:  # once this slot leaves the span, there is room
                leaves = start + timedelta(seconds=slot_length * COUNTED)
                return max(0.001, (leaves - now).total_seconds())
        return slot_length

    @staticmethod
    def _slots(now: datetime, per: float) -> tuple[datetime, datetime]:
        """The start of the current slot, and of the oldest slot still counted with it."""
        length = per / SLOTS
        index = math.floor(now.timestamp() / length)
        slot = datetime.fromtimestamp(index * length, UTC)
        return slot, slot - timedelta(seconds=length * (COUNTED - 1))


def prune_budgets(db: Database, *, now: datetime) -> int:
    """Delete the counts of slots long past; returns how many."""
    with db.session(write_lock=True) as s:
        old = list(s.scalars(select(CallBudget.key).where(CallBudget.window_start < now - KEEP)))
        s.execute(delete(CallBudget).where(CallBudget.window_start < now - KEEP))
        return len(old)
