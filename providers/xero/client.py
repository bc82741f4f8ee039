"""Xero behind the Provider interface: OAuth 2 with PKCE, /connections, the chart of accounts and contacts,
paced under Xero's per-minute limit, through the shared authorised call and token endpoint.

Tokens are refreshed only when the bot's token keeper calls `refresh()` (under its lock); the HTTP
clients never refresh by themselves. Nothing here logs a token.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from providers.base import (
    Account,
    CallLimit,
    Cursor,
    Encoded,
    Grant,
    Link,
    Organisation,
    Page,
    RateLimitScope,
    Tokens,
)
from providers.http import AuthorisedClient, RetryPolicy, http_client
from providers.oauth import TokenEndpoint
from providers.xero.contacts import glance_contacts, page_numbers, read_page, read_records
from providers.xero.errors import error_from_response, translate_error, translate_oauth_error
from providers.xero.invoices import XeroInvoicing
from providers.xero.mappers import account_type_label, jwt_claims, to_account
from providers.xero.pacing import MinutePacer
from providers.xero.settings import XeroSettings


class _FixedToken:
    """A TokenKeeper for a token that cannot be refreshed here (a fresh grant's, before any Link)."""

    def __init__(self, access_token: str) -> None:
        self._access_token = access_token

    def access_token(self) -> str:
        return self._access_token

    def refreshed_access_token(self, rejected: str) -> str:
        raise translate_error(401, None, "the access token of a fresh log-in was refused")

    def refresh_token(self) -> str | None:
        return None


# Seconds a call holds its slot of the calls at once at most: a slot of a process that died comes back after this,
# longer than a call's wait for the minute (at most 62 s) and its timeout together.
SLOT_LEASE = 120.0


class XeroProvider(XeroInvoicing):
    """Xero, configured by `XeroSettings`; `transport`, `sleep` and `clock` are seams for tests (a fake's
    in-process transport, and the fake's clock for pacing and retries)."""

    name = "xero"
    title = "Xero"
    organisation_noun = "organisation"
    refresh_token_idle_lifetime: timedelta | None = timedelta(days=60)  # Xero forgets a refresh token unused this long
    page_reader = staticmethod(read_records)  # `customers(encoded=True)`: a page's body, read by `read_records`

    def __init__(
        self,
        settings: XeroSettings,
        *,
        transport: httpx2.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        retry = RetryPolicy(retries=settings.retries, backoff=settings.backoff)
        self._api = AuthorisedClient(
            http_client(timeout=settings.timeout, transport=transport, headers={"Accept": "application/json"}),
            title=self.title,
            translate=error_from_response,
            retry=retry,
            sleep=sleep,
            pacer=MinutePacer(clock=clock, sleep=sleep, per_minute=settings.calls_per_minute),
            # Shared by our processes when the bot hands in a budget: the app's limit, and each organisation's
            # calls a rolling minute (waited for in the calling thread, as `MinutePacer` does for a process alone;
            # the pacer then stands aside, so a call is not held back twice).
            limits=(
                CallLimit(
                    "xero:app", RateLimitScope.APP, settings.app_calls_per_minute, 60.0, "X-AppMinLimit-Remaining"
                ),
                # calls at once to an organisation, each attempt holding its slot from its wait for the minute
                # (at most 62 s) until answered (a slot of a process that died comes back after `SLOT_LEASE`)
                CallLimit("xero:at_once", RateLimitScope.CONCURRENT, settings.calls_at_once, SLOT_LEASE),
                CallLimit(
                    "xero:minute",
                    RateLimitScope.MINUTE,
                    settings.calls_per_minute,
                    60.0,
                    "X-MinLimit-Remaining",
                    paces=True,
                ),
            ),
        )
        self._tokens = TokenEndpoint(
            title=self.title,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_url=settings.token_url,
            revoke_url=settings.revoke_url,
            timeout=settings.token_timeout,
            retry=retry,
            sleep=sleep,
            translate=error_from_response,
            translate_oauth=translate_oauth_error,
            credential_names=settings.credential_names(),
            transport=transport,
        )

    def close(self) -> None:
        self._api.close()

    def account_type_label(self, account_type: str) -> str:
        return account_type_label(account_type)

    def check_credentials(self) -> None:
        self._tokens.check_credentials()

    # -- OAuth ---------------------------------------------------------------------------------

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str | None) -> str:
        return self._tokens.authorization_url(
            self.settings.authorize_url,
            state=state,
            redirect_uri=redirect_uri,
            scope=self.settings.scopes,
            code_challenge=code_challenge,
        )

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, params: Mapping[str, str]
    ) -> Grant:
        """Trade the callback's code (and PKCE verifier) for tokens, noting the log-in's auth event so that
        `organisations()` can put the ones just authorised first. `params` adds nothing for Xero."""
        tokens = self._tokens.exchange_code(code=code, redirect_uri=redirect_uri, code_verifier=code_verifier)
        claims = jwt_claims(tokens.access_token)
        extra = {
            key: str(claims[claim])
            for key, claim in (("auth_event_id", "authentication_event_id"), ("xero_user_id", "xero_userid"))
            if claims.get(claim)
        }
        return Grant(tokens=tokens, extra=extra)

    def refresh(self, tokens: Tokens) -> Tokens:
        """Spend the refresh token for a new pair. Retrying after a lost answer is safe: for 30
        minutes Xero answers the spent token with the same new pair."""
        return self._tokens.refresh(tokens)

    def organisations(self, grant: Grant) -> list[Organisation]:
        """Every organisation the log-in reaches, those of this authorisation first (Xero's
        authEventId), so the bot never silently connects "the first tenant"."""
        rows = self._api.json("GET", self.settings.connections_url, keeper=_FixedToken(grant.tokens.access_token))
        auth_event_id = grant.extra.get("auth_event_id")
        organisations = [
            Organisation(
                id=str(row["tenantId"]),
                name=str(row.get("tenantName") or ""),
                connection_id=str(row["id"]),
                kind=row.get("tenantType"),
                just_authorised=bool(auth_event_id) and row.get("authEventId") == auth_event_id,
            )
            for row in rows
        ]
        return sorted(organisations, key=lambda o: not o.just_authorised)

    def disconnect(self, link: Link, *, login_shared: bool) -> None:
        """Delete our connection to the organisation. Revoking the refresh token removes every connection
        made with that log-in, so it is revoked only when no other connection of ours shares the log-in."""
        connection_id = link.connection_id or self._connection_id(link)
        if connection_id:
            url = f"{self.settings.connections_url}/{connection_id}"
            self._api.send("DELETE", url, keeper=link.tokens, allow=frozenset({404}))
        if not login_shared and (refresh_token := link.tokens.refresh_token()):
            self._tokens.revoke(refresh_token)

    # -- Accounting API ------------------------------------------------------------------------

    def accounts(self, link: Link) -> list[Account]:
        body = self._accounting("/Accounts", link)
        return [to_account(raw) for raw in body.get("Accounts") or ()]

    def customers(
        self, link: Link, *, since: datetime | None = None, resume: Cursor | None = None, encoded: bool = False
    ) -> Iterator[Page]:
        """Every contact, a page of `page_size` at a time, archived ones included so archiving is
        seen. No `where`: large organisations refuse most filters (HighVolumeException), so the
        bot decides what counts as a customer from `is_customer` and `active`. The cursor names the page
        size too: a run resumed after the setting changed keeps the size it started with, so its pages line up.

        Once the first page says how many there are (`pagination.pageCount`), the next ones are fetched up to
        `concurrency` at once (Xero allows five calls at once), each read and mapped in the thread that fetched
        it, and handed out in order; what a fetch raises comes out after the pages before it. A contact that
        changes during the walk is caught by the next incremental sync, which starts from before the walk.
        `encoded=True`: the pages come with their contacts not read yet (`Page.encoded`), the first too: only its
        numbers are read here (`page_numbers`, a millisecond), so the next pages are asked for without waiting for it
        to be read, and the caller's reading process starts with the first page, not the second (0.15 s sooner in
        an import of 10,000: when the first page was read here whole, the second came 0.19 s into the run)."""
        page = int(resume.value.get("page", 1)) if resume else 1
        size = int(resume.value.get("pageSize") or self.settings.page_size) if resume else self.settings.page_size
        headers = {}
        if since is not None:
            moment = since if since.tzinfo else since.replace(tzinfo=UTC)
            headers["If-Modified-Since"] = moment.astimezone(UTC).isoformat(timespec="milliseconds")
        # Asked for `encoded` pages, only a page's numbers are read here: the caller reads its contacts.
        read = self._encoded_page if encoded else self._contacts_page
        first, page_count = read(self._contacts(link, page, size, headers), page=page, size=size)
        yield first
        if first.cursor is None:
            return
        if page_count is None or self.settings.concurrency == 1:  # nothing says how many: one after another
            while True:
                page += 1
                fetched, _ = read(self._contacts(link, page, size, headers), page=page, size=size)
                yield fetched
                if fetched.cursor is None:
                    return
        # Only the calls run in the pool; each page is read here, one at a time and in order, while the next
        # ones are on their way, so at most one page's parsed JSON is held however many are fetched at once.
        with ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="xero-pages") as pool:
            pending: deque[tuple[int, Future[bytes]]] = deque()
            try:
                while True:
                    while page < page_count and len(pending) < self.settings.concurrency:
                        page += 1
                        pending.append((page, pool.submit(self._contacts, link, page, size, headers)))
                    if not pending:
                        return  # a provider that ends without saying "last page" ends the run (`ImportJob._read`)
                    number, body = pending.popleft()
                    fetched, count = read(body.result(), page=number, size=size)
                    page_count = max(page_count, count or 0)  # contacts added during the walk: more pages
                    yield fetched
                    if fetched.cursor is None:
                        return
                    del fetched, body
            finally:
                for _, future in pending:
                    future.cancel()

    def _contacts(self, link: Link, page: int, size: int, headers: Mapping[str, str]) -> bytes:
        """The body of one page of contacts, as Xero sent it."""
        params = {"page": str(page), "pageSize": str(size), "includeArchived": "true"}
        method, url, options = self._accounting_call("/Contacts", link, params=params, headers=headers)
        return self._api.send(method, url, **options).content

    def _contacts_page(self, body: bytes, *, page: int, size: int) -> tuple[Page, int | None]:
        """One page of contacts, read and checked, and how many pages Xero says there are."""
        customers, skipped, received, page_count, total = read_page(body)
        last = page >= page_count if page_count is not None else received < size
        return (
            Page(
                customers=customers,
                cursor=None if last else Cursor({"page": page + 1, "pageSize": size}),
                total=total,
                skipped=skipped,
            ),
            page_count,
        )

    def _encoded_page(self, body: bytes, *, page: int, size: int) -> tuple[Page, int | None]:
        """`_contacts_page`, with the contacts left in the body for the caller to read (`Page.encoded`) where
        Xero's page count says whether it is the last; read here where the body does not say."""
        page_count, total = page_numbers(body) or (None, None)
        if page_count is None:
            return self._contacts_page(body, page=page, size=size)
        last = page >= page_count
        cursor = None if last else Cursor({"page": page + 1, "pageSize": size})
        encoded = Encoded(body, read_records, glance_contacts)
        return Page(customers=[], cursor=cursor, total=total, encoded=encoded), page_count

    # -- HTTP ----------------------------------------------------------------------------------

    def _accounting(
        self,
        path: str,
        link: Link,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """A GET of the Accounting API for the link's organisation (Xero's tenant header), paced under its limit."""
        method, url, options = self._accounting_call(path, link, params=params, headers=headers)
        return self._api.json(method, url, **options)

    def _accounting_call(
        self, path: str, link: Link, *, params: Mapping[str, str] | None, headers: Mapping[str, str] | None
    ) -> tuple[str, str, dict[str, Any]]:
        return (
            "GET",
            f"{self.settings.api_url}{path}",
            {
                "keeper": link.tokens,
                "budget": link.budget,
                "organisation_id": link.organisation_id,
                "params": params,
                "headers": {"xero-tenant-id": link.organisation_id, **(headers or {})},
            },
        )

    def _connection_id(self, link: Link) -> str | None:
        rows = self._api.json("GET", self.settings.connections_url, keeper=link.tokens)
        return next((str(r["id"]) for r in rows if r.get("tenantId") == link.organisation_id), None)
