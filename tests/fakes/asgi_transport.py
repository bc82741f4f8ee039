"""A synchronous httpx2 transport into an ASGI app, so a provider's blocking `httpx2.Client` can talk to a fake
in-process: `httpx2.Client(transport=ASGISyncTransport(fake.app))`.

httpx2's own `ASGITransport` is async only. This one runs the app on an event loop of its own in a daemon thread;
requests from several threads are served concurrently on that loop, as a server would, so a fake's concurrency
limits and held requests behave as they do over HTTP. The request's read timeout is honoured (`ReadTimeout`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

import httpx2


class ASGISyncTransport(httpx2.BaseTransport):
    """Hand each request to `app` on a private event loop and wait for its whole answer."""

    def __init__(self, app: Any, *, client: tuple[str, int] = ("127.0.0.1", 123)) -> None:
        self._asgi = httpx2.ASGITransport(app=app, client=client)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="asgi-transport")
        self._thread.start()
        self._closed = False

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._closed:
            raise httpx2.ConnectError("the transport is closed", request=request)
        body = request.read()
        inner = httpx2.Request(request.method, request.url, headers=request.headers, content=body)
        future = asyncio.run_coroutine_threadsafe(self._answer(inner), self._loop)
        timeout = (request.extensions.get("timeout") or {}).get("read")
        try:
            status, headers, content = future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise httpx2.ReadTimeout("the app took longer than the read timeout", request=request) from None
        return httpx2.Response(status, headers=headers, content=content, request=request)

    async def _answer(self, request: httpx2.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        return response.status_code, response.headers.raw, content

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
