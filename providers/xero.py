"""Xero behind the Provider interface: OAuth 2 with PKCE through authlib, /connections, the chart of
accounts and contacts, paced under Xero's per-minute limit, with Xero's errors translated once.

Tokens are refreshed only when the bot's token keeper calls `refresh()` (under its lock); the HTTP
clients never refresh by themselves. Nothing here logs a token.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

from providers.base import (
    Account,
    BadRequest,
    Cursor,
    Grant,
    Link,
    NeedsReconnect,
    Organisation,
    Page,
    ProviderError,
    RateLimited,
    TokenKeeper,
    Tokens,
    Unavailable,
)
from providers.xero_mappers import to_account, to_customer

log = logging.getLogger(__name__)

DEFAULT_SCOPES = "offline_access accounting.settings.read accounting.contacts.read"
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class XeroConfig:
    """Where Xero is and how to talk to it; `sleep` and `clock` are the seams pacing and retries use."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)  # None for an "Auth Code with PKCE" app
    authorize_url: str = "https://login.xero.com/identity/connect/authorize"
    token_url: str = "https://identity.xero.com/connect/token"
    revoke_url: str = "https://identity.xero.com/connect/revocation"
    connections_url: str = "https://api.xero.com/connections"
    api_url: str = "https://api.xero.com/api.xro/2.0"
    scopes: str = DEFAULT_SCOPES
    timeout: float = 30.0
    retries: int = 2  # extra attempts after a 5xx, a timeout or a connection error
    backoff: float = 0.5  # seconds before the first retry, doubling after
    page_size: int = 1000  # contacts a page; Xero's maximum
    spread_below: int = 10  # X-MinLimit-Remaining under which calls are spread out
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)


# ---------------------------------------------------------------------------------------------
# Xero's errors -> our typed exceptions: one table, looked up by (HTTP status, Xero's error kind)


@dataclass(frozen=True)
class _Translation:
    error: type[ProviderError]
    message: str  # for a person; may use {detail} and {status}


_REFUSED = _Translation(BadRequest, "Xero refused the request: {detail}")

ERRORS: dict[tuple[int | None, str | None], _Translation] = {
    # token endpoint (OAuth error codes; authlib does not tell the status)
    (None, "invalid_grant"): _Translation(
        NeedsReconnect,
        "Xero no longer accepts the saved log-in: it was revoked, expired, or used by another copy of this connection.",
    ),
    (None, "invalid_client"): _Translation(
        BadRequest, "Xero did not recognise accounts-bot's client id and secret (XERO_CLIENT_ID, XERO_CLIENT_SECRET)."
    ),
    (None, "unauthorized_client"): _Translation(BadRequest, "Xero does not let accounts-bot log in this way: {detail}"),
    (None, "invalid_scope"): _Translation(BadRequest, "Xero refused the permissions accounts-bot asks for: {detail}"),
    (None, "access_denied"): _Translation(NeedsReconnect, "The connection to Xero was not allowed."),
    # Accounting API and /connections
    (400, "ValidationException"): _REFUSED,
    (400, "QueryParseException"): _REFUSED,
    (400, "HighVolumeException"): _REFUSED,
    (400, None): _REFUSED,
    (401, None): _Translation(NeedsReconnect, "Xero did not accept our access, even after refreshing it."),
    (403, None): _Translation(NeedsReconnect, "Xero says the organisation is no longer connected to accounts-bot."),
    (404, None): _Translation(BadRequest, "Xero could not find what we asked for: {detail}"),
    (429, None): _Translation(RateLimited, "Xero asked us to slow down ({detail})."),
}
_UNAVAILABLE = _Translation(Unavailable, "Xero is not answering properly right now (HTTP {status}).")


def translate_error(status: int | None, kind: str | None, detail: str, **extra: Any) -> ProviderError:
    """The typed exception for an error Xero gave, with a message for a person."""
    translation = (
        ERRORS.get((status, kind))
        or ERRORS.get((None, kind))
        or ERRORS.get((status, None))
        or (_UNAVAILABLE if status is None or status >= 500 else _REFUSED)
    )
    message = translation.message.format(detail=detail or "no reason given", status=status)
    if translation.error is RateLimited:
        return RateLimited(message, status=status, detail=detail, **extra)
    return translation.error(message, status=status, detail=detail)


def error_from_response(response: httpx2.Response) -> ProviderError:
    """Read Xero's error body (ValidationException, problem details, OAuth error, or text)."""
    kind, detail = _error_kind_and_detail(response)
    if response.status_code == 429:
        problem = response.headers.get("X-Rate-Limit-Problem")
        retry_after = _seconds(response.headers.get("Retry-After"), default=60.0)
        detail = f"{problem or 'rate'} limit; retry in {retry_after:g} seconds"
        return translate_error(429, None, detail, retry_after=retry_after, problem=problem)
    return translate_error(response.status_code, kind, detail)


