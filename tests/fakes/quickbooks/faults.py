"""The bodies QuickBooks answers errors with: `Fault` (also inside an HTTP 200), the lower-case `fault` envelope
of 401 and 403, XML faults (throttling sometimes comes as XML even when JSON was asked for), and Intuit's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from starlette.responses import JSONResponse, Response

PACIFIC = timezone(timedelta(hours=-8))  # Intuit writes times in its own zone


def intuit_time(epoch: float) -> str:
    """`2026-01-01T16:00:00.000-08:00`, as Intuit's `time` and MetaData are written."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(PACIFIC).isoformat(timespec="milliseconds")


def fault(
    code: str, message: str, detail: str, *, fault_type: str, now: float, element: str | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"Message": message, "Detail": detail, "code": code}
    if element:
        error["element"] = element
    return {"Fault": {"Error": [error], "type": fault_type}, "time": intuit_time(now)}


def lower_case_fault(status: int, now: float) -> dict[str, Any]:
    """The envelope of 401 (AuthenticationFailed, 3200) and 403 (AuthorizationFailed, 3100) answers."""
    if status == 401:
        code, name, kind, detail = "3200", "AuthenticationFailed", "AUTHENTICATION", "Token expired or invalid"
    else:
        code, name, kind, detail = "3100", "AuthorizationFailed", "SERVICE", "The app is not connected to this company"
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": f"message={name}; errorCode={int(code):06d}; statusCode={status}",
                    "detail": detail,
                    "code": code,
                    "element": None,
                }
            ],
            "type": kind,
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(now * 1000),
        "status": None,
        "cdcresponse": [],
    }


def throttled(now: float, *, xml: bool = False, detail: str = "The request limit was reached.") -> Response:
    """429 ThrottleExceeded (code 3001), as JSON or as XML."""
    message = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
    if xml:
        return xml_fault("3001", message, detail, fault_type="ServiceFault", now=now, status=429)
    return JSONResponse(fault("3001", message, detail, fault_type="ServiceFault", now=now), status_code=429)


def xml_fault(code: str, message: str, detail: str, *, fault_type: str, now: float, status: int) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time={quoteattr(intuit_time(now))}>'
        f"<Fault type={quoteattr(fault_type)}><Error code={quoteattr(code)}>"
        f"<Message>{escape(message)}</Message><Detail>{escape(detail)}</Detail>"
        "</Error></Fault></IntuitResponse>"
    )
    return Response(body, status_code=status, media_type="application/xml")


def validation(code: str, message: str, detail: str, now: float) -> JSONResponse:
    return JSONResponse(fault(code, message, detail, fault_type="ValidationFault", now=now), status_code=400)


def default_error(status: int, now: float) -> tuple[Any, dict[str, str]]:
    """QuickBooks' own body for an error status (for injected failures): the body and its extra headers."""
    if status in (401, 403):
        return lower_case_fault(status, now), {}
    if status == 400:
        return fault(
            "2010",
            "Request has invalid or unsupported property",
            "Property Name:Unknown",
            fault_type="ValidationFault",
            now=now,
        ), {}
    if status == 404:
        return fault(
            "610",
            "Object Not Found",
            "Object Not Found : Something you're trying to use has been made inactive.",
            fault_type="ValidationFault",
            now=now,
        ), {}
    if status == 429:
        message = "message=ThrottleExceeded; errorCode=003001; statusCode=429"
        return fault("3001", message, "The request limit was reached.", fault_type="ServiceFault", now=now), {}
    if status == 500:
        detail = "System Failure Error: An unexpected error occurred while accessing or saving your data."
        return fault(
            "10000",
            "An application error has occurred while processing your request",
            detail,
            fault_type="SystemFault",
            now=now,
        ), {}
    return "<html><body><h1>Service Unavailable</h1></body></html>", {"Content-Type": "text/html"}
