"""QuickBooks Online behind the Provider interface: Intuit's OAuth 2 (one company per authorisation, its realmId
from the callback), the company's name from CompanyInfo, the chart of accounts and customers through the query
endpoint with a pinned minorversion, and incremental reads through change data capture.

Tokens are refreshed only when the bot's token keeper calls `refresh()` (under its lock), which returns the new
refresh token whenever Intuit rotates it, for the keeper to store at once: Intuit kills the old one. Nothing here
logs a token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from providers.base import (
    Account,
    BadRequest,
    Cursor,
    Grant,
    Link,
    Organisation,
    Page,
    TokenKeeper,
    Tokens,
    Unavailable,
)
from providers.http import AuthorisedClient, RetryPolicy, http_client
from providers.json_bodies import read_json
from providers.oauth import TokenEndpoint
from providers.quickbooks.errors import error_from_fault, error_from_response, read_fault, translate_oauth_error
from providers.quickbooks.invoices import InvoicingCache, QuickBooksInvoicing
from providers.quickbooks.mappers import account_type_label, read_accounts, read_customers_page
from providers.quickbooks.pacing import MinutePacer
from providers.quickbooks.settings import QuickBooksSettings

ALL_CUSTOMERS = "SELECT * FROM Customer WHERE Active IN (true, false)"
COUNT_CUSTOMERS = "SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)"
ALL_ACCOUNTS = "SELECT * FROM Account WHERE Active IN (true, false)"
CDC_LIMIT = 1000  # objects in one change data capture answer; a full one may have left some out


# Intuit's fields of seconds left on the refresh token: unused (about 100 days, renewed on use) and in all (5 years).
EXPIRY_FIELDS = {
    "refresh_expires_at": "x_refresh_token_expires_in",
    "refresh_hard_expires_at": "x_refresh_token_hard_expires_in",
}


class _FixedToken:
    """A TokenKeeper for a fresh grant's access token, before any Link holds it."""

    def __init__(self, access_token: str) -> None:
        self._access_token = access_token

    def access_token(self) -> str:
        return self._access_token

    def refreshed_access_token(self, rejected: str) -> str:
        raise error_from_response(httpx2.Response(401))

    def refresh_token(self) -> str | None:
        return None


