"""The Xero fake behaves like Xero: its success bodies validate against Xero's official OpenAPI specs
(copied in tests/specs/xero/), and its OAuth, limits, filters and errors follow PROVIDERS.md."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.request.validators import V30RequestParametersValidator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from providers.base import Link
from providers.xero.client import XeroProvider
from providers.xero.settings import XeroSettings
from tests.fakes.server import Mount, ServerThread, free_port
from tests.fakes.xero import (
    FakeClock,
    XeroClientApp,
    XeroFake,
    XeroLimits,
    click_through_consent,
    redirect_params,
)

SPECS = Path(__file__).parent / "specs" / "xero"
REDIRECT_URI = "http://localhost:3000/oauth/xero/callback"
SCOPES = "offline_access accounting.settings.read accounting.contacts.read"
API = "/api.xro/2.0"
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# The official specs, read with openapi-core


def _xero_date_time(value: object) -> bool:
    """RFC 3339, or the zone-less `2019-12-07T18:46:19.5165400` that /connections really returns
    (and that the identity spec's own example shows, though it declares `format: date-time`)."""
    if not isinstance(value, str):
        return True
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,7})?(Z|[+-]\d\d:\d\d)?", value)
    if not match:
        return False
    try:
        datetime.fromisoformat(match[1])
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2019-12-07T18:46:19.5165400", True),
        ("2019-12-07T18:46:19.516Z", True),
        ("2020-02-06T12:17:43.202-08:00", True),
        ("2019-13-07T18:46:19", False),
        ("07/12/2019 18:46", False),
        ("garbage", False),
    ],
)
def test_date_time_format_accepts_xeros_zone_less_form_only(value: str, valid: bool) -> None:
    assert _xero_date_time(value) is valid


def _load(name: str) -> tuple[OpenAPI, dict[str, Any]]:
    with (SPECS / name).open(encoding="utf-8") as f:
        document = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    # spec validation off: the accounting spec itself fails it (a boolean default written as a string)
    config = Config(
        spec_validator_cls=None,
        extra_format_validators={"date-time": _xero_date_time},
        request_validator_cls=V30RequestParametersValidator,  # openapi-core cannot check OAuth2 security
    )
    return OpenAPI.from_dict(document, config=config), document


@pytest.fixture(scope="module")
def accounting() -> tuple[OpenAPI, dict[str, Any]]:
    return _load("xero_accounting.yaml")


@pytest.fixture(scope="module")
def identity() -> tuple[OpenAPI, dict[str, Any]]:
    return _load("xero-identity.yaml")


@dataclass
class SpecRequest:
    """openapi-core's request protocol; the host is Xero's so the spec's servers match."""

    path: str
    method: str = "get"
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    host_url: str = "https://api.xero.com"
    body: bytes | None = None
    content_type: str = ""

    def __post_init__(self) -> None:
        self.parameters = RequestParameters(query=ImmutableMultiDict(self.query), header=Headers(self.headers))


@dataclass
class SpecResponse:
    status_code: int
    data: bytes
    content_type: str
    headers: Headers


def assert_valid(spec: tuple[OpenAPI, dict[str, Any]], path: str, response: httpx2.Response) -> Any:
    """Validate a success body against the spec, then check that no object has a field the spec lacks."""
    assert response.status_code == 200, response.text
    api, document = spec
    answer = SpecResponse(200, response.content, response.headers["content-type"], Headers(dict(response.headers)))
    api.validate_response(SpecRequest(path, headers={"xero-tenant-id": "x"}), answer)
    body = response.json()
    schemas = document["components"]["schemas"]
    for key, schema in (("Contacts", "Contact"), ("Accounts", "Account")):
        for row in body.get(key, []) if isinstance(body, dict) else []:
            assert set(row) <= set(schemas[schema]["properties"]), set(row) - set(schemas[schema]["properties"])
    if isinstance(body, list):
        for row in body:
            assert set(row) <= set(schemas["Connection"]["properties"])
    return body


def test_spec_copies_match_their_source() -> None:
    source = (SPECS / "SOURCE.txt").read_text()
    for name in ("xero_accounting.yaml", "xero-identity.yaml"):
        digest = hashlib.sha256((SPECS / name).read_bytes()).hexdigest()
        assert re.search(rf"{re.escape(name)}\s+\d+ bytes\s+sha256 {digest}", source), name
    assert (SPECS / "LICENSE").read_text().startswith("MIT License")


# ---------------------------------------------------------------------------------------------
# A fake on a real port, and a log-in through it with plain HTTP


