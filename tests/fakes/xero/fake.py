"""`XeroFake`: the parts of the Xero fake put together as one ASGI app, which records every request, answers
injected failures and routes Xero's case-insensitive paths."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from urllib.parse import parse_qsl

from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from tests.fakes.xero.accounting import ACCOUNTING_PREFIX
from tests.fakes.xero.controls import Controls
from tests.fakes.xero.errors import _body_response, _default_error_body
from tests.fakes.xero.invoices import FakeInvoicing
from tests.fakes.xero.records import Call, _FailureRule, _has


class XeroFake(Controls, FakeInvoicing):
    """A local Xero; serve `fake.app` with `ServerThread`, drive it with its methods (what a test sets up is in
    `Controls`; failures to inject and the calls received are here; log-in, consent and tokens are `fake.oauth`'s,
    the shared OAuth2 server of `tests.fakes.oauth2`)."""

    def fail_next(
        self,
        path_substring: str,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` requests whose path contains `path_substring` (any case) with `status`; with
        `query`, only those that have each of its parameters too (`{"page": "3"}`).

        `body` defaults to Xero's body for that status (a dict is sent as JSON, a str as text);
        a 429 gets `Retry-After: 30` and `X-Rate-Limit-Problem: minute` unless `headers` says otherwise.
        """
        extra = dict(headers or {})
        if status == 429:
            extra = {"Retry-After": "30", "X-Rate-Limit-Problem": "minute", **extra}
        rule = _FailureRule(
            path_substring.lower(),
            status,
            _default_error_body(status) if body is None else body,
            extra,
            times,
            dict(query or {}),
        )
        with self._lock:
            self._failures.append(rule)

    def hold(self, path_substring: str, *, query: dict[str, str] | None = None) -> threading.Event:
        """Hold requests whose path contains `path_substring` (any case; recorded as they arrive), and that have each
        of `query`'s parameters, until the returned event is set: a test can then act while the caller waits, for
        instance kill it."""
        release = threading.Event()
        with self._lock:
            self._holds.append((path_substring.lower(), dict(query or {}), release))
        return release

    def calls_to(self, path_substring: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if path_substring.lower() in c.path.lower()]

    def wait_for_calls(self, path_substring: str, more_than: int, what: str, timeout: float = 60.0) -> list[Call]:
        """Wait until more than `more_than` requests whose path contains `path_substring` have arrived (they are
        recorded as they arrive, before any hold); those requests."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.calls_to(path_substring)) > more_than, timeout):
                raise TimeoutError(f"waited {timeout}s for {what}")
        return self.calls_to(path_substring)

    @property
    def app(self) -> XeroFake:
        """The ASGI app to serve (the fake itself; uvicorn needs a callable object, not a method)."""
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Xero's paths are case-insensitive: route on the lower-cased path, record the original."""
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
            rule = next((r for r in self._failures if r.matches(call)), None)
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

        with self._lock:
            holds = [release for part, query, release in self._holds if part in path.lower() and _has(call, query)]
        for release in holds:
            while not release.is_set():
                await asyncio.sleep(0.01)
        if not path.lower().startswith(ACCOUNTING_PREFIX) and self.latency:
            await asyncio.sleep(self.latency)
        if rule:
            await _body_response(rule.status, rule.body, rule.headers)(scope, receive, recording_send)
            return
        lowered = dict(scope, path=path.lower(), raw_path=path.lower().encode())
        await self._router(lowered, receive, recording_send)

    def _routes(self) -> list[BaseRoute]:
        return [
            *self.oauth.routes(),
            Route("/connections", self._list_connections, methods=["GET"]),
            Route("/connections/{connection_id}", self._delete_connection, methods=["DELETE"]),
            Route(f"{ACCOUNTING_PREFIX}/accounts", self._get_accounts, methods=["GET"]),
            Route(f"{ACCOUNTING_PREFIX}/contacts", self._get_contacts, methods=["GET"]),
            Route(f"{ACCOUNTING_PREFIX}/taxrates", self._get_tax_rates, methods=["GET"]),
            Route(f"{ACCOUNTING_PREFIX}/organisation", self._get_organisation, methods=["GET"]),
            Route(f"{ACCOUNTING_PREFIX}/invoices", self._get_invoices, methods=["GET"]),
            Route(f"{ACCOUNTING_PREFIX}/invoices", self._put_invoices, methods=["PUT"]),
            Route(f"{ACCOUNTING_PREFIX}/payments", self._put_payments, methods=["PUT"]),
            Route(f"{ACCOUNTING_PREFIX}/{{rest:path}}", self._not_found, methods=["GET", "POST", "PUT"]),
        ]
