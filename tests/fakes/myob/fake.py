"""`MyobFake`: the parts of the MYOB fake put together as one ASGI app, which records every request, answers
injected failures, and serves the paths with or without a trailing slash (as MYOB's SDKs send them)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from tests.fakes.myob.errors import body_response, default_error_body, rate_limit_error
from tests.fakes.myob.identity import MYOB_OAUTH
from tests.fakes.myob.records import Call, _FailureRule
from tests.fakes.myob.sales import SalesApi

API_PREFIX = "/accountright"


class MyobFake(SalesApi):
    """A local MYOB; serve `fake.app` with `ServerThread`, drive it with its methods (set-up in `MyobState`; log-in,
    consent and tokens are `fake.oauth`'s, the shared OAuth2 server of `tests.fakes.oauth2`)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._router = Starlette(routes=self._routes())

    def fail_next(
        self,
        path_substring: str,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` requests whose path contains `path_substring` (any case), of `method` when
        given, with `status`; `body` defaults to MYOB's body for that status (a dict is sent as JSON, a str as
        text)."""
        rule = _FailureRule(
            path_substring.lower(),
            status,
            default_error_body(status) if body is None else body,
            dict(headers or {}),
            times,
            method.upper() if method else None,
        )
        with self._lock:
            self._failures.append(rule)

    def limit_next(self, path_substring: str, *, daily: bool, times: int = 1) -> None:
        """Answer the next `times` calls with MYOB's 403 RateLimitError (the daily cap's, or the per-second one's)."""
        self.fail_next(path_substring, 403, rate_limit_error(daily=daily), times=times)

    def calls_to(self, path_substring: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if path_substring.lower() in c.path.lower()]

    @property
    def app(self) -> MyobFake:
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._router(scope, receive, send)
            return
        path = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        for secret in ("authorization", "cookie"):
            if secret in headers:
                headers[secret] = headers[secret].split(" ")[0] + " <redacted>"
        call = Call(
            method=scope["method"],
            path=path,
            query=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)),
            headers=headers,
            at=self.clock(),
        )
        with self._lock:
            self.calls.append(call)
            rule = next(
                (r for r in self._failures if r.path_substring in path.lower() and r.method in (None, scope["method"])),
                None,
            )
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
            await body_response(rule.status, rule.body, rule.headers)(scope, receive, recording_send)
            return
        trimmed = path.rstrip("/") or "/"
        await self._router(dict(scope, path=trimmed, raw_path=trimmed.encode()), receive, recording_send)

    async def _token(self, request: Request) -> Response:
        """The shared token endpoint, answered as MYOB words it: the user, and `expires_in` as text when asked."""
        response = await self.oauth.token(request)
        if response.status_code != 200 or not isinstance(response, JSONResponse):
            return response
        body = json.loads(bytes(response.body))
        body["user"] = {"uid": self.user.user_id, "username": self.user.email}
        if self.expires_in_as_string:
            body["expires_in"] = str(body["expires_in"])
        return JSONResponse(body)

    def _routes(self) -> list[BaseRoute]:
        return [
            Route(MYOB_OAUTH.authorize_path, self.oauth.authorize, methods=["GET", "POST"]),
            Route(MYOB_OAUTH.token_path, self._token, methods=["POST"]),
            Route(f"{API_PREFIX}/{{business_id}}/GeneralLedger/Account", self._get_accounts, methods=["GET"]),
            Route(f"{API_PREFIX}/{{business_id}}/Contact/Customer", self._get_customers, methods=["GET"]),
            Route(f"{API_PREFIX}/{{business_id}}/GeneralLedger/TaxCode", self._get_tax_codes, methods=["GET"]),
            Route(f"{API_PREFIX}/{{business_id}}/Sale/Invoice", self._get_invoices, methods=["GET"]),
            Route(f"{API_PREFIX}/{{business_id}}/Sale/Invoice/Service", self._get_service_invoices, methods=["GET"]),
            Route(f"{API_PREFIX}/{{business_id}}/Sale/Invoice/Service", self._post_service_invoice, methods=["POST"]),
            Route(f"{API_PREFIX}/{{business_id}}/Sale/Invoice/Service/{{uid}}", self._get_service_invoice),
            Route(f"{API_PREFIX}/{{business_id}}/Sale/CustomerPayment", self._get_payments, methods=["GET"]),
            Route(f"{API_PREFIX}/{{business_id}}/Sale/CustomerPayment", self._post_payment, methods=["POST"]),
            Route(f"{API_PREFIX}/{{business_id}}/Sale/CustomerPayment/{{uid}}", self._get_payment),
            Route(f"{API_PREFIX}/{{business_id}}/Company/Preferences", self._get_preferences, methods=["GET"]),
        ]
