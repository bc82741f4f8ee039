"""Slack's Web API and response URLs over kept-open connections, shared by every thread.

slack_sdk sends every call with `urllib`, which opens a new connection each time (over HTTPS to Slack, a TCP and a
TLS handshake: round trips and a millisecond of CPU before the call is even sent). The clients here are slack_sdk's
own (`WebClient`, and the `WebhookClient` behind Bolt's `respond()`) with only their last step, sending the built
request, done through one pooled `httpx2.Client` (the project's one HTTP stack) in `SlackConnections`. What
slack_sdk does around that step (building bodies, retry handlers, errors) is unchanged: a refused request still
raises urllib's `HTTPError`, one that could not be sent its `URLError`, as slack_sdk expects.
"""

from __future__ import annotations

import io
from email.message import Message
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

import httpx2
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

from providers.http import tls_context

KEEP_IDLE = 30.0  # seconds an unused connection is kept
IDLE_PER_HOST = 20  # unused connections kept open; more may be open at once, as with urllib


class SlackConnections:
    """One pooled HTTP client for every call to Slack: httpx2 keeps connections open between requests and
    opens a new one when the server closed an idle one. Thread-safe; after `close()` nothing more is sent."""

    def __init__(self, *, keep_idle: float = KEEP_IDLE, transport: httpx2.BaseTransport | None = None) -> None:
        limits = httpx2.Limits(max_keepalive_connections=IDLE_PER_HOST, keepalive_expiry=keep_idle)
        self._client = httpx2.Client(limits=limits, transport=transport, follow_redirects=False, verify=tls_context())

    @property
    def is_closed(self) -> bool:
        return self._client.is_closed

    def send(self, request: Request, timeout: float) -> tuple[int, Message, bytes]:
        """Send a request slack_sdk built for urllib; raise as urllib would for a refusal or no answer."""
        if self.is_closed:
            raise URLError("the bot is stopping: its connections to Slack are closed")
        try:
            response = self._client.request(
                request.get_method(),
                request.full_url,
                content=request.data,  # type: ignore[arg-type]  # slack_sdk always hands bytes
                headers=dict(request.header_items()),
                timeout=timeout,
            )
        except (httpx2.TransportError, httpx2.InvalidURL, httpx2.UnsupportedProtocol) as error:
            raise URLError(error) from error
        headers = Message()
        for name, value in response.headers.multi_items():
            headers[name] = value
        if response.status_code >= 400:
            raise HTTPError(
                request.full_url, response.status_code, response.reason_phrase, headers, io.BytesIO(response.content)
            )
        return response.status_code, headers, response.content

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SlackConnections:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PooledWebClient(WebClient):
    """slack_sdk's `WebClient`, sending through `http`. Its `ssl` is the process's one TLS context: Socket Mode
    opens its connections with the client's, and slack_sdk otherwise reads the system's certificate authorities
    again for each (26 ms of CPU a connection)."""

    def __init__(self, *, http: SlackConnections, **kwargs: Any) -> None:
        kwargs.setdefault("ssl", tls_context())
        super().__init__(**kwargs)
        self.http = http

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith("http"):
            return super()._perform_urllib_http_request_internal(url, req)
        status, headers, body = self.http.send(req, self.timeout)
        if headers.get_content_type() == "application/gzip":
            return {"status": status, "headers": headers, "body": body}
        return {"status": status, "headers": headers, "body": body.decode(headers.get_content_charset() or "utf-8")}


class PooledWebhookClient(WebhookClient):
    """slack_sdk's `WebhookClient` (what `respond()` posts with), sending through `http`."""

    def __init__(self, *, http: SlackConnections, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.http = http

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if self.proxy is not None or not url.lower().startswith("http"):
            return super()._perform_http_request_internal(url, req)
        status, headers, body = self.http.send(req, self.timeout)
        return WebhookResponse(
            url=url,
            status_code=status,
            body=body.decode(headers.get_content_charset() or "utf-8"),
            headers=dict(headers.items()),
        )
