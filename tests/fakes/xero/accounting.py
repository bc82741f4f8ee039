"""The Accounting API's Accounts and Contacts: tenant and scope checks, rate limits, Xero's response envelope,
`If-Modified-Since`, `where`/`order`, search, paging and the fields each form of the answer leaves out."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from tests.fakes.oauth2 import Reply
from tests.fakes.xero.connections import Connections
from tests.fakes.xero.dates import _parse_if_modified_since, ms_date
from tests.fakes.xero.errors import (
    _high_volume_exception,
    _problem,
    _query_parse_exception,
    _validation_exception,
)
from tests.fakes.xero.rate_limits import admit
from tests.fakes.xero.records import _Organisation
from tests.fakes.xero.where import QueryError, _sort, parse_where

ACCOUNTING_PREFIX = "/api.xro/2.0"
RESOURCE_SCOPES = {
    "accounts": ("accounting.settings", "accounting.settings.read"),
    "contacts": ("accounting.contacts", "accounting.contacts.read"),
    "taxrates": ("accounting.settings", "accounting.settings.read"),
    "organisation": ("accounting.settings", "accounting.settings.read"),
    "invoices": ("accounting.transactions", "accounting.transactions.read"),
    "payments": ("accounting.transactions",),
}
INDEXED_CONTACT_FIELDS = frozenset({"name", "emailaddress", "accountnumber"})
_UNPAGED_LEAVES_OUT = (
    "ContactPersons",
    "PaymentTerms",
    "MergedToContactID",
    "SalesDefaultLineAmountType",
    "PurchasesDefaultLineAmountType",
)
_SUMMARY_LEAVES_OUT = ("Balances", "ContactPersons", "PaymentTerms", "BatchPayments", "Discount", "ContactGroups")


class Accounting(Connections):
    async def _get_accounts(self, request: Request) -> Response:
        return await self._accounting(request, "accounts", self._accounts_body)

    async def _get_contacts(self, request: Request) -> Response:
        return await self._accounting(request, "contacts", self._contacts_body)

    async def _not_found(self, request: Request) -> Response:
        return PlainTextResponse("The resource you're looking for cannot be found", status_code=404)

    async def _accounting(
        self, request: Request, resource: str, body: Callable[[_Organisation, Request], dict[str, Any]]
    ) -> Response:
        try:
            claims = self.oauth.bearer(request)
            with self._lock:
                org, client_id = self._tenant(request, claims, resource)
                remaining = self._admit(org, client_id)
        except Reply as reply:
            return reply.response
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            with self._lock:
                try:
                    payload = body(org, request)
                except QueryError as exc:
                    return JSONResponse(_query_parse_exception(str(exc)), status_code=400, headers=remaining)
                except Reply as reply:
                    reply.response.headers.update(remaining)
                    return reply.response
                envelope = {
                    "Id": str(uuid.uuid4()),
                    "Status": "OK",
                    "ProviderName": self.oauth.client(client_id).name,
                    "DateTimeUTC": ms_date(self.clock(), zone=False),
                    **payload,
                }
            return _AsciiJSONResponse(envelope, headers=remaining)
        finally:
            with self._lock:
                org.in_flight -= 1

    def index_contacts(self, tenant_id: str) -> None:
        """Make the listing that a walk of every contact (archived ones too, no filter) reads, as Xero's own
        indexes would already be there; otherwise the fake makes it at the walk's first page, which then costs the
        fake seconds for 100,000 contacts (a benchmark calls this after seeding, so that it measures the bot)."""
        with self._lock:
            org = self._org(tenant_id)
            org.listings[(None, True, frozenset(), "", None, None)] = _listing(org, None, True, set(), "", None, None)

    def _tenant(self, request: Request, claims: dict[str, Any], resource: str) -> tuple[_Organisation, str]:
        tenant_id = request.headers.get("xero-tenant-id", "").strip().lower()
        connected = {c.tenant_id for c in self._reachable(claims)}
        if tenant_id not in connected or tenant_id not in self._organisations:
            raise Reply(JSONResponse(_problem(403, "Forbidden", "AuthenticationUnsuccessful"), status_code=403))
        if not set(RESOURCE_SCOPES[resource]) & set(claims.get("scope", [])):
            raise Reply(JSONResponse(_problem(403, "Forbidden", "AuthorizationUnsuccessful"), status_code=403))
        return self._organisations[tenant_id], str(claims["client_id"])

    def _admit(self, org: _Organisation, client_id: str) -> dict[str, str]:
        """Count the call against the limits, or reply 429 naming the limit and how long to wait."""
        app = self._app_minute.setdefault(client_id, deque())
        return admit(org, app, self.limits, self.clock())

    def _accounts_body(self, org: _Organisation, request: Request) -> dict[str, Any]:
        q = request.query_params
        since = _parse_if_modified_since(request.headers.get("if-modified-since"))
        rows = [self._render_account(a) for a in org.accounts.values() if since is None or a.updated_at > since]
        if where := q.get("where"):
            predicate, _ = parse_where(where)
            rows = [r for r in rows if predicate(r)]
        _sort(rows, q.get("order"), [])
        return {"Accounts": rows}

    def _contacts_body(self, org: _Organisation, request: Request) -> dict[str, Any]:
        q = request.query_params
        since = _parse_if_modified_since(request.headers.get("if-modified-since"))
        include_archived = q.get("includeArchived", "").lower() == "true"
        summary_only = q.get("summaryOnly", "").lower() == "true"
        ids = {i.strip().lower() for i in q.get("IDs", "").split(",") if i.strip()}
        page = _int_param(q.get("page"), "page")
        page_size = _int_param(q.get("pageSize"), "pageSize")
        if page_size is not None and page_size < 1:
            raise Reply(JSONResponse(_validation_exception("pageSize must be a positive number"), status_code=400))
        predicate = None
        if where := q.get("where"):
            predicate, fields = parse_where(where)
            threshold = org.high_volume_threshold or self.high_volume_threshold
            if fields - INDEXED_CONTACT_FIELDS and len(org.contacts) > threshold:
                raise Reply(JSONResponse(_high_volume_exception(), status_code=400))
        term = (q.get("searchTerm") or "").casefold()
        order = q.get("order")
        key = (since, include_archived, frozenset(ids), term, q.get("where"), order)
        views = org.listings.get(key)
        if views is None:
            views = _listing(org, since, include_archived, ids, term, predicate, order)
            if len(org.listings) >= _LISTINGS_KEPT:
                org.listings.clear()
            org.listings[key] = views
        paged = page is not None
        if paged:
            assert page is not None
            size = min(page_size or 100, 1000)
            page = max(page, 1)
            chosen = views[(page - 1) * size : page * size]
        else:
            chosen = views
        rows = [self._render_contact(view[_CONTACT]) for view in chosen]
        for row in rows:
            if not isinstance(row, dict):
                continue
            for name in (_SUMMARY_LEAVES_OUT if summary_only else ()) + (() if paged else _UNPAGED_LEAVES_OUT):
                row.pop(name, None)
        if not paged:
            return {"Contacts": rows}
        pagination = {
            "page": page,
            "pageSize": size,
            "pageCount": math.ceil(len(views) / size),
            "itemCount": len(views),
        }
        return {"pagination": pagination, "Contacts": rows}


class _AsciiJSONResponse(JSONResponse):
    """JSON with everything beyond ASCII escaped, as Xero writes it: a lone surrogate in a contact travels as
    `\\ud800`, which UTF-8 could not carry."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


