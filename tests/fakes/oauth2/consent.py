"""The log-in and consent page (the authorize endpoint): it checks the app's request, lets the user choose what
to connect (as the package's profile says: several organisations, or one company file), hands the choice to the
package's fake and sends the browser back with a code or an error."""

from __future__ import annotations

import html
import secrets

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from tests.fakes.oauth2.errors import redirect_with
from tests.fakes.oauth2.records import Consent, _AuthCode, _Grant, _PendingConsent
from tests.fakes.oauth2.state import OAuth2State


class ConsentPage(OAuth2State):
    async def authorize(self, request: Request) -> Response:
        """GET shows the consent page for an app's request; POST is the page's answer."""
        if request.method == "POST":
            return await self._consent_answer(request)
        profile, q = self.profile, request.query_params
        client = self._clients.get(q.get("client_id", ""))
        if client is None:
            return self._error_page("unauthorized_client", "Unknown client or client not enabled.")
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            return self._error_page("invalid_request", "Invalid redirect_uri.")
        state = q.get("state")
        if q.get("response_type") != "code":
            return redirect_with(redirect_uri, error="unsupported_response_type", state=state)
        scopes = q.get("scope", "").split()
        known = profile.known_scopes
        if not scopes or (known is not None and any(s not in known for s in scopes)):
            return redirect_with(redirect_uri, error="invalid_scope", state=state)
        challenge = q.get("code_challenge") if profile.pkce else None
        if challenge and q.get("code_challenge_method", "plain") != "S256":
            return redirect_with(redirect_uri, error="invalid_request", state=state)
        if client.client_secret is None and not challenge:
            return redirect_with(redirect_uri, error="invalid_request", state=state)
        pending = _PendingConsent(secrets.token_urlsafe(16), client, redirect_uri, " ".join(scopes), state, challenge)
        with self._lock:
            self._pending[pending.id] = pending
            page = self._consent_page(pending)
        return HTMLResponse(page)

    async def _consent_answer(self, request: Request) -> Response:
        form = await request.form()
        with self._lock:
            pending = self._pending.get(str(form.get("consent_id", "")))
        if pending is None:
            return self._error_page("invalid_request", "This sign-in request has expired. Start again from the app.")
        if form.get("action") != "allow":
            with self._lock:
                self._pending.pop(pending.id, None)
            return redirect_with(pending.redirect_uri, error="access_denied", state=pending.state)
        choice = self.profile.choice
        posted = {str(v) for v in form.getlist(choice.field)}
        with self._lock:
            chosen = tuple(o.value for o in self.hooks.consent_options(pending.client) if o.value in posted)
            if choice.needed(pending.scope.split()) and (not chosen or (len(chosen) > 1 and not choice.multiple)):
                return HTMLResponse(self._consent_page(pending, error=choice.missing))
            consent = Consent(pending.client, self.user, pending.scope, chosen)
            if problem := self.hooks.refusal(consent):
                return HTMLResponse(self._consent_page(pending, error=problem), status_code=403)
            self._pending.pop(pending.id, None)
            authorisation = self.hooks.authorise(consent)
            code = secrets.token_urlsafe(32)
            self._codes[code] = _AuthCode(
                grant=_Grant(pending.client.client_id, self.user.user_id, pending.scope, authorisation),
                redirect_uri=pending.redirect_uri,
                code_challenge=pending.code_challenge,
                expires_at=self.clock() + self.profile.code_lifetime,
            )
        return redirect_with(pending.redirect_uri, code=code, state=pending.state, **authorisation.callback)

    def _consent_page(self, pending: _PendingConsent, *, error: str | None = None) -> str:
        e, profile, choice = html.escape, self.profile, self.profile.choice
        kind = "checkbox" if choice.multiple else "radio"
        options = "\n".join(
            f'<li><label><input type="{kind}" name="{e(choice.field)}" value="{e(o.value)}"'
            f"{' checked' if o.checked else ''}> {e(o.label)}</label></li>"
            for o in self.hooks.consent_options(pending.client)
        )
        wording = profile.scope_wording
        permissions = "\n".join(f"<li>{e(wording[s])}</li>" for s in pending.scope.split() if s in wording)
        problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
        app, title = e(pending.client.name), e(profile.title)
        legend = f"Choose the {choice.plural if choice.multiple else choice.noun} to connect"
        return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} | Authorise {app}</title></head>
<body>
<header><p class="login">Logged in as {e(self.user.name)} ({e(self.user.email)}) · <a href="#">Not you?</a></p></header>
<main>
<h1>{app} wants to access your {title} {e(choice.plural)}</h1>
<p>{app} will be able to:</p>
<ul class="permissions">
{permissions}
</ul>
<form method="post" action="{e(profile.authorize_path)}">
<input type="hidden" name="consent_id" value="{e(pending.id)}">
<fieldset><legend>{e(legend)}</legend>
{problem}
<ul class="options">
{options}
</ul>
</fieldset>
<button type="submit" name="action" value="allow">Allow access</button>
<button type="submit" name="action" value="cancel">Cancel</button>
</form>
</main>
</body>
</html>"""

    def _error_page(self, error: str, message: str) -> HTMLResponse:
        body = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.profile.title)}'
            f" | Error</title></head><body><h1>Sorry, something went wrong</h1><p>{html.escape(message)}</p>"
            f'<p class="error-code">Error: {html.escape(error)}</p></body></html>'
        )
        return HTMLResponse(body, status_code=400)
