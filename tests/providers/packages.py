"""The packages the contract suite runs against, each as a driver: what the suite needs to do to a package's fake
(build it, seed organisations and customers, inject the package's own failures, read back its calls) and what the
package's answers should come out as. Adding a package to the suite is one `PackageDriver` subclass and one entry
in `PACKAGES`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from providers.base import AccountKind, BadRequest, NeedsReconnect, ProviderError, RateLimitScope, Unavailable
from providers.settings import ProviderSettings
from providers.xero import DEFAULT_SCOPES, XeroSettings
from tests.fakes.oauth2 import ClientApp, FakeClock, OAuth2Server
from tests.fakes.xero import XERO_IDENTITY, XeroFake
from tests.fakes.xero.records import Call


class Resource(StrEnum):
    """What a package's fake serves, as the suite names it (each driver knows its paths)."""

    TOKEN = "token"
    ORGANISATIONS = "organisations"
    ACCOUNTS = "accounts"
    CUSTOMERS = "customers"


class Failure(StrEnum):
    """The kinds of error answer every package gives; each driver says how its package words them."""

    VALIDATION = "validation"  # 400: what we sent was refused
    UNAUTHORISED = "unauthorised"  # 401 even after a refresh
    FORBIDDEN = "forbidden"  # 403: the organisation is no longer ours to read
    NOT_FOUND = "not-found"
    SERVER_ERROR = "server-error"  # 5xx: retried, then given up
    NOT_JSON = "not-json"  # a 200 whose body is not JSON


@dataclass(frozen=True)
class ExpectedAccount:
    """What one account of a new organisation's chart must come out as (`tax_type` None: not checked)."""

    code: str | None
    kind: AccountKind
    type: str
    active: bool = True
    tax_type: str | None = None


@dataclass(frozen=True)
class ErrorCase:
    """An answer to inject (`body` None: the fake's own body for the status) and the typed error it must raise,
    whose message contains `words`."""

    status: int
    error: type[ProviderError]
    words: str
    body: Any = None
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class RateLimitCase:
    """A "slow down" answer to inject and the wait (seconds) the provider must report."""

    status: int
    headers: Mapping[str, str]
    retry_after: float
    body: Any = None


