"""The door of `/slack/events`: a request's body is read up to a limit, its signature checked on the raw bytes, and
only then parsed and checked for shape (`bot.slack.envelope`). What fails is answered 413, 401 or 400 before Bolt
sees it, so Bolt only ever reads a verified body of a shape it can take.

    Refused(413)  the body is larger than any Slack sends
    Refused(401)  no usable timestamp, a stale one, or a signature that does not match
    Refused(400)  compressed, not UTF-8, not JSON or a form, or not shaped like a request this app takes
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from slack_bolt import BoltRequest
from slack_bolt.request.internals import build_context
from starlette.requests import Request

from bot import redact
from bot.slack import envelope
from bot.slack.requests import VERIFIED

MAX_BODY = 1024 * 1024  # Slack's largest payloads (a view's state) are far smaller
MAX_AGE = 5 * 60  # Slack's own window: older requests are refused
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
MAX_FORM_FIELDS = 100


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, refused (413) as soon as it is known to be larger than `limit`: by its Content-Length before
    reading anything, or while it streams in."""
    length = request.headers.get("content-length")
    if length is not None:
        if not TIMESTAMP.fullmatch(length):
            raise Refused(400, "a Content-Length that is not a number")
        if int(length) > limit:
            raise Refused(413, f"a body of {length} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"a body of more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def verify(headers: Mapping[str, str], body: bytes, *, secret: str, now: float) -> None:
    """Slack's v0 signature over the raw bytes, sent within the last five minutes; `Refused(401)` otherwise."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not TIMESTAMP.fullmatch(timestamp):
        raise Refused(401, "no usable X-Slack-Request-Timestamp")
    if abs(now - int(timestamp)) > MAX_AGE:
        raise Refused(401, "a timestamp outside Slack's five minutes")
    if not SIGNATURE.fullmatch(signature):
        raise Refused(401, "no usable X-Slack-Signature")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused(401, "a signature that does not match")


def parse(body: bytes, *, content_type: str, content_encoding: str = "") -> tuple[str, dict[str, Any]]:
    """The body as text and as the object Slack sent: JSON (events) or a form (commands), or a form holding one
    JSON `payload` (interactions). `Refused(400)` for anything else, or for a shape this app does not take."""
    if content_encoding.strip().lower() not in ("", "identity"):
        raise Refused(400, f"a body encoded as {content_encoding[:20]!r}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "a body that is not UTF-8") from None
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json":
        parsed = _json(text)
    elif media == "application/x-www-form-urlencoded":
        form = _form(text)
        if "payload" in form:
            if len(form) != 1:
                raise Refused(400, "a payload form with other fields")
            parsed = _json(form["payload"])
        else:
            parsed = form
    else:
        raise Refused(400, f"a body of type {media[:40]!r}")
    problem = envelope.problem(parsed)
    if problem is not None:
        raise Refused(400, problem)
    assert isinstance(parsed, dict)
    redact.remember_urls(*envelope.response_urls(parsed))
    return text, parsed


def bolt_request(text: str, body: dict[str, Any], headers: Mapping[str, str]) -> BoltRequest:
    """A Bolt request for a verified, parsed body. Bolt's own parsing is not used: it reads any form containing the
    word "payload" as an interaction, and any body starting with "{" as JSON, whatever its type."""
    request = BoltRequest(body="", headers=dict(headers), context={VERIFIED: True})
    request.raw_body = text  # Bolt verifies the signature again, on the same text
    request.body = body
    build_context(request.context, body)
    return request


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, "a body that is not JSON") from None


def _form(text: str) -> dict[str, str]:
    """The form as `urllib.parse.parse_qsl` reads it (strictly, blank values kept, at most `MAX_FORM_FIELDS`
    fields, UTF-8), with a field twice refused. A field with nothing to decode is taken as it is: `parse_qsl`
    decoded every name and value, which was most of what reading a command cost."""
    if text.startswith("{"):
        raise Refused(400, "JSON sent as a form")
    if not text:
        return {}
    fields = text.split("&")
    if len(fields) > MAX_FORM_FIELDS:
        raise Refused(400, "a form that does not parse")
    form: dict[str, str] = {}
    try:
        for field in fields:
            name, equals, value = field.partition("=")
            if not equals:
                raise Refused(400, "a form that does not parse")
            name, value = _decoded(name), _decoded(value)
            if name in form:
                raise Refused(400, "a form with a field twice")
            form[name] = value
    except UnicodeDecodeError:
        raise Refused(400, "a form that does not parse") from None
    return form


def _decoded(part: str) -> str:
    if "%" not in part and "+" not in part:
        return part
    return unquote(part.replace("+", " "), errors="strict")
