"""MYOB's errors turned into our typed exceptions: one table, looked up by (HTTP status, the `Name` of MYOB's first
error in `{"Errors": [{Name, Message, AdditionalDetails, ErrorCode, Severity, LearnMore}]}`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2

from providers.base import BadRequest, NeedsReconnect, ProviderError, RateLimited, RateLimitScope, Unavailable
from providers.myob.settings import MyobSettings


@dataclass(frozen=True)
class _Translation:
    error: type[ProviderError]
    message: str  # for a person; may use {detail} and {status}


_REFUSED = _Translation(BadRequest, "MYOB refused the request: {detail}")
_UNAVAILABLE = _Translation(Unavailable, "MYOB is not answering properly right now (HTTP {status}).")
_DEAD_LOG_IN = _Translation(
    NeedsReconnect,
    "MYOB no longer accepts the saved log-in: it expired, was removed in MYOB, or was used by another copy of this "
    "connection.",
)

ERRORS: dict[tuple[int | None, str | None], _Translation] = {
    # token endpoint (OAuth error codes; MYOB answers a refresh token it does not know with invalid_request)
    (None, "invalid_grant"): _DEAD_LOG_IN,
    (None, "invalid_request"): _DEAD_LOG_IN,
    (None, "invalid_client"): _Translation(
        BadRequest, f"MYOB did not recognise accounts-bot's API key and secret ({MyobSettings.credential_names()})."
    ),
    (None, "unauthorized_client"): _Translation(BadRequest, "MYOB does not let accounts-bot log in this way: {detail}"),
    (None, "invalid_scope"): _Translation(BadRequest, "MYOB refused the permissions accounts-bot asks for: {detail}"),
    (None, "access_denied"): _Translation(NeedsReconnect, "The connection to MYOB was not allowed."),
    # the company file API
    (400, None): _REFUSED,
    (401, None): _Translation(NeedsReconnect, "MYOB did not accept our access, even after refreshing it."),
    (403, "DeveloperInactive"): _Translation(
        BadRequest,
        "MYOB says accounts-bot's API key is inactive, so no company file can be read: check "
        f"{MyobSettings.env_name('client_id')} and the key's status in MYOB's developer centre.",
    ),
    (403, None): _Translation(
        NeedsReconnect,
        "MYOB did not let us into the company file: only an administrator of the file can connect it, and the "
        "person who did may no longer be one ({detail}).",
    ),
    (404, None): _Translation(
        NeedsReconnect, "MYOB could not find the company file: it may have been removed, moved or replaced."
    ),
    (409, None): _Translation(BadRequest, "MYOB says the record changed since we read it: {detail}"),
    (410, None): _Translation(BadRequest, "MYOB says what we asked for was removed: {detail}"),
    (504, None): _Translation(Unavailable, "MYOB took too long to answer (HTTP 504), even after trying again."),
}

SALES_PREFIX = "/Sale/"  # what the `sme-sales` scope reaches
NO_SALES_SCOPE = (
    "MYOB did not let accounts-bot create or read invoices in this company file: it was connected before "
    "accounts-bot asked MYOB for permission to raise invoices and record payments, so the connection needs to be "
    "renewed to allow invoicing."
)
RENEW_FOR_SALES = (
    "An administrator of the company file needs to run `/accounts connect myob` again and allow invoicing when MYOB "
    "asks."
)
_T = TypeVar("_T")

RATE_LIMIT_ERROR = "RateLimitError"
PER_SECOND_WAIT = 1.0


def translate_error(status: int | None, kind: str | None, detail: str) -> ProviderError:
    """The typed exception for an error MYOB gave, with a message for a person."""
    translation = (
        ERRORS.get((status, kind))
        or ERRORS.get((None, kind))
        or ERRORS.get((status, None))
        or (_UNAVAILABLE if status is None or status >= 500 else _REFUSED)
    )
    message = translation.message.format(detail=detail or "no reason given", status=status)
    return translation.error(message, status=status, detail=detail)


def translate_oauth_error(error: str, description: str | None) -> ProviderError:
    """The typed exception for an OAuth error code from MYOB's token endpoint (`invalid_grant`, ...)."""
    return translate_error(None, error, description or error)


def error_from_response(response: httpx2.Response, *, daily_limit_wait: float = 3600.0) -> ProviderError:
    """Read MYOB's error body. Both of MYOB's caps answer 403 with a RateLimitError: the daily one says "daily" in
    its message and is waited out for hours (`daily_limit_wait` unless a Retry-After says), the per-second one for
    a second. A 429 (which MYOB is not known to send) is read the same way."""
    kind, detail = _error_kind_and_detail(response)
    status = response.status_code
    if (status == 403 and kind == RATE_LIMIT_ERROR) or status == 429:
        daily = "daily" in detail.lower()
        wait = _seconds(response.headers.get("Retry-After"), default=daily_limit_wait if daily else PER_SECOND_WAIT)
        scope = RateLimitScope.DAY if daily else RateLimitScope.SECOND
        what = "its daily limit of calls" if daily else "its limit of calls a second"
        return RateLimited(
            f"MYOB asked us to slow down ({what}; retry in {wait:g} seconds).",
            retry_after=wait,
            scope=scope,
            status=status,
            detail=detail,
        )
    return translate_error(status, kind, detail)


def _error_kind_and_detail(response: httpx2.Response) -> tuple[str | None, str]:
    try:
        body: Any = response.json()
    except ValueError:
        return None, response.text.strip()[:300]
    if not isinstance(body, dict):
        return None, str(body)[:300]
    if "error" in body:  # OAuth
        return str(body["error"]), str(body.get("error_description") or body["error"])
    errors = [e for e in body.get("Errors") or () if isinstance(e, dict)]
    if not errors:
        return None, str(body.get("Message") or "")[:300]
    first = errors[0]
    kind = str(first["Name"]) if first.get("Name") else None
    detail = "; ".join(
        " ".join(str(e[k]) for k in ("Message", "AdditionalDetails") if e.get(k)) for e in errors
    ).strip()
    return kind, detail[:300]


def _seconds(value: str | None, *, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def sales_allowed(path: str, call: Callable[[], _T]) -> _T:
    """`call()` to `path`; a 403 from a sale resource that is not about the person's rights to the file says the
    connection lacks the `sme-sales` scope (a company file connected before we asked for it): told as such, with
    what to do, instead of as an administrator's refusal."""
    try:
        return call()
    except NeedsReconnect as exc:
        about_rights = "administrator" in (exc.detail or "").lower()
        if exc.status != 403 or not path.startswith(SALES_PREFIX) or about_rights:
            raise
        renew = NeedsReconnect(NO_SALES_SCOPE, status=exc.status, detail=exc.detail)
        renew.what_to_do = RENEW_FOR_SALES
        raise renew from exc
