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

import math
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from storage.db import Database
from storage.models import CallBudget, CallSlot

SLOTS = 60  # slots a window is cut into
COUNTED = SLOTS + 2  # slots a call counts in: the window's, one it may straddle, and one of margin
KEEP = timedelta(days=1)  # slots older than this are deleted (`prune_budgets`)


class SharedBudget:
    """Calls counted under each limit by every process, in the database.

    Each call's look-ups are one statement each (`take`, `observe`, `hold`, `release`), sent on PostgreSQL without
    a transaction around them (autocommit): a statement is atomic by itself, and a call then costs one round trip
    per look-up instead of three (BEGIN, the statement, COMMIT), which added up to a tenth of a run's time."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime]) -> None:
        self.db, self.clock = db, clock
        self._insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
        self._slots_made: set[tuple[str, int]] = set()

    @contextmanager
    def _statement(self) -> Iterator[Session | Connection]:
        """Where one statement runs: on its own on PostgreSQL; in a transaction holding SQLite's write lock."""
        if self.db.is_sqlite:
            with self.db.session(write_lock=True) as s:
                yield s
        else:
            with self.db.engine.connect() as c:
                yield c.execution_options(isolation_level="AUTOCOMMIT")

    def take(self, limit: str, *, calls: int, per: float) -> float:
        now = self.clock()
        slot, first = self._slots(now, per)
        earlier = aliased(CallBudget)
        before = (
            select(func.coalesce(func.sum(earlier.used), 0))
            .where(earlier.key == limit, earlier.window_start >= first, earlier.window_start < slot)
            .scalar_subquery()
        )
        statement = (  # a fresh slot only while the earlier ones leave room; a slot counted only while it fits
            self._insert(CallBudget)
            .from_select(
                ["key", "window_start", "used"],
                select(
                    literal(limit, CallBudget.key.type), literal(slot, CallBudget.window_start.type), literal(1)
                ).where(before < calls),
            )
            .on_conflict_do_update(
                index_elements=["key", "window_start"],
                set_={"used": CallBudget.used + 1},
                where=CallBudget.used + before < calls,
            )
            .returning(CallBudget.used)
        )
        with self._statement() as s:
            if s.scalar(statement) is not None:
                return 0.0
            return self._wait(limit, now=now, per=per, calls=calls, session=s)

    def observe(self, limit: str, *, remaining: int, calls: int, per: float) -> None:
        """Raise the current slot so that the counted slots hold at least what the package says was used."""
        now = self.clock()
        slot, first = self._slots(now, per)
        counted = (
            select(func.coalesce(func.sum(CallBudget.used), 0))
            .where(CallBudget.key == limit, CallBudget.window_start >= first)
            .scalar_subquery()
        )
        used = literal(calls - remaining)
        statement = self._insert(CallBudget).from_select(
            ["key", "window_start", "used"],
            select(
                literal(limit, CallBudget.key.type), literal(slot, CallBudget.window_start.type), used - counted
            ).where(used > counted),
        )
        with self._statement() as s:
            s.execute(
                statement.on_conflict_do_update(
                    index_elements=["key", "window_start"], set_={"used": CallBudget.used + statement.excluded.used}
                )
            )

    def hold(self, limit: str, *, calls: int, lease: float) -> str | None:
        now = self.clock()
        if (limit, calls) not in self._slots_made:
            with self._statement() as s:
                rows = [{"key": limit, "slot": n} for n in range(calls)]
                s.execute(self._insert(CallSlot).values(rows).on_conflict_do_nothing(index_elements=["key", "slot"]))
            self._slots_made.add((limit, calls))
        holder = secrets.token_hex(8)
        free = (
            select(CallSlot.slot)
            .where(
                CallSlot.key == limit,
                CallSlot.slot < calls,
                or_(CallSlot.holder.is_(None), CallSlot.expires_at <= now),
            )
            .order_by(CallSlot.slot)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        with self._statement() as s:
            taken = s.scalar(
                update(CallSlot)
                .where(CallSlot.key == limit, CallSlot.slot == free)
                .values(holder=holder, expires_at=now + timedelta(seconds=lease))
                .returning(CallSlot.slot)
            )
        return None if taken is None else f"{taken}:{holder}"

    def release(self, limit: str, slot: str) -> None:
        number, holder = slot.split(":", 1)
        with self._statement() as s:
            s.execute(
                update(CallSlot)
                .where(CallSlot.key == limit, CallSlot.slot == int(number), CallSlot.holder == holder)
                .values(holder=None, expires_at=None)
            )

    def _wait(self, limit: str, *, now: datetime, per: float, calls: int, session: Session | Connection) -> float:
        """Seconds until enough of the oldest counted slots leave the span for one more call."""
        slot_length = per / SLOTS
        _, first = self._slots(now, per)
        rows = session.execute(
            select(CallBudget.window_start, CallBudget.used)
            .where(CallBudget.key == limit, CallBudget.window_start >= first)
            .order_by(CallBudget.window_start)
        ).all()
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
