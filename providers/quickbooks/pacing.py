"""Pacing under QuickBooks Online's 500 requests a minute per company. Intuit sends no remaining-calls header, so
the pacer counts our own calls in a rolling minute and waits for the oldest to leave it once the budget is spent."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class MinutePacer:
    """At most `per_minute` of our calls to one company in any rolling minute (a `providers.http.Pacer`)."""

    window = 60.0
    margin = 1.0  # seconds of slack for the difference between our clock and Intuit's

    def __init__(self, *, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._per_minute, self._clock, self._sleep = per_minute, clock, sleep
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def before(self, organisation_id: str) -> None:
        with self._lock:
            sent, now = self._sent.setdefault(organisation_id, deque()), self._clock()
            while sent and sent[0] <= now - self.window:
                sent.popleft()
            delay = 0.0
            if len(sent) >= self._per_minute:
                delay = max(0.0, sent[len(sent) - self._per_minute] + self.window + self.margin - now)
            sent.append(now + delay)  # the slot is ours before we wait for it
        if delay > 0:
            log.info("pacing QuickBooks calls: waiting %.1fs to stay under the minute limit", delay)
            self._sleep(delay)

    def after(self, organisation_id: str, headers: Mapping[str, str], ticket: object = None) -> None:
        pass  # QuickBooks says nothing about what remains
