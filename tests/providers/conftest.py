"""The contract suite's setting: every test runs once per package (its driver, `packages.PACKAGES`) and wire: the
fake's ASGI app in-process through the provider's transport seam, or the fake served over real HTTP on
127.0.0.1. `env` is a provider pointed at a fresh fake with one organisation, a browser to log in with, and a
token keeper like the bot's."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from providers.base import Grant, Link, Provider
from providers.registry import get_provider
from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.oauth2 import ClientApp, FakeClock, click_through_consent, redirect_params, s256
from tests.fakes.server import Mount, ServerThread, http_client
from tests.keepers import MemoryKeeper as Keeper
from tests.providers.packages import PACKAGES, PackageDriver

WIRES = ("in-process", "http")


@dataclass
class LogIn:
    """What came back to the callback, and the verifier that goes with its code."""

    params: dict[str, str]
    verifier: str | None

    @property
    def code(self) -> str:
        return self.params["code"]


@dataclass
class Env:
    driver: PackageDriver
    clock: FakeClock
    client: ClientApp
    url: str  # where the provider's settings point
    transport: httpx2.BaseTransport | None  # None: real HTTP
    browser: httpx2.Client
    provider: Provider
    organisations: list[str] = field(default_factory=list)
    _made: list[Provider] = field(default_factory=list)

    def make_provider(self, **settings: Any) -> Provider:
        """A provider on this fake, wire and clock, with some settings changed; closed after the test."""
        return self.make_provider_at(self.url, transport=self.transport, **settings)

    def make_provider_at(self, url: str, *, transport: httpx2.BaseTransport | None = None, **settings: Any) -> Provider:
        """A provider whose every URL is on `url`, through `transport` (None: the network)."""
        provider = get_provider(
            self.driver.name,
            self.driver.settings(url, self.client, **settings),
            transport=transport,
            sleep=self.clock.sleep,
            clock=self.clock,
        )
        self._made.append(provider)
        return provider

    def log_in(self, organisations: list[str] | None = None, *, state: str = "st-1") -> LogIn:
        """Through the consent page, choosing `organisations` (default: what the page pre-selects)."""
        verifier = secrets.token_urlsafe(48) if self.driver.pkce else None
        url = self.provider.authorization_url(
            state=state, redirect_uri=self.driver.redirect_uri, code_challenge=s256(verifier) if verifier else None
        )
        answer = click_through_consent(self.browser, url, organisations=organisations)
        assert answer.status_code == 302, answer.text
        params = redirect_params(answer)
        assert params["state"] == state and "code" in params, params
        return LogIn(params, verifier)

    def exchange(self, log_in: LogIn, **changes: Any) -> Grant:
        exchange: dict[str, Any] = {
            "code": log_in.code,
            "redirect_uri": self.driver.redirect_uri,
            "code_verifier": log_in.verifier,
            "params": log_in.params,
        }
        return self.provider.exchange_code(**(exchange | changes))

    def connect(self, organisations: list[str] | None = None) -> tuple[Grant, Link, Keeper]:
        """Log in, exchange the code, and link the organisation the provider puts first."""
        grant = self.exchange(self.log_in(organisations))
        chosen = self.provider.organisations(grant)[0]
        keeper = Keeper(self.provider, grant.tokens)
        return grant, Link(chosen.id, keeper, chosen.connection_id), keeper


@pytest.fixture(scope="session")
def served() -> Iterator[tuple[ServerThread, Mount]]:
    """One server for the suite; each test mounts its own fake on it."""
    current = Mount()
    with ServerThread(current) as server:
        yield server, current


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test runs for every package, or, marked `package_has("pkce", ...)`, for those whose driver says they
    have all of those (the rest have no such behaviour to test); one marked `package_cases` runs once for each
    case its driver lists."""
    if "package" not in metafunc.fixturenames:
        return
    needs = [name for marker in metafunc.definition.iter_markers("package_has") for name in marker.args]
    drivers = [d for d in PACKAGES if all(getattr(d, name) for name in needs)]
    cases = metafunc.definition.get_closest_marker("package_cases")
    if cases is None:
        metafunc.parametrize("package", drivers, ids=[d.name for d in drivers], indirect=True)
        return
    # `package_cases("errors", "failure")`: once per (package, one of the keys of its driver's `errors`)
    attribute, argument = cases.args
    pairs = [(d, key) for d in drivers for key in getattr(d, attribute)]
    metafunc.parametrize(
        ("package", argument), pairs, ids=[f"{d.name}-{key}" for d, key in pairs], indirect=["package"]
    )


@pytest.fixture
def package(request: pytest.FixtureRequest) -> type[PackageDriver]:
    driver: type[PackageDriver] = request.param
    return driver


@pytest.fixture(params=WIRES)
def wire(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_env(
    package: type[PackageDriver], wire: str, served: tuple[ServerThread, Mount]
) -> Iterator[Callable[..., Env]]:
    made: list[Env] = []

    def make(*, organisations: tuple[str, ...] = ("Demo Company",), **settings: Any) -> Env:
        assert not made, "one fake a test"
        clock = FakeClock()
        driver = package(clock)
        ids = [driver.add_organisation(name) for name in organisations]
        client = driver.register_client()
        transport: httpx2.BaseTransport | None
        if wire == "http":
            server, current = served
            current.app = driver.app
            url, transport, browser = server.url, None, http_client()
        else:
            url = f"http://{driver.name}.fake"
            transport = ASGISyncTransport(driver.app)
            browser = httpx2.Client(transport=transport)  # closing the browser closes the transport
        provider = get_provider(
            driver.name,
            driver.settings(url, client, **settings),
            transport=transport,
            sleep=clock.sleep,
            clock=clock,
        )
        env = Env(driver, clock, client, url, transport, browser, provider, ids)
        made.append(env)
        return env

    yield make
    for env in made:
        for provider in [env.provider, *env._made]:
            provider.close()
        env.browser.close()
    served[1].app = None


@pytest.fixture
def env(make_env: Callable[..., Env]) -> Env:
    return make_env()
