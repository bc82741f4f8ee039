"""Xero's /connections: the organisations a user's log-in reaches for an app, and disconnecting one of them
(by the app, or by the user from Xero's side)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.xero.dates import _connection_date
from tests.fakes.xero.errors import _problem, _Reply
from tests.fakes.xero.records import _Connection
from tests.fakes.xero.tokens import Tokens


class Connections(Tokens):
    def _render_connection(self, c: _Connection) -> dict[str, Any]:
        org = self._organisations[c.tenant_id]
        return {
            "id": c.id,
            "authEventId": c.auth_event_id,
            "tenantId": c.tenant_id,
            "tenantType": org.tenant_type,
            "tenantName": org.name,
            "createdDateUtc": _connection_date(c.created_at),
            "updatedDateUtc": _connection_date(c.updated_at),
        }

    def _reachable(self, claims: dict[str, Any]) -> list[_Connection]:
        key = (claims["xero_userid"], claims["client_id"])
        return [c for c in self._connections.values() if (c.user_id, c.client_id) == key]

    async def _list_connections(self, request: Request) -> Response:
        try:
            claims = self._bearer(request)
        except _Reply as reply:
            return reply.response
        auth_event_id = request.query_params.get("authEventId")
        with self._lock:
            reachable = sorted(self._reachable(claims), key=lambda c: c.created_at)
            rows = [self._render_connection(c) for c in reachable if auth_event_id in (None, c.auth_event_id)]
        return JSONResponse(rows)

    async def _delete_connection(self, request: Request) -> Response:
        try:
            claims = self._bearer(request)
        except _Reply as reply:
            return reply.response
        connection_id = request.path_params["connection_id"]
        with self._lock:
            if not any(c.id == connection_id for c in self._reachable(claims)):
                return JSONResponse(_problem(404, "Not Found", "Resource not found"), status_code=404)
            del self._connections[connection_id]
        return Response(status_code=204)

    def remove_connection(self, connection_id: str) -> None:
        """The user disconnected the app from Xero's side."""
        with self._lock:
            self._connections.pop(connection_id, None)

    @property
    def connections(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render_connection(c) for c in self._connections.values()]
