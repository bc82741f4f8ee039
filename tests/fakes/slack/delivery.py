"""Sending a request to the bot and waiting for its acknowledgement: signed HTTP to its request URL, or an
envelope over the Socket Mode connection it holds."""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlencode

import httpx2

from tests.fakes.server import http_client
from tests.fakes.slack.records import Delivery, Transport
from tests.fakes.slack.socket_mode import SocketMode


def sign(body: bytes, *, secret: str, timestamp: int) -> str:
    """Slack's `X-Slack-Signature` (v0) for a request body sent at `timestamp`."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


Kind = Literal["slash_commands", "interactive", "events_api"]


class Deliveries(SocketMode):
    def send_payload(
        self,
        kind: Kind,
        payload: dict[str, Any],
        *,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
        retry: tuple[int, str] = (0, ""),
    ) -> Delivery:
        """Deliver `payload` as it is, whatever its shape: a request Slack made before (a replay, a retry), or one
        Slack would never make. Over HTTP, the same payload and timestamp give the same bytes and signature."""
        return self._deliver(kind, payload, transport=transport, secret=secret, timestamp=timestamp, retry=retry)

    def post_raw(self, body: bytes, headers: dict[str, str]) -> httpx2.Response:
        """POST `body` with exactly `headers` to the bot's request URL (sign with `sign` to make it Slack's)."""
        if not self.request_url:
            raise RuntimeError("set request_url (the bot's /slack/events) to deliver over HTTP")
        with http_client(timeout=self.ack_timeout) as client:
            return client.post(self.request_url, content=body, headers=headers)

    def _deliver(
        self,
        kind: Kind,
        payload: dict[str, Any],
        *,
        transport: Transport | None,
        secret: str | None,
        timestamp: int | None,
        apply: Callable[[Any], list[str]] | None = None,
        retry: tuple[int, str] = (0, ""),
    ) -> Delivery:
        """Send `body` (HTTP) or `payload` (Socket Mode), wait for the acknowledgement, and let `apply` do
        what Slack does with the answer, returning what Slack would refuse in it."""
        transport = transport or ("http" if self.request_url else "socket")
        started = time.monotonic()
        if transport == "http":
            delivery = self._deliver_http(kind, payload, secret, timestamp, retry)
        else:
            delivery = self._deliver_socket(kind, payload, retry)
        with self._changed:
            problems = apply(delivery.ack) if apply and delivery.acked else []
            self._changed.notify_all()
        return Delivery(
            transport=delivery.transport,
            payload=payload,
            acked=delivery.acked,
            ack=delivery.ack,
            status=delivery.status,
            body=delivery.body,
            problems=tuple(problems),
            elapsed=time.monotonic() - started,
        )

    def _deliver_http(
        self,
        kind: str,
        payload: dict[str, Any],
        secret: str | None,
        timestamp: int | None,
        retry: tuple[int, str],
    ) -> Delivery:
        if not self.request_url:
            raise RuntimeError("set request_url (the bot's /slack/events) to deliver over HTTP")
        # Events come as JSON, commands as a form, interactions as a form holding one JSON `payload`.
        if kind == "events_api":
            body, content_type = json.dumps(payload).encode(), "application/json"
        else:
            form = payload if kind == "slash_commands" else {"payload": json.dumps(payload)}
            body, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
        timestamp = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(body, secret=secret or self.signing_secret, timestamp=timestamp),
        }
        if retry[0]:
            headers |= {"X-Slack-Retry-Num": str(retry[0]), "X-Slack-Retry-Reason": retry[1] or "http_timeout"}
        try:
            with http_client(timeout=self.ack_timeout) as client:
                answer = client.post(self.request_url, content=body, headers=headers)
        except httpx2.TimeoutException:
            return Delivery("http", payload, acked=False, ack=None)
        text = answer.text
        try:
            ack = json.loads(text) if text.strip() else None
        except ValueError:
            ack = text
        return Delivery("http", payload, acked=answer.status_code == 200, ack=ack, status=answer.status_code, body=text)

    def _deliver_socket(self, kind: str, payload: dict[str, Any], retry: tuple[int, str]) -> Delivery:
        connection = self.wait_for(self._live_socket, self.ack_timeout, "no Socket Mode connection to deliver on")
        envelope_id = str(uuid.uuid4())
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        with self._changed:
            connection.pending[envelope_id] = future
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            # Slack takes an answer in the ack for commands, view submissions and options requests only.
            "accepts_response_payload": kind == "slash_commands"
            or payload.get("type") in ("view_submission", "block_suggestion"),
            "retry_attempt": retry[0],
            "retry_reason": retry[1],
        }
        connection.send(envelope, timeout=self.ack_timeout)
        try:
            answer = future.result(timeout=self.ack_timeout)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            with self._changed:
                connection.pending.pop(envelope_id, None)
            return Delivery("socket", payload, acked=False, ack=None)
        ack = answer.get("payload") or None
        return Delivery("socket", payload, acked=True, ack=ack, body=json.dumps(ack) if ack else "")
