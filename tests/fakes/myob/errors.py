"""MYOB's error bodies: `{"Errors": [{Name, Message, AdditionalDetails, ErrorCode, Severity, LearnMore}]}`."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response


def myob_errors(name: str, message: str, *, details: str | None = None, code: int = 0) -> dict[str, Any]:
    return {
        "Errors": [
            {
                "Name": name,
                "Message": message,
                "AdditionalDetails": details,
                "ErrorCode": code,
                "Severity": "Error",
                "LearnMore": None,
            }
        ],
        "Information": None,
    }


PER_SECOND_MESSAGE = "API key has exceeded the per-second rate limit"
DAILY_MESSAGE = "API key has exceeded the daily rate limit"


def rate_limit_error(*, daily: bool) -> dict[str, Any]:
    return myob_errors("RateLimitError", DAILY_MESSAGE if daily else PER_SECOND_MESSAGE, code=429)


def developer_inactive() -> dict[str, Any]:
    return myob_errors("DeveloperInactive", "The API key is inactive or unknown", details="x-myobapi-key")


def access_denied() -> dict[str, Any]:
    return myob_errors(
        "AccessDenied",
        "Access denied",
        details="The user is not an administrator of this company file",
        code=1,
    )


def token_invalid(*, expired: bool) -> dict[str, Any]:
    message = "The supplied OAuth token (Bearer) has expired" if expired else "The supplied OAuth token is not valid"
    return myob_errors("OAuthTokenIsInvalid", message, details="Header: Authorization", code=31001)


def not_found() -> dict[str, Any]:
    return myob_errors("NotFound", "The company file could not be found", code=404)


def query_invalid(message: str) -> dict[str, Any]:
    return myob_errors("InvalidQuery", message, details="OData query", code=1000)


def default_error_body(status: int) -> Any:
    if status == 400:
        return myob_errors("ValidationError", "The request is invalid")
    if status == 401:
        return token_invalid(expired=False)
    if status == 403:
        return access_denied()
    if status == 404:
        return not_found()
    if status == 504:
        return "<html><body><h1>504 Gateway Time-out</h1>The server didn't respond in time.</body></html>"
    if status >= 500:
        return myob_errors("InternalError", "An unexpected error occurred", code=500)
    return myob_errors("Error", "An error occurred")


def body_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    if isinstance(body, str | bytes):
        return PlainTextResponse(body, status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)
