"""The shared OAuth2 server of the fakes, set up as packages other than Xero set theirs up: one company file chosen
with a radio button and named in the callback (MYOB), the client secret only in the form body or only in HTTP
Basic, no PKCE, JSON revocation, a refresh token without `offline_access`, and the package's own 401 body.
Xero's settings of it are tested through the Xero fake (test_xero_fake.py)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.oauth2 import (
    Authorisation,
    ClientApp,
    ClientAuth,
    Consent,
    ConsentChoice,
    ConsentOption,
    FakeClock,
    OAuth2Hooks,
    OAuth2Profile,
    OAuth2Server,
    Reply,
    RevocationBody,
    User,
    click_through_consent,
    redirect_params,
    s256,
)

REDIRECT_URI = "http://localhost:3000/oauth/pkg/callback"

MYOB_LIKE = OAuth2Profile(
    title="MYOB",
    authorize_path="/oauth2/account/authorize",
    token_path="/oauth2/v1/authorize",
    client_auth=frozenset({ClientAuth.POST}),
    pkce=False,
    access_token_ttl=1200,
    grace_period=0,
    offline_scope=None,
    invalid_refresh_error="invalid_request",
    scope_wording={"sme-contacts-customer": "View your customers"},
    choice=ConsentChoice(field="business", noun="company file", plural="company files", multiple=False),
)
QUICKBOOKS_LIKE = OAuth2Profile(
    title="QuickBooks",
    authorize_path="/connect/oauth2",
    token_path="/oauth2/v1/tokens/bearer",
    revocation_path="/v2/oauth2/tokens/revoke",
    client_auth=frozenset({ClientAuth.BASIC}),
    revocation_body=RevocationBody.JSON,
    access_token_ttl=3600,
    refresh_token_lifetime=100 * 86400,
    offline_scope=None,
    refresh_expires_in_field="x_refresh_token_expires_in",
    choice=ConsentChoice(field="company", noun="company", plural="companies", multiple=False),
)


class CompanyFake(OAuth2Hooks):
    """A package whose user connects one company at a time and whose API answers `/api/me`."""

    def __init__(self, profile: OAuth2Profile, clock: FakeClock) -> None:
        self.companies = {"cf-1": "Clearwater Plumbing", "cf-2": "Bright <Cafe>"}
        self.revocations: list[tuple[str, str]] = []
        self.oauth = OAuth2Server(profile, user=User("u-1", "Pat Lee", "pat@example.com"), hooks=self, clock=clock)
        self.app = Starlette(routes=[*self.oauth.routes(), Route("/api/me", self._me)])

    def consent_options(self, client: ClientApp) -> list[ConsentOption]:
        return [ConsentOption(cid, name, checked=i == 0) for i, (cid, name) in enumerate(self.companies.items())]

    def authorise(self, consent: Consent) -> Authorisation:
        (company,) = consent.chosen
        return Authorisation(
            claims={"company": company}, callback={"businessId": company, "businessName": self.companies[company]}
        )

    def log_in_revoked(self, client: ClientApp, user_id: str) -> None:
        self.revocations.append((client.client_id, user_id))

    def unauthorized(self, *, expired_at: float | None) -> Response:
        name = "OAuthTokenIsInvalid" if expired_at is None else "OAuthTokenExpired"
        return JSONResponse({"Errors": [{"Name": name, "Severity": "Error"}]}, status_code=401)

    async def _me(self, request: Request) -> Response:
        try:
            claims = self.oauth.bearer(request)
        except Reply as reply:
            return reply.response
        return JSONResponse({"company": claims["company"]})


class Env:
    def __init__(self, profile: OAuth2Profile) -> None:
        self.clock = FakeClock()
        self.fake = CompanyFake(profile, self.clock)
        self.profile = profile
        self.client = self.fake.oauth.register_client(redirect_uris=[REDIRECT_URI])
        self.http = httpx2.Client(transport=ASGISyncTransport(self.fake.app), base_url="http://package.fake")

    def authorize_url(self, **extra: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "sme-contacts-customer",
            "state": "st",
            **extra,
        }
        return f"{self.profile.authorize_path}?{urlencode(params)}"

    def token(self, auth: ClientAuth | None = None, **form: str) -> httpx2.Response:
        secret = self.client.client_secret or ""
        if (auth or next(iter(self.profile.client_auth))) is ClientAuth.BASIC:
            return self.http.post(self.profile.token_path, data=form, auth=(self.client.client_id, secret))
        return self.http.post(
            self.profile.token_path, data={**form, "client_id": self.client.client_id, "client_secret": secret}
        )

    def log_in(self, company: str | None = None, **extra: str) -> tuple[dict[str, str], dict[str, Any]]:
        chosen = None if company is None else [company]
        params = redirect_params(click_through_consent(self.http, self.authorize_url(**extra), organisations=chosen))
        answer = self.token(grant_type="authorization_code", code=params["code"], redirect_uri=REDIRECT_URI)
        assert answer.status_code == 200, answer.text
        return params, answer.json()


@pytest.fixture
def make_env() -> Iterator[Callable[[OAuth2Profile], Env]]:
    made: list[Env] = []

    def make(profile: OAuth2Profile) -> Env:
        made.append(Env(profile))
        return made[-1]

    yield make
    for env in made:
        env.http.close()


@pytest.fixture(params=[MYOB_LIKE, QUICKBOOKS_LIKE], ids=lambda p: p.title)
def env(request: pytest.FixtureRequest, make_env: Callable[[OAuth2Profile], Env]) -> Env:
    return make_env(request.param)


def test_the_page_offers_one_company_and_the_callback_names_it(env: Env) -> None:
    page = env.http.get(env.authorize_url())

    assert f"accounts-bot wants to access your {env.profile.title} {env.profile.choice.plural}" in page.text
    field = env.profile.choice.field
    assert f'<input type="radio" name="{field}" value="cf-1" checked> Clearwater Plumbing' in page.text
    assert f'<input type="radio" name="{field}" value="cf-2"> Bright &lt;Cafe&gt;' in page.text
    assert f'<form method="post" action="{env.profile.authorize_path}">' in page.text

    params, tokens = env.log_in("cf-2")

    assert (params["businessId"], params["businessName"], params["state"]) == ("cf-2", "Bright <Cafe>", "st")
    me = env.http.get("/api/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json() == {"company": "cf-2"}
    assert tokens["expires_in"] == int(env.profile.access_token_ttl) and tokens["refresh_token"]


@pytest.mark.parametrize("chosen", [[], ["cf-1", "cf-2"]], ids=["none", "two"])
def test_one_company_exactly(env: Env, chosen: list[str]) -> None:
    answer = click_through_consent(env.http, env.authorize_url(), organisations=chosen)

    assert answer.status_code == 200
    assert f"Select a {env.profile.choice.noun}." in answer.text


def test_clients_authenticate_only_as_the_package_allows(env: Env) -> None:
    (allowed,) = env.profile.client_auth
    other = ClientAuth.POST if allowed is ClientAuth.BASIC else ClientAuth.BASIC
    code = redirect_params(click_through_consent(env.http, env.authorize_url()))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}

    refused = env.token(other, **form)
    accepted = env.token(allowed, **form)

    assert (refused.status_code, refused.json()) == (401, {"error": "invalid_client"})
    assert accepted.status_code == 200


def test_pkce_only_where_the_package_has_it(make_env: Callable[[OAuth2Profile], Env]) -> None:
    env = make_env(MYOB_LIKE)
    verifier = secrets.token_urlsafe(48)

    _, tokens = env.log_in(code_challenge=s256(verifier), code_challenge_method="S256")  # ignored: no verifier sent

    assert tokens["access_token"]
    with pytest.raises(ValueError, match="no PKCE"):
        env.fake.oauth.register_client(redirect_uris=[REDIRECT_URI], public=True)
    pkce = make_env(replace(MYOB_LIKE, pkce=True))
    url = pkce.authorize_url(code_challenge=s256(verifier), code_challenge_method="S256")
    code = redirect_params(click_through_consent(pkce.http, url))["code"]
    assert pkce.token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI).json() == {
        "error": "invalid_grant"
    }


def test_refresh_tokens_without_offline_access_and_their_lifetime_field(env: Env) -> None:
    _, tokens = env.log_in()

    rotated = env.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    replayed = env.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert replayed.json() == {"error": env.profile.invalid_refresh_error}
    field = env.profile.refresh_expires_in_field
    assert (field in rotated) == (field is not None)
    if field:
        assert rotated[field] == 100 * 86400


def test_the_packages_own_401(env: Env) -> None:
    _, tokens = env.log_in()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    forged = env.http.get("/api/me", headers={"Authorization": "Bearer a.b.c"})
    env.clock.advance(env.profile.access_token_ttl)
    expired = env.http.get("/api/me", headers=bearer)

    assert (forged.status_code, forged.json()["Errors"][0]["Name"]) == (401, "OAuthTokenIsInvalid")
    assert (expired.status_code, expired.json()["Errors"][0]["Name"]) == (401, "OAuthTokenExpired")


def test_json_revocation_tells_the_fake(make_env: Callable[[OAuth2Profile], Env]) -> None:
    env = make_env(QUICKBOOKS_LIKE)
    _, tokens = env.log_in()
    auth = (env.client.client_id, env.client.client_secret or "")

    as_form = env.http.post("/v2/oauth2/tokens/revoke", data={"token": tokens["refresh_token"]}, auth=auth)
    answer = env.http.post("/v2/oauth2/tokens/revoke", json={"token": tokens["refresh_token"]}, auth=auth)

    assert as_form.status_code == 400
    assert answer.status_code == 200 and env.fake.oauth.revoked == [tokens["refresh_token"]]
    assert env.fake.revocations == [(env.client.client_id, "u-1")]
    refused = env.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refused.json() == {"error": "invalid_grant"}


def test_no_revocation_endpoint_where_the_package_has_none(make_env: Callable[[OAuth2Profile], Env]) -> None:
    env = make_env(MYOB_LIKE)

    assert env.http.post("/connect/revocation", data={"token": "x"}).status_code == 404
