"""The company file API: `{cf}/GeneralLedger/Account` and `{cf}/Contact/Customer` with the bearer token, the
`x-myobapi-key` and `x-myobapi-version` headers, the key's limits (403 RateLimitError), the file's access checks
(an administrator's grant for that file; 404 once removed), OData `$filter`, `$orderby`, `$top` (400 by default,
1,000 at most), `$skip`, and pages of `{Items, NextPageLink, Count}`."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.myob.errors import (
    access_denied,
    developer_inactive,
    myob_errors,
    not_found,
    query_invalid,
    rate_limit_error,
)
from tests.fakes.myob.identity import RESOURCE_SCOPES
from tests.fakes.myob.odata import QueryError, parse_filter, sort_rows
from tests.fakes.myob.records import _Card, _CompanyFile, _KeyUse
from tests.fakes.myob.state import MyobState, myob_time
from tests.fakes.oauth2 import Reply

DEFAULT_TOP = 400
MAX_TOP = 1000


class CompanyFileApi(MyobState):
    async def _get_accounts(self, request: Request) -> Response:
        return await self._page(request, "GeneralLedger/Account")

    async def _get_customers(self, request: Request) -> Response:
        return await self._page(request, "Contact/Customer")

    async def _page(self, request: Request, resource: str) -> Response:
        try:
            claims = self.oauth.bearer(request)
            with self._lock:
                company_file = self._admit(request, claims, resource)
        except Reply as reply:
            return reply.response
        if self.latency >= self.gateway_timeout:
            return Response("<html><body><h1>504 Gateway Time-out</h1></body></html>", status_code=504)
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            with self._lock:
                body = self._listing(request, company_file, resource)
        except QueryError as exc:
            return JSONResponse(query_invalid(str(exc)), status_code=400)
        return _AsciiJSONResponse(body)

    def _admit(self, request: Request, claims: dict[str, Any], resource: str) -> _CompanyFile:
        """The checks MYOB makes before it reads anything, in its order: the key, its limits, the version, the
        file and the person's rights to it, then the scope."""
        key = request.headers.get("x-myobapi-key", "")
        use = self._keys.setdefault(key, _KeyUse())
        if not key or key != claims["client_id"] or use.inactive:
            raise Reply(JSONResponse(developer_inactive(), status_code=403))
        self._count(use)
        if request.headers.get("x-myobapi-version", "").lower() != "v2":
            body = myob_errors("UnsupportedVersion", "The x-myobapi-version header must be v2", code=400)
            raise Reply(JSONResponse(body, status_code=400))
        company_file = self._files.get(request.path_params["business_id"].lower())
        if company_file is None or company_file.removed:
            raise Reply(JSONResponse(not_found(), status_code=404))
        if claims.get("business_id") != company_file.id or not company_file.administrator:
            raise Reply(JSONResponse(access_denied(), status_code=403))
        scopes = set(claims.get("scope", []))
        if not scopes & set(RESOURCE_SCOPES[resource.split("/")[0].lower()]):
            body = myob_errors("AccessDenied", "The application was not granted access to this resource", code=2)
            raise Reply(JSONResponse(body, status_code=403))
        return company_file

    def _count(self, use: _KeyUse) -> None:
        now = self.limit_time()
        for window, span in ((use.second, 1.0), (use.day, 86400.0)):
            while window and window[0] <= now - span:
                window.popleft()
        if len(use.day) >= self.limits.per_day:
            raise Reply(JSONResponse(rate_limit_error(daily=True), status_code=403))
        if len(use.second) >= self.limits.per_second:
            raise Reply(JSONResponse(rate_limit_error(daily=False), status_code=403))
        use.second.append(now)
        use.day.append(now)

    def _cards(self, company_file: _CompanyFile, resource: str) -> dict[str, _Card]:
        return company_file.accounts if resource == "GeneralLedger/Account" else company_file.customers

    def _view(self, company_file: _CompanyFile, card: _Card) -> dict[str, Any]:
        data = card.data if isinstance(card.data, dict) else {}  # a raw card may be anything
        return {**data, "LastModified": myob_time(card.modified_at, company_file.time_zone), _CARD: card}

    def _listing(self, request: Request, company_file: _CompanyFile, resource: str) -> dict[str, Any]:
        q = request.query_params
        top, skip = _number(q.get("$top"), "$top", DEFAULT_TOP), _number(q.get("$skip"), "$skip", 0)
        if not 0 < top <= MAX_TOP:
            raise QueryError(f"$top must be between 1 and {MAX_TOP}.")
        cards = self._cards(company_file, resource)
        # Filter and sort shallow views; only the page handed out is rendered (a deep copy of each card).
        rows = [self._view(company_file, card) for card in cards.values()]
        if text := q.get("$filter"):
            predicate = parse_filter(text)
            rows = [r for r in rows if isinstance(r, dict) and predicate(r)]
        sort_rows(rows, q.get("$orderby"))
        chosen = [self._render(company_file, r[_CARD], resource) for r in rows[skip : skip + top]]
        following = None
        if skip + top < len(rows):
            query = {k: v for k, v in q.items() if k not in ("$top", "$skip")} | {"$top": top, "$skip": skip + top}
            base = str(request.base_url).rstrip("/")
            following = f"{base}/accountright/{company_file.id}/{resource}?{urlencode(query)}"
        return {"Items": chosen, "NextPageLink": following, "Count": len(rows)}


class _AsciiJSONResponse(JSONResponse):
    """JSON with everything beyond ASCII escaped, as .NET's serialiser may write it: a lone surrogate in a card travels
    as `\\ud800`, which UTF-8 could not carry."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


_CARD = "\x00card"  # where a shallow view keeps its card; no MYOB field looks like it


def _number(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise QueryError(f"'{value}' is not a valid value for {name}.") from None
    if number < 0:
        raise QueryError(f"{name} cannot be negative.")
    return number
