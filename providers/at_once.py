"""A package's limit of calls at once (Xero: five to an organisation), a slot held by each call in flight: through
the `CallBudget` our processes share when the bot hands one in, otherwise in this process's memory (one process).

A call waits for a free slot in its own thread: calls in flight end within moments. A slot let go in this process
wakes its waiters at once; one let go by another process is seen at the next look, a few times a second.
"""

from __future__ import annotations

import logging
import secrets
import threading
from typing import Protocol

from providers.base import CallLimit, RateLimitScope

log = logging.getLogger(__name__)

LOOK_EVERY = 0.05  # seconds between looks for a slot another process let go

_freed = threading.Condition()


class Slots(Protocol):
    """Where the slots are held: `CallBudget.hold`/`release`."""

    def hold(self, limit: str, *, calls: int, lease: float) -> str | None: ...

    def release(self, limit: str, slot: str) -> None: ...


class LocalSlots:
    """The slots of this process alone, in memory; a limit nobody holds is forgotten."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, set[str]] = {}

    def hold(self, limit: str, *, calls: int, lease: float) -> str | None:
        with self._lock:
            held = self._held.setdefault(limit, set())
            if len(held) >= calls:
                return None
            slot = secrets.token_hex(8)
            held.add(slot)
            return slot

    def release(self, limit: str, slot: str) -> None:
        with self._lock:
            held = self._held.get(limit)
            if held is not None:
                held.discard(slot)
                if not held:
                    del self._held[limit]

    def held(self) -> int:
        with self._lock:
            return sum(len(slots) for slots in self._held.values())


class AtOnce:
    """The limits of calls at once that apply to one call (to `organisation_id`)."""

    def __init__(self, slots: Slots, limits: tuple[CallLimit, ...], organisation_id: str | None) -> None:
        self.slots = slots
        self.limits = [
            (limit, limit.counter(organisation_id))
            for limit in limits
            if limit.scope == RateLimitScope.CONCURRENT and organisation_id is not None
        ]

    def enter(self) -> list[tuple[str, str]]:
        """Hold a slot of each limit, waiting for one as long as it takes; the slots held, to `leave`."""
        held: list[tuple[str, str]] = []
        try:
            for limit, counter in self.limits:
                held.append((counter, self._wait_for(limit, counter)))
        except BaseException:
            self.leave(held)
            raise
        return held

    def leave(self, held: list[tuple[str, str]]) -> None:
        for counter, slot in held:
            self.slots.release(counter, slot)
        if held:
            with _freed:
                _freed.notify_all()

    def _wait_for(self, limit: CallLimit, counter: str) -> str:
        waited = False
        while (slot := self.slots.hold(counter, calls=limit.calls, lease=limit.per)) is None:
            if not waited:
                log.debug("%s: all %s calls at once are in flight; waiting for one to end", counter, limit.calls)
                waited = True
            with _freed:
                _freed.wait(LOOK_EVERY)
        return slot
