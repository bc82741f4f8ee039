"""Xero's log-in and consent page (`/identity/connect/authorize`): it checks the app's request, lets the demo
user choose organisations, connects them and sends the browser back with a code or an error."""

from __future__ import annotations

import html
import secrets
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tests.fakes.xero.records import _AuthCode, _Connection, _PendingConsent
from tests.fakes.xero.state import XeroState

KNOWN_SCOPES = frozenset(
    "openid profile email offline_access accounting.settings accounting.settings.read "
    "accounting.contacts accounting.contacts.read accounting.transactions accounting.transactions.read "
    "accounting.reports.read accounting.journals.read accounting.attachments accounting.attachments.read "
    "accounting.budgets.read".split()
)
SCOPE_WORDING = {
    "offline_access": "Keep access while you are not using the app",
    "accounting.settings.read": "View your business settings, such as the chart of accounts",
    "accounting.settings": "View and manage your business settings",
    "accounting.contacts.read": "View your contacts",
    "accounting.contacts": "View and manage your contacts",
    "openid": "Confirm who you are",
    "profile": "View your name",
    "email": "View your email address",
}
CODE_LIFETIME = 300.0


class Consent(XeroState):
    async def _authorize(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._consent_answer(request)
        q = request.query_params
        client = self._clients.get(q.get("client_id", ""))
        if client is None:
            return self._error_page("unauthorized_client", "Unknown client or client not enabled.")
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            return self._error_page("invalid_request", "Invalid redirect_uri.")
        state = q.get("state")
        if q.get("response_type") != "code":
            return _redirect_with(redirect_uri, error="unsupported_response_type", state=state)
        scopes = q.get("scope", "").split()
        if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
            return _redirect_with(redirect_uri, error="invalid_scope", state=state)
        challenge = q.get("code_challenge")
        if challenge and q.get("code_challenge_method", "plain") != "S256":
            return _redirect_with(redirect_uri, error="invalid_request", state=state)
        if client.client_secret is None and not challenge:
            return _redirect_with(redirect_uri, error="invalid_request", state=state)
        pending = _PendingConsent(secrets.token_urlsafe(16), client, redirect_uri, " ".join(scopes), state, challenge)
        with self._lock:
            self._pending[pending.id] = pending
        return HTMLResponse(self._consent_page(pending))

    async def _consent_answer(self, request: Request) -> Response:
        form = await request.form()
        with self._lock:
            pending = self._pending.get(str(form.get("consent_id", "")))
        if pending is None:
            return self._error_page("invalid_request", "This sign-in request has expired. Start again from the app.")
        if form.get("action") != "allow":
            with self._lock:
                self._pending.pop(pending.id, None)
            return _redirect_with(pending.redirect_uri, error="access_denied", state=pending.state)
        chosen = [str(t) for t in form.getlist("tenant")]
        with self._lock:
            chosen = [t for t in chosen if t in self._organisations]
            if not chosen and any(s.startswith("accounting.") for s in pending.scope.split()):
                return HTMLResponse(self._consent_page(pending, error="Select at least one organisation."))
            self._pending.pop(pending.id, None)
            now = self.clock()
            auth_event_id = str(uuid.uuid4())
            for tenant_id in chosen:
                existing = next(
                    (
                        c
                        for c in self._connections.values()
                        if (c.user_id, c.client_id, c.tenant_id)
                        == (self.user.user_id, pending.client.client_id, tenant_id)
                    ),
                    None,
                )
                if existing:
                    existing.auth_event_id, existing.updated_at = auth_event_id, now
                else:
                    conn = _Connection(
                        str(uuid.uuid4()),
                        self.user.user_id,
                        pending.client.client_id,
                        tenant_id,
                        auth_event_id,
                        now,
                        now,
                    )
                    self._connections[conn.id] = conn
            code = secrets.token_urlsafe(32)
            self._codes[code] = _AuthCode(
                client_id=pending.client.client_id,
                redirect_uri=pending.redirect_uri,
                scope=pending.scope,
                user_id=self.user.user_id,
                auth_event_id=auth_event_id,
                code_challenge=pending.code_challenge,
                expires_at=now + CODE_LIFETIME,
            )
        return _redirect_with(
            pending.redirect_uri,
            code=code,
            scope=pending.scope,
            state=pending.state,
            session_state=secrets.token_hex(8),
        )

    def _consent_page(self, pending: _PendingConsent, *, error: str | None = None) -> str:
        e = html.escape
        organisations = sorted(self._organisations.values(), key=lambda o: o.name.casefold())
        boxes = "\n".join(
            f'<li><label><input type="checkbox" name="tenant" value="{e(o.tenant_id)}" checked> '
            f"{e(o.name)}{' (practice)' if o.tenant_type == 'PRACTICE' else ''}</label></li>"
            for o in organisations
        )
        permissions = "\n".join(f"<li>{e(SCOPE_WORDING[s])}</li>" for s in pending.scope.split() if s in SCOPE_WORDING)
        problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
        return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Xero | Authorise {e(pending.client.name)}</title></head>
<body>
<header><p class="login">Logged in as {e(self.user.name)} ({e(self.user.email)}) · <a href="#">Not you?</a></p></header>
<main>
<h1>{e(pending.client.name)} wants to access your Xero organisations</h1>
<p>{e(pending.client.name)} will be able to:</p>
<ul class="permissions">
{permissions}
</ul>
<form method="post" action="/identity/connect/authorize">
<input type="hidden" name="consent_id" value="{e(pending.id)}">
<fieldset><legend>Choose the organisations to connect</legend>
{problem}
<ul class="organisations">
{boxes}
</ul>
</fieldset>
<button type="submit" name="action" value="allow">Allow access</button>
<button type="submit" name="action" value="cancel">Cancel</button>
</form>
</main>
</body>
</html>"""

    @staticmethod
    def _error_page(error: str, message: str) -> HTMLResponse:
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Xero | Error</title></head>'
            f"<body><h1>Sorry, something went wrong</h1><p>{html.escape(message)}</p>"
            f'<p class="error-code">Error: {html.escape(error)}</p></body></html>'
        )
        return HTMLResponse(body, status_code=400)


def _redirect_with(redirect_uri: str, **params: str | None) -> RedirectResponse:
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=302)
