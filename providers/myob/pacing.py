"""Pacing under MYOB's limit of calls a second, which counts every call made with our key, whatever the file."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class SecondPacer:
    """Keeps the whole key under `per_second` calls in any rolling second. MYOB sends no remaining-calls header,
    so the pacer counts our own calls; a 403 RateLimitError still arrives when other processes share the key, and
    is raised to the caller. A `providers.http.Pacer`: `before()` each call (the organisation is not used: the limit
    is the key's), `after()` learns nothing."""

    window = 1.0

    def __init__(self, *, per_second: int, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._per_second, self._clock, self._sleep = per_second, clock, sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def before(self, organisation_id: str) -> None:
        with self._lock:
            now = self._clock()
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            delay = 0.0
            if len(self._sent) >= self._per_second:
                delay = max(0.0, self._sent[-self._per_second] + self.window - now)
            # The slot is taken before waiting, so threads calling meanwhile wait for slots of their own.
            self._sent.append(now + delay)
        if delay > 0:
            log.debug("pacing MYOB calls: waiting %.2fs to stay under %d a second", delay, self._per_second)
            self._sleep(delay)

    def after(self, organisation_id: str, headers: Mapping[str, str], ticket: object = None) -> None:
        pass