@dataclass
class Env:
    fake: XeroFake
    clock: FakeClock
    server: ServerThread
    client: XeroClientApp
    http: httpx2.Client
    tenants: list[str]

    @property
    def url(self) -> str:
        return self.server.url

    def authorize_url(self, challenge: str | None = None, **overrides: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": SCOPES,
            "state": "state-1",
        }
        if challenge:
            params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        params |= overrides
        return f"{self.url}/identity/connect/authorize?{urlencode(params)}"

    def token(self, **form: str) -> httpx2.Response:
        if self.client.client_secret is None:  # a PKCE app names itself in the form
            return self.http.post(f"{self.url}/connect/token", data={**form, "client_id": self.client.client_id})
        auth = (self.client.client_id, self.client.client_secret)
        return self.http.post(f"{self.url}/connect/token", data=form, auth=auth)

    def log_in(self, tenants: list[str] | None = None, scope: str = SCOPES) -> dict[str, Any]:
        verifier = secrets.token_urlsafe(48)
        answer = click_through_consent(
            self.http, self.authorize_url(s256(verifier), scope=scope), organisations=tenants
        )
        code = redirect_params(answer)["code"]
        response = self.token(
            grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier
        )
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    def get(self, path: str, tokens: dict[str, Any], tenant: str | None = None, **kwargs: Any) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {tokens['access_token']}", **kwargs.pop("headers", {})}
        if tenant:
            headers["xero-tenant-id"] = tenant
        return self.http.get(f"{self.url}{path}", headers=headers, **kwargs)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ServerThread, Mount]]:
    current = Mount()
    with ServerThread(current) as server:
        yield server, current


@pytest.fixture
def make_env(served: tuple[ServerThread, Mount]) -> Iterator[Callable[..., Env]]:
    server, current = served
    made: list[Env] = []

    def make(*, organisations: tuple[str, ...] = ("Demo Company (NZ)",), public: bool = False, **options: Any) -> Env:
        assert not made, "one fake a test"
        clock = FakeClock()
        fake = XeroFake(clock=clock, **options)
        tenants = [fake.add_organisation(name) for name in organisations]
        client = fake.register_client(redirect_uris=[REDIRECT_URI], public=public, name="accounts-bot")
        current.app = fake
        env = Env(fake, clock, server, client, httpx2.Client(), tenants)
        made.append(env)
        return env

    yield make
    for env in made:
        env.http.close()
    current.app = None


@pytest.fixture
def env(make_env: Callable[..., Env]) -> Env:
    return make_env()


# ---------------------------------------------------------------------------------------------
# Success bodies against the official spec


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({}, {}),
        ({"where": 'Status=="ACTIVE"'}, {}),
        ({"where": 'Type=="BANK"'}, {}),
        ({"where": 'Status=="ACTIVE" AND Type=="BANK"', "order": "Name DESC"}, {}),
        ({"order": "Code ASC"}, {}),
        ({}, {"If-Modified-Since": "2025-06-01T00:00:00"}),
    ],
)
def test_accounts_match_the_spec(
    env: Env, accounting: tuple[OpenAPI, dict[str, Any]], params: dict[str, str], headers: dict[str, str]
) -> None:
    tenant = env.tenants[0]
    env.fake.seed_accounts(tenant, 20)
    env.clock.advance(60)
    env.fake.archive_account(tenant, env.fake.accounts(tenant)[5]["AccountID"])
    tokens = env.log_in()

    body = assert_valid(
        accounting, f"{API}/Accounts", env.get(f"{API}/Accounts", tokens, tenant, params=params, headers=headers)
    )

    assert body["Status"] == "OK" and re.fullmatch(r"/Date\(\d+\)/", body["DateTimeUTC"])
    assert body["ProviderName"] == "accounts-bot" and body["Accounts"]
    for account in body["Accounts"]:
        assert re.fullmatch(r"/Date\(\d+\+0000\)/", account["UpdatedDateUTC"])


def test_accounts_filters_order_and_changes(env: Env) -> None:
    tenant = env.tenants[0]
    tokens = env.log_in()

    def names(**params: str) -> list[str]:
        return [a["Name"] for a in env.get(f"{API}/Accounts", tokens, tenant, params=params).json()["Accounts"]]

    everything = names()
    assert len(everything) >= 30 and "Travel - International" in everything
    assert names(where='Type=="BANK"') == ["Business Bank Account", "Business Savings Account", "Company Credit Card"]
    assert "Travel - International" not in names(where='Status=="ACTIVE"')
    assert names(order="Name DESC") == sorted(everything, key=str.casefold, reverse=True)
    bank = env.get(f"{API}/Accounts", tokens, tenant, params={"where": 'Type=="BANK"'}).json()["Accounts"]
    assert [a.get("Code") for a in bank] == ["090", None, ""]  # bank accounts need no code
    since = datetime.fromtimestamp(env.clock(), UTC).isoformat()
    env.clock.advance(5)
    env.fake.update_account(tenant, bank[0]["AccountID"], Name="Main Account")
    changed = env.get(f"{API}/Accounts", tokens, tenant, headers={"If-Modified-Since": since}).json()
    assert [a["Name"] for a in changed["Accounts"]] == ["Main Account"]


CONTACT_QUERIES = [
    {"page": "1"},
    {"page": "2", "pageSize": "50"},
    {"page": "99"},
    {},
    {"summaryOnly": "true"},
    {"page": "1", "summaryOnly": "true"},
    {"includeArchived": "true", "page": "1", "pageSize": "1000"},
    {"searchTerm": "plumbing"},
    {"where": "IsCustomer==true", "page": "1"},
    {"where": 'ContactStatus=="ACTIVE" AND IsSupplier==true'},
    {"order": "UpdatedDateUTC DESC", "page": "1"},
]


