"""The OAuth2 server every accounting package's fake shares: a consent page where the fake's user chooses what to
connect, a token endpoint (authorization code with PKCE, rotating refresh tokens with a grace period), revocation,
signed access tokens for the package's API to check, and a clock that moves only when told.

A package's fake writes down what its package does differently as an `OAuth2Profile` (endpoint paths, Basic or
form-body client authentication, PKCE, lifetimes, scopes and their wording, what the consent page lets the user
choose), answers the `OAuth2Hooks` (what the page offers, what a consent connects and adds to the tokens and the
callback, what a revocation removes, its 401 body), and mounts the server's routes next to its API::

    MYOB = OAuth2Profile(
        title="MYOB",
        authorize_path="/oauth2/account/authorize",
        token_path="/oauth2/v1/authorize",
        client_auth=frozenset({ClientAuth.POST}),
        pkce=False,
        access_token_ttl=1200,
        choice=ConsentChoice(field="business", noun="company file", plural="company files", multiple=False),
    )

    class MyobState(OAuth2Hooks):
        def __init__(self, *, clock=time.time):
            self._lock = threading.RLock()
            self.oauth = OAuth2Server(MYOB, user=User(...), hooks=self, clock=clock, lock=self._lock)

        def consent_options(self, client):
            return [ConsentOption(f.id, f.name, checked=i == 0) for i, f in enumerate(self._files.values())]

        def authorise(self, consent):
            (file_id,) = consent.chosen
            return Authorisation(callback={"businessId": file_id, "businessName": self._files[file_id].name})

        def unauthorized(self, *, expired_at):
            return JSONResponse({"Errors": [{"Name": "Unauthorized", ...}]}, status_code=401)

        routes: [*self.oauth.routes(), Route("/accountright/{business_id}/Contact/Customer", ...)]
        and each API handler starts with `claims = self.oauth.bearer(request)` (it raises `Reply` with the 401).

Tests drive the page with `click_through_consent` and read the callback with `redirect_params`; `FakeClock` is
handed to the fake and to the provider's sleep and clock seams. `tests/fakes/xero/identity.py` is the worked
example.
"""

from __future__ import annotations

from tests.fakes.oauth2.clock import FakeClock
from tests.fakes.oauth2.consent_driver import click_through_consent, redirect_params
from tests.fakes.oauth2.errors import Reply, oauth_error, redirect_with
from tests.fakes.oauth2.profile import ClientAuth, ConsentChoice, OAuth2Profile, RevocationBody
from tests.fakes.oauth2.records import Authorisation, ClientApp, Consent, ConsentOption, User
from tests.fakes.oauth2.server import OAuth2Server
from tests.fakes.oauth2.state import OAuth2Hooks
from tests.fakes.oauth2.tokens import s256

__all__ = [
    "Authorisation",
    "ClientApp",
    "ClientAuth",
    "Consent",
    "ConsentChoice",
    "ConsentOption",
    "FakeClock",
    "OAuth2Hooks",
    "OAuth2Profile",
    "OAuth2Server",
    "Reply",
    "RevocationBody",
    "User",
    "click_through_consent",
    "oauth_error",
    "redirect_params",
    "redirect_with",
    "s256",
]
