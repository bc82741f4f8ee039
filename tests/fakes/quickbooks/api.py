"""The company API: the query endpoint (GET with `query=`, or POST with the statement as an `application/text`
body), change data capture and CompanyInfo; each call checked against the bearer token's company and connection,
counted against Intuit's limits per company, and answered in Intuit's JSON envelopes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.oauth2 import Reply
from tests.fakes.quickbooks.faults import fault, intuit_time, lower_case_fault, throttled, validation
from tests.fakes.quickbooks.query import MAX_RESULTS, Query, QueryError, field_value, parse_query
from tests.fakes.quickbooks.records import _Company, _Record
from tests.fakes.quickbooks.state import QuickBooksState

ENTITIES = frozenset({"Customer", "Account", "CompanyInfo", "Item", "TaxCode", "TaxRate", "Term", "Invoice", "Payment"})
CDC_ENTITIES = frozenset({"Customer", "Account", "Item", "Term", "Invoice", "Payment"})  # not TaxCode or TaxRate
CDC_DAYS = 30
MINOR_VERSION = 75


class CompanyApi(QuickBooksState):
    async def _query(self, request: Request) -> Response:
        if request.method == "POST":
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/text":
                body = fault(
                    "415",
                    "Unsupported Media Type",
                    f"Content-Type {kind or 'none'} is not supported for a query",
                    fault_type="ValidationFault",
                    now=self.clock(),
                )
                return JSONResponse(body, status_code=415)
            statement = (await request.body()).decode("utf-8", "replace")
        else:
            statement = request.query_params.get("query", "")
        return await self._company_call(request, lambda company: self._run_query(company, statement))

    async def _cdc(self, request: Request) -> Response:
        return await self._company_call(request, lambda company: self._changes(company, request))

    async def _company_info(self, request: Request) -> Response:
        return await self._company_call(request, self._info)

    async def _company_call(self, request: Request, produce: Callable[[_Company], dict[str, Any]]) -> Response:
        realm_id = request.path_params["realm_id"]
        try:
            claims = self.oauth.bearer(request)
            with self._lock:
                company = self._admit(realm_id, claims)
        except Reply as reply:
            return reply.response
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            with self._lock:
                try:
                    body = produce(company)
                except QueryError as exc:
                    return validation(exc.code, str(exc), str(exc), self.clock())
            return JSONResponse({**body, "time": intuit_time(self.clock())})
        finally:
            with self._lock:
                company.in_flight -= 1

    def _admit(self, realm_id: str, claims: dict[str, Any]) -> _Company:
        """The company the token may read, counted against its limits; otherwise the answer Intuit gives."""
        company = self._companies.get(realm_id)
        if company is None or claims.get("realmid") != realm_id:
            raise Reply(JSONResponse(lower_case_fault(403, self.clock()), status_code=403))
        if (str(claims["client_id"]), realm_id) not in self.connections:  # disconnected: its tokens are revoked
            raise Reply(self.unauthorized(expired_at=None))
        now = self.clock()
        while company.minute and company.minute[0] <= now - 60.0:
            company.minute.popleft()
        if len(company.minute) >= self.limits.per_minute:
            raise Reply(throttled(now, xml=self.xml_throttle))
        if company.in_flight >= self.limits.concurrent:
            raise Reply(throttled(now, xml=self.xml_throttle, detail="Too many concurrent requests."))
        company.minute.append(now)
        company.in_flight += 1
        return company

    def _run_query(self, company: _Company, statement: str) -> dict[str, Any]:
        query = parse_query(statement, ENTITIES)
        if query.entity == "CompanyInfo":
            rows = [self._info(company)["CompanyInfo"]]
        else:
            records = self._records(company, query.entity)
            if query.fields <= {"Active"} and query.order in (None, "Id") and not query.descending:
                return self._page_by_id(records, query)
            rows = [self.render(r, i) for i, r in records.items() if not r.deleted]
        if "Active" not in query.fields:  # name lists show only active records unless asked
            rows = [r for r in rows if field_value(r, "Active") is True]
        rows = [r for r in rows if query.matches(r)]
        _order(rows, query)
        if query.count:
            return {"QueryResponse": {"totalCount": len(rows)}}
        page = rows[query.start - 1 : query.start - 1 + query.max_results]
        if not page:
            return {"QueryResponse": {}}
        return {"QueryResponse": {query.entity: page, "startPosition": query.start, "maxResults": len(page)}}

    def _page_by_id(self, records: dict[str, _Record], query: Query) -> dict[str, Any]:
        """The common walk (by Id, at most an Active condition) without rendering the rows it skips: a page of a
        company with 100,000 customers costs its own rows, as Intuit's index would, not the whole list's."""
        probe = [{"Active": r.data.get("Active", True)} for r in records.values()]
        wanted = "Active" in query.fields
        ids = [
            i
            for (i, r), row in zip(records.items(), probe, strict=True)
            if not r.deleted and (query.matches(row) if wanted else row["Active"] is True)
        ]  # records are kept in the order of their Ids, which only grow
        if query.count:
            return {"QueryResponse": {"totalCount": len(ids)}}
        chosen = ids[query.start - 1 : query.start - 1 + query.max_results]
        if not chosen:
            return {"QueryResponse": {}}
        page = [self.render(records[i], i) for i in chosen]
        return {"QueryResponse": {query.entity: page, "startPosition": query.start, "maxResults": len(page)}}

    def _changes(self, company: _Company, request: Request) -> dict[str, Any]:
        entities = [e.strip() for e in request.query_params.get("entities", "").split(",") if e.strip()]
        if not entities or any(e not in CDC_ENTITIES for e in entities):
            raise QueryError(f"Invalid entities for change data capture: {','.join(entities) or 'none'}", "4001")
        since = _moment(request.query_params.get("changedSince", ""))
        if since is None:
            raise QueryError("changedSince must be a date and time, such as 2026-01-01T00:00:00-08:00", "4001")
        if since < self.clock() - CDC_DAYS * 86400:
            raise QueryError(f"changedSince must be within the last {CDC_DAYS} days", "4001")
        answers, left = [], MAX_RESULTS
        for entity in entities:
            records = self._records(company, entity)
            changed = sorted(
                ((i, r) for i, r in records.items() if r.updated_at >= since), key=lambda p: p[1].updated_at
            )
            rows = [self._cdc_row(r, i) for i, r in changed[:left]]
            left -= len(rows)
            answers.append({entity: rows, "startPosition": 1, "maxResults": len(rows)} if rows else {})
        return {"CDCResponse": [{"QueryResponse": answers}]}

    def _cdc_row(self, record: _Record, record_id: str) -> dict[str, Any]:
        if record.deleted:
            return {
                "domain": "QBO",
                "status": "Deleted",
                "Id": record_id,
                "MetaData": {"LastUpdatedTime": intuit_time(record.updated_at)},
            }
        return self.render(record, record_id)

    def _records(self, company: _Company, entity: str) -> dict[str, _Record]:
        """The company's records of an entity the query endpoint serves (besides CompanyInfo)."""
        return company.customers if entity == "Customer" else company.accounts

    def _info(self, company: _Company) -> dict[str, Any]:
        created = intuit_time(self.clock() - 800 * 86400)
        return {
            "CompanyInfo": {
                "CompanyName": company.name,
                "LegalName": company.name,
                "CompanyAddr": {
                    "Id": "1",
                    "Line1": "2500 Garcia Ave",
                    "City": "Mountain View",
                    "CountrySubDivisionCode": "CA",
                    "PostalCode": "94043",
                    "Country": "USA",
                },
                "Country": company.country,
                "Email": {"Address": "owner@example.com"},
                "SupportedLanguages": "en",
                "FiscalYearStartMonth": "January",
                "domain": "QBO",
                "sparse": False,
                "Id": "1",
                "SyncToken": "3",
                "MetaData": {"CreateTime": created, "LastUpdatedTime": created},
            }
        }

    async def _userinfo(self, request: Request) -> Response:
        try:
            self.oauth.bearer(request)
        except Reply as reply:
            return reply.response
        given, _, family = self.user.name.partition(" ")
        return JSONResponse(
            {
                "sub": self.user.user_id,
                "email": self.user.email,
                "emailVerified": True,
                "givenName": given,
                "familyName": family,
            }
        )


def _order(rows: list[dict[str, Any]], query: Query) -> None:
    field = query.order or "Id"

    def key(row: dict[str, Any]) -> tuple[int, Any]:
        value = field_value(row, field)
        if isinstance(value, str) and value.isdigit():
            return (0, int(value))
        return (1, str(value).casefold())

    rows.sort(key=key, reverse=query.descending)


def _moment(text: str) -> float | None:
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
