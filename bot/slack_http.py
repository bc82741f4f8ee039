"""Slack's Web API and response URLs through one pooled HTTP client.

slack_sdk sends every call with `urllib`, which opens (and, over HTTPS, negotiates) a new connection each time; for
`/accounts status` that was about 40 % of its time. The clients here are slack_sdk's own (`WebClient`, the
`WebhookClient` behind Bolt's `respond()`) with only their last step, sending a built request, done by a shared
`httpx2.Client` that keeps connections open. What slack_sdk does around that step (building bodies, retry
handlers, errors) is unchanged: a refused request still raises urllib's `HTTPError`, and one that never got an
answer its `URLError`, as slack_sdk expects.
"""

from __future__ import annotations

import email.message
import io
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

import httpx2
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

POOL = httpx2.Limits(max_connections=20, max_keepalive_connections=20, keepalive_expiry=30)


def slack_http() -> httpx2.Client:
    """The one client: shared by every thread (its pool is thread-safe), closed with the runtime."""
    return httpx2.Client(limits=POOL, timeout=30, follow_redirects=False, trust_env=False)


def _headers(response: httpx2.Response) -> email.message.Message:
    headers = email.message.Message()
    for name, value in response.headers.multi_items():
        headers[name] = value
    return headers


def send(http: httpx2.Client, request: Request, timeout: float) -> tuple[int, email.message.Message, bytes]:
    """Send a request slack_sdk built for urllib; raise as urllib would for a refusal or no answer."""
    try:
        response = http.request(
            request.get_method(),
            request.full_url,
            content=request.data if isinstance(request.data, bytes) else None,
            headers=dict(request.header_items()),
            timeout=timeout,
        )
    except httpx2.TransportError as error:
        raise URLError(error) from error
    headers = _headers(response)
    if response.status_code >= 400:
        raise HTTPError(
            request.full_url, response.status_code, response.reason_phrase, headers, io.BytesIO(response.content)
        )
    return response.status_code, headers, response.content


class PooledWebClient(WebClient):
    """slack_sdk's `WebClient`, sending through `http`."""

    def __init__(self, *, http: httpx2.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.http = http

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith("http"):
            return super()._perform_urllib_http_request_internal(url, req)
        status, headers, body = send(self.http, req, self.timeout)
        if headers.get_content_type() == "application/gzip":
            return {"status": status, "headers": headers, "body": body}
        return {"status": status, "headers": headers, "body": body.decode(headers.get_content_charset() or "utf-8")}


class PooledWebhookClient(WebhookClient):
    """slack_sdk's `WebhookClient` (what `respond()` posts with), sending through `http`."""

    def __init__(self, *, http: httpx2.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.http = http

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if self.proxy is not None or not url.lower().startswith("http"):
            return super()._perform_http_request_internal(url, req)
        status, headers, body = send(self.http, req, self.timeout)
        return WebhookResponse(
            url=url,
            status_code=status,
            body=body.decode(headers.get_content_charset() or "utf-8"),
            headers=dict(headers.items()),
        )
