"""Pacing under Xero's per-minute limit, from the `X-MinLimit-Remaining` header of each answer."""

from __future__ import annotations

import bisect
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class _Window:
    sent: deque[float] = field(default_factory=deque)  # when our calls in the last minute went (or will), in order
    remaining: int | None = None  # X-MinLimit-Remaining, as of `observed_at`
    observed_at: float = 0.0


class MinutePacer:
    """Keeps each organisation under Xero's 60 calls a rolling minute from `X-MinLimit-Remaining`.

    While plenty remain, calls go at full speed. Below `spread_below`, each call waits its share of the
    time until our oldest call leaves the window, so the last few are spread out rather than spent at
    once; at zero it waits for that slot. Calls made by others are seen only through the header.
    A `providers.http.Pacer`: `before()` each call, `after()` with the answer's headers.
    """

    window = 60.0
    margin = 1.0  # seconds of slack for the difference between our clock and Xero's

    def __init__(self, *, clock: Callable[[], float], sleep: Callable[[float], None], spread_below: int) -> None:
        self._clock, self._sleep, self._spread_below = clock, sleep, spread_below
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()
        self._swept_at = 0.0

    def before(self, organisation_id: str) -> None:
        with self._lock:
            state, now = self._windows.setdefault(organisation_id, _Window()), self._clock()
            delay = self._delay(state, now)
            # The slot is taken before waiting for it, so calls made meanwhile by other threads (a walk fetches
            # pages several at once) count it and wait for slots of their own instead of sharing this one.
            bisect.insort(state.sent, now + delay)
        if delay > 0:
            log.info("pacing Xero calls: waiting %.1fs to stay under the minute limit", delay)
            self._sleep(delay)

    def after(self, organisation_id: str, headers: Mapping[str, str]) -> None:
        remaining = headers.get("X-MinLimit-Remaining")
        if remaining is None or not remaining.strip().lstrip("-").isdigit():
            return
        with self._lock:
            state, now = self._windows.setdefault(organisation_id, _Window()), self._clock()
            while state.sent and state.sent[0] <= now - self.window:
                state.sent.popleft()
            state.remaining, state.observed_at = int(remaining), now
            if now - self._swept_at >= self.window:
                self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        """Drop the windows of organisations with no call of ours in the last minute and no header newer than a
        minute: they would pace nothing, and a process serving thousands of organisations would keep them all."""
        self._swept_at = now
        idle = [
            organisation
            for organisation, state in self._windows.items()
            if state.observed_at <= now - self.window and (not state.sent or state.sent[-1] <= now - self.window)
        ]
        for organisation in idle:
            del self._windows[organisation]

    @property
    def tracked(self) -> int:
        """How many organisations' windows are kept."""
        return len(self._windows)

    def _delay(self, state: _Window, now: float) -> float:
        if state.remaining is None:
            return 0.0
        freed = sum(1 for t in state.sent if t <= now - self.window)
        unseen = sum(1 for t in state.sent if t > state.observed_at)  # sent after the header we hold
        budget = state.remaining + freed - unseen
        if budget > self._spread_below:
            return 0.0
        still_counted = [t for t in state.sent if t > now - self.window]
        if not still_counted:
            return 0.0  # the budget went to someone else's calls: nothing of ours will free it
        if budget <= 0:  # wait for as many of our calls to leave the window as are taken beyond it
            oldest = still_counted[min(-budget, len(still_counted) - 1)]
            return max(0.0, oldest + self.window + self.margin - now)
        until_free = still_counted[0] + self.window + self.margin - now
        return max(0.0, until_free / budget)
