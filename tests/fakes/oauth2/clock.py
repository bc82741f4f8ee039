"""The fakes' clock: it moves only when told, so a test's minute of rate-limited calls or half-hour grace period
passes at once."""

from __future__ import annotations

import threading


class FakeClock:
    """A clock that only moves when told: `clock()` is epoch seconds, `clock.sleep(s)` advances it.

    Hand `clock` to the fake and `clock`/`clock.sleep` to the provider's pacing seam, and a
    minute of rate-limited calls passes without waiting.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = float(start)
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(0.0, seconds))
