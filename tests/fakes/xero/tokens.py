"""Xero's token endpoints: the authorization-code grant (with PKCE), rotating refresh tokens with a grace
period, revocation, and the signed access tokens (JWTs) the APIs check."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.xero.errors import _oauth_error, _problem, _Reply
from tests.fakes.xero.records import XeroClientApp, _RefreshToken
from tests.fakes.xero.state import XeroState

REFRESH_TOKEN_LIFETIME = 60 * 24 * 3600.0


class Tokens(XeroState):
    async def _token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client, failure = self._authenticate_client(request, form)
        if failure:
            return failure
        assert client is not None
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                return self._code_grant(client, form)
            if grant_type == "refresh_token":
                return self._refresh_grant(client, form)
        return _oauth_error("unsupported_grant_type")

    def _authenticate_client(
        self, request: Request, form: dict[str, str]
    ) -> tuple[XeroClientApp | None, Response | None]:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return None, _oauth_error("invalid_client", 401)
            client_id, secret = unquote(client_id), unquote(secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        client = self._clients.get(client_id)
        if client is None:
            return None, _oauth_error("invalid_client", 401)
        if client.client_secret is None:  # a PKCE app: no secret, proves itself with the verifier
            return client, None
        if not secret or not hmac.compare_digest(secret, client.client_secret):
            return None, _oauth_error("invalid_client", 401)
        return client, None

    def _code_grant(self, client: XeroClientApp, form: dict[str, str]) -> Response:
        code = self._codes.get(form.get("code", ""))
        now = self.clock()
        if code is None or code.used or code.expires_at < now or code.client_id != client.client_id:
            return _oauth_error("invalid_grant")
        code.used = True  # single use, even when what follows fails
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("invalid_grant")
        if code.code_challenge:
            verifier = form.get("code_verifier", "")
            if not verifier or not hmac.compare_digest(_s256(verifier), code.code_challenge):
                return _oauth_error("invalid_grant")
        return JSONResponse(self._issue(client, code.user_id, code.auth_event_id, code.scope, family=None))

    def _refresh_grant(self, client: XeroClientApp, form: dict[str, str]) -> Response:
        value = form.get("refresh_token", "")
        token = self._refresh_tokens.get(value)
        now = self.clock()
        if (
            token is None
            or token.revoked
            or token.client_id != client.client_id
            or now > token.issued_at + REFRESH_TOKEN_LIFETIME
        ):
            return _oauth_error("invalid_grant")
        if token.spent_at is not None:
            # rotated already: Xero hands the same new pair back during the grace period
            if now - token.spent_at > self.grace_period or token.successor is None:
                return _oauth_error("invalid_grant")
            self.refreshes_spent[value] += 1
            return JSONResponse(token.successor)
        response = self._issue(client, token.user_id, token.auth_event_id, token.scope, family=token.family)
        token.spent_at, token.successor = now, response
        self.refreshes_spent[value] += 1
        return JSONResponse(response)

    def _issue(
        self, client: XeroClientApp, user_id: str, auth_event_id: str, scope: str, *, family: str | None
    ) -> dict[str, Any]:
        now = int(self.clock())
        jti = secrets.token_hex(16)
        claims = {
            "nbf": now,
            "exp": now + self.access_token_ttl,
            "iss": "https://identity.xero.com",
            "aud": "https://identity.xero.com/resources",
            "client_id": client.client_id,
            "sub": hashlib.sha256(user_id.encode()).hexdigest()[:32],
            "auth_time": now,
            "xero_userid": user_id,
            "global_session_id": hashlib.sha256(auth_event_id.encode()).hexdigest()[:32],
            "sid": hashlib.sha256(auth_event_id.encode()).hexdigest()[32:64],
            "jti": jti,
            "authentication_event_id": auth_event_id,
            "scope": scope.split(),
            "amr": ["pwd"],
        }
        self._issued_access.add(jti)
        response: dict[str, Any] = {
            "access_token": self._jwt(claims),
            "expires_in": self.access_token_ttl,
            "token_type": "Bearer",
            "scope": scope,
        }
        if "offline_access" in scope.split():
            value = secrets.token_hex(32)
            self._refresh_tokens[value] = _RefreshToken(
                value, family or value, client.client_id, user_id, auth_event_id, scope, self.clock()
            )
            response["refresh_token"] = value
        if "openid" in scope.split():
            id_claims = {
                "nbf": now,
                "exp": now + 300,
                "iss": "https://identity.xero.com",
                "aud": client.client_id,
                "sub": claims["sub"],
                "auth_time": now,
                "xero_userid": user_id,
                "global_session_id": claims["global_session_id"],
                "email": self.user.email,
                "given_name": self.user.name.split()[0],
                "family_name": self.user.name.split()[-1],
            }
            response = {"id_token": self._jwt(id_claims), **response}
        return response

    async def _revocation(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client, failure = self._authenticate_client(request, form)
        if failure:
            return failure
        assert client is not None
        with self._lock:
            token = self._refresh_tokens.get(form.get("token", ""))
            if token is not None and token.client_id == client.client_id:
                for other in self._refresh_tokens.values():
                    if other.family == token.family:
                        other.revoked = True
                self.revoked.append(token.value)
                for conn_id, conn in list(self._connections.items()):
                    if (conn.user_id, conn.client_id) == (token.user_id, client.client_id):
                        del self._connections[conn_id]
        return Response(status_code=200)

    def _jwt(self, claims: dict[str, Any]) -> str:
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._signing_key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64url(signature)}"

    def _verify_jwt(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(self._signing_key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(_b64url_decode(parts[2]), expected):
                return None
            claims: dict[str, Any] = json.loads(_b64url_decode(parts[1]))
        except ValueError:
            return None
        return claims if claims.get("jti") in self._issued_access else None

    def _bearer(self, request: Request) -> dict[str, Any]:
        """The claims of a valid, unexpired bearer token, or a 401 reply."""
        header = request.headers.get("authorization", "")
        claims = self._verify_jwt(header[7:].strip()) if header.lower().startswith("bearer ") else None
        if claims is None:
            raise _Reply(self._unauthorized("AuthenticationUnsuccessful"))
        if self.clock() >= claims["exp"]:
            expired = datetime.fromtimestamp(claims["exp"], UTC).strftime("%m/%d/%Y %H:%M:%S")
            raise _Reply(self._unauthorized(f"TokenExpired: token expired at {expired}"))
        return claims

    @staticmethod
    def _unauthorized(detail: str) -> Response:
        return JSONResponse(
            _problem(401, "Unauthorized", detail),
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

    def access_token_claims(self, access_token: str) -> dict[str, Any]:
        claims = self._verify_jwt(access_token)
        if claims is None:
            raise ValueError("not an access token issued by this fake")
        return claims


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode()).digest())