class PackageDriver:
    """One package's fake as the contract suite drives it; a driver is made per test, with the test's clock.

    A subclass sets the class attributes, builds its fake in `__init__` and fills in the methods that raise
    NotImplementedError; the rest works for any fake built on `tests.fakes.oauth2`."""

    name: ClassVar[str]  # the registry's name of the package
    redirect_uri: ClassVar[str]
    authorize_path: ClassVar[str]  # where the provider sends a person to log in, on the fake's host
    scopes: ClassVar[str]  # what the provider asks for by default
    pkce: ClassVar[bool] = True  # the provider sends an S256 challenge, and the package checks the verifier
    chooses_several: ClassVar[bool] = False  # one consent may connect several organisations
    lists_earlier_organisations: ClassVar[bool] = False  # `organisations()` lists those of earlier log-ins too
    revokes_on_disconnect: ClassVar[bool] = False  # disconnecting the last connection of a log-in revokes it
    grace_period: ClassVar[float] = 0.0  # how long a spent refresh token still brings the same new pair
    access_token_ttl: ClassVar[float]
    reports_total: ClassVar[bool] = True  # customer pages carry the total
    grant_extra_keys: ClassVar[frozenset[str]] = frozenset()  # what `Grant.extra` carries from the callback
    organisation_kind: ClassVar[str | None] = None  # `Organisation.kind` of an ordinary organisation
    reconnect_words: ClassVar[str]  # in the message of a log-in the package no longer accepts
    expected_accounts: ClassVar[Mapping[str, ExpectedAccount]]  # a sample of a new organisation's chart, by name
    errors: ClassVar[Mapping[Failure, ErrorCase]]
    rate_limits: ClassVar[Mapping[RateLimitScope, RateLimitCase]]

    fake: Any
    oauth: OAuth2Server

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    @property
    def app(self) -> Any:
        """The fake's ASGI app."""
        return self.fake.app

    def register_client(self) -> ClientApp:
        return self.oauth.register_client(redirect_uris=[self.redirect_uri])

    def settings(self, url: str, client: ClientApp, **overrides: Any) -> ProviderSettings:
        """The provider's settings pointing every URL at `url` (nothing read from the environment); the suite
        overrides `page_size` and `timeout`."""
        raise NotImplementedError

    def add_organisation(self, name: str) -> str:
        """A new organisation with the package's default chart of accounts; its id as the provider reports it."""
        raise NotImplementedError

    def seed_customers(self, organisation_id: str, n: int) -> list[str]:
        """`n` varied customers (some archived); their ids."""
        raise NotImplementedError

    def change_customer(self, organisation_id: str, customer_id: str, *, email: str) -> None:
        raise NotImplementedError

    def archive_customer(self, organisation_id: str, customer_id: str) -> None:
        raise NotImplementedError

    def account_count(self, organisation_id: str) -> int:
        raise NotImplementedError

    def connected(self) -> set[str]:
        """The organisations our app is connected to at the package now."""
        raise NotImplementedError

    def connection_id(self, organisation_id: str) -> str | None:
        """The package's id of our connection to the organisation (`Organisation.connection_id`), if it has one."""
        return None

    def slow_down(self, seconds: float) -> None:
        """Make the fake take `seconds` over each answer."""
        raise NotImplementedError

    def fail_next(
        self,
        resource: Resource,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next `times` calls to `resource` with `status` (`body` None: the package's own body)."""
        raise NotImplementedError

    def calls(self, resource: Resource) -> list[Call]:
        """The calls the fake received for `resource`, in order, with their statuses."""
        raise NotImplementedError

    def refreshes_spent(self) -> int:
        """Successful refresh grants so far."""
        return sum(self.oauth.refreshes_spent.values())


class XeroDriver(PackageDriver):
    name = "xero"
    redirect_uri = "http://localhost:3000/oauth/xero/callback"
    authorize_path = XERO_IDENTITY.authorize_path
    scopes = DEFAULT_SCOPES
    pkce = True
    chooses_several = True
    lists_earlier_organisations = True
    revokes_on_disconnect = True
    grace_period = 1800.0
    access_token_ttl = 1800.0
    reports_total = True
    grant_extra_keys = frozenset({"auth_event_id", "xero_user_id"})
    organisation_kind = "ORGANISATION"
    reconnect_words = "Xero no longer accepts the saved log-in"
    expected_accounts = {
        "Sales": ExpectedAccount("200", AccountKind.INCOME, "REVENUE", tax_type="OUTPUT2"),
        "Online Sales": ExpectedAccount("205", AccountKind.INCOME, "SALES"),
        "Interest Income": ExpectedAccount("270", AccountKind.OTHER_INCOME, "OTHERINCOME"),
        "Cost of Goods Sold": ExpectedAccount("310", AccountKind.COST_OF_SALES, "DIRECTCOSTS"),
        "Advertising": ExpectedAccount("400", AccountKind.EXPENSE, "OVERHEADS"),
        "Consulting & Accounting": ExpectedAccount("412", AccountKind.EXPENSE, "EXPENSE"),
        "Depreciation": ExpectedAccount("416", AccountKind.EXPENSE, "DEPRECIATN"),
        "Business Bank Account": ExpectedAccount("090", AccountKind.BANK, "BANK"),
        "Business Savings Account": ExpectedAccount(None, AccountKind.BANK, "BANK"),
        "Company Credit Card": ExpectedAccount(None, AccountKind.BANK, "BANK"),
        "Travel - International": ExpectedAccount("494", AccountKind.EXPENSE, "OVERHEADS", active=False),
        "Accounts Receivable": ExpectedAccount("610", AccountKind.ASSET, "CURRENT"),
        "GST": ExpectedAccount("820", AccountKind.LIABILITY, "CURRLIAB"),
        "Retained Earnings": ExpectedAccount("960", AccountKind.EQUITY, "EQUITY"),
    }
    errors = {
        Failure.VALIDATION: ErrorCase(
            400,
            BadRequest,
            "Xero refused the request: The contact name must be unique.",
            body={
                "ErrorNumber": 10,
                "Type": "ValidationException",
                "Message": "A validation exception occurred",
                "Elements": [{"ValidationErrors": [{"Message": "The contact name must be unique."}]}],
            },
        ),
        Failure.UNAUTHORISED: ErrorCase(401, NeedsReconnect, "Xero did not accept our access"),
        Failure.FORBIDDEN: ErrorCase(403, NeedsReconnect, "organisation is no longer connected"),
        Failure.NOT_FOUND: ErrorCase(404, BadRequest, "Xero could not find what we asked for"),
        Failure.SERVER_ERROR: ErrorCase(500, Unavailable, "HTTP 500"),
        Failure.NOT_JSON: ErrorCase(200, Unavailable, "could not read", body="<html>Down for maintenance</html>"),
    }
    rate_limits = {
        RateLimitScope.MINUTE: RateLimitCase(429, {"Retry-After": "42", "X-Rate-Limit-Problem": "minute"}, 42.0),
        RateLimitScope.DAY: RateLimitCase(429, {"Retry-After": "86000", "X-Rate-Limit-Problem": "day"}, 86000.0),
        RateLimitScope.CONCURRENT: RateLimitCase(429, {"Retry-After": "1", "X-Rate-Limit-Problem": "concurrent"}, 1.0),
        RateLimitScope.APP: RateLimitCase(429, {"Retry-After": "7", "X-Rate-Limit-Problem": "appminute"}, 7.0),
    }
    _paths: ClassVar[Mapping[Resource, str]] = {
        Resource.TOKEN: "/connect/token",
        Resource.ORGANISATIONS: "/connections",
        Resource.ACCOUNTS: "/api.xro/2.0/Accounts",
        Resource.CUSTOMERS: "/api.xro/2.0/Contacts",
    }

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.fake = XeroFake(clock=clock)
        self.oauth = self.fake.oauth

    def settings(self, url: str, client: ClientApp, **overrides: Any) -> XeroSettings:
        values: dict[str, Any] = {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "authorize_url": f"{url}/identity/connect/authorize",
            "token_url": f"{url}/connect/token",
            "revoke_url": f"{url}/connect/revocation",
            "connections_url": f"{url}/connections",
            "api_url": f"{url}/api.xro/2.0",
            "timeout": 5.0,
        }
        return XeroSettings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]

    def add_organisation(self, name: str) -> str:
        return self.fake.add_organisation(name)

    def seed_customers(self, organisation_id: str, n: int) -> list[str]:
        ids: list[str] = self.fake.seed_contacts(organisation_id, n)
        return ids

    def change_customer(self, organisation_id: str, customer_id: str, *, email: str) -> None:
        self.fake.update_contact(organisation_id, customer_id, EmailAddress=email)

    def archive_customer(self, organisation_id: str, customer_id: str) -> None:
        self.fake.archive_contact(organisation_id, customer_id)

    def account_count(self, organisation_id: str) -> int:
        return len(self.fake.accounts(organisation_id))

    def connected(self) -> set[str]:
        return {c["tenantId"] for c in self.fake.connections}

    def connection_id(self, organisation_id: str) -> str | None:
        return next((c["id"] for c in self.fake.connections if c["tenantId"] == organisation_id), None)

    def slow_down(self, seconds: float) -> None:
        self.fake.latency = seconds

    def fail_next(
        self,
        resource: Resource,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.fake.fail_next(self._paths[resource], status, body, times=times, headers=dict(headers or {}))

    def calls(self, resource: Resource) -> list[Call]:
        path = self._paths[resource].lower()
        return [c for c in self.fake.calls_to(path) if c.path.lower() == path]


PACKAGES: tuple[type[PackageDriver], ...] = (XeroDriver,)