@pytest.mark.parametrize("params", CONTACT_QUERIES, ids=lambda p: urlencode(p) or "all")
def test_contacts_match_the_spec(env: Env, accounting: tuple[OpenAPI, dict[str, Any]], params: dict[str, str]) -> None:
    tenant = env.tenants[0]
    ids = env.fake.seed_contacts(tenant, 260)
    env.fake.merge_contacts(tenant, ids[0], ids[1])
    env.fake.gdpr_erase(tenant, ids[2])
    env.fake.add_contact(tenant, "Added By Hand", EmailAddress="hand@example.com", IsCustomer=True)
    tokens = env.log_in()

    body = assert_valid(accounting, f"{API}/Contacts", env.get(f"{API}/Contacts", tokens, tenant, params=params))

    assert ("pagination" in body) == ("page" in params)
    for contact in body["Contacts"]:
        assert re.fullmatch(r"/Date\(-?\d+\+0000\)/", contact["UpdatedDateUTC"])


def test_contacts_by_ids_match_the_spec(env: Env, accounting: tuple[OpenAPI, dict[str, Any]]) -> None:
    ids = env.fake.seed_contacts(env.tenants[0], 30)
    tokens = env.log_in()
    response = env.get(f"{API}/Contacts", tokens, env.tenants[0], params={"IDs": ",".join(ids[3:6])})

    body = assert_valid(accounting, f"{API}/Contacts", response)

    assert sorted(c["ContactID"] for c in body["Contacts"]) == sorted(ids[3:6])


@pytest.mark.parametrize("path", ["/Connections", "/connections"])
@pytest.mark.parametrize("by_event", [False, True])
def test_connections_match_the_spec(
    make_env: Callable[..., Env], identity: tuple[OpenAPI, dict[str, Any]], path: str, by_event: bool
) -> None:
    env = make_env(organisations=("Alpha Ltd", "Bravo Ltd"))
    env.tenants.append(env.fake.add_organisation("Practice Co", "PRACTICE"))
    env.log_in([env.tenants[0]])
    tokens = env.log_in(env.tenants[1:])
    event = env.fake.access_token_claims(tokens["access_token"])["authentication_event_id"]
    params = {"authEventId": event} if by_event else {}

    body = assert_valid(identity, "/Connections", env.get(path, tokens, params=params))

    assert [c["tenantId"] for c in body] == (env.tenants[1:] if by_event else env.tenants)
    for connection in body:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}", connection["createdDateUtc"])
    assert [c["tenantType"] for c in body][-1] == "PRACTICE"
    assert all(c["authEventId"] == event for c in body if c["tenantId"] in env.tenants[1:])


def test_the_providers_requests_match_the_spec(env: Env, accounting: tuple[OpenAPI, dict[str, Any]]) -> None:
    env.fake.seed_contacts(env.tenants[0], 30)
    tokens = env.log_in()
    provider = XeroProvider(
        XeroSettings(_env_file=None, client_id=env.client.client_id, api_url=f"{env.url}{API}"),
        sleep=env.clock.sleep,
        clock=env.clock,
    )

    class Keeper:
        def access_token(self) -> str:
            return str(tokens["access_token"])

        def refreshed_access_token(self, rejected: str) -> str:
            raise AssertionError("no refresh expected")

        def refresh_token(self) -> str | None:
            return None

    try:
        link = Link(env.tenants[0], Keeper())
        provider.accounts(link)
        list(provider.customers(link, since=datetime(2025, 1, 1, tzinfo=UTC)))
    finally:
        provider.close()

    api, _ = accounting
    for call in env.fake.calls_to(API):
        path = re.sub(
            f"^{re.escape(API)}/(contacts|accounts)", lambda m: f"{API}/{m[1].title()}", call.path, flags=re.I
        )
        api.validate_request(SpecRequest(path, query=call.query, headers=call.headers))


# ---------------------------------------------------------------------------------------------
# OAuth: the consent page


def test_consent_page_is_a_real_form(make_env: Callable[..., Env]) -> None:
    env = make_env(organisations=("Alpha Ltd", "<b>Bravo</b> & Co"))

    page = env.http.get(env.authorize_url())

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "Logged in as Demo User (demo.user@example.com)" in text
    assert "accounts-bot wants to access your Xero organisations" in text
    assert "View your contacts" in text
    assert "&lt;b&gt;Bravo&lt;/b&gt; &amp; Co" in text and "<b>Bravo" not in text
    boxes = re.findall(r'<input type="checkbox" name="tenant" value="([^"]+)" checked>', text)
    assert sorted(boxes) == sorted(env.tenants)
    assert re.search(r'<form method="post" action="/identity/connect/authorize">', text)
    assert ">Allow access</button>" in text and ">Cancel</button>" in text


def test_allow_redirects_with_code_and_state_and_creates_connections(make_env: Callable[..., Env]) -> None:
    env = make_env(organisations=("Alpha Ltd", "Bravo Ltd"))

    answer = click_through_consent(env.http, env.authorize_url(), organisations=[env.tenants[1]])

    assert answer.status_code == 302 and answer.headers["location"].startswith(REDIRECT_URI + "?")
    params = redirect_params(answer)
    assert params["state"] == "state-1" and params["code"] and params["scope"] == SCOPES
    assert [c["tenantId"] for c in env.fake.connections] == [env.tenants[1]]


def test_cancel_redirects_with_access_denied(env: Env) -> None:
    answer = click_through_consent(env.http, env.authorize_url(), button="Cancel")

    assert answer.status_code == 302
    assert redirect_params(answer) == {"error": "access_denied", "state": "state-1"}
    assert env.fake.connections == []


