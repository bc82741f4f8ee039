"""Bolt middleware that is handed the request itself (`RequestMiddleware`).

Bolt calls a middleware given as a plain function (`@app.middleware`) through its argument injection, which builds
every argument any middleware or listener could ask for (the payload read eight ways, `say`, `respond`, the
context's values) on every call, to pass the two it asks for. The bot's four middlewares ran it four times on every
request, more than any of them did; one given as a `Middleware` is called directly.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware, RequestVerification

from bot.slack.requests import VERIFIED

Next = Callable[[], BoltResponse | None]


class RequestMiddleware(Middleware):
    """`func(request, next)`: calls `next()` to go on, or returns the response that ends the request there."""

    def __init__(self, func: Callable[[BoltRequest, Next], BoltResponse | None]) -> None:
        self.func = func

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Next) -> BoltResponse | None:
        return self.func(req, next)

    @property
    def name(self) -> str:
        return f"RequestMiddleware({self.func.__qualname__})"


class VerifiedOnce(RequestVerification):
    """Bolt's signature check (`RequestVerification`), but not again for a request the web side has already checked
    on the same bytes before parsing it (`VERIFIED` in its context: `bot.web.slack_requests`): that was an HMAC and
    a read of the headers more on every request. A request dispatched any other way is checked as Bolt checks it;
    Bolt itself skips Socket Mode's."""

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        if req.context.get(VERIFIED):
            return next()
        return super().process(req=req, resp=resp, next=next)
