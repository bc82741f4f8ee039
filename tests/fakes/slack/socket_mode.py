"""Socket Mode from Slack's side: apps.connections.open hands the bot a WebSocket URL, and the fake keeps the
connections it opens, says hello, reads acknowledgements and asks for reconnects."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from starlette.websockets import WebSocket

from tests.fakes.slack.records import _ApiRequest, _SocketConnection
from tests.fakes.slack.state import SlackState


class SocketMode(SlackState):
    def _apps_connections_open(self, request: _ApiRequest) -> dict[str, Any]:
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        ws_base = request.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return {"url": f"{ws_base}/socket?ticket={ticket}&app_id={self.app_id}"}

    async def _serve_socket(self, websocket: WebSocket) -> None:
        with self._changed:
            ticket = websocket.query_params.get("ticket", "")
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        connection = _SocketConnection(websocket, asyncio.get_running_loop())
        with self._changed:
            self._sockets.append(connection)
            live = sum(1 for c in self._sockets if not c.draining)
        await websocket.send_text(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": live,
                    "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        with self._changed:
            connection.greeted = True
            self._changed.notify_all()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text") or (message.get("bytes") or b"").decode()
                self._acknowledge(connection, text)
        finally:
            with self._changed:
                self._sockets.remove(connection)
                for future in connection.pending.values():
                    future.cancel()
                self._changed.notify_all()

    def _acknowledge(self, connection: _SocketConnection, text: str) -> None:
        try:
            ack = json.loads(text)
        except ValueError:
            return
        if not isinstance(ack, dict):
            return
        with self._changed:
            future = connection.pending.pop(str(ack.get("envelope_id")), None)
        if future is not None and not future.done():
            future.set_result(ack)

    def wait_for_socket(self, timeout: float = 30.0) -> None:
        """Wait until the bot holds a Socket Mode connection that got its `hello`."""
        self.wait_for(self._live_socket, timeout, "no Socket Mode connection")

    def disconnect_socket(self, reason: str = "refresh_requested") -> None:
        """Ask every connection to reconnect, as Slack does before it recycles a connection."""
        with self._changed:
            connections = [c for c in self._sockets if not c.draining]
            for connection in connections:
                connection.draining = True
        for connection in connections:
            message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
            connection.send(message, timeout=5.0)

    def close_sockets(self, timeout: float = 5.0) -> None:
        """Close every Socket Mode connection from Slack's side, and wait until they are gone."""
        with self._changed:
            connections = list(self._sockets)
        for connection in connections:
            connection.close(timeout)
        self.wait_for(lambda: not any(c in self._sockets for c in connections), timeout, "sockets still open")

    def _live_socket(self) -> _SocketConnection | None:
        """The newest connection that said hello and was not asked to reconnect: Slack delivers there."""
        with self._changed:
            live = [c for c in self._sockets if c.greeted and not c.draining]
            return live[-1] if live else None