def _error_kind_and_detail(response: httpx2.Response) -> tuple[str | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.text.strip()[:300]
    if not isinstance(body, dict):
        return None, str(body)[:300]
    if "error" in body:  # OAuth
        return str(body["error"]), str(body.get("error_description") or body["error"])
    messages = [
        str(error["Message"])
        for element in body.get("Elements") or ()
        for error in element.get("ValidationErrors") or ()
        if error.get("Message")
    ]
    detail = "; ".join(messages) or body.get("Message") or body.get("Detail") or body.get("Title") or ""
    return body.get("Type"), str(detail)


def _seconds(value: str | None, *, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


# ---------------------------------------------------------------------------------------------
# Pacing under the per-minute limit


@dataclass
class _Window:
    sent: deque[float] = field(default_factory=deque)  # our calls in the last minute
    remaining: int | None = None  # X-MinLimit-Remaining, as of `observed_at`
    observed_at: float = 0.0


class MinutePacer:
    """Keeps each organisation under Xero's 60 calls a rolling minute from `X-MinLimit-Remaining`.

    While plenty remain, calls go at full speed. Below `spread_below`, each call waits its share of the
    time until our oldest call leaves the window, so the last few are spread out rather than spent at
    once; at zero it waits for that slot. Calls made by others are seen only through the header.
    """

    window = 60.0
    margin = 1.0  # seconds of slack for the difference between our clock and Xero's

    def __init__(self, *, clock: Callable[[], float], sleep: Callable[[float], None], spread_below: int) -> None:
        self._clock, self._sleep, self._spread_below = clock, sleep, spread_below
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def wait(self, organisation_id: str) -> None:
        with self._lock:
            delay = self._delay(self._windows.setdefault(organisation_id, _Window()), self._clock())
        if delay > 0:
            log.info("pacing Xero calls: waiting %.1fs to stay under the minute limit", delay)
            self._sleep(delay)
        with self._lock:
            self._windows[organisation_id].sent.append(self._clock())

    def observe(self, organisation_id: str, headers: Mapping[str, str]) -> None:
        remaining = headers.get("X-MinLimit-Remaining")
        if remaining is None or not remaining.strip().lstrip("-").isdigit():
            return
        with self._lock:
            state, now = self._windows.setdefault(organisation_id, _Window()), self._clock()
            while state.sent and state.sent[0] <= now - self.window:
                state.sent.popleft()
            state.remaining, state.observed_at = int(remaining), now

    def _delay(self, state: _Window, now: float) -> float:
        if state.remaining is None:
            return 0.0
        freed = sum(1 for t in state.sent if t <= now - self.window)
        unseen = sum(1 for t in state.sent if t > state.observed_at)  # sent after the header we hold
        budget = state.remaining + freed - unseen
        if budget > self._spread_below:
            return 0.0
        still_counted = [t for t in state.sent if t > now - self.window]
        if not still_counted:
            return 0.0  # the budget went to someone else's calls: nothing of ours will free it
        until_free = still_counted[0] + self.window + self.margin - now
        return max(0.0, until_free / max(budget, 1))


# ---------------------------------------------------------------------------------------------
# The provider


class _FixedToken:
    """A TokenKeeper for a token that cannot be refreshed here (a fresh grant's, before any Link)."""

    def __init__(self, access_token: str) -> None:
        self._access_token = access_token

    def access_token(self) -> str:
        return self._access_token

    def refreshed_access_token(self, rejected: str) -> str:
        raise translate_error(401, None, "the access token of a fresh log-in was refused")


class XeroProvider:
    name = "xero"
    title = "Xero"

    def __init__(self, config: XeroConfig) -> None:
        self.config = config
        self._http = httpx2.Client(timeout=config.timeout, headers={"Accept": "application/json"})
        self._pacer = MinutePacer(clock=config.clock, sleep=config.sleep, spread_below=config.spread_below)

    def close(self) -> None:
        self._http.close()

    # -- OAuth ---------------------------------------------------------------------------------

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str | None) -> str:
        extra = {"code_challenge": code_challenge, "code_challenge_method": "S256"} if code_challenge else {}
        with self._oauth() as oauth:
            url, _ = oauth.create_authorization_url(
                self.config.authorize_url, state=state, redirect_uri=redirect_uri, scope=self.config.scopes, **extra
            )
        return str(url)

    def exchange_code(
        self, *, code: str, redirect_uri: str, code_verifier: str | None, params: Mapping[str, str]
    ) -> Grant:
        """Trade the callback's code (and PKCE verifier) for tokens. A code is single use, so only a
        request that never reached Xero is retried. `params` adds nothing for Xero."""
        extra = {"code_verifier": code_verifier} if code_verifier else {}
        token = self._token_call(
            lambda oauth: oauth.fetch_token(
                self.config.token_url, grant_type="authorization_code", code=code, redirect_uri=redirect_uri, **extra
            ),
            retry_on=(httpx2.ConnectError,),
        )
        tokens = _tokens(token)
        claims = jwt_claims(tokens.access_token)
        grant_extra = {
            key: str(claims[claim])
            for key, claim in (("auth_event_id", "authentication_event_id"), ("xero_user_id", "xero_userid"))
            if claims.get(claim)
        }
        return Grant(tokens=tokens, extra=grant_extra)

    def refresh(self, tokens: Tokens) -> Tokens:
        """Spend the refresh token for a new pair. Retrying after a lost answer is safe: for 30
        minutes Xero answers the spent token with the same new pair."""
        if not tokens.refresh_token:
            raise NeedsReconnect("Xero gave no refresh token (the offline_access permission is missing).")
        refresh_token = tokens.refresh_token
        token = self._token_call(
            lambda oauth: oauth.refresh_token(self.config.token_url, refresh_token=refresh_token),
            retry_on=(httpx2.TransportError,),
            retry_statuses=RETRYABLE_STATUSES,
        )
        return _tokens(token, previous=tokens)

    def organisations(self, grant: Grant) -> list[Organisation]:
        """Every organisation the log-in reaches, those of this authorisation first (Xero's
        authEventId), so the bot never silently connects "the first tenant"."""
        keeper = _FixedToken(grant.tokens.access_token)
        rows = self._json("GET", self.config.connections_url, keeper=keeper, tenant_id=None)
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

    def disconnect(self, link: Link, *, revoke_refresh_token: str | None = None) -> None:
        """Delete our connection to the organisation; revoke the refresh token too when given. Revoking
        removes every connection made with that log-in, so pass it only when no other link shares it."""
        connection_id = link.connection_id or self._connection_id(link)
        if connection_id:
            url = f"{self.config.connections_url}/{connection_id}"
            self._send("DELETE", url, keeper=link.tokens, tenant_id=None, allow=frozenset({404}))
        if revoke_refresh_token:
            self._revoke(revoke_refresh_token)

    # -- Accounting API ------------------------------------------------------------------------

    def accounts(self, link: Link) -> list[Account]:
        body = self._json("GET", f"{self.config.api_url}/Accounts", keeper=link.tokens, tenant_id=link.organisation_id)
        return [to_account(raw) for raw in body.get("Accounts") or ()]

    def customers(self, link: Link, *, since: datetime | None = None, resume: Cursor | None = None) -> Iterator[Page]:
        """Every contact, a page of `page_size` at a time, archived ones included so archiving is
        seen. No `where`: large organisations refuse most filters (HighVolumeException), so the
        bot decides what counts as a customer from `is_customer` and `active`. The cursor names the page
        size too: a run resumed after the setting changed keeps the size it started with, so its pages line up."""
        page = int(resume.value.get("page", 1)) if resume else 1
        size = int(resume.value.get("pageSize") or self.config.page_size) if resume else self.config.page_size
        headers = {}
        if since is not None:
            moment = since if since.tzinfo else since.replace(tzinfo=UTC)
            headers["If-Modified-Since"] = moment.astimezone(UTC).isoformat(timespec="milliseconds")
        while True:
            params = {"page": str(page), "pageSize": str(size), "includeArchived": "true"}
            body = self._json(
                "GET",
                f"{self.config.api_url}/Contacts",
                keeper=link.tokens,
                tenant_id=link.organisation_id,
                params=params,
                headers=headers,
            )
            contacts = body.get("Contacts") or []
            pagination = body.get("pagination") or {}
            page_count = pagination.get("pageCount")
            last = page >= page_count if isinstance(page_count, int) else len(contacts) < size
            total = pagination.get("itemCount")
            customers = [to_customer(raw) for raw in contacts]
            del body, contacts  # Xero's page, several times the size of what we keep, is not held while we wait
            yield Page(
                customers=customers,
                cursor=None if last else Cursor({"page": page + 1, "pageSize": size}),
                total=total if isinstance(total, int) else None,
            )
            del customers
            if last:
                return
            page += 1

    # -- HTTP ----------------------------------------------------------------------------------

    def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self._send(method, url, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise Unavailable("Xero answered with something we could not read.", status=response.status_code) from None

    def _send(
        self,
        method: str,
        url: str,
        *,
        keeper: TokenKeeper,
        tenant_id: str | None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        allow: frozenset[int] = frozenset(),
    ) -> httpx2.Response:
        """One call with the bearer token, paced per organisation; refresh once on 401, retry 5xx and
        network failures a couple of times, translate anything else."""
        token = keeper.access_token()
        refreshed, attempt = False, 0
        while True:
            request_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            if tenant_id:
                request_headers["xero-tenant-id"] = tenant_id
                self._pacer.wait(tenant_id)
            try:
                response = self._http.request(method, url, params=params, headers=request_headers)
            except httpx2.TransportError as exc:
                if attempt < self.config.retries:
                    attempt += 1
                    self._back_off(attempt, f"{type(exc).__name__} from {method} {_path(url)}")
                    continue
                raise Unavailable(f"Xero did not answer ({type(exc).__name__}).", detail=str(exc)) from exc
            if tenant_id:
                self._pacer.observe(tenant_id, response.headers)
            log.debug("Xero %s %s -> %s", method, _path(url), response.status_code)
            if response.is_success or response.status_code in allow:
                return response
            if response.status_code == 401 and not refreshed:
                token, refreshed = keeper.refreshed_access_token(token), True
                continue
            if response.status_code in RETRYABLE_STATUSES and attempt < self.config.retries:
                attempt += 1
                self._back_off(attempt, f"HTTP {response.status_code} from {method} {_path(url)}")
                continue
            raise error_from_response(response)

    def _back_off(self, attempt: int, reason: str) -> None:
        delay = self.config.backoff * 2 ** (attempt - 1)
        log.info("Xero: %s; retrying in %.1fs", reason, delay)
        self.config.sleep(delay)

    def _connection_id(self, link: Link) -> str | None:
        rows = self._json("GET", self.config.connections_url, keeper=link.tokens, tenant_id=None)
        return next((str(r["id"]) for r in rows if r.get("tenantId") == link.organisation_id), None)

    def _revoke(self, refresh_token: str) -> None:
        with self._oauth() as oauth:
            try:
                response = oauth.revoke_token(
                    self.config.revoke_url, token=refresh_token, token_type_hint="refresh_token"
                )
            except httpx2.TransportError as exc:
                raise Unavailable("Xero's log-in service did not answer.", detail=str(exc)) from exc
        if response.is_success:
            return
        error = error_from_response(response)
        if not isinstance(error, NeedsReconnect):  # an already dead token is as good as revoked
            raise error

    @contextmanager
    def _oauth(self) -> Iterator[OAuth2Client]:
        """A short-lived authlib client: no token endpoint metadata and no update_token callback,
        so it never refreshes by itself, and no token state shared between threads."""
        client = OAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            code_challenge_method="S256",
            timeout=self.config.timeout,
        )
        try:
            yield client
        finally:
            client.close()

    def _token_call(
        self,
        call: Callable[[OAuth2Client], Mapping[str, Any]],
        *,
        retry_on: tuple[type[Exception], ...],
        retry_statuses: frozenset[int] = frozenset(),
    ) -> Mapping[str, Any]:
        attempt = 0
        while True:
            try:
                with self._oauth() as oauth:
                    return call(oauth)
            except OAuthError as exc:
                raise translate_error(None, exc.error, exc.description or exc.error) from None
            except httpx2.HTTPStatusError as exc:  # authlib raises these for 5xx and non-JSON answers
                status = exc.response.status_code
                if status in retry_statuses and attempt < self.config.retries:
                    attempt += 1
                    self._back_off(attempt, f"HTTP {status} from the token endpoint")
                    continue
                raise error_from_response(exc.response) from None
            except retry_on as exc:
                if attempt < self.config.retries:
                    attempt += 1
                    self._back_off(attempt, f"{type(exc).__name__} from the token endpoint")
                    continue
                raise Unavailable("Xero's log-in service did not answer.", detail=type(exc).__name__) from None
            except httpx2.TransportError as exc:
                raise Unavailable("Xero's log-in service did not answer.", detail=type(exc).__name__) from None
            except ValueError as exc:  # authlib: the answer was not a JSON object
                raise Unavailable("Xero's log-in service answered with something we could not read.") from exc


def _tokens(token: Mapping[str, Any], previous: Tokens | None = None) -> Tokens:
    expires_in = token.get("expires_in")
    expires_at = datetime.now(UTC) + timedelta(seconds=float(expires_in)) if expires_in is not None else None
    return Tokens(
        access_token=str(token["access_token"]),
        refresh_token=token.get("refresh_token") or (previous.refresh_token if previous else None),
        expires_at=expires_at,
        scope=token.get("scope") or (previous.scope if previous else None),
    )


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without verifying it: only to learn what Xero put in our own token
    (`authentication_event_id`, `xero_userid`). Empty when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _path(url: str) -> str:
    return httpx2.URL(url).path
