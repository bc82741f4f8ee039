"""QuickBooks Online's errors turned into our typed exceptions: one table, looked up by Intuit's error code (or
OAuth error), then by HTTP status.

Intuit words an error several ways, all read here: a `Fault` body (`{"Fault": {"Error": [{Message, Detail, code}],
type}}`), also inside an HTTP 200; the lower-case `fault` envelope of 401 and 403 answers; XML (`<Fault>`) even
when JSON was asked for, notably for throttling (code 3001); and RFC 6749's `{"error": ...}` at the token endpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import httpx2

from providers.base import BadRequest, NeedsReconnect, ProviderError, RateLimited, RateLimitScope, Unavailable
from providers.json_bodies import read_json
from providers.quickbooks.settings import QuickBooksSettings

# What QuickBooks asks us to wait when it says "slow down" without a Retry-After: its limits are per minute.
DEFAULT_WAIT = 60.0
_XML_LIMIT = 64 * 1024  # an error body longer than this is not read as XML


@dataclass(frozen=True)
class Fault:
    """One error of a QuickBooks fault, as Intuit words it."""

    code: str | None
    type: str | None
    message: str
    detail: str


@dataclass(frozen=True)
class _Translation:
    error: type[ProviderError]
    message: str  # for a person; may use {detail} and {status}


_REFUSED = _Translation(BadRequest, "QuickBooks refused the request: {detail}")
_UNAVAILABLE = _Translation(Unavailable, "QuickBooks is not answering properly right now (HTTP {status}).")
_SLOW_DOWN = _Translation(RateLimited, "QuickBooks asked us to slow down ({detail}).")

# Keyed by Intuit's error code or OAuth error, with the HTTP status where it matters (None: any status).
ERRORS: dict[tuple[int | None, str | None], _Translation] = {
    # token endpoint (OAuth error codes)
    (None, "invalid_grant"): _Translation(
        NeedsReconnect,
        "QuickBooks no longer accepts the saved log-in: it was revoked, expired, or replaced by a newer one.",
    ),
    (None, "invalid_client"): _Translation(
        BadRequest,
        f"QuickBooks did not recognise accounts-bot's client id and secret ({QuickBooksSettings.credential_names()}).",
    ),
    (None, "unauthorized_client"): _Translation(
        BadRequest, "QuickBooks does not let accounts-bot log in this way: {detail}"
    ),
    (None, "invalid_scope"): _Translation(
        BadRequest, "QuickBooks refused the permissions accounts-bot asks for: {detail}"
    ),
    (None, "access_denied"): _Translation(NeedsReconnect, "The connection to QuickBooks was not allowed."),
    # Accounting API: Intuit's error codes
    (None, "3200"): _Translation(NeedsReconnect, "QuickBooks did not accept our access, even after refreshing it."),
    (None, "3100"): _Translation(
        NeedsReconnect,
        "QuickBooks says the company is no longer connected to accounts-bot, or the log-in lost its rights.",
    ),
    (None, "3001"): _SLOW_DOWN,
    (None, "6240"): _Translation(BadRequest, "QuickBooks refused the request: that name is already used ({detail})."),
    (None, "610"): _Translation(BadRequest, "QuickBooks could not find what we asked for: {detail}"),
    (None, "4000"): _REFUSED,
    (None, "4001"): _REFUSED,
    (None, "10000"): _Translation(Unavailable, "QuickBooks had a problem of its own answering us ({detail})."),
    # by HTTP status alone
    (400, None): _REFUSED,
    (401, None): _Translation(NeedsReconnect, "QuickBooks did not accept our access, even after refreshing it."),
    (403, None): _Translation(NeedsReconnect, "QuickBooks says the company is no longer connected to accounts-bot."),
    (404, None): _Translation(BadRequest, "QuickBooks could not find what we asked for: {detail}"),
    (429, None): _SLOW_DOWN,
}


def translate_error(status: int | None, kind: str | None, detail: str, **extra: Any) -> ProviderError:
    """The typed exception for an error QuickBooks gave (`kind`: Intuit's code or an OAuth error)."""
    translation = (
        ERRORS.get((status, kind))
        or ERRORS.get((None, kind))
        or ERRORS.get((status, None))
        or (_UNAVAILABLE if status is None or status >= 500 else _REFUSED)
    )
    message = translation.message.format(detail=detail or "no reason given", status=status)
    if translation.error is RateLimited:
        extra.setdefault("retry_after", DEFAULT_WAIT)
        extra.setdefault("scope", RateLimitScope.MINUTE)
        return RateLimited(message, status=status, detail=detail, **extra)
    return translation.error(message, status=status, detail=detail)


def translate_oauth_error(error: str, description: str | None) -> ProviderError:
    """The typed exception for an OAuth error code from Intuit's token endpoint (`invalid_grant`, ...)."""
    return translate_error(None, error, description or error)


def error_from_response(response: httpx2.Response) -> ProviderError:
    """Read an error answer of QuickBooks or its token endpoint, whatever its form."""
    body = response.content
    fault = read_fault(body)
    if fault is not None:
        return error_from_fault(fault, status=response.status_code, headers=response.headers)
    oauth = _oauth_error(body)
    if oauth is not None:
        return translate_error(response.status_code, oauth[0], oauth[1])
    if response.status_code == 429:
        return _throttled(None, response.status_code, response.headers)
    return translate_error(response.status_code, None, response.text.strip()[:300])


def error_from_fault(fault: Fault, *, status: int, headers: httpx2.Headers | None = None) -> ProviderError:
    """The typed exception for a fault QuickBooks sent with `status` (a 200 too)."""
    if fault.code == "3001" or status == 429:
        return _throttled(fault, status, headers)
    detail = fault.detail or fault.message
    if status >= 500:
        return translate_error(status, None, detail)
    return translate_error(status if status != 200 else None, fault.code, detail)


def read_fault(body: bytes) -> Fault | None:
    """The first error of a QuickBooks fault in `body` (JSON `Fault` or `fault`, or XML), or None if it holds none."""
    text = body.lstrip()
    if text.startswith(b"<"):
        return _xml_fault(text)
    try:
        answer = read_json(body)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    envelope = answer.get("Fault") or answer.get("fault")
    if not isinstance(envelope, dict):
        return None
    errors = envelope.get("Error") or envelope.get("error") or []
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = _text(first.get("Message") or first.get("message"))
    return Fault(
        code=_code(first.get("code"), message),
        type=_text(envelope.get("type")) or None,
        message=message,
        detail=_text(first.get("Detail") or first.get("detail")),
    )


def _xml_fault(body: bytes) -> Fault | None:
    if len(body) > _XML_LIMIT or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None  # no entity expansion, however the parser is built
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    fault = root if _local(root.tag) == "Fault" else next((e for e in root.iter() if _local(e.tag) == "Fault"), None)
    if fault is None:
        return None
    error = next((e for e in fault if _local(e.tag) == "Error"), None)
    parts = {_local(e.tag): (e.text or "").strip() for e in (error if error is not None else ())}
    message = parts.get("Message", "")
    code = error.get("code") if error is not None else None
    return Fault(code=_code(code, message), type=fault.get("type"), message=message, detail=parts.get("Detail", ""))


def _throttled(fault: Fault | None, status: int, headers: httpx2.Headers | None) -> ProviderError:
    wait = _seconds(headers.get("Retry-After") if headers is not None else None, default=DEFAULT_WAIT)
    words = f"{fault.detail} {fault.message}".lower() if fault else ""
    scope = RateLimitScope.CONCURRENT if "concurren" in words else RateLimitScope.MINUTE
    limit = "too many calls at once" if scope is RateLimitScope.CONCURRENT else "its per-minute limit"
    return translate_error(429, "3001", f"{limit}; retry in {wait:g} seconds", retry_after=wait, scope=scope)


def _oauth_error(body: bytes) -> tuple[str, str] | None:
    try:
        answer = read_json(body)
    except ValueError:
        return None
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        return answer["error"], str(answer.get("error_description") or answer["error"])
    return None


_ERROR_CODE = re.compile(r"errorCode=0*(\d+)")


def _code(code: Any, message: str) -> str | None:
    """Intuit's error code: the `code` field, or the `errorCode=003200` inside the message."""
    if isinstance(code, str | int) and not isinstance(code, bool) and str(code).strip():
        return str(code).strip().lstrip("0") or "0"
    found = _ERROR_CODE.search(message)
    return found.group(1) if found else None


def _text(value: Any) -> str:
    return str(value).strip()[:300] if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _seconds(value: str | None, *, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default
