"""The packages the contract suite and the end-to-end flows run against, each as a driver: what a test needs to do
to a package's fake (build it, seed organisations, customers and charts, inject the package's own failures, read
back its calls), what the package's answers should come out as, and the settings that point the bot at it.
Adding a package to both suites is one `PackageDriver` subclass and one entry in `PACKAGES`."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from providers import registry
from providers.base import AccountKind, ProviderError, RateLimitScope
from providers.settings import ProviderSettings
from tests.fakes.oauth2 import ClientApp, FakeClock, OAuth2Server
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
    account's code, a tax code suiting it (a rate above zero, so that lines carry tax), and the code of the bank
    account payments are received into."""

    customer_id: str
    account_code: str
    tax_code: str
    payment_account_code: str


@dataclass(frozen=True)
class HeldLine:
    """One line of an invoice as the package holds it (`PackageDriver.read_invoice`)."""

    description: str
    quantity: Decimal
    unit_price: Decimal  # as the package keeps it (Xero: to four decimals when asked with unitdp=4)
    account_code: str  # the code of the account the line posts to (QuickBooks: its Item's income account)
    tax_code: str | None  # as the provider names it (`TaxRate.code`)


@dataclass(frozen=True)
class HeldInvoice:
    """A sales invoice as the package holds it, read from one of `invoices_at_package`'s bodies; money as Decimal,
    each total as the package worked it out."""

    id: str  # as the provider names it (`Invoice.id`)
    number: str | None
    customer_id: str  # as the provider names it (`NewInvoice.customer_id`)
    lines: tuple[HeldLine, ...]
    subtotal: Decimal  # without tax
    tax: Decimal
    total: Decimal
    amount_paid: Decimal


@dataclass(frozen=True)
class HeldPayment:
    """A customer payment as the package holds it, read from one of `payments_at_package`'s bodies."""

    id: str  # as the provider names it (`Payment.id`)
    invoice_id: str  # the invoice it pays, as the provider names it
    amount: Decimal
    account_code: str  # the code of the account it was received into


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

    def wait_for_calls(self, resource: Resource, count: int, timeout: float = 30.0) -> list[Call]:
        """`calls(resource)` once there are `count`. The fake notes a call as it arrives (`arrived`), which over HTTP
        is once its server has read the request: on a busy machine after a client that gave up waiting moved on.
        `TimeoutError` after `timeout`, which only bounds a failure."""
        with self.fake.arrived:
            if not self.fake.arrived.wait_for(lambda: len(self.calls(resource)) >= count, timeout):
                raise TimeoutError(f"{self.title}'s fake noted {len(self.calls(resource))} of {count} calls")
        return self.calls(resource)

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
    # The contract suite (tests/providers/test_invoicing.py) and the end-to-end flows (tests/test_invoicing_e2e*.py)
    # run for every driver with `invoicing`; a driver that sets it fills in everything below, and `fail_next` and
    # `calls` take Resource.TAX_CODES, INVOICES and PAYMENTS. The end-to-end flows map with `chart_picks` and
    # `tax_picks`, invoice the "sales" and "services" categories (accounts with codes, which the package takes on
    # sales invoices), and pay into the "payments_received" account. Both expect a line on an account the package
    # lacks (an unknown code; one archived at the package since the chart was stored) to come back as
    # `InvoiceRefused` with a `Refusal` of that line and field "account", in the package's words.

    # The default tax code an admin picks beside each taxable category of `chart_picks` in the mapping modal (every
    # key of `chart_picks` but "payments_received"), by category key: a code the package allows on that account,
    # as the provider names it (`TaxRate.code`). "sales" must carry a rate above zero.
    tax_picks: ClassVar[Mapping[str, str]] = {}
    # Words of the package's refusal of a payment above the invoice's amount due (in `InvoiceRefused.message`).
    overpayment_words: ClassVar[str] = ""
    # Whether the organisations the suites make take prices that include tax (`AmountsAre.INCLUSIVE`); where they do
    # not (a US QuickBooks company adds sales tax to prices before tax), the words of the package's refusal of them,
    # a `Refusal` of no line and field "amount", before anything is made.
    tax_inclusive_prices: ClassVar[bool] = True
    tax_inclusive_words: ClassVar[str] = ""
    # How long before `since` the provider's read of changed invoices starts (MYOB: its times carry no zone), so that
    # what changed that long before `since` may come back too.
    changes_overlap: ClassVar[float] = 0.0
    # The "slow down" scopes the provider waits out itself on the invoice resources (briefly, a few times) before it
    # raises RateLimited; any other is raised at once.
    waits_out: ClassVar[frozenset[RateLimitScope]] = frozenset()

    def invoicing_ready(self, organisation_id: str) -> InvoicingSetup:
        """Seed what raising an invoice needs in the organisation (a customer, at least), and say what to use."""
        raise NotImplementedError

    def invoices_at_package(self, organisation_id: str) -> list[dict[str, Any]]:
        """Every sales invoice the package holds for the organisation, as the package's own bodies."""
        raise NotImplementedError

    def read_invoice(self, organisation_id: str, body: dict[str, Any]) -> HeldInvoice:
        """One of `invoices_at_package`'s bodies in the suite's words (looking up at the fake what the body only
        refers to: an account's code from its id, a QuickBooks Item's income account)."""
        raise NotImplementedError

    def payments_at_package(self, organisation_id: str) -> list[dict[str, Any]]:
        """Every customer payment the package holds for the organisation, as the package's own bodies."""
        raise NotImplementedError

    def read_payment(self, organisation_id: str, body: dict[str, Any]) -> HeldPayment:
        """One of `payments_at_package`'s bodies in the suite's words."""
        raise NotImplementedError

    def pay_at_package(self, organisation_id: str, invoice_id: str) -> None:
        """Somebody records the invoice paid in full in the package itself (not through us), approving it first
        where the package pays only approved invoices; the package's clock dates the change."""
        raise NotImplementedError

    def hold_answers(self, resource: Resource) -> threading.Event:
        """The package does the work of each call to `resource` (INVOICES) at once but keeps its answer until the
        returned event is set: a test can kill the caller between the package acting and the caller hearing of it."""
        raise NotImplementedError

    def lose_next_answer(self, resource: Resource) -> None:
        """The package does the next call's work for `resource` (INVOICES, PAYMENTS) but its answer never reaches
        us (the connection drops, or a gateway times out, after the package committed)."""
        raise NotImplementedError


# Each in a module of its own, which builds on the classes above: import them from here.
from tests.providers.myob_driver import MyobDriver  # noqa: E402
from tests.providers.quickbooks_driver import QuickBooksDriver  # noqa: E402
from tests.providers.xero_driver import XeroDriver  # noqa: E402

PACKAGES: tuple[type[PackageDriver], ...] = (XeroDriver, MyobDriver, QuickBooksDriver)