def test_allow_without_an_organisation_asks_again(env: Env) -> None:
    answer = click_through_consent(env.http, env.authorize_url(), organisations=[])

    assert answer.status_code == 200 and "Select at least one organisation." in answer.text
    assert env.fake.connections == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"client_id": "NOT-A-CLIENT"}, "Unknown client"),
        ({"redirect_uri": "https://evil.example/cb"}, "Invalid redirect_uri"),
        ({"redirect_uri": REDIRECT_URI + "/extra"}, "Invalid redirect_uri"),
    ],
)
def test_authorize_errors_show_a_page_and_never_redirect(env: Env, overrides: dict[str, str], message: str) -> None:
    page = env.http.get(env.authorize_url(**overrides))

    assert page.status_code == 400 and "location" not in page.headers
    assert message in page.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "offline_access accounting.everything"}, "invalid_scope"),
        ({"code_challenge": "abc", "code_challenge_method": "plain"}, "invalid_request"),
    ],
)
def test_authorize_request_errors_redirect(env: Env, overrides: dict[str, str], error: str) -> None:
    answer = env.http.get(env.authorize_url(**overrides))

    assert answer.status_code == 302
    assert redirect_params(answer) == {"error": error, "state": "state-1"}


def test_a_pkce_app_must_send_a_challenge(make_env: Callable[..., Env]) -> None:
    env = make_env(public=True)

    assert redirect_params(env.http.get(env.authorize_url()))["error"] == "invalid_request"
    tokens = env.log_in()
    assert tokens["access_token"] and tokens["refresh_token"]


# ---------------------------------------------------------------------------------------------
# OAuth: tokens


def test_tokens_are_jwts_with_xero_claims(env: Env) -> None:
    tokens = env.log_in(scope=f"openid profile email {SCOPES}")

    assert (tokens["expires_in"], tokens["token_type"], tokens["scope"]) == (
        1800,
        "Bearer",
        f"openid profile email {SCOPES}",
    )
    header, payload, _ = tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert json.loads(base64.urlsafe_b64decode(header + "==="))["alg"] == "HS256"
    assert claims["exp"] == env.clock() + 1800 and claims["xero_userid"] == env.fake.user.user_id
    assert claims["authentication_event_id"] == env.fake.connections[0]["authEventId"]
    assert claims["client_id"] == env.client.client_id
    assert tokens["id_token"].count(".") == 2


def test_no_refresh_token_without_offline_access(env: Env) -> None:
    tokens = env.log_in(scope="accounting.contacts.read")

    assert "refresh_token" not in tokens


@pytest.mark.parametrize(
    ("mistake", "status", "error"),
    [
        ("wrong secret", 401, "invalid_client"),
        ("unknown client", 401, "invalid_client"),
        ("code expired", 400, "invalid_grant"),
        ("code reused", 400, "invalid_grant"),
        ("wrong verifier", 400, "invalid_grant"),
        ("wrong redirect", 400, "invalid_grant"),
        ("grant type", 400, "unsupported_grant_type"),
    ],
)
def test_token_endpoint_refusals(env: Env, mistake: str, status: int, error: str) -> None:
    verifier = secrets.token_urlsafe(48)
    code = redirect_params(click_through_consent(env.http, env.authorize_url(s256(verifier))))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    auth = (env.client.client_id, env.client.client_secret or "")
    if mistake == "wrong secret":
        auth = (env.client.client_id, "nope")
    elif mistake == "unknown client":
        auth = ("SOMEONE-ELSE", "nope")
    elif mistake == "code expired":
        env.clock.advance(301)
    elif mistake == "code reused":
        assert env.http.post(f"{env.url}/connect/token", data=form, auth=auth).status_code == 200
    elif mistake == "wrong verifier":
        form["code_verifier"] = secrets.token_urlsafe(48)
    elif mistake == "wrong redirect":
        form["redirect_uri"] = "http://localhost:3000/other"
    else:
        form["grant_type"] = "password"

    answer = env.http.post(f"{env.url}/connect/token", data=form, auth=auth)

    assert (answer.status_code, answer.json()) == (status, {"error": error})


def test_client_secret_post_is_accepted(env: Env) -> None:
    code = redirect_params(click_through_consent(env.http, env.authorize_url()))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": env.client.client_id,
        "client_secret": env.client.client_secret or "",
    }

    assert env.http.post(f"{env.url}/connect/token", data=form).status_code == 200


