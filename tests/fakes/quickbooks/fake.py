"""`QuickBooksFake`: the parts of the QuickBooks fake put together as one ASGI app, which records every request
(a query's statement too, from the URL or the body), answers injected failures, and serves Intuit's OpenID
discovery document next to the OAuth2 endpoints and the company API."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from tests.fakes.quickbooks.faults import default_error
from tests.fakes.quickbooks.identity import (
    DISCOVERY_PATH,
    HARD_LIFETIME,
    TOKEN_PATH,
    USERINFO_PATH,
    discovery_document,
)
from tests.fakes.quickbooks.records import Call, _FailureRule
from tests.fakes.quickbooks.sales import SalesApi

_FROM = re.compile(r"\bfrom\s+(\w+)", re.I)


class QuickBooksFake(SalesApi):
    """A local QuickBooks Online; serve `fake.app` with `ServerThread`, drive it with its methods (set-up in
    `QuickBooksState`; log-in, consent and tokens are `fake.oauth`'s, the shared OAuth2 server)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        company = "/v3/company/{realm_id}"
        self._router = Starlette(
            routes=[
                *(r for r in self.oauth.routes() if getattr(r, "path", None) != TOKEN_PATH),
                Route(TOKEN_PATH, self._token, methods=["POST"]),
                Route(DISCOVERY_PATH, self._discovery, methods=["GET"]),
                Route(f"{DISCOVERY_PATH}/", self._discovery, methods=["GET"]),
                Route(USERINFO_PATH, self._userinfo, methods=["GET"]),
                Route(f"{company}/query", self._query, methods=["GET", "POST"]),
                Route(f"{company}/cdc", self._cdc, methods=["GET"]),
                Route(f"{company}/companyinfo/{{company_id}}", self._company_info, methods=["GET"]),
                Route(f"{company}/preferences", self._preferences, methods=["GET"]),
                Route(f"{company}/item", self._post_item, methods=["POST"]),
                Route(f"{company}/invoice", self._post_invoice, methods=["POST"]),
                Route(f"{company}/payment", self._post_payment, methods=["POST"]),
            ]
        )

    def fail_next(
        self,
        paths: str | tuple[str, ...],
        status: int,
        body: Any = None,
        *,
        entity: str | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` requests whose path contains one of `paths` (any case), reading `entity` when
        given (a query's FROM or CDC's entities), with `status` and `body` (default: QuickBooks' own body for it;
        a dict is sent as JSON, a str as it is). A fault inside an HTTP 200 is `status=200` with a Fault body."""
        default, extra = default_error(status, self.clock())
        rule = _FailureRule(
            tuple(p.lower() for p in ((paths,) if isinstance(paths, str) else paths)),
            entity,
            status,
            default if body is None else body,
            {**extra, **(headers or {})},
            times,
        )
        with self._lock:
            self._failures.append(rule)

    def calls_to(self, path_substring: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if path_substring.lower() in c.path.lower()]

    @property
    def app(self) -> QuickBooksFake:
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._router(scope, receive, send)
            return
        body = b""
        if scope["method"] == "POST":  # read now to record the statement, then handed on unchanged
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if "authorization" in headers:
            headers["authorization"] = headers["authorization"].split(" ")[0] + " <redacted>"
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        path = scope["path"]
        statement = None
        if path.endswith("/query"):
            statement = body.decode("utf-8", "replace") if scope["method"] == "POST" else query.get("query", "")
        found = _FROM.search(statement or "")
        entity = found.group(1) if found else (query.get("entities", "").split(",")[0] or None)
        call = Call(scope["method"], path, query, headers, self.clock(), statement=statement, entity=entity)
        with self._lock:
            self.calls.append(call)
            rule = next((r for r in self._failures if r.matches(path, entity)), None)
            if rule:
                rule.times -= 1
                if rule.times <= 0:
                    self._failures.remove(rule)
        with self.arrived:
            self.arrived.notify_all()

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                call.status = message["status"]
            await send(message)

        if rule:
            if self.latency:
                await asyncio.sleep(self.latency)
            await _response(rule.status, rule.body, rule.headers)(scope, replay, recording_send)
            return
        await self._router(scope, replay, recording_send)

    async def _token(self, request: Request) -> Response:
        """The shared token endpoint, plus `x_refresh_token_hard_expires_in` (seconds left of the 5 years since the
        log-in) when the request asks for it with `x-include-refresh-token-hard-expires-in: true`."""
        response = await self.oauth.token(request)
        asked = request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true"
        if not asked or response.status_code != 200:
            return response
        body = json.loads(bytes(response.body))
        with self._lock:
            token = self.oauth._refresh_tokens.get(body.get("refresh_token", ""))
            first = self.oauth._refresh_tokens.get(token.family) if token else None
            started = (first or token).issued_at if token else self.clock()
        body["x_refresh_token_hard_expires_in"] = int(started + HARD_LIFETIME - self.clock())
        return JSONResponse(body)

    async def _discovery(self, request: Request) -> Response:
        return JSONResponse(discovery_document(str(request.base_url).rstrip("/")))


def _response(status: int, body: Any, headers: dict[str, str]) -> Response:
    if isinstance(body, dict | list):
        return JSONResponse(body, status_code=status, headers=headers)
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    media = headers.get("Content-Type") or headers.get("content-type") or "text/plain"
    return Response(str(body), status_code=status, headers=extra, media_type=media)
