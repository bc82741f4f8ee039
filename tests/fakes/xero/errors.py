"""Xero's error bodies, as each of its APIs words them: problem details (the 401 of an expired token among
them), validation, query-parse and high-volume exceptions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

XERO_500_DETAIL = (
    "An error occurred in Xero. Check the API Status page http://status.developer.xero.com for current service status."
)


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }


def _validation_exception(*messages: str) -> dict[str, Any]:
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [{"ValidationErrors": [{"Message": m} for m in messages]}],
    }


def _query_parse_exception(message: str) -> dict[str, Any]:
    return {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}


def _high_volume_exception() -> dict[str, Any]:
    return {
        "ErrorNumber": 51,
        "Type": "HighVolumeException",
        "Message": (
            "This organisation has too many contacts for this filter. Filter on Name, EmailAddress or "
            "AccountNumber, or page through the contacts without a filter."
        ),
    }


def _default_error_body(status: int) -> Any:
    if status == 400:
        return _validation_exception("A validation error occurred")
    if status == 401:
        return _problem(401, "Unauthorized", "AuthenticationUnsuccessful")
    if status == 403:
        return _problem(403, "Forbidden", "AuthenticationUnsuccessful")
    if status == 404:
        return "The resource you're looking for cannot be found"
    if status == 429:
        return _problem(429, "Too Many Requests", "Rate limit exceeded")
    if status == 503:
        return _problem(503, "Service Unavailable", "The Xero API is currently offline for maintenance")
    if status >= 500:
        return _problem(status, "An error occurred", XERO_500_DETAIL)
    return _problem(status, "Error", "An error occurred")


def _body_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if isinstance(body, str | bytes):
        return PlainTextResponse(body, status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def _unauthorized(expired_at: float | None) -> Response:
    """A bearer token Xero does not know (`expired_at` None) or one that expired."""
    detail = "AuthenticationUnsuccessful"
    if expired_at is not None:
        detail = f"TokenExpired: token expired at {datetime.fromtimestamp(expired_at, UTC):%m/%d/%Y %H:%M:%S}"
    return JSONResponse(
        _problem(401, "Unauthorized", detail),
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
