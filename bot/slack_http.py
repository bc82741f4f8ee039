"""Slack's Web API and response URLs over kept-open connections, shared by every thread.

slack_sdk sends every call with `urllib`, which opens a new connection each time (over HTTPS to Slack, a TCP and a
TLS handshake: round trips and a millisecond of CPU before the call is even sent). The clients here are slack_sdk's
own (`WebClient`, and the `WebhookClient` behind Bolt's `respond()`) with only their last step, sending the built
request, done over a connection kept open in `SlackConnections`. What slack_sdk does around that step (building
bodies, retry handlers, errors) is unchanged: a refused request still raises urllib's `HTTPError`, one that could
not be sent its `URLError`, as slack_sdk expects.

Plain `http.client` connections, not httpx2: measured on the ack bench's machine, a kept-open httpx2 client spent
0.32 ms of CPU per small POST (more than urllib's new connection, 0.17 ms), `http.client` 0.08 ms.
"""

from __future__ import annotations

import http.client
import io
import select
import ssl
import threading
import time
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

KEEP_IDLE = 30.0  # seconds an unused connection is kept
IDLE_PER_HOST = 20  # unused connections kept to one host; more may be open at once, as with urllib

Host = tuple[str, str, int]  # scheme, host name, port


class SlackConnections:
    """Kept-open HTTP(S) connections: each request takes an idle one to its host (or opens one) and gives it back
    once the whole answer is read. Thread-safe; `close()` closes the idle ones, and those in use as they return."""

    def __init__(self, *, keep_idle: float = KEEP_IDLE, tls: ssl.SSLContext | None = None) -> None:
        self.keep_idle = keep_idle
        self.tls = tls or ssl.create_default_context()
        self._idle: dict[Host, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._lock = threading.Lock()
        self.is_closed = False
        self.opened = 0  # connections opened so far

    def send(self, request: Request, timeout: float) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Send a request slack_sdk built for urllib; raise as urllib would for a refusal or no answer."""
        url = urlsplit(request.full_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise URLError(f"not an HTTP URL: {url.scheme}://{url.hostname}")
        host = (url.scheme, url.hostname, url.port or (443 if url.scheme == "https" else 80))
        connection = self._take(host, timeout)
        try:
            connection.request(
                request.get_method(),
                (url.path or "/") + (f"?{url.query}" if url.query else ""),
                body=request.data,  # type: ignore[arg-type]  # slack_sdk always hands bytes
                headers=dict(request.header_items()),
            )
        except OSError as error:
            connection.close()
            raise URLError(error) from error
        try:
            response = connection.getresponse()
            body = response.read()
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            self._give_back(host, connection)
        if response.status >= 400:
            raise HTTPError(request.full_url, response.status, response.reason, response.headers, io.BytesIO(body))
        return response.status, response.headers, body

    def _take(self, host: Host, timeout: float) -> http.client.HTTPConnection:
        if self.is_closed:
            raise URLError("the bot is stopping: its connections to Slack are closed")
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(host)
                connection, since = idle.pop() if idle else (None, 0.0)
            if connection is None:
                break
            if now - since < self.keep_idle and not _ended_by_server(connection):
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                return connection
            connection.close()
        with self._lock:
            self.opened += 1
        scheme, name, port = host
        if scheme == "https":
            return http.client.HTTPSConnection(name, port, timeout=timeout, context=self.tls)
        return http.client.HTTPConnection(name, port, timeout=timeout)

    def _give_back(self, host: Host, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(host, [])
            if not self.is_closed and len(idle) < IDLE_PER_HOST:
                idle.append((connection, time.monotonic()))
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self.is_closed = True
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection, _ in connections:
                connection.close()

    def __enter__(self) -> SlackConnections:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ended_by_server(connection: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read was closed by the server (or is out of step): not reused."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        poller = select.poll()  # not select.select, which fails for descriptors above 1023
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class PooledWebClient(WebClient):
    """slack_sdk's `WebClient`, sending through `http`."""

    def __init__(self, *, http: SlackConnections, **kwargs: Any) -> None:
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
