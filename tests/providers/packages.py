"""The packages the contract suite and the end-to-end flows run against, each as a driver: what a test needs to do
to a package's fake (build it, seed organisations, customers and charts, inject the package's own failures, read
back its calls), what the package's answers should come out as, and the settings that point the bot at it.
Adding a package to both suites is one `PackageDriver` subclass and one entry in `PACKAGES`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from providers import registry
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
    # Invoicing (drivers with `invoicing = True`)
    TAX_CODES = "tax-codes"
    INVOICES = "invoices"  # creating a sales invoice
    PAYMENTS = "payments"  # recording a customer payment


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
class ChartPick:
    """An account of a new organisation's chart an admin picks for a category: its key in
    `PackageDriver.account_ids` (the code, or the name of an account without one) and how the bot labels it."""

    key: str
    label: str


@dataclass(frozen=True)
class InvoicingSetup:
    """What raising an invoice in a new organisation needs, as the provider names it: a customer's id, an income
    account's code, a tax code suiting it, and the code of the bank account payments are received into."""

    customer_id: str
    account_code: str
    tax_code: str
    payment_account_code: str


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
    # disconnecting removes our link to the organisation at the package (MYOB has no way to: its admin does it)
    removes_link_on_disconnect: ClassVar[bool] = True
    grace_period: ClassVar[float] = 0.0  # how long a spent refresh token still brings the same new pair
    refresh_token_kept_for: ClassVar[float] = 0.0  # how long a refresh brings back the same refresh token
    access_token_ttl: ClassVar[float]
    reports_total: ClassVar[bool] = True  # customer pages carry the total
    grant_extra_keys: ClassVar[frozenset[str]] = frozenset()  # what `Grant.extra` carries from the callback
    organisation_kind: ClassVar[str | None] = None  # `Organisation.kind` of an ordinary organisation
    reconnect_words: ClassVar[str]  # in the message of a log-in the package no longer accepts
    expected_accounts: ClassVar[Mapping[str, ExpectedAccount]]  # a sample of a new organisation's chart, by name
    errors: ClassVar[Mapping[Failure, ErrorCase]]
    rate_limits: ClassVar[Mapping[RateLimitScope, RateLimitCase]]
    waited_limit: ClassVar[RateLimitScope] = RateLimitScope.MINUTE  # a "slow down" an import waits out in seconds
    tries: ClassVar[int] = 3  # how often the provider tries a call that keeps failing with a 5xx
    # What an admin maps each category to in a new organisation's chart, by category key (bot/categories.yml).
    chart_picks: ClassVar[Mapping[str, ChartPick]]
    # The provider implements `providers.invoicing.Invoicing`; the methods under "Invoicing" below then work.
    invoicing: ClassVar[bool] = False

    fake: Any
    oauth: OAuth2Server
    url: str  # where the fake is served, when a test serves it over HTTP (the end-to-end flows)

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    @property
    def app(self) -> Any:
        """The fake's ASGI app."""
        return self.fake.app

    @property
    def title(self) -> str:
        """What people call the package: "Xero"."""
        return registry.titles()[self.name]

    def register_client(
        self,
        *,
        redirect_uris: list[str] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> ClientApp:
        """Register our app at the fake (by default with the suite's redirect URI and made-up credentials)."""
        return self.oauth.register_client(
            redirect_uris=redirect_uris or [self.redirect_uri], client_id=client_id, client_secret=client_secret
        )

    def settings(self, url: str, client: ClientApp, **overrides: Any) -> ProviderSettings:
        """The provider's settings pointing every URL at `url` (nothing read from the environment); the suite
        overrides `page_size` and `timeout`."""
        raise NotImplementedError

    def bot_settings(self, *, client_id: str, client_secret: str | None) -> dict[str, Any]:
        """What the bot's `load_settings` is given to reach the fake served at `self.url` with these credentials:
        the credentials and every setting `settings()` points elsewhere, keyed by the package's env prefix
        (`xero_client_id`, `xero_api_url`, ...). The suite's own short timeout is left out."""
        client = ClientApp(client_id, client_secret, redirect_uris=(), name="accounts-bot")
        settings = self.settings(self.url, client)
        prefix = type(settings).env_prefix().lower()
        changed = settings.model_dump(exclude_defaults=True, exclude={"timeout"})
        return {f"{prefix}{field}": value for field, value in changed.items()}

    def add_organisation(self, name: str) -> str:
        """A new organisation with the package's default chart of accounts; its id as the provider reports it."""
        raise NotImplementedError

    def seed_customers(self, organisation_id: str, n: int) -> list[str]:
        """`n` varied customers (some archived); their ids."""
        raise NotImplementedError

    def add_customer(
        self, organisation_id: str, name: str, *, email: str | None = None, phone: str | None = None
    ) -> str:
        """One active customer; its id."""
        raise NotImplementedError

    def importable_customers(self, organisation_id: str) -> list[str]:
        """The customers a first import keeps (active, and customers rather than only suppliers); their ids."""
        raise NotImplementedError

    def change_customer(self, organisation_id: str, customer_id: str, *, email: str) -> None:
        raise NotImplementedError

    def archive_customer(self, organisation_id: str, customer_id: str) -> None:
        raise NotImplementedError

    def account_count(self, organisation_id: str) -> int:
        raise NotImplementedError

    def account_ids(self, organisation_id: str) -> dict[str, str]:
        """The chart's account ids by code (by name for an account without a code), as `ChartPick.key` says."""
        raise NotImplementedError

    def add_income_account(self, organisation_id: str) -> str:
        """A new active income account in the chart; its id."""
        raise NotImplementedError

    def archive_account(self, organisation_id: str, account_id: str) -> None:
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

    def asks_for_changes_only(self, call: Call) -> bool:
        """Whether a call for customers asked only for those changed since a time (an incremental read)."""
        raise NotImplementedError

    def refreshes_spent(self) -> int:
        """Successful refresh grants so far."""
        return sum(self.oauth.refreshes_spent.values())

    def revocations(self) -> int:
        """Refresh tokens revoked at the package so far."""
        return len(self.oauth.revoked)

    # --- Invoicing (drivers with `invoicing = True`) ----------------------------------------------------------

    def invoicing_ready(self, organisation_id: str) -> InvoicingSetup:
        """Seed what raising an invoice needs in the organisation (a customer, at least), and say what to use."""
        raise NotImplementedError

    def invoices_at_package(self, organisation_id: str) -> list[dict[str, Any]]:
        """Every sales invoice the package holds for the organisation, as the package's own bodies."""
        raise NotImplementedError

    def payments_at_package(self, organisation_id: str) -> list[dict[str, Any]]:
        """Every customer payment the package holds for the organisation, as the package's own bodies."""
        raise NotImplementedError

    def pay_at_package(self, organisation_id: str, invoice_id: str) -> None:
        """Somebody records the invoice paid in full in the package itself (not through us)."""
        raise NotImplementedError

    def lose_next_answer(self, resource: Resource) -> None:
        """The package does the next call's work for `resource` but its answer never reaches us (the connection
        drops after the package committed)."""
        raise NotImplementedError


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
        Failure.SERVER_ERROR: ErrorCase(500, Unavailable, "Xero is not answering properly right now (HTTP 500)"),
        Failure.NOT_JSON: ErrorCase(200, Unavailable, "could not read", body="<html>Down for maintenance</html>"),
    }
    rate_limits = {
        RateLimitScope.MINUTE: RateLimitCase(429, {"Retry-After": "42", "X-Rate-Limit-Problem": "minute"}, 42.0),
        RateLimitScope.DAY: RateLimitCase(429, {"Retry-After": "86000", "X-Rate-Limit-Problem": "day"}, 86000.0),
        RateLimitScope.CONCURRENT: RateLimitCase(429, {"Retry-After": "1", "X-Rate-Limit-Problem": "concurrent"}, 1.0),
        RateLimitScope.APP: RateLimitCase(429, {"Retry-After": "7", "X-Rate-Limit-Problem": "appminute"}, 7.0),
    }
    tries = 3  # XeroSettings.retries is 2
    chart_picks = {  # what an admin of a plumbing business picks from Xero's default chart
        "sales": ChartPick("200", "200 – Sales"),
        "services": ChartPick("260", "260 – Other Revenue"),
        "labour": ChartPick("320", "320 – Subcontractors"),
        "materials": ChartPick("310", "310 – Cost of Goods Sold"),
        "expenses": ChartPick("429", "429 – General Expenses"),
        "payments_received": ChartPick("090", "090 – Business Bank Account"),
    }
    _paths: ClassVar[Mapping[Resource, str]] = {
        Resource.TOKEN: "/connect/token",
        Resource.ORGANISATIONS: "/connections",
        Resource.ACCOUNTS: "/api.xro/2.0/Accounts",
        Resource.CUSTOMERS: "/api.xro/2.0/Contacts",
    }

    def __init__(self, clock: FakeClock, *, fake: XeroFake | None = None) -> None:
        """`fake`: drive a fake a test already holds (the Xero-only end-to-end tests' `xero`), on its clock."""
        super().__init__(clock)
        self.fake = fake or XeroFake(clock=clock)
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

    def add_customer(
        self, organisation_id: str, name: str, *, email: str | None = None, phone: str | None = None
    ) -> str:
        fields: dict[str, Any] = {"IsCustomer": True, "EmailAddress": email or ""}
        if phone:
            fields["Phones"] = [{"PhoneType": "MOBILE", "PhoneNumber": phone}]
        contact_id: str = self.fake.add_contact(organisation_id, name, **fields)
        return contact_id

    def importable_customers(self, organisation_id: str) -> list[str]:
        contacts = [self.fake.contact(organisation_id, c) for c in self.fake.contact_ids(organisation_id)]
        return [
            c["ContactID"]
            for c in contacts
            if c["ContactStatus"] == "ACTIVE" and not (c.get("IsSupplier") and not c.get("IsCustomer"))
        ]

    def change_customer(self, organisation_id: str, customer_id: str, *, email: str) -> None:
        self.fake.update_contact(organisation_id, customer_id, EmailAddress=email)

    def archive_customer(self, organisation_id: str, customer_id: str) -> None:
        self.fake.archive_contact(organisation_id, customer_id)

    def account_count(self, organisation_id: str) -> int:
        return len(self.fake.accounts(organisation_id))

    def account_ids(self, organisation_id: str) -> dict[str, str]:
        return {a.get("Code") or a["Name"]: a["AccountID"] for a in self.fake.accounts(organisation_id)}

    def add_income_account(self, organisation_id: str) -> str:
        [account_id] = self.fake.seed_accounts(organisation_id, 1)  # the first generated account is a SALES one
        return str(account_id)

    def archive_account(self, organisation_id: str, account_id: str) -> None:
        self.fake.archive_account(organisation_id, account_id)

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

    def asks_for_changes_only(self, call: Call) -> bool:
        return "if-modified-since" in call.headers


# Each in a module of its own, which builds on the classes above: import them from here.
from tests.providers.myob_driver import MyobDriver  # noqa: E402
from tests.providers.quickbooks_driver import QuickBooksDriver  # noqa: E402

PACKAGES: tuple[type[PackageDriver], ...] = (XeroDriver, MyobDriver, QuickBooksDriver)