def test_refresh_rotates_with_grace_then_invalid_grant(env: Env) -> None:
    first = env.log_in()

    def refresh(token: str) -> httpx2.Response:
        return env.token(grant_type="refresh_token", refresh_token=token)

    second = refresh(first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    env.clock.advance(1799)
    assert refresh(first["refresh_token"]).json() == second  # the same new pair again
    env.clock.advance(2)
    assert (refresh(first["refresh_token"]).status_code, refresh("unknown").json()) == (400, {"error": "invalid_grant"})
    third = refresh(second["refresh_token"]).json()
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    assert env.fake.refreshes_spent == {first["refresh_token"]: 2, second["refresh_token"]: 1}


def test_unused_refresh_tokens_expire_after_60_days(env: Env) -> None:
    tokens = env.log_in()
    env.clock.advance(61 * 86400)

    answer = env.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    assert (answer.status_code, answer.json()) == (400, {"error": "invalid_grant"})


def test_revocation_removes_the_users_connections(make_env: Callable[..., Env]) -> None:
    env = make_env(organisations=("Alpha Ltd", "Bravo Ltd"))
    tokens = env.log_in()
    rotated = env.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    auth = (env.client.client_id, env.client.client_secret or "")

    answer = env.http.post(f"{env.url}/connect/revocation", data={"token": rotated["refresh_token"]}, auth=auth)

    assert answer.status_code == 200
    assert env.fake.connections == [] and env.fake.revoked == [rotated["refresh_token"]]
    assert env.get("/connections", rotated).json() == []
    for token in (tokens["refresh_token"], rotated["refresh_token"]):
        assert env.token(grant_type="refresh_token", refresh_token=token).json() == {"error": "invalid_grant"}


def test_delete_connection(make_env: Callable[..., Env]) -> None:
    env = make_env(organisations=("Alpha Ltd", "Bravo Ltd"))
    tokens = env.log_in()
    first = env.fake.connections[0]["id"]
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    assert env.http.delete(f"{env.url}/Connections/{first}", headers=bearer).status_code == 204
    assert env.http.delete(f"{env.url}/connections/{first}", headers=bearer).status_code == 404
    assert [c["tenantId"] for c in env.get("/connections", tokens).json()] == [env.tenants[1]]
    assert env.get(f"{API}/Accounts", tokens, env.tenants[0]).status_code == 403


# ---------------------------------------------------------------------------------------------
# Accounting API: who may call


def test_accounting_calls_need_a_valid_unexpired_token(env: Env) -> None:
    tokens = env.log_in()
    tenant = env.tenants[0]

    missing = env.http.get(f"{env.url}{API}/Contacts", headers={"xero-tenant-id": tenant})
    forged = env.get(f"{API}/Contacts", {"access_token": "a.b.c"}, tenant)
    env.clock.advance(1800)
    expired = env.get(f"{API}/Contacts", tokens, tenant)

    for answer in (missing, forged, expired):
        assert answer.status_code == 401 and answer.json()["Title"] == "Unauthorized"
        assert answer.json()["Status"] == 401
    assert missing.json()["Detail"] == "AuthenticationUnsuccessful"
    assert re.fullmatch(r"TokenExpired: token expired at \d\d/\d\d/\d{4} \d\d:\d\d:\d\d", expired.json()["Detail"])


@pytest.mark.parametrize("tenant", ["missing", "unknown", "not connected"])
def test_accounting_calls_need_a_connected_tenant(make_env: Callable[..., Env], tenant: str) -> None:
    env = make_env(organisations=("Alpha Ltd", "Bravo Ltd"))
    tokens = env.log_in([env.tenants[0]])
    tenant_id = {"missing": None, "unknown": "00000000-0000-0000-0000-000000000001", "not connected": env.tenants[1]}[
        tenant
    ]

    answer = env.get(f"{API}/Accounts", tokens, tenant_id)

    assert answer.status_code == 403
    assert {k: answer.json()[k] for k in ("Title", "Status", "Detail")} == {
        "Title": "Forbidden",
        "Status": 403,
        "Detail": "AuthenticationUnsuccessful",
    }


def test_accounting_calls_need_the_scope(env: Env) -> None:
    tokens = env.log_in(scope="offline_access accounting.contacts.read")

    assert env.get(f"{API}/Contacts", tokens, env.tenants[0]).status_code == 200
    assert env.get(f"{API}/Accounts", tokens, env.tenants[0]).json()["Detail"] == "AuthorizationUnsuccessful"


@pytest.mark.parametrize(
    "path", [f"{API}/contacts", "/API.XRO/2.0/CONTACTS", f"{API}/Contacts", "/Connections", "/CONNECTIONS"]
)
def test_paths_are_case_insensitive(env: Env, path: str) -> None:
    tokens = env.log_in()

    assert env.get(path, tokens, env.tenants[0]).status_code == 200


def test_unknown_resources_are_404(env: Env) -> None:
    tokens = env.log_in()

    answer = env.get(f"{API}/Widgets", tokens, env.tenants[0])

    assert answer.status_code == 404 and "cannot be found" in answer.text


# ---------------------------------------------------------------------------------------------
# Accounting API: contacts


@pytest.fixture
def contacts_env(env: Env) -> tuple[Env, dict[str, Any], list[str]]:
    ids = env.fake.seed_contacts(env.tenants[0], 250)
    return env, env.log_in(), ids


def _contacts(env: Env, tokens: dict[str, Any], **params: str) -> dict[str, Any]:
    answer = env.get(f"{API}/Contacts", tokens, env.tenants[0], params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize(
    ("params", "pagination"),
    [
        ({"page": "1"}, {"page": 1, "pageSize": 100, "pageCount": 3, "itemCount": 240}),
        ({"page": "3"}, {"page": 3, "pageSize": 100, "pageCount": 3, "itemCount": 240}),
        ({"page": "2", "pageSize": "200"}, {"page": 2, "pageSize": 200, "pageCount": 2, "itemCount": 240}),
        ({"page": "1", "pageSize": "5000"}, {"page": 1, "pageSize": 1000, "pageCount": 1, "itemCount": 240}),
        ({"page": "1", "includeArchived": "true"}, {"page": 1, "pageSize": 100, "pageCount": 3, "itemCount": 250}),
    ],
)
def test_contacts_paging(
    contacts_env: tuple[Env, dict[str, Any], list[str]], params: dict[str, str], pagination: dict[str, int]
) -> None:
    env, tokens, _ = contacts_env

    body = _contacts(env, tokens, **params)

    assert body["pagination"] == pagination
    expected = min(pagination["pageSize"], pagination["itemCount"] - (pagination["page"] - 1) * pagination["pageSize"])
    assert len(body["Contacts"]) == expected


def test_contacts_pages_cover_everything_once(contacts_env: tuple[Env, dict[str, Any], list[str]]) -> None:
    env, tokens, ids = contacts_env

    seen = [
        c["ContactID"]
        for p in (1, 2, 3)
        for c in _contacts(env, tokens, page=str(p), includeArchived="true")["Contacts"]
    ]

    assert sorted(seen) == sorted(ids)


def test_contacts_without_page_leave_out_detail_fields(contacts_env: tuple[Env, dict[str, Any], list[str]]) -> None:
    env, tokens, ids = contacts_env
    env.fake.merge_contacts(env.tenants[0], ids[0], ids[1])

    everything = _contacts(env, tokens, includeArchived="true")["Contacts"]
    paged = _contacts(env, tokens, page="1", pageSize="1000", includeArchived="true")["Contacts"]
    summary = _contacts(env, tokens, page="1", summaryOnly="true")["Contacts"]

    assert len(everything) == 250
    assert not any("ContactPersons" in c or "PaymentTerms" in c or "MergedToContactID" in c for c in everything)
    assert all("ContactPersons" in c for c in paged) and any("PaymentTerms" in c for c in paged)
    assert [c["MergedToContactID"] for c in paged if "MergedToContactID" in c] == [ids[1]]
    assert not any("Balances" in c for c in summary) and any("Balances" in c for c in paged)


def test_seeded_contacts_are_varied(contacts_env: tuple[Env, dict[str, Any], list[str]]) -> None:
    env, tokens, _ = contacts_env

    contacts = _contacts(env, tokens, includeArchived="true")["Contacts"]

    assert any(not c["EmailAddress"] for c in contacts)
    assert any(not any(p["PhoneNumber"] for p in c["Phones"]) for c in contacts)
    assert any(not any(a.get("City") for a in c["Addresses"]) for c in contacts)
    assert any(c["IsSupplier"] and not c["IsCustomer"] for c in contacts)
    assert any(not c["IsSupplier"] and not c["IsCustomer"] for c in contacts)
    assert any(c["ContactStatus"] == "ARCHIVED" for c in contacts)
    assert any(re.search(r"[<>&*_~`]", c["Name"]) for c in contacts)
    assert len({c["Name"] for c in contacts}) == len(contacts)  # names are unique in Xero


def test_seeding_is_deterministic() -> None:
    def seeded() -> list[dict[str, Any]]:
        fake = XeroFake(clock=FakeClock())
        tenant = fake.add_organisation("Same")
        return [fake.contact(tenant, i) for i in fake.seed_contacts(tenant, 50)]

    assert seeded() == seeded()


@pytest.mark.parametrize(
    ("where", "check"),
    [
        ("IsCustomer==true", lambda c: c["IsCustomer"] is True),
        ('ContactStatus=="ACTIVE"', lambda c: c["ContactStatus"] == "ACTIVE"),
        ("IsCustomer==true AND IsSupplier==false", lambda c: c["IsCustomer"] and not c["IsSupplier"]),
        ('Name.StartsWith("Harbour")', lambda c: c["Name"].startswith("Harbour")),
        ('Name.Contains("plumbing") OR EmailAddress==""', lambda c: "Plumbing" in c["Name"] or not c["EmailAddress"]),
        ('EmailAddress!=null AND EmailAddress!=""', lambda c: bool(c["EmailAddress"])),
    ],
)
def test_contacts_where(
    contacts_env: tuple[Env, dict[str, Any], list[str]], where: str, check: Callable[[dict[str, Any]], bool]
) -> None:
    env, tokens, _ = contacts_env

    matched = _contacts(env, tokens, where=where)["Contacts"]
    everything = _contacts(env, tokens)["Contacts"]

    assert matched and all(check(c) for c in matched)
    assert len(matched) == sum(1 for c in everything if check(c))


def test_contacts_where_by_name_and_email(contacts_env: tuple[Env, dict[str, Any], list[str]]) -> None:
    env, tokens, ids = contacts_env
    contact = env.fake.contact(env.tenants[0], ids[4])

    by_name = _contacts(env, tokens, where=f"Name=={json.dumps(contact['Name'].upper())}")["Contacts"]
    by_email = _contacts(env, tokens, where=f'EmailAddress=="{contact["EmailAddress"]}"')["Contacts"]

    assert [c["ContactID"] for c in by_name] == [c["ContactID"] for c in by_email] == [ids[4]]


@pytest.mark.parametrize("where", ["Name==", 'Name=="x" AND', 'Name.Explode("x")', '"x"=="x"'])
def test_contacts_where_parse_errors(contacts_env: tuple[Env, dict[str, Any], list[str]], where: str) -> None:
    env, tokens, _ = contacts_env

    answer = env.get(f"{API}/Contacts", tokens, env.tenants[0], params={"where": where})

    assert answer.status_code == 400 and answer.json()["Type"] == "QueryParseException"


@pytest.mark.parametrize(
    ("where", "refused"),
    [
        ("IsCustomer==true", True),
        ('ContactStatus=="ACTIVE"', True),
        ('Name=="Someone"', False),
        ('EmailAddress=="a@example.com"', False),
        ('AccountNumber=="ACC-5"', False),
        ('Name.StartsWith("Harbour") OR EmailAddress=="x"', False),
        ('Name=="x" AND IsSupplier==true', True),
    ],
)
def test_large_organisations_refuse_most_filters(make_env: Callable[..., Env], where: str, refused: bool) -> None:
    env = make_env(high_volume_threshold=100)
    env.fake.seed_contacts(env.tenants[0], 101)
    tokens = env.log_in()

    answer = env.get(f"{API}/Contacts", tokens, env.tenants[0], params={"where": where})

    if refused:
        assert answer.status_code == 400
        assert {k: answer.json()[k] for k in ("ErrorNumber", "Type")} == {
            "ErrorNumber": 51,
            "Type": "HighVolumeException",
        }
    else:
        assert answer.status_code == 200
    assert env.get(f"{API}/Contacts", tokens, env.tenants[0], params={"page": "1"}).status_code == 200


def test_contacts_search_ids_and_archived(contacts_env: tuple[Env, dict[str, Any], list[str]]) -> None:
    env, tokens, ids = contacts_env
    archived = [i for i in ids if env.fake.contact(env.tenants[0], i)["ContactStatus"] == "ARCHIVED"]

    searched = _contacts(env, tokens, searchTerm="PLUMBING")["Contacts"]
    by_ids = _contacts(env, tokens, IDs=f"{ids[0]},{archived[0]}")["Contacts"]

    assert searched and all("plumbing" in c["Name"].lower() for c in searched)
    assert sorted(c["ContactID"] for c in by_ids) == sorted([ids[0], archived[0]])
    assert not set(archived) & {c["ContactID"] for c in _contacts(env, tokens)["Contacts"]}
    assert set(archived) <= {c["ContactID"] for c in _contacts(env, tokens, includeArchived="true")["Contacts"]}


@pytest.mark.parametrize("header_format", ["iso", "iso-naive", "http-date"])
def test_contacts_if_modified_since(contacts_env: tuple[Env, dict[str, Any], list[str]], header_format: str) -> None:
    env, tokens, ids = contacts_env
    moment = datetime.fromtimestamp(env.clock(), UTC)
    since = {
        "iso": moment.isoformat(timespec="milliseconds"),
        "iso-naive": moment.replace(tzinfo=None).isoformat(),
        "http-date": moment.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }[header_format]
    env.clock.advance(10)
    env.fake.update_contact(env.tenants[0], ids[1], Name="Renamed Ltd")
    env.fake.archive_contact(env.tenants[0], ids[2])
    env.fake.update_contact(env.tenants[0], ids[3], IsCustomer=False, IsSupplier=True)  # not a modification
    env.fake.update_contact(env.tenants[0], ids[4], Balances={})  # nor this

    answer = env.get(
        f"{API}/Contacts",
        tokens,
        env.tenants[0],
        params={"includeArchived": "true"},
        headers={"If-Modified-Since": since},
    )

    assert sorted(c["ContactID"] for c in answer.json()["Contacts"]) == sorted([ids[1], ids[2]])


# ---------------------------------------------------------------------------------------------
# Limits


def _limit_headers(answer: httpx2.Response) -> tuple[int, int, int]:
    return tuple(
        int(answer.headers[h]) for h in ("X-MinLimit-Remaining", "X-DayLimit-Remaining", "X-AppMinLimit-Remaining")
    )  # type: ignore[return-value]


def test_every_answer_carries_the_remaining_calls(env: Env) -> None:
    tokens = env.log_in()

    answers = [env.get(f"{API}/Accounts", tokens, env.tenants[0]) for _ in range(3)]

    assert [_limit_headers(a) for a in answers] == [(59, 4999, 9999), (58, 4998, 9998), (57, 4997, 9997)]


def test_minute_limit_rolls(make_env: Callable[..., Env]) -> None:
    env = make_env(limits=XeroLimits(per_minute=3))
    tokens = env.log_in()

    def call() -> httpx2.Response:
        return env.get(f"{API}/Accounts", tokens, env.tenants[0])

    assert [call().status_code for _ in range(3)] == [200, 200, 200]
    env.clock.advance(20)
    refused = call()
    assert refused.status_code == 429
    assert (refused.headers["Retry-After"], refused.headers["X-Rate-Limit-Problem"]) == ("40", "minute")
    assert refused.headers["X-MinLimit-Remaining"] == "0"
    env.clock.advance(40)
    assert call().status_code == 200
    assert env.fake.in_window(env.tenants[0]) == 1


def test_day_limit(make_env: Callable[..., Env]) -> None:
    env = make_env(limits=XeroLimits(per_day=2))
    tokens = env.log_in()
    for _ in range(2):
        env.get(f"{API}/Accounts", tokens, env.tenants[0])
        env.clock.advance(600)

    refused = env.get(f"{API}/Accounts", tokens, env.tenants[0])

    assert refused.status_code == 429 and refused.headers["X-Rate-Limit-Problem"] == "day"
    assert int(refused.headers["Retry-After"]) == 86400 - 1200
    assert refused.headers["X-DayLimit-Remaining"] == "0"


def test_app_minute_limit_spans_organisations(make_env: Callable[..., Env]) -> None:
    env = make_env(organisations=("Alpha Ltd", "Bravo Ltd"), limits=XeroLimits(app_per_minute=3))
    tokens = env.log_in()

    answers = [env.get(f"{API}/Accounts", tokens, env.tenants[i % 2]) for i in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].headers["X-Rate-Limit-Problem"] == "appminute"
    assert answers[2].headers["X-AppMinLimit-Remaining"] == "0"


def test_concurrent_limit(make_env: Callable[..., Env]) -> None:
    env = make_env(limits=XeroLimits(concurrent=2))
    tokens = env.log_in()
    env.fake.latency = 0.5  # each call holds its slot this long
    statuses: list[int] = []
    problems: list[str] = []

    def call() -> None:
        with httpx2.Client() as http:
            answer = http.get(
                f"{env.url}{API}/Accounts",
                headers={"Authorization": f"Bearer {tokens['access_token']}", "xero-tenant-id": env.tenants[0]},
            )
        statuses.append(answer.status_code)
        problems.append(answer.headers.get("X-Rate-Limit-Problem", ""))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 200, 429] and "concurrent" in problems


# ---------------------------------------------------------------------------------------------
# Injected failures and inspection


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, None, {"Title": "An error occurred", "Status": 500}),
        (503, None, {"Title": "Service Unavailable", "Status": 503}),
        (400, None, {"ErrorNumber": 10, "Type": "ValidationException"}),
        (400, {"ErrorNumber": 51, "Type": "HighVolumeException", "Message": "m"}, {"ErrorNumber": 51}),
    ],
)
def test_fail_next(env: Env, status: int, body: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    tokens = env.log_in()
    env.fake.fail_next("/CONTACTS", status, body, times=2)

    answers = [env.get(f"{API}/Contacts", tokens, env.tenants[0]) for _ in range(3)]

    assert [a.status_code for a in answers] == [status, status, 200]
    assert expected.items() <= answers[0].json().items()
    assert env.get(f"{API}/Accounts", tokens, env.tenants[0]).status_code == 200


def test_validation_exception_body(env: Env) -> None:
    tokens = env.log_in()

    answer = env.get(f"{API}/Contacts", tokens, env.tenants[0], params={"page": "one"})

    assert answer.status_code == 400
    body = answer.json()
    assert (body["ErrorNumber"], body["Type"]) == (10, "ValidationException")
    assert body["Elements"][0]["ValidationErrors"][0]["Message"]


def test_calls_are_recorded_without_secrets(env: Env) -> None:
    tokens = env.log_in()
    env.get(f"{API}/Accounts", tokens, env.tenants[0], params={"order": "Name"})
    env.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    recorded = repr(env.fake.calls)

    last_api = env.fake.calls_to(API)[-1]
    assert (last_api.method, last_api.path, last_api.query, last_api.status) == (
        "GET",
        f"{API}/Accounts",
        {"order": "Name"},
        200,
    )
    assert last_api.headers["authorization"] == "Bearer <redacted>"
    assert env.fake.calls_to("/connect/token")[-1].headers["authorization"] == "Basic <redacted>"
    for secret in (tokens["access_token"], tokens["refresh_token"], env.client.client_secret):
        assert secret and secret not in recorded


# ---------------------------------------------------------------------------------------------
# python -m tests.fakes.xero


def test_runs_alone_and_prints_the_settings() -> None:
    port = free_port()
    command = [sys.executable, "-m", "tests.fakes.xero", "--port", str(port)]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = []
            for line in process.stdout:
                lines.append(line.strip())
                if line.startswith("XERO_CLIENT_SECRET="):
                    break
            settings = dict(line.split("=", 1) for line in lines if line.startswith("XERO_"))
            url = f"http://127.0.0.1:{port}"
            assert settings["XERO_AUTHORIZE_URL"] == f"{url}/identity/connect/authorize"
            assert settings["XERO_TOKEN_URL"] == f"{url}/connect/token"
            assert settings["XERO_REVOKE_URL"] == f"{url}/connect/revocation"
            assert settings["XERO_CONNECTIONS_URL"] == f"{url}/connections"
            assert settings["XERO_API_URL"] == f"{url}{API}"
            assert settings["XERO_CLIENT_ID"] and settings["XERO_CLIENT_SECRET"]
            with httpx2.Client(transport=httpx2.HTTPTransport(retries=6)) as http:
                page = http.get(
                    settings["XERO_AUTHORIZE_URL"],
                    params={
                        "client_id": settings["XERO_CLIENT_ID"],
                        "redirect_uri": REDIRECT_URI,
                        "response_type": "code",
                        "scope": SCOPES,
                        "state": "s",
                    },
                )
            assert page.status_code == 200 and "Demo Company (NZ)" in page.text
        finally:
            process.terminate()
            process.wait(timeout=10)
