"""MYOB Business (AccountRight) behind the Provider interface: OAuth 2 with the granular `sme-*` scopes and
`prompt=consent`, the company file the callback names, its chart of accounts and customer cards in OData pages,
paced under MYOB's calls a second, through the shared authorised call and token endpoint.

Tokens are refreshed only when the bot's token keeper calls `refresh()` (under its lock); the HTTP clients never
refresh by themselves. Nothing here logs a token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import httpx2

from providers.base import Account, Cursor, Grant, Link, Organisation, Page, Tokens, Unavailable
from providers.http import AuthorisedClient, RetryPolicy, http_client
from providers.myob.errors import error_from_response, translate_oauth_error
from providers.myob.invoices import MyobInvoicing
from providers.myob.mappers import account_type_label, is_postable, read_customer_cards, to_account
from providers.myob.pacing import SecondPacer
from providers.myob.settings import MyobSettings
from providers.myob.times import changed_since_filter
from providers.oauth import TokenEndpoint

ACCOUNTS_PATH = "/GeneralLedger/Account"
CUSTOMERS_PATH = "/Contact/Customer"


class MyobProvider(MyobInvoicing):
    """MYOB, configured by `MyobSettings`; `transport`, `sleep` and `clock` are seams for tests (a fake's in-process
    transport, and the fake's clock for pacing and retries)."""

    name = "myob"
    title = "MYOB"
    organisation_noun = "company file"
    # MYOB documents no idle expiry for refresh tokens; assuming four weeks makes the keep-alive refresh an idle
    # connection every week, which costs one call and never loses a log-in MYOB might forget.
    refresh_token_idle_lifetime: timedelta | None = timedelta(days=28)
    page_reader = None  # its pages come read

    def __init__(
        self,
        settings: MyobSettings,
        *,
        transport: httpx2.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.time_zone)
        retry = RetryPolicy(retries=settings.retries, backoff=settings.backoff)
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "x-myobapi-key": settings.client_id or "",
            "x-myobapi-version": "v2",
        }
        translate = partial(error_from_response, daily_limit_wait=settings.daily_limit_wait)
        http = http_client(timeout=settings.timeout, transport=transport, headers=headers)
        pacer = SecondPacer(per_second=settings.per_second, clock=clock, sleep=sleep)
        self._api = AuthorisedClient(http, title=self.title, translate=translate, retry=retry, sleep=sleep, pacer=pacer)
        # Creates are never retried blindly (MYOB takes no idempotency key): `MyobInvoicing` looks first.
        once = RetryPolicy(retries=0)
        self._writes = AuthorisedClient(
            http, title=self.title, translate=translate, retry=once, sleep=sleep, pacer=pacer
        )
        self._sleep = sleep
        self._start_invoicing()
        self._tokens = TokenEndpoint(
            title=self.title,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_url=settings.token_url,
            timeout=settings.token_timeout,
            retry=retry,
            sleep=sleep,
            translate=translate,
            translate_oauth=translate_oauth_error,
            credential_names=settings.credential_names(),
            transport=transport,
            auth_method="client_secret_post",  # MYOB reads the id and secret from the form
            dead_refresh_errors=frozenset({"invalid_grant", "invalid_request"}),
        )

    def close(self) -> None:
        self._api.close()

    def account_type_label(self, account_type: str) -> str:
        return account_type_label(account_type)

    def check_credentials(self) -> None:
        self._tokens.check_credentials()

    # -- OAuth ---------------------------------------------------------------------------------

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str | None) -> str:
        """MYOB's log-in; `prompt=consent` makes MYOB ask which company file, and send its businessId back. MYOB
        takes no PKCE challenge: the client secret proves the exchange is ours."""
        return self._tokens.authorization_url(
            self.settings.authorize_url,
            state=state,
            redirect_uri=redirect_uri,
            scope=self.settings.scopes,
            code_challenge=None,
            prompt="consent",
        )

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, params: Mapping[str, str]
    ) -> Grant:
        """Trade the callback's code for tokens, keeping the company file the callback names (`businessId`,
        `businessName`): one authorisation reaches that one file."""
        tokens = self._tokens.exchange_code(code=code, redirect_uri=redirect_uri, code_verifier=None)
        extra = {key: params[key] for key in ("businessId", "businessName") if params.get(key)}
        return Grant(tokens=tokens, extra=extra)

    def refresh(self, tokens: Tokens) -> Tokens:
        """Spend the refresh token for a new pair; MYOB sends a new refresh token every time, which the keeper
        stores before the new access token is used."""
        return self._tokens.refresh(tokens)

    def organisations(self, grant: Grant) -> list[Organisation]:
        """The one company file this authorisation reached, from the callback; none when the callback named none
        (MYOB's company-file list is empty for new keys, so there is nothing else to ask)."""
        file_id = grant.extra.get("businessId")
        if not file_id:
            return []
        name = grant.extra.get("businessName") or file_id
        return [Organisation(id=file_id, name=name, just_authorised=True)]

    def disconnect(self, link: Link, *, login_shared: bool) -> None:
        """MYOB has no endpoint that removes an app's access (a file's administrator removes it in MYOB), so there
        is nothing to call: the bot forgets the tokens, and MYOB's access lapses unused."""

    # -- the company file ----------------------------------------------------------------------

    def accounts(self, link: Link) -> list[Account]:
        """The chart of accounts, every page of it; header accounts (which only group others) left out."""
        accounts: list[Account] = []
        url: str | None = self._file_url(link, ACCOUNTS_PATH)
        params: Mapping[str, str] | None = {"$top": "1000"}
        while url:
            body = self._get(url, link, params)
            accounts += [to_account(raw) for raw in _items(body, self.title) if is_postable(raw)]
            url, params = self._next_page(body, link), None
        return accounts

    def customers(
        self, link: Link, *, since: datetime | None = None, resume: Cursor | None = None, encoded: bool = False
    ) -> Iterator[Page]:
        """Every customer card (inactive ones too, so that deactivating is seen), `page_size` at a time, following
        MYOB's NextPageLink until there is none; only the cards changed since `since` when given (see
        `providers.myob.times` for how MYOB's zone-less times are read). The cursor is the next page's link.
        Pages come read (`encoded` asks for nothing here)."""
        if resume is not None and resume.value.get("next"):
            url: str | None = str(resume.value["next"])
            params: Mapping[str, str] | None = None
        else:
            url = self._file_url(link, CUSTOMERS_PATH)
            query = {"$top": str(self.settings.page_size)}
            if since is not None:
                overlap = timedelta(seconds=self.settings.sync_overlap)
                query["$filter"] = changed_since_filter(since, self.zone, overlap=overlap)
            params = query
        while url:
            body = self._get(url, link, params)
            cards = _items(body, self.title)
            customers, skipped = read_customer_cards(cards, self.zone)
            following = self._next_page(body, link)
            count = body.get("Count")
            yield Page(
                customers=customers,
                cursor=Cursor({"next": following}) if following else None,
                total=count if isinstance(count, int) and not isinstance(count, bool) else None,
                skipped=skipped,
            )
            url, params = following, None

    # -- HTTP ----------------------------------------------------------------------------------

    def _file_url(self, link: Link, path: str) -> str:
        return f"{self.settings.api_url}/{link.organisation_id}{path}"

    def _get(self, url: str, link: Link, params: Mapping[str, str] | None) -> dict[str, Any]:
        body = self._api.json("GET", url, keeper=link.tokens, organisation_id=link.organisation_id, params=params)
        if not isinstance(body, dict):
            raise Unavailable(f"{self.title} sent a page we could not read.", status=200)
        return body

    def _next_page(self, body: Mapping[str, Any], link: Link) -> str | None:
        """The NextPageLink, when there is one. Our token goes with it, so it must lead to the same company file, on
        the configured host or on one of MYOB's own (a file on a regional host may link there)."""
        following = body.get("NextPageLink")
        if not following:
            return None
        if isinstance(following, str) and following.lower().startswith(self._file_url(link, "/").lower()):
            return following
        try:
            url = httpx2.URL(following) if isinstance(following, str) else None
        except (httpx2.InvalidURL, TypeError, ValueError):
            url = None
        if (
            url is not None
            and url.scheme == "https"
            and (url.host == "myob.com" or url.host.endswith(".myob.com"))
            and f"/{link.organisation_id.lower()}/" in url.path.lower()
        ):
            return following
        raise Unavailable(f"{self.title} sent a link to the next page that leads elsewhere.", status=200)


def _items(body: Mapping[str, Any], title: str) -> list[Any]:
    items = body.get("Items")
    if not isinstance(items, list):
        raise Unavailable(f"{title} sent a page we could not read.", status=200)
    return items
