"""Xero's errors turned into our typed exceptions: one table, looked up by (HTTP status, Xero's error kind)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2

from providers.base import BadRequest, NeedsReconnect, ProviderError, RateLimited, RateLimitScope, Unavailable
from providers.xero.settings import XeroSettings


@dataclass(frozen=True)
class _Translation:
    error: type[ProviderError]
    message: str  # for a person; may use {detail} and {status}


_REFUSED = _Translation(BadRequest, "Xero refused the request: {detail}")
_UNAVAILABLE = _Translation(Unavailable, "Xero is not answering properly right now (HTTP {status}).")

ERRORS: dict[tuple[int | None, str | None], _Translation] = {
    # token endpoint (OAuth error codes; authlib does not tell the status)
    (None, "invalid_grant"): _Translation(
        NeedsReconnect,
        "Xero no longer accepts the saved log-in: it was revoked, expired, or used by another copy of this connection.",
    ),
    (None, "invalid_client"): _Translation(
        BadRequest, f"Xero did not recognise accounts-bot's client id and secret ({XeroSettings.credential_names()})."
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

# Xero's X-Rate-Limit-Problem values; anything else it may add reads as a per-minute limit.
RATE_LIMIT_SCOPES = {
    "minute": RateLimitScope.MINUTE,
    "day": RateLimitScope.DAY,
    "concurrent": RateLimitScope.CONCURRENT,
    "appminute": RateLimitScope.APP,
}


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


def translate_oauth_error(error: str, description: str | None) -> ProviderError:
    """The typed exception for an OAuth error code from Xero's token endpoint (`invalid_grant`, ...)."""
    return translate_error(None, error, description or error)


def error_from_response(response: httpx2.Response) -> ProviderError:
    """Read Xero's error body (ValidationException, problem details, OAuth error, or text)."""
    kind, detail = _error_kind_and_detail(response)
    if response.status_code == 429:
        problem = response.headers.get("X-Rate-Limit-Problem")
        scope = RATE_LIMIT_SCOPES.get((problem or "").lower(), RateLimitScope.MINUTE)
        retry_after = _seconds(response.headers.get("Retry-After"), default=60.0)
        detail = f"{problem or 'rate'} limit; retry in {retry_after:g} seconds"
        return translate_error(429, None, detail, retry_after=retry_after, scope=scope)
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
