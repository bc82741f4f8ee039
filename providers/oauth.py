"""A package's OAuth 2 token endpoint through authlib, written once: the authorisation URL, the code exchange,
refresh, revocation and the credentials check, with a short timeout and the package's errors translated.

authlib's client is made per call with no token state and no `update_token`, so it never refreshes by
itself: only the bot's token keeper refreshes, under its lock. Nothing here logs a token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.client import DEFAULT_HEADERS

from providers.base import BadRequest, NeedsReconnect, ProviderError, Tokens, Unavailable
from providers.http import RETRYABLE_STATUSES, BorrowedTransport, RetryPolicy, Transient, tls_context

# A refresh token no package ever issued: `check_credentials` sends it to learn whether the client is known.
MADE_UP_REFRESH_TOKEN = "accounts-bot-doctor-check-not-a-real-token"


class TokenEndpoint:
    """One package's authorisation server, as our OAuth client `client_id` sees it."""

    def __init__(
        self,
        *,
        title: str,
        client_id: str | None,
        client_secret: str | None,
        token_url: str,
        revoke_url: str | None = None,
        timeout: float,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        translate: Callable[[httpx2.Response], ProviderError],
        translate_oauth: Callable[[str, str | None], ProviderError],
        credential_names: str,
        transport: httpx2.BaseTransport | None = None,
        expiry_fields: Mapping[str, str] | None = None,
        token_headers: Mapping[str, str] | None = None,
        auth_method: str | None = None,
        dead_refresh_errors: frozenset[str] = frozenset({"invalid_grant"}),
    ) -> None:
        """`expiry_fields` names the answer's fields of seconds left that the package adds, by the `Tokens`
        attribute they fill (`{"refresh_expires_at": "x_refresh_token_expires_in"}`); `token_headers` are sent with
        each code exchange and refresh. `auth_method`: how the client proves itself (None: HTTP Basic with a
        secret, nothing more without one; `client_secret_post` for a package that wants the id and secret in the
        form). `dead_refresh_errors`: the OAuth errors with which the package refuses a refresh token it does not
        know (`check_credentials` takes them as "client accepted")."""
        self.title, self.token_url, self.revoke_url = title, token_url, revoke_url
        self._client_id, self._client_secret = client_id, client_secret
        self._timeout, self._retry, self._sleep, self._transport = timeout, retry, sleep, transport
        self._translate, self._translate_oauth = translate, translate_oauth
        self._credential_names = credential_names
        self._expiry_fields = dict(expiry_fields or {})
        self._headers = {**DEFAULT_HEADERS, **token_headers} if token_headers else None
        self._auth_method, self._dead_refresh_errors = auth_method, dead_refresh_errors

    def authorization_url(
        self,
        authorize_url: str,
        *,
        state: str,
        redirect_uri: str,
        scope: str,
        code_challenge: str | None,
        **params: str,
    ) -> str:
        """Where to send a person to log in, with PKCE's S256 challenge when given and the package's own `params`
        (MYOB's `prompt=consent`)."""
        extra = {"code_challenge": code_challenge, "code_challenge_method": "S256"} if code_challenge else {}
        extra |= params
        with self._oauth() as oauth:
            url, _ = oauth.create_authorization_url(
                authorize_url, state=state, redirect_uri=redirect_uri, scope=scope, **extra
            )
        return str(url)

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None) -> Tokens:
        """Trade a callback's code for tokens. A code is single use, so only a request that never reached the
        package (a connection error) is retried."""
        extra = {"code_verifier": code_verifier} if code_verifier else {}
        token = self._call(
            lambda oauth: oauth.fetch_token(
                self.token_url,
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                headers=self._headers,
                **extra,
            ),
            retry_on=(httpx2.ConnectError,),
        )
        return tokens_from(token, expiry_fields=self._expiry_fields)

    def refresh(self, tokens: Tokens) -> Tokens:
        """Spend the refresh token for a new pair; network failures and 5xx are retried (packages answer a
        replayed refresh token with the same new pair for a while, so a lost answer costs nothing)."""
        if not tokens.refresh_token:
            raise NeedsReconnect(f"{self.title} gave no refresh token (the offline_access permission is missing).")
        refresh_token = tokens.refresh_token
        token = self._call(
            lambda oauth: oauth.refresh_token(self.token_url, refresh_token=refresh_token, headers=self._headers),
            retry_on=(httpx2.TransportError,),
            retry_statuses=RETRYABLE_STATUSES,
        )
        return tokens_from(token, previous=tokens, expiry_fields=self._expiry_fields)

    def revoke(self, token: str, *, hint: str = "refresh_token") -> None:
        """Revoke `token`; one the package already forgot counts as revoked."""
        assert self.revoke_url, f"{self.title} has no revocation endpoint"
        with self._oauth() as oauth:
            try:
                response = oauth.revoke_token(self.revoke_url, token=token, token_type_hint=hint)
            except httpx2.TransportError as exc:
                raise Unavailable(f"{self.title}'s log-in service did not answer.", detail=str(exc)) from exc
        if response.is_success:
            return
        error = self._translate(response)
        if not isinstance(error, NeedsReconnect):
            raise error

    def check_credentials(self) -> None:
        """Offer a made-up refresh token: `invalid_grant` (or the package's own word for a dead refresh token) means
        the client id and secret were accepted."""
        with self._oauth() as oauth:
            try:
                oauth.refresh_token(self.token_url, refresh_token=MADE_UP_REFRESH_TOKEN)
            except OAuthError as exc:
                if exc.error in self._dead_refresh_errors:
                    return
                if exc.error == "invalid_client":
                    raise self._unknown_client() from None
                raise self._translate_oauth(exc.error, exc.description) from None
            except httpx2.HTTPStatusError as exc:
                if exc.response.status_code == 401:
                    raise self._unknown_client() from None
                raise self._translate(exc.response) from None
            except httpx2.TransportError as exc:
                name = type(exc).__name__
                raise Unavailable(f"{self.title}'s log-in service did not answer ({name}).") from None
            except ValueError:
                raise Unavailable(f"{self.title}'s log-in service answered with something we could not read.") from None

    def _unknown_client(self) -> BadRequest:
        return BadRequest(
            f"{self.title} did not recognise accounts-bot's client id and secret: check {self._credential_names}.",
            status=401,
        )

    @contextmanager
    def _oauth(self) -> Iterator[OAuth2Client]:
        """A short-lived authlib client: no token endpoint metadata and no update_token callback, so it never
        refreshes by itself, and no token state shared between threads."""
        client = OAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret,
            code_challenge_method="S256",
            token_endpoint_auth_method=self._auth_method,
            timeout=self._timeout,
            transport=BorrowedTransport(self._transport) if self._transport is not None else None,
            verify=tls_context(),
        )
        try:
            yield client
        finally:
            client.close()

    def _call(
        self,
        call: Callable[[OAuth2Client], Mapping[str, Any]],
        *,
        retry_on: tuple[type[Exception], ...],
        retry_statuses: frozenset[int] = frozenset(),
    ) -> Mapping[str, Any]:
        try:
            for attempt in self._retry.retrying(sleep=self._sleep, on=Transient):
                with attempt:
                    return self._once(call, retry_on=retry_on, retry_statuses=retry_statuses)
        except Transient as exc:
            if exc.response is not None:
                raise self._translate(exc.response) from None
            name = type(exc.error).__name__
            raise Unavailable(f"{self.title}'s log-in service did not answer ({name}).", detail=name) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _once(
        self,
        call: Callable[[OAuth2Client], Mapping[str, Any]],
        *,
        retry_on: tuple[type[Exception], ...],
        retry_statuses: frozenset[int],
    ) -> Mapping[str, Any]:
        try:
            with self._oauth() as oauth:
                return call(oauth)
        except OAuthError as exc:
            raise self._translate_oauth(exc.error, exc.description) from None
        except httpx2.HTTPStatusError as exc:  # authlib raises these for 5xx and non-JSON answers
            if exc.response.status_code in retry_statuses:
                reason = f"HTTP {exc.response.status_code} from the token endpoint"
                raise Transient(reason, response=exc.response) from None
            raise self._translate(exc.response) from None
        except retry_on as exc:
            raise Transient(f"{type(exc).__name__} from the token endpoint", error=exc) from exc
        except httpx2.TransportError as exc:
            name = type(exc).__name__
            raise Unavailable(f"{self.title}'s log-in service did not answer ({name}).", detail=name) from None
        except ValueError as exc:  # authlib: the answer was not a JSON object
            raise Unavailable(f"{self.title}'s log-in service answered with something we could not read.") from exc


def tokens_from(
    token: Mapping[str, Any], previous: Tokens | None = None, *, expiry_fields: Mapping[str, str] | None = None
) -> Tokens:
    """Our Tokens from a token endpoint's answer, keeping what a refresh answer leaves out; `expiry_fields` says
    which of its fields of seconds left fill which expiry of the refresh token."""
    now = datetime.now(UTC)
    expires_in = token.get("expires_in")
    expires_at = now + timedelta(seconds=float(expires_in)) if expires_in is not None else None
    expiries: dict[str, datetime | None] = {}
    for attribute, name in (expiry_fields or {}).items():
        seconds = _seconds(token.get(name))
        kept = getattr(previous, attribute, None) if previous else None
        expiries[attribute] = now + timedelta(seconds=seconds) if seconds is not None else kept
    return Tokens(
        access_token=str(token["access_token"]),
        refresh_token=token.get("refresh_token") or (previous.refresh_token if previous else None),
        expires_at=expires_at,
        scope=token.get("scope") or (previous.scope if previous else None),
        **expiries,
    )


def _seconds(value: Any) -> float | None:
    """Seconds from a token answer's field (a number, or a number written as text); None for anything else."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if 0 <= seconds < 1e10 else None