_CONTACT = "\x00contact"  # where a shallow view keeps its contact; no Xero field looks like it
_LISTINGS_KEPT = 8


def _listing(
    org: _Organisation,
    since: float | None,
    include_archived: bool,
    ids: set[str],
    term: str,
    predicate: Callable[[dict[str, Any]], bool] | None,
    order: str | None,
) -> list[dict[str, Any]]:
    """The contacts a query selects, in its order. Pages of one walk share it (the organisation keeps it until a
    contact changes), as Xero's own indexes would: filtering and sorting 100,000 contacts for each of 100 pages
    would make the fake, not the bot, the slow part of an import."""
    views: list[dict[str, Any]] = []
    for contact in org.contacts.values():
        data = contact.data if isinstance(contact.data, dict) else {}  # a raw contact may be anything
        if since is not None and contact.updated_at <= since:
            continue
        if data.get("ContactStatus") == "ARCHIVED" and not include_archived and not ids:
            continue
        if ids and data.get("ContactID") not in ids:
            continue
        if term and not any(
            term in str(data.get(f) or "").casefold()
            for f in ("Name", "FirstName", "LastName", "ContactNumber", "EmailAddress")
        ):
            continue
        if predicate is None and not order:
            views.append(
                {"Name": _sortable(data.get("Name")), "ContactID": _sortable(data.get("ContactID")), _CONTACT: contact}
            )
            continue
        view = {**data, "UpdatedDateUTC": ms_date(contact.updated_at), _CONTACT: contact}
        if predicate is None or predicate(view):
            views.append(view)
    _sort(views, order, [("Name", False), ("ContactID", False)])
    return views


def _sortable(value: Any) -> Any:
    """A raw contact's field of the wrong shape sorts as its JSON text, as a database would order it."""
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _int_param(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise Reply(
            JSONResponse(_validation_exception(f"The value '{value}' is not valid for {name}."), status_code=400)
        ) from None
