"""Xero's /connections: the organisations a user's log-in reaches for an app, made on the consent page (with the
auth event id Xero puts in the tokens and the 401 Xero answers, as the OAuth2 server's hooks) and removed by
disconnecting one (by the app, or by the user from Xero's side) or by revoking the log-in."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.oauth2 import Authorisation, ClientApp, Consent, ConsentOption, Reply
from tests.fakes.xero.dates import _connection_date
from tests.fakes.xero.errors import _problem, _unauthorized
from tests.fakes.xero.records import _Connection
from tests.fakes.xero.state import XeroState


class Connections(XeroState):
    # -- the OAuth2 server's hooks ---------------------------------------------------------------

    def consent_options(self, client: ClientApp) -> list[ConsentOption]:
        organisations = sorted(self._organisations.values(), key=lambda o: o.name.casefold())
        return [
            ConsentOption(o.tenant_id, o.name + (" (practice)" if o.tenant_type == "PRACTICE" else ""))
            for o in organisations
        ]

    def authorise(self, consent: Consent) -> Authorisation:
        """Connect each chosen organisation under a new auth event (a reconnected one gets the new event)."""
        now, user_id, client_id = self.clock(), consent.user.user_id, consent.client.client_id
        auth_event_id = str(uuid.uuid4())
        for tenant_id in consent.chosen:
            existing = next(
                (
                    c
                    for c in self._connections.values()
                    if (c.user_id, c.client_id, c.tenant_id) == (user_id, client_id, tenant_id)
                ),
                None,
            )
            if existing:
                existing.auth_event_id, existing.updated_at = auth_event_id, now
            else:
                conn = _Connection(str(uuid.uuid4()), user_id, client_id, tenant_id, auth_event_id, now, now)
                self._connections[conn.id] = conn
        session = hashlib.sha256(auth_event_id.encode()).hexdigest()
        return Authorisation(
            claims={
                "xero_userid": user_id,
                "global_session_id": session[:32],
                "sid": session[32:64],
                "authentication_event_id": auth_event_id,
                "amr": ["pwd"],
            },
            id_claims={"xero_userid": user_id, "global_session_id": session[:32]},
            callback={"scope": consent.scope, "session_state": secrets.token_hex(8)},
        )

    def log_in_revoked(self, client: ClientApp, user_id: str) -> None:
        """Revoking a refresh token removes every connection of that user's log-in to the app."""
        for conn_id, conn in list(self._connections.items()):
            if (conn.user_id, conn.client_id) == (user_id, client.client_id):
                del self._connections[conn_id]

    def unauthorized(self, *, expired_at: float | None) -> Response:
        return _unauthorized(expired_at)

    # -- /connections ------------------------------------------------------------------------------

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
            claims = self.oauth.bearer(request)
        except Reply as reply:
            return reply.response
        auth_event_id = request.query_params.get("authEventId")
        with self._lock:
            reachable = sorted(self._reachable(claims), key=lambda c: c.created_at)
            rows = [self._render_connection(c) for c in reachable if auth_event_id in (None, c.auth_event_id)]
        return JSONResponse(rows)

    async def _delete_connection(self, request: Request) -> Response:
        try:
            claims = self.oauth.bearer(request)
        except Reply as reply:
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