class _SystemFault(Exception):
    """A SystemFault inside an HTTP 200: Intuit's own failure, worth another attempt."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class QuickBooksProvider(QuickBooksInvoicing):
    """QuickBooks Online, configured by `QuickBooksSettings`; `transport`, `sleep` and `clock` are seams for tests,
    and so is `now` (the wall clock that decides whether change data capture still reaches back far enough)."""

    name = "quickbooks"
    title = "QuickBooks"
    organisation_noun = "company"
    # Intuit forgets a refresh token unused for about 100 days (`x_refresh_token_expires_in`).
    refresh_token_idle_lifetime: timedelta | None = timedelta(days=100)
    page_reader = None  # its pages come read

    def __init__(
        self,
        settings: QuickBooksSettings,
        *,
        transport: httpx2.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._sleep = sleep
        self._invoicing = InvoicingCache()
        self._retry = RetryPolicy(retries=settings.retries, backoff=settings.backoff)
        self._api = AuthorisedClient(
            http_client(timeout=settings.timeout, transport=transport, headers={"Accept": "application/json"}),
            title=self.title,
            translate=error_from_response,
            retry=self._retry,
            sleep=sleep,
            pacer=MinutePacer(per_minute=settings.per_minute, clock=clock, sleep=sleep),
        )
        self._tokens = TokenEndpoint(
            title=self.title,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_url=settings.token_url,
            revoke_url=settings.revoke_url,
            timeout=settings.token_timeout,
            retry=self._retry,
            sleep=sleep,
            translate=error_from_response,
            translate_oauth=translate_oauth_error,
            credential_names=settings.credential_names(),
            transport=transport,
            expiry_fields=EXPIRY_FIELDS,
            token_headers={"x-include-refresh-token-hard-expires-in": "true"},  # the 5-year limit, since late 2025
        )
        self._revocation = http_client(
            timeout=settings.token_timeout, transport=transport, headers={"Accept": "application/json"}
        )

    def close(self) -> None:
        self._api.close()
        self._revocation.close()

    def account_type_label(self, account_type: str) -> str:
        return account_type_label(account_type)

    def check_credentials(self) -> None:
        self._tokens.check_credentials()

    # -- OAuth ---------------------------------------------------------------------------------

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str | None) -> str:
        """Intuit's consent page; it takes no PKCE challenge (the app proves itself with its secret)."""
        return self._tokens.authorization_url(
            self.settings.authorize_url,
            state=state,
            redirect_uri=redirect_uri,
            scope=self.settings.scopes,
            code_challenge=None,
        )

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, params: Mapping[str, str]
    ) -> Grant:
        """Trade the callback's code for tokens; the callback's `realmId` names the one company authorised."""
        realm_id = (params.get("realmId") or "").strip()
        if not realm_id:
            raise BadRequest("QuickBooks did not say which company was connected (the callback had no realmId).")
        tokens = self._tokens.exchange_code(code=code, redirect_uri=redirect_uri, code_verifier=None)
        return Grant(tokens=tokens, extra={"realm_id": realm_id})

    def refresh(self, tokens: Tokens) -> Tokens:
        """Spend the refresh token. Intuit answers with the same refresh token for about a day, then with a new
        one, after which the old one is dead: the Tokens returned carry whichever it sent, for the keeper to store
        before anything else happens."""
        return self._tokens.refresh(tokens)

    def organisations(self, grant: Grant) -> list[Organisation]:
        """The one company this authorisation connected, named from its CompanyInfo; none for a grant that did not
        come from a callback (an access token alone names no company: each QuickBooks log-in reaches only its own)."""
        realm_id = grant.extra.get("realm_id") or ""
        if not realm_id:
            return []
        keeper = _FixedToken(grant.tokens.access_token)
        body = self._get(f"/companyinfo/{realm_id}", realm_id, keeper)
        info = body.get("CompanyInfo") if isinstance(body, dict) else None
        name = info.get("CompanyName") if isinstance(info, dict) else None
        return [Organisation(id=realm_id, name=str(name or realm_id), just_authorised=True)]

    def disconnect(self, link: Link, *, login_shared: bool) -> None:
        """Revoke the company's refresh token, which disconnects accounts-bot from it at Intuit. Each QuickBooks
        authorisation reaches one company, so no other connection shares it whatever `login_shared` says."""
        token = link.tokens.refresh_token()
        if not token:
            return
        client_id, secret = self.settings.client_id or "", self.settings.client_secret or ""
        try:
            response = self._revocation.post(self.settings.revoke_url, json={"token": token}, auth=(client_id, secret))
        except httpx2.TransportError as exc:
            raise Unavailable(f"{self.title}'s log-in service did not answer.", detail=type(exc).__name__) from exc
        if response.is_success or response.status_code == 400 and b"invalid_grant" in response.content:
            return  # revoked now, or long ago
        raise error_from_response(response)

    # -- Accounting API ------------------------------------------------------------------------

    def accounts(self, link: Link) -> list[Account]:
        """The chart of accounts, every page of it, inactive (deleted) accounts marked so."""
        raws: list[Any] = []
        start, size = 1, self.settings.page_size
        while True:
            rows = self._query(link, f"{ALL_ACCOUNTS} STARTPOSITION {start} MAXRESULTS {size}", "Account")
            raws += rows
            if len(rows) < size:
                return read_accounts(raws)
            start += size

    def customers(
        self, link: Link, *, since: datetime | None = None, resume: Cursor | None = None, encoded: bool = False
    ) -> Iterator[Page]:
        """Every customer (inactive ones too, so deactivating is seen), a page of `page_size` at a time, with the
        total from `SELECT COUNT(*)`; or, with `since`, what changed since then: through change data capture while
        it reaches back that far (and holds fewer than its 1,000 objects), otherwise by the records' update time.
        Jobs (sub-customers that are projects) are left out: their parent is the customer. Pages come read
        (`encoded` asks for nothing here)."""
        if since is not None and resume is None:
            moment = since if since.tzinfo else since.replace(tzinfo=UTC)
            if self.now() - moment < timedelta(days=self.settings.cdc_days):
                page = self._changes(link, moment)
                if page is not None:
                    yield page
                    return
            resume = Cursor({"since": moment.astimezone(UTC).isoformat(timespec="seconds")})
        yield from self._walk(link, resume)

    def _walk(self, link: Link, resume: Cursor | None) -> Iterator[Page]:
        state = dict(resume.value) if resume else {}
        start = int(state.get("start", 1))
        size = int(state.get("size") or self.settings.page_size)
        since = state.get("since")
        total = state.get("total")
        where = f" AND MetaData.LastUpdatedTime >= '{since}'" if since else ""
        while True:
            statement = f"{ALL_CUSTOMERS}{where} ORDERBY Id STARTPOSITION {start} MAXRESULTS {size}"
            rows = self._query(link, statement, "Customer")
            seen = start - 1 + len(rows)
            if total is None:
                total = seen if len(rows) < size else self._count(link, where)
            # A short page is the last; so is the page that reaches the count, which saves asking for the empty
            # page after it. Customers added during the walk are caught by the next sync, which starts before it.
            last = len(rows) < size or (total is not None and seen >= total)
            customers, skipped = read_customers_page(rows)
            cursor = None if last else Cursor({**state, "start": start + size, "size": size, "total": total})
            yield Page(customers=customers, cursor=cursor, total=total, skipped=skipped)
            if last:
                return
            start += size

    def _count(self, link: Link, where: str) -> int | None:
        body = self._get("/query", link.organisation_id, link.tokens, query=f"{COUNT_CUSTOMERS}{where}")
        answer = body.get("QueryResponse") if isinstance(body, dict) else None
        count = answer.get("totalCount") if isinstance(answer, dict) else None
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    def _changes(self, link: Link, since: datetime) -> Page | None:
        """What changed since `since`, from change data capture; None when it held as many objects as it gives."""
        changed_since = since.astimezone(UTC).isoformat(timespec="seconds")
        params = {"entities": "Customer", "changedSince": changed_since}
        body = self._get("/cdc", link.organisation_id, link.tokens, **params)
        rows: list[Any] = []
        for block in _list(body.get("CDCResponse") if isinstance(body, dict) else None):
            for answer in _list(block.get("QueryResponse") if isinstance(block, dict) else None):
                if isinstance(answer, dict):
                    rows += _list(answer.get("Customer"))
        if len(rows) >= CDC_LIMIT:
            return None
        customers, skipped = read_customers_page(rows)
        return Page(customers=customers, cursor=None, total=len(rows), skipped=skipped)

    # -- HTTP ----------------------------------------------------------------------------------

    def _query(self, link: Link, statement: str, entity: str) -> list[Any]:
        """One page of a query: its rows (none when QuickBooks answers `{"QueryResponse": {}}`)."""
        body = self._get("/query", link.organisation_id, link.tokens, query=statement)
        answer = body.get("QueryResponse") if isinstance(body, dict) else None
        if not isinstance(answer, dict):
            raise Unavailable(f"{self.title} sent an answer to a query we could not read.", status=200)
        return _list(answer.get(entity))

    def _get(self, path: str, realm_id: str, keeper: TokenKeeper, **params: str) -> Any:
        """A GET of the company's API with the pinned minorversion, paced under its limit; a fault inside an HTTP
        200 is raised as its typed error, after a few more tries when it is Intuit's own (a SystemFault)."""
        url = f"{self.settings.api_url}/v3/company/{realm_id}{path}"
        query = {**params, "minorversion": str(self.settings.minor_version)}
        try:
            for attempt in self._retry.retrying(sleep=self._sleep, on=_SystemFault):
                with attempt:
                    response = self._api.send("GET", url, keeper=keeper, organisation_id=realm_id, params=query)
                    return self._read(response)
        except _SystemFault as exc:
            raise exc.error from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _read(self, response: httpx2.Response) -> Any:
        try:
            body = read_json(response.content)
        except ValueError:
            body = None
        if body is None or isinstance(body, dict) and ("Fault" in body or "fault" in body):
            fault = read_fault(response.content)
            if fault is None:
                raise Unavailable(f"{self.title} answered with something we could not read.", status=200)
            error = error_from_fault(fault, status=response.status_code, headers=response.headers)
            if fault.type == "SystemFault" or fault.code == "10000":
                raise _SystemFault(error)
            raise error
        return body


def _list(value: Any) -> list[Any]:
    """A list field; a lone record counts as a list of one, anything else as none."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []
