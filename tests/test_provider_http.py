"""The shared authorised call (`providers.http`) and token endpoint (`providers.oauth`), against the Xero fake
in-process: every request goes through `ASGISyncTransport` into the fake's ASGI app, never over a socket."""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpcore2
import httpx2
import pytest
from pytest_mock import MockerFixture

from bot.slack_http import SlackConnections
from providers.base import BadRequest, Link, NeedsReconnect, RateLimited, Unavailable
from providers.http import AuthorisedClient, BorrowedTransport, RetryPolicy, http_client, tls_context
from providers.xero.client import XeroProvider
from providers.xero.errors import error_from_response
from providers.xero.settings import XeroSettings
from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.xero import FakeClock, XeroClientApp, XeroFake, click_through_consent, redirect_params
from tests.keepers import MemoryKeeper as Keeper

# Not a host anyone can reach: a request that left the process would fail, so passing tests prove none did.
XERO = "http://xero.invalid"
REDIRECT_URI = "http://localhost:3000/oauth/xero/callback"
ACCOUNTS = f"{XERO}/api.xro/2.0/Accounts"


@dataclass
class RecordingPacer:
    """A `providers.http.Pacer` that remembers what it was told."""

    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    def before(self, organisation_id: str) -> None:
        self.seen.append(("before", organisation_id, None))

    def after(self, organisation_id: str, headers: Mapping[str, str], ticket: object = None) -> None:
        self.seen.append(("after", organisation_id, headers.get("X-MinLimit-Remaining")))


class Flaky(httpx2.BaseTransport):
    """Fails the first `failures` requests with `error` before they reach the app."""

    def __init__(self, inner: httpx2.BaseTransport, failures: int, error: type[httpx2.TransportError]) -> None:
        self.inner, self.failures, self.error = inner, failures, error

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.failures > 0:
            self.failures -= 1
            raise self.error("the network is down", request=request)
        return self.inner.handle_request(request)


@dataclass
class Env:
    fake: XeroFake
    clock: FakeClock
    client: XeroClientApp
    transport: ASGISyncTransport
    provider: XeroProvider
    tenant: str
    made: list[Any] = field(default_factory=list)

    def settings(self, **changes: Any) -> XeroSettings:
        values: dict[str, Any] = {
            "client_id": self.client.client_id,
            "client_secret": self.client.client_secret,
            "authorize_url": f"{XERO}/identity/connect/authorize",
            "token_url": f"{XERO}/connect/token",
            "revoke_url": f"{XERO}/connect/revocation",
            "connections_url": f"{XERO}/connections",
            "api_url": f"{XERO}/api.xro/2.0",
        }
        return XeroSettings(_env_file=None, **(values | changes))

    def connect(self) -> tuple[Link, Keeper]:
        """Log in through the fake's consent page, in-process, and link the organisation."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        url = self.provider.authorization_url(state="st", redirect_uri=REDIRECT_URI, code_challenge=challenge)
        with httpx2.Client(transport=BorrowedTransport(self.transport)) as browser:  # closing it leaves ours open
            params = redirect_params(click_through_consent(browser, url))
        grant = self.provider.exchange_code(
            code=params["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier, params=params
        )
        (organisation,) = self.provider.organisations(grant)
        keeper = Keeper(self.provider, grant.tokens)
        return Link(organisation.id, keeper, organisation.connection_id), keeper

    def authorised(
        self, *, transport: httpx2.BaseTransport | None = None, timeout: float = 5.0, pacer: Any = None
    ) -> AuthorisedClient:
        """The shared authorised call as Xero uses it, over the fake in-process."""
        client = AuthorisedClient(
            http_client(timeout=timeout, transport=transport or self.transport),
            title="Xero",
            translate=error_from_response,
            retry=RetryPolicy(retries=2, backoff=0.5),
            sleep=self.clock.sleep,
            pacer=pacer,
        )
        self.made.append(client)
        return client

    def variant(self, transport: httpx2.BaseTransport | None = None, **changes: Any) -> XeroProvider:
        provider = XeroProvider(
            self.settings(**changes),
            transport=transport or self.transport,
            sleep=self.clock.sleep,
            clock=self.clock,
        )
        self.made.append(provider)
        return provider

    def calls(self, path: str) -> list[int | None]:
        return [c.status for c in self.fake.calls_to(path)]


@pytest.fixture
def env() -> Iterator[Env]:
    clock = FakeClock()
    fake = XeroFake(clock=clock)
    tenant = fake.add_organisation("Demo Company (NZ)")
    client = fake.register_client(redirect_uris=[REDIRECT_URI])
    transport = ASGISyncTransport(fake.app)
    env = Env(fake, clock, client, transport, None, tenant)  # type: ignore[arg-type]
    env.provider = env.variant()
    yield env
    for made in env.made:
        made.close()
    transport.close()


def tenant_headers(env: Env) -> dict[str, str]:
    return {"xero-tenant-id": env.tenant}


# ---------------------------------------------------------------------------------------------
# The provider, whole, in-process


def test_the_provider_runs_against_the_fake_in_process(env: Env) -> None:
    link, keeper = env.connect()

    accounts = env.provider.accounts(link)

    assert accounts and keeper.refreshes == 0
    assert env.calls("/connect/token") == [200] and env.calls("/api.xro/2.0/Accounts") == [200]


def test_a_transport_passed_to_the_registry_reaches_the_provider(env: Env) -> None:
    from providers import registry

    providers = registry.configured({"xero": env.settings()}, transport=env.transport, sleep=env.clock.sleep)
    env.made.extend(providers.values())

    providers["xero"].check_credentials()

    assert env.calls("/connect/token") == [400]  # invalid_grant for the made-up token: the client is known


# ---------------------------------------------------------------------------------------------
# One refresh on 401


def test_a_401_refreshes_once_and_repeats_the_call(env: Env) -> None:
    link, keeper = env.connect()
    env.fake.fail_next("/Accounts", 401)

    response = env.authorised().send("GET", ACCOUNTS, keeper=keeper, headers=tenant_headers(env))

    assert response.status_code == 200 and keeper.refreshes == 1
    assert env.calls("/api.xro/2.0/Accounts") == [401, 200]
    assert sum(env.fake.refreshes_spent.values()) == 1


def test_a_second_401_needs_reconnect_without_another_refresh(env: Env) -> None:
    link, keeper = env.connect()
    env.fake.fail_next("/Accounts", 401, times=2)

    with pytest.raises(NeedsReconnect):
        env.authorised().send("GET", ACCOUNTS, keeper=keeper, headers=tenant_headers(env))

    assert keeper.refreshes == 1 and env.calls("/api.xro/2.0/Accounts") == [401, 401]


def test_a_refresh_that_fails_is_not_retried_as_the_call(env: Env) -> None:
    link, keeper = env.connect()
    env.fake.fail_next("/Accounts", 401)
    env.fake.fail_next("/connect/token", 400, {"error": "invalid_grant"})

    with pytest.raises(NeedsReconnect, match="no longer accepts the saved log-in"):
        env.authorised().send("GET", ACCOUNTS, keeper=keeper, headers=tenant_headers(env))

    assert env.calls("/api.xro/2.0/Accounts") == [401] and env.clock.slept == []


# ---------------------------------------------------------------------------------------------
# Short retries with jitter


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_transient_statuses_are_retried_with_jitter_then_unavailable(env: Env, status: int) -> None:
    link, keeper = env.connect()
    env.fake.fail_next("/Accounts", status, times=3)

    with pytest.raises(Unavailable, match=f"HTTP {status}"):
        env.authorised().send("GET", ACCOUNTS, keeper=keeper, headers=tenant_headers(env))

    assert env.calls("/api.xro/2.0/Accounts") == [status] * 3
    first, second = env.clock.slept
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 1.5  # 0.5 s doubling, plus up to 0.5 s of jitter


def test_jitter_spreads_the_waits_of_callers_that_failed_together(env: Env) -> None:
    link, keeper = env.connect()
    client = env.authorised()
    for _ in range(5):
        env.fake.fail_next("/Accounts", 503)
        client.send("GET", ACCOUNTS, keeper=keeper, headers=tenant_headers(env))

    assert len(env.clock.slept) == 5 and len(set(env.clock.slept)) == 5
    assert all(0.5 <= s <= 1.0 for s in env.clock.slept)


def test_a_transient_failure_then_success(env: Env) -> None:
    link, keeper = env.connect()
    env.fake.fail_next("/Accounts", 502, times=2)

    response = env.authorised().send("GET", ACCOUNTS, keeper=keeper, headers=tenant_headers(env))

    assert response.status_code == 200 and env.calls("/api.xro/2.0/Accounts") == [502, 502, 200]


@pytest.mark.parametrize(("failures", "succeeds"), [(2, True), (3, False)])
def test_connection_errors_are_retried(env: Env, failures: int, succeeds: bool) -> None:
    link, keeper = env.connect()
    client = env.authorised(transport=Flaky(env.transport, failures, httpx2.ConnectError))

    if succeeds:
        assert client.send("GET", ACCOUNTS, keeper=keeper, headers=tenant_headers(env)).status_code == 200
    else:
        with pytest.raises(Unavailable, match=r"Xero did not answer \(ConnectError\)"):
            client.send("GET", ACCOUNTS, keeper=keeper, headers=tenant_headers(env))
    assert len(env.clock.slept) == 2
    assert env.calls("/api.xro/2.0/Accounts") == ([200] if succeeds else [])


def test_a_call_the_package_holds_too_long_times_out(env: Env) -> None:
    link, keeper = env.connect()
    release = env.fake.hold("/Accounts")
    try:
        with pytest.raises(Unavailable, match="ReadTimeout"):
            env.authorised(timeout=0.1).send("GET", ACCOUNTS, keeper=keeper, headers=tenant_headers(env))
    finally:
        release.set()
    assert len(env.fake.calls_to("/Accounts")) == 3 and len(env.clock.slept) == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, BadRequest), (403, NeedsReconnect), (404, BadRequest), (429, RateLimited)],
)
def test_refusals_are_translated_at_once_without_retrying(env: Env, status: int, error: type[Exception]) -> None:
    link, keeper = env.connect()
    env.fake.fail_next("/Accounts", status)

    with pytest.raises(error) as caught:
        env.authorised().send("GET", ACCOUNTS, keeper=keeper, headers=tenant_headers(env))

    assert type(caught.value) is error
    assert env.calls("/api.xro/2.0/Accounts") == [status] and env.clock.slept == [] and keeper.refreshes == 0


def test_an_allowed_status_is_returned_not_raised(env: Env) -> None:
    link, keeper = env.connect()

    response = env.authorised().send("DELETE", f"{XERO}/connections/not-ours", keeper=keeper, allow=frozenset({404}))

    assert response.status_code == 404


def test_an_unreadable_answer_is_unavailable(env: Env) -> None:
    link, keeper = env.connect()
    env.fake.fail_next("/Accounts", 200, "<html>maintenance</html>")

    with pytest.raises(Unavailable, match="could not read"):
        env.authorised().json("GET", ACCOUNTS, keeper=keeper, headers=tenant_headers(env))


# ---------------------------------------------------------------------------------------------
# Pacing


def test_the_pacing_hook_is_told_of_each_attempt_for_the_organisation(env: Env) -> None:
    link, keeper = env.connect()
    pacer = RecordingPacer()
    client = env.authorised(pacer=pacer)
    env.fake.fail_next("/Accounts", 503)

    client.send("GET", ACCOUNTS, keeper=keeper, organisation_id=env.tenant, headers=tenant_headers(env))
    client.send("GET", f"{XERO}/connections", keeper=keeper)  # no organisation: nothing to pace

    assert [(what, org) for what, org, _ in pacer.seen] == [
        ("before", env.tenant),
        ("after", env.tenant),
        ("before", env.tenant),
        ("after", env.tenant),
    ]
    assert pacer.seen[-1][2] is not None  # the fake's X-MinLimit-Remaining reached the hook


def test_the_pacing_hook_is_told_of_a_call_that_got_no_answer_with_its_ticket(env: Env) -> None:
    link, keeper = env.connect()
    pacer = TicketPacer()
    client = env.authorised(transport=Flaky(env.transport, 1, httpx2.ConnectError), pacer=pacer)

    client.send("GET", ACCOUNTS, keeper=keeper, organisation_id=env.tenant, headers=tenant_headers(env))

    # the request that failed may still have reached the package: its ticket comes back, without headers
    assert pacer.ended == [(1, None), (2, "59")]


@dataclass
class TicketPacer:
    """A `providers.http.Pacer` handing out numbered tickets and noting which came back, with what remains."""

    issued: int = 0
    ended: list[tuple[object, str | None]] = field(default_factory=list)

    def before(self, organisation_id: str) -> int:
        self.issued += 1
        return self.issued

    def after(self, organisation_id: str, headers: Mapping[str, str], ticket: object = None) -> None:
        self.ended.append((ticket, headers.get("X-MinLimit-Remaining")))


# ---------------------------------------------------------------------------------------------
# The token endpoint


def test_refresh_uses_the_short_token_timeout(env: Env) -> None:
    link, keeper = env.connect()
    provider = env.variant(token_timeout=0.1, timeout=30.0)
    release = env.fake.hold("/connect/token")
    try:
        with pytest.raises(Unavailable, match="ReadTimeout"):
            provider.refresh(keeper.tokens)
    finally:
        release.set()
    assert len(env.fake.calls_to("/connect/token")) == 1 + 3 and len(env.clock.slept) == 2


def test_check_credentials_accepts_a_known_client(env: Env) -> None:
    env.provider.check_credentials()

    (call,) = env.fake.calls_to("/connect/token")
    assert call.status == 400 and call.headers["authorization"] == "Basic <redacted>"
    assert env.fake.refreshes_spent == {}


def test_check_credentials_names_the_settings_of_an_unknown_client(env: Env) -> None:
    provider = env.variant(client_secret="not-the-secret")

    with pytest.raises(BadRequest, match="check XERO_CLIENT_ID and XERO_CLIENT_SECRET"):
        provider.check_credentials()


def test_check_credentials_when_the_token_endpoint_does_not_answer(env: Env) -> None:
    provider = env.variant(transport=Flaky(env.transport, 1, httpx2.ConnectError))

    with pytest.raises(Unavailable, match="log-in service did not answer"):
        provider.check_credentials()


@pytest.mark.parametrize("shared", [True, False])
def test_disconnect_revokes_only_a_log_in_nothing_else_uses(env: Env, shared: bool) -> None:
    link, keeper = env.connect()

    env.provider.disconnect(link, login_shared=shared)

    assert env.fake.connections == []
    assert env.fake.revoked == ([] if shared else [keeper.tokens.refresh_token])


def test_the_clients_the_bot_makes_share_one_tls_context(env: Env, mocker: MockerFixture) -> None:
    """Reading the system's certificate authorities costs 26 ms of CPU: once a process, not once a client (a
    provider, each log-in link and token exchange, the connections to Slack)."""
    tls_context.cache_clear()
    loads = mocker.spy(httpcore2, "default_ssl_context")
    over_the_network = XeroProvider(env.settings(), sleep=env.clock.sleep, clock=env.clock)
    for _ in range(3):
        assert over_the_network.authorization_url(state="s", redirect_uri=REDIRECT_URI, code_challenge=None)
        http_client(timeout=1).close()
        SlackConnections().close()
    over_the_network.close()
    assert loads.call_count == 1
    # and it still checks who the server is
    assert tls_context().verify_mode == ssl.CERT_REQUIRED and tls_context().check_hostname
