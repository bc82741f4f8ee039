"""A QuickBooks company at the fake, connected through the provider in-process, for the invoicing tests
(`test_quickbooks_invoicing`, `test_quickbooks_payments`): the fixtures `companies`, `us` and `au`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import httpx2
import pytest

from providers.base import Link
from providers.invoicing import AmountsAre, InvoiceLine, NewInvoice
from providers.quickbooks import QuickBooksProvider
from providers.registry import get_provider
from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.oauth2 import FakeClock, click_through_consent, redirect_params
from tests.fakes.quickbooks import QuickBooksFake
from tests.keepers import MemoryKeeper
from tests.providers.packages import QuickBooksDriver

URL = "http://quickbooks.fake"


class Company:
    """A company at the fake (`country`), connected through the provider in-process."""

    def __init__(self, country: str) -> None:
        self.clock = FakeClock()
        self.driver = QuickBooksDriver(self.clock)
        self.fake: QuickBooksFake = self.driver.fake
        self.realm = self.fake.add_company("Acme Plumbing", country=country)
        self.client = self.driver.register_client()
        self.transport = ASGISyncTransport(self.driver.app)
        self.provider = self.new_provider()
        self.provider.now = lambda: datetime.fromtimestamp(self.clock(), UTC)
        with httpx2.Client(transport=ASGISyncTransport(self.driver.app)) as browser:
            url = self.provider.authorization_url(state="s", redirect_uri=self.driver.redirect_uri, code_challenge=None)
            params = redirect_params(click_through_consent(browser, url))
        grant = self.provider.exchange_code(
            code=params["code"], redirect_uri=self.driver.redirect_uri, code_verifier=None, params=params
        )
        self.link = Link(self.realm, MemoryKeeper(self.provider, grant.tokens))
        self.jo = self.fake.add_customer(self.realm, "Jo Bloggs")

    def new_provider(self) -> QuickBooksProvider:
        """A provider of its own (another process, say): it remembers nothing of this one's Items."""
        settings = self.driver.settings(URL, self.client)
        provider = get_provider(
            "quickbooks", settings, transport=self.transport, sleep=self.clock.sleep, clock=self.clock
        )
        return cast(QuickBooksProvider, provider)

    def account_id(self, name: str) -> str:
        return next(a["Id"] for a in self.fake.accounts(self.realm) if a["Name"] == name)

    def posts(self, path: str) -> list[Any]:
        return [c for c in self.fake.calls_to(path) if c.method == "POST" and c.path.endswith(path)]

    def invoice(self, *lines: InvoiceLine, inclusive: bool = False, approve: bool = False) -> NewInvoice:
        amounts = AmountsAre.INCLUSIVE if inclusive else AmountsAre.EXCLUSIVE
        return NewInvoice(self.jo, date(2026, 12, 2), date(2026, 12, 16), lines, amounts, "Job 42", approve)


@pytest.fixture
def companies() -> Iterator[Callable[[str], Company]]:
    """Makes a connected company of a country; each is closed afterwards."""
    made: list[Company] = []

    def make(country: str) -> Company:
        made.append(Company(country))
        return made[-1]

    yield make
    for company in made:
        company.provider.close()
        company.transport.close()


@pytest.fixture
def us(companies: Callable[[str], Company]) -> Company:
    return companies("US")


@pytest.fixture
def au(companies: Callable[[str], Company]) -> Company:
    return companies("AU")


HOT_WATER = InvoiceLine("Hot water cylinder", Decimal("3"), Decimal("33.335"), "Services", "TAX:2")
PARTS = InvoiceLine("Copper fittings", Decimal("2"), Decimal("12.50"), "Sales of Product Income", "NON")
