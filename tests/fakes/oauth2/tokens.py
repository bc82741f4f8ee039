"""The token endpoint (the authorization-code grant with PKCE, rotating refresh tokens with a grace period),
revocation, and the signed access tokens (JWTs) the package's APIs check with `bearer()`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.oauth2.errors import Reply, oauth_error
from tests.fakes.oauth2.profile import ClientAuth, RevocationBody
from tests.fakes.oauth2.records import ClientApp, _Grant, _RefreshToken
from tests.fakes.oauth2.state import OAuth2State


class Tokens(OAuth2State):
    async def token(self, request: Request) -> Response:
        """The token endpoint: `authorization_code` and `refresh_token` grants."""
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
        return oauth_error("unsupported_grant_type")

    def _authenticate_client(self, request: Request, form: dict[str, str]) -> tuple[ClientApp | None, Response | None]:
        allowed = self.profile.client_auth
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            if ClientAuth.BASIC not in allowed:
                return None, oauth_error("invalid_client", 401)
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return None, oauth_error("invalid_client", 401)
            client_id, secret = unquote(client_id), unquote(secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
            if secret and ClientAuth.POST not in allowed:
                return None, oauth_error("invalid_client", 401)
        client = self._clients.get(client_id)
        if client is None:
            return None, oauth_error("invalid_client", 401)
        if client.client_secret is None:  # a public app: no secret, proves itself with the PKCE verifier
            return client, None
        if not secret or not hmac.compare_digest(secret, client.client_secret):
            return None, oauth_error("invalid_client", 401)
        return client, None

    def _code_grant(self, client: ClientApp, form: dict[str, str]) -> Response:
        code = self._codes.get(form.get("code", ""))
        now = self.clock()
        if code is None or code.used or code.expires_at < now or code.grant.client_id != client.client_id:
            return oauth_error("invalid_grant")
        code.used = True  # single use, even when what follows fails
        if form.get("redirect_uri") != code.redirect_uri:
            return oauth_error("invalid_grant")
        if code.code_challenge:
            verifier = form.get("code_verifier", "")
            if not verifier or not hmac.compare_digest(s256(verifier), code.code_challenge):
                return oauth_error("invalid_grant")
        return JSONResponse(self._issue(client, code.grant, family=None))

    def _refresh_grant(self, client: ClientApp, form: dict[str, str]) -> Response:
        value = form.get("refresh_token", "")
        token = self._refresh_tokens.get(value)
        now = self.clock()
        dead = oauth_error(self.profile.invalid_refresh_error)
        if (
            token is None
            or token.revoked
            or token.grant.client_id != client.client_id
            or now > token.issued_at + self.profile.refresh_token_lifetime
        ):
            return dead
        if token.spent_at is not None:
            # rotated already: during the grace period the spent token brings the same new pair back
            if now - token.spent_at >= self.profile.grace_period or token.successor is None:
                return dead
            self.refreshes_spent[value] += 1
            return JSONResponse(token.successor)
        if now - token.issued_at < self.profile.refresh_token_kept_for:
            self.refreshes_spent[value] += 1  # too young to rotate: a new access token, the same refresh token
            return JSONResponse(self._issue(client, token.grant, family=token.family, kept=token))
        response = self._issue(client, token.grant, family=token.family)
        token.spent_at, token.successor = now, response
        self.refreshes_spent[value] += 1
        return JSONResponse(response)

    def _issue(
        self, client: ClientApp, grant: _Grant, *, family: str | None, kept: _RefreshToken | None = None
    ) -> dict[str, Any]:
        profile, now = self.profile, int(self.clock())
        scopes = grant.scope.split()
        jti = secrets.token_hex(16)
        sub = hashlib.sha256(grant.user_id.encode()).hexdigest()[:32]
        claims = {
            "nbf": now,
            "exp": now + int(profile.access_token_ttl),
            "iss": profile.issuer,
            "aud": profile.audience,
            "client_id": client.client_id,
            "sub": sub,
            "auth_time": now,
            **grant.authorisation.claims,
            "jti": jti,
            "scope": scopes,
        }
        self._issued_access.add(jti)
        response: dict[str, Any] = {
            "access_token": self._jwt(claims),
            "expires_in": int(profile.access_token_ttl),
            "token_type": "Bearer",
            "scope": grant.scope,
        }
        if profile.offline_scope is None or profile.offline_scope in scopes:
            if kept is None:
                value = secrets.token_hex(32)
                self._refresh_tokens[value] = _RefreshToken(value, family or value, grant, self.clock())
                issued_at = self.clock()
            else:
                value, issued_at = kept.value, kept.issued_at
            response["refresh_token"] = value
            if profile.refresh_expires_in_field:
                left = issued_at + profile.refresh_token_lifetime - self.clock()
                response[profile.refresh_expires_in_field] = int(left)
        if "openid" in scopes:
            id_claims = {
                "nbf": now,
                "exp": now + 300,
                "iss": profile.issuer,
                "aud": client.client_id,
                "sub": sub,
                "auth_time": now,
                **grant.authorisation.id_claims,
                "email": self.user.email,
                "given_name": self.user.name.split()[0],
                "family_name": self.user.name.split()[-1],
            }
            response = {"id_token": self._jwt(id_claims), **response}
        return response

    async def revocation(self, request: Request) -> Response:
        """Revoke a refresh token and every token rotated from the same log-in; the package's fake hears of it
        (Xero removes the user's connections). An unknown token is not an error (RFC 7009)."""
        if self.profile.revocation_body is RevocationBody.JSON:
            try:
                body = await request.json()
            except ValueError:
                return oauth_error("invalid_request")
            form = {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
        else:
            form = {k: str(v) for k, v in (await request.form()).items()}
        client, failure = self._authenticate_client(request, form)
        if failure:
            return failure
        assert client is not None
        with self._lock:
            token = self._refresh_tokens.get(form.get("token", ""))
            if token is not None and token.grant.client_id == client.client_id:
                for other in self._refresh_tokens.values():
                    if other.family == token.family:
                        other.revoked = True
                self.revoked.append(token.value)
                self.hooks.log_in_revoked(client, token.grant.user_id)
                self.hooks.grant_revoked(client, token.grant.authorisation)
        return Response(status_code=200)

    def bearer(self, request: Request) -> dict[str, Any]:
        """The claims of the request's valid, unexpired bearer token; otherwise raises `Reply` with the
        package's 401."""
        header = request.headers.get("authorization", "")
        claims = self._verify_jwt(header[7:].strip()) if header.lower().startswith("bearer ") else None
        if claims is None:
            raise Reply(self.hooks.unauthorized(expired_at=None))
        if self.clock() >= claims["exp"]:
            raise Reply(self.hooks.unauthorized(expired_at=float(claims["exp"])))
        return claims

    def access_token_claims(self, access_token: str) -> dict[str, Any]:
        claims = self._verify_jwt(access_token)
        if claims is None:
            raise ValueError("not an access token issued by this fake")
        return claims

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


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of `verifier`."""
    return _b64url(hashlib.sha256(verifier.encode()).digest())
