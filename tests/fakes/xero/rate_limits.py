"""Xero's rate limits: per organisation calls at once, a minute and a day, and per app calls a minute, with
the `Retry-After`, `X-Rate-Limit-Problem` and `X-...Limit-Remaining` headers Xero answers."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from starlette.responses import JSONResponse

from tests.fakes.oauth2 import Reply
from tests.fakes.xero.errors import _problem
from tests.fakes.xero.records import _Organisation


@dataclass(frozen=True)
class XeroLimits:
    """Xero's limits: per organisation `concurrent`, `per_minute`, `per_day`; per app `app_per_minute`."""

    concurrent: int = 5
    per_minute: int = 60
    per_day: int = 5000
    app_per_minute: int = 10_000


def admit(org: _Organisation, app: deque[float], limits: XeroLimits, now: float) -> dict[str, str]:
    """Count a call to `org` (and to the app's window `app`) against `limits`, or reply 429 naming the limit
    and how long to wait; what remains of each limit otherwise, as headers."""
    for window, span in ((org.minute, 60.0), (org.day, 86400.0), (app, 60.0)):
        while window and window[0] <= now - span:
            window.popleft()

    def remaining() -> dict[str, str]:
        return {
            "X-DayLimit-Remaining": str(max(0, limits.per_day - len(org.day))),
            "X-MinLimit-Remaining": str(max(0, limits.per_minute - len(org.minute))),
            "X-AppMinLimit-Remaining": str(max(0, limits.app_per_minute - len(app))),
        }

    problem, wait = None, 0.0
    if len(org.day) >= limits.per_day:
        problem, wait = "day", org.day[0] + 86400 - now
    elif len(app) >= limits.app_per_minute:
        problem, wait = "appminute", app[0] + 60 - now
    elif len(org.minute) >= limits.per_minute:
        problem, wait = "minute", org.minute[0] + 60 - now
    elif org.in_flight >= limits.concurrent:
        problem, wait = "concurrent", 1
    if problem:
        headers = {"Retry-After": str(max(1, math.ceil(wait))), "X-Rate-Limit-Problem": problem, **remaining()}
        body = _problem(429, "Too Many Requests", "Rate limit exceeded")
        raise Reply(JSONResponse(body, status_code=429, headers=headers))
    for window in (org.minute, org.day, app):
        window.append(now)
    org.in_flight += 1
    org.most_in_flight = max(org.most_in_flight, org.in_flight)
    return remaining()
