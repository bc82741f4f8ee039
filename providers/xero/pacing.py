"""Pacing under Xero's calls a rolling minute per organisation: our own calls counted, others' seen through the
`X-MinLimit-Remaining` header of each answer."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Call:
    sent: float  # when it goes (a call that waits for its turn is counted from then)
    answered: float | None = None  # when its answer (or its failure) came; until then it counts


@dataclass
class _Window:
    calls: list[_Call] = field(default_factory=list)  # ours that may still count, in the order they went
    others: int = 0  # calls Xero counted that were not ours, as of `others_until` less a minute
    others_until: float = 0.0


class MinutePacer:
    """Keeps each organisation under Xero's `per_minute` calls in any rolling minute, sending each call as soon as
    the window has room for it: the minute's calls go at once, and the next one when the first leaves the window.

    Xero counts a call when it arrives, which is after we sent it and before its answer came, so a call of ours
    counts from when it was sent until a minute after its answer (or its failure) came: the window is honoured
    whatever the calls' latency, and left no later than that. Calls made by others (another process, another
    app) show only in `X-MinLimit-Remaining`: what it says was used beyond the calls of ours it may have counted
    is held for a minute after that answer.

    A `providers.http.Pacer`: `before()` each call (its ticket), `after()` with the answer's headers and the ticket.
    """

    window = 60.0
    margin = 0.05  # seconds, for our clock and Xero's running at slightly different rates
    look_again = 1.0  # seconds between looks while the whole window is calls still in flight (an answer wakes it)

    def __init__(self, *, clock: Callable[[], float], sleep: Callable[[float], None], per_minute: int = 60) -> None:
        self._clock, self._sleep, self._per_minute = clock, sleep, per_minute
        self._windows: dict[str, _Window] = {}
        self._answered = threading.Condition()
        self._swept_at = 0.0

    def before(self, organisation_id: str) -> _Call:
        with self._answered:
            while True:
                state, now = self._windows.setdefault(organisation_id, _Window()), self._clock()
                self._drop_expired(state, now)
                delay = self._delay(state, now)
                if delay is not None:
                    break
                self._answered.wait(self.look_again)  # until one of the calls in flight is answered
            # The slot is taken before waiting for it, so calls made meanwhile by other threads (a walk fetches
            # pages several at once) count it and wait for slots of their own instead of sharing this one.
            call = _Call(sent=now + delay)
            state.calls.append(call)
        if delay > 0:
            log.info("pacing Xero calls: waiting %.1fs to stay under the minute limit", delay)
            self._sleep(delay)
        return call

    def after(self, organisation_id: str, headers: Mapping[str, str], ticket: object = None) -> None:
        """The call `ticket` (from `before`) ended: answered with `headers`, or failed without an answer ({})."""
        with self._answered:
            state, now = self._windows.setdefault(organisation_id, _Window()), self._clock()
            if isinstance(ticket, _Call):
                ticket.answered = now
            remaining = headers.get("X-MinLimit-Remaining")
            if remaining is not None and remaining.strip().lstrip("-").isdigit():
                # The calls of ours Xero may have counted by then: those sent and still in the window (so that
                # `others` errs low rather than holding our own calls twice).
                ours = sum(1 for c in state.calls if c.sent <= now and self._counts_until(c) > now)
                state.others = max(0, self._per_minute - int(remaining) - ours)
                state.others_until = now + self.window + self.margin
            self._drop_expired(state, now)
            if now - self._swept_at >= self.window:
                self._forget_idle(now)
            self._answered.notify_all()

    def _counts_until(self, call: _Call) -> float:
        return math.inf if call.answered is None else call.answered + self.window + self.margin

    def _drop_expired(self, state: _Window, now: float) -> None:
        state.calls = [c for c in state.calls if self._counts_until(c) > now]
        if state.others_until <= now:
            state.others = 0

    def _delay(self, state: _Window, now: float) -> float | None:
        """Seconds until the window has room for one more call (0 when it has now); None when no answer yet
        received frees enough of it (the calls filling it are still in flight)."""

        def used(at: float) -> int:
            ours = sum(1 for c in state.calls if self._counts_until(c) > at)
            return ours + (state.others if state.others_until > at else 0)

        if used(now) < self._per_minute:
            return 0.0
        # Room comes when enough of what is counted leaves: try each moment something leaves, soonest first.
        moments = sorted({self._counts_until(c) for c in state.calls} | {state.others_until})
        return next((m - now for m in moments if now < m < math.inf and used(m) < self._per_minute), None)

    def _forget_idle(self, now: float) -> None:
        """Drop the windows of organisations with nothing counted in the last minute: they would pace nothing, and
        a process serving thousands of organisations would keep them all."""
        self._swept_at = now
        for state in self._windows.values():
            self._drop_expired(state, now)
        idle = [organisation for organisation, state in self._windows.items() if not state.calls and not state.others]
        for organisation in idle:
            del self._windows[organisation]

    @property
    def tracked(self) -> int:
        """How many organisations' windows are kept."""
        return len(self._windows)
