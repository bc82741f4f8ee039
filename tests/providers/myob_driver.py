"""MYOB as the contract suite and the end-to-end flows drive it (see `tests.providers.packages`, which imports this
module at its end and lists it in PACKAGES: import `MyobDriver` from there, so that the base classes exist first)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from providers.base import ID_LIMIT, AccountKind, BadRequest, NeedsReconnect, RateLimitScope, Unavailable
from providers.myob import DEFAULT_SCOPES, MyobSettings
from tests.fakes.myob import API_PREFIX, MYOB_OAUTH, MyobFake
from tests.fakes.myob.errors import myob_errors, rate_limit_error
from tests.fakes.oauth2 import ClientApp, FakeClock
from tests.fakes.xero.records import Call
from tests.providers.packages import (
    ChartPick,
    ErrorCase,
    ExpectedAccount,
    Failure,
    HeldInvoice,
    HeldLine,
    HeldPayment,
    InvoicingSetup,
    PackageDriver,
    RateLimitCase,
    Resource,
)


class MyobDriver(PackageDriver):
    name = "myob"
    redirect_uri = "http://localhost:3000/oauth/myob/callback"
    authorize_path = MYOB_OAUTH.authorize_path
    scopes = DEFAULT_SCOPES
    pkce = False
    chooses_several = False
    lists_earlier_organisations = False
    revokes_on_disconnect = False
    removes_link_on_disconnect = False  # MYOB has no endpoint for it: the file's administrator removes the app
    grace_period = 0.0
    access_token_ttl = 1200.0
    reports_total = True
    grant_extra_keys = frozenset({"businessId", "businessName"})
    organisation_kind = None
    reconnect_words = "MYOB no longer accepts the saved log-in"
    expected_accounts = {
        "Sales": ExpectedAccount("4-1000", AccountKind.INCOME, "Income", tax_type="GST"),
        "Service Income": ExpectedAccount("4-2000", AccountKind.INCOME, "Income"),
        "Interest Income": ExpectedAccount("8-1000", AccountKind.OTHER_INCOME, "OtherIncome", tax_type="ITS"),
        "Materials": ExpectedAccount("5-1000", AccountKind.COST_OF_SALES, "CostOfSales"),
        "Subcontractors": ExpectedAccount("5-2000", AccountKind.COST_OF_SALES, "CostOfSales"),
        "Advertising": ExpectedAccount("6-1000", AccountKind.EXPENSE, "Expense"),
        "Interest Expense": ExpectedAccount("9-1000", AccountKind.EXPENSE, "OtherExpense"),
        "Business Bank Account": ExpectedAccount("1-1100", AccountKind.BANK, "Bank"),
        "Business Credit Card": ExpectedAccount("2-1100", AccountKind.BANK, "CreditCard"),
        "Old Trade Expenses": ExpectedAccount("6-9000", AccountKind.EXPENSE, "Expense", active=False),
        "Trade Debtors": ExpectedAccount("1-1200", AccountKind.ASSET, "AccountReceivable"),
        "GST Collected": ExpectedAccount("2-1310", AccountKind.LIABILITY, "OtherCurrentLiability"),
        "Retained Earnings": ExpectedAccount("3-8000", AccountKind.EQUITY, "Equity"),
    }
    errors = {
        Failure.VALIDATION: ErrorCase(
            400,
            BadRequest,
            "MYOB refused the request: The filter is not valid",
            body=myob_errors("InvalidQuery", "The filter is not valid", code=1000),
        ),
        Failure.UNAUTHORISED: ErrorCase(401, NeedsReconnect, "MYOB did not accept our access"),
        Failure.FORBIDDEN: ErrorCase(403, NeedsReconnect, "only an administrator of the file can connect it"),
        Failure.NOT_FOUND: ErrorCase(404, NeedsReconnect, "MYOB could not find the company file"),
        Failure.SERVER_ERROR: ErrorCase(500, Unavailable, "MYOB is not answering properly right now (HTTP 500)"),
        Failure.NOT_JSON: ErrorCase(200, Unavailable, "could not read", body="<html>Down for maintenance</html>"),
    }
    rate_limits = {
        RateLimitScope.SECOND: RateLimitCase(403, {}, 1.0, body=rate_limit_error(daily=False)),
        RateLimitScope.DAY: RateLimitCase(403, {}, 3600.0, body=rate_limit_error(daily=True)),
    }
    waited_limit = RateLimitScope.SECOND  # MYOB's calls a second, for the whole key
    tries = 3  # MyobSettings.retries is 2
    chart_picks = {  # what an admin of a plumbing business picks from AccountRight's chart
        "sales": ChartPick("4-1000", "4-1000 – Sales"),
        "services": ChartPick("4-2000", "4-2000 – Service Income"),
        "labour": ChartPick("5-2000", "5-2000 – Subcontractors"),
        "materials": ChartPick("5-1000", "5-1000 – Materials"),
        "expenses": ChartPick("6-2000", "6-2000 – General Expenses"),
        "payments_received": ChartPick("1-1100", "1-1100 – Business Bank Account"),
    }
    invoicing = True
    # AccountRight's codes: GST (10%) on sales and purchases, GST Free on services sold without it.
    tax_picks = {"sales": "GST", "services": "FRE", "labour": "GST", "materials": "GST", "expenses": "GST"}
    overpayment_words = "The amount applied is more than the balance due on invoice"
    changes_overlap = MyobSettings.model_fields["sync_overlap"].default
    waits_out = frozenset({RateLimitScope.SECOND})  # another process sharing the key: the refused call did nothing
    _paths: ClassVar[Mapping[Resource, str]] = {
        Resource.TOKEN: MYOB_OAUTH.token_path,
        Resource.ACCOUNTS: "/GeneralLedger/Account",
        Resource.CUSTOMERS: "/Contact/Customer",
        Resource.TAX_CODES: "/GeneralLedger/TaxCode",
        Resource.INVOICES: "/Sale/Invoice/Service",
        Resource.PAYMENTS: "/Sale/CustomerPayment",
    }
    # Creating a record is a POST; the provider's look-ups by number before it (GET) are not what these name.
    _creates: ClassVar[frozenset[Resource]] = frozenset({Resource.INVOICES, Resource.PAYMENTS})

    def __init__(self, clock: FakeClock, *, fake: MyobFake | None = None) -> None:
        super().__init__(clock)
        self.fake = fake or MyobFake(clock=clock)
        self.oauth = self.fake.oauth

    def settings(self, url: str, client: ClientApp, **overrides: Any) -> MyobSettings:
        values: dict[str, Any] = {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "authorize_url": f"{url}{MYOB_OAUTH.authorize_path}",
            "token_url": f"{url}{MYOB_OAUTH.token_path}",
            "api_url": f"{url}{API_PREFIX}",
            "timeout": 5.0,
        }
        return MyobSettings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]

    def add_organisation(self, name: str) -> str:
        file_id: str = self.fake.add_company_file(name)
        return file_id

    def seed_customers(self, organisation_id: str, n: int) -> list[str]:
        uids: list[str] = self.fake.seed_customers(organisation_id, n)
        return uids

    def add_customer(
        self, organisation_id: str, name: str, *, email: str | None = None, phone: str | None = None
    ) -> str:
        uid: str = self.fake.add_customer(organisation_id, name, email=email, phone=phone)
        return uid

    def importable_customers(self, organisation_id: str) -> list[str]:
        cards = [self.fake.customer(organisation_id, uid) for uid in self.fake.customer_uids(organisation_id)]
        return [
            c["UID"]
            for c in cards
            if isinstance(c, dict)
            and c.get("IsActive") is True
            and isinstance(c.get("UID"), str)
            and 0 < len(c["UID"]) <= ID_LIMIT  # a card without a usable UID cannot be imported
        ]

    def change_customer(self, organisation_id: str, customer_id: str, *, email: str) -> None:
        self.fake.set_email(organisation_id, customer_id, email)

    def archive_customer(self, organisation_id: str, customer_id: str) -> None:
        self.fake.update_customer(organisation_id, customer_id, IsActive=False)

    def _postable(self, organisation_id: str) -> list[dict[str, Any]]:
        return [a for a in self.fake.accounts(organisation_id) if not a["IsHeader"]]

    def account_count(self, organisation_id: str) -> int:
        return len(self._postable(organisation_id))  # header accounts are never offered

    def account_ids(self, organisation_id: str) -> dict[str, str]:
        return {a["DisplayID"]: a["UID"] for a in self._postable(organisation_id)}

    def add_income_account(self, organisation_id: str) -> str:
        number = 4100 + len(self.fake.accounts(organisation_id))
        uid: str = self.fake.add_account(
            organisation_id, f"4-{number}", f"Generated Income {number}", "Income", "Income", tax_code="GST"
        )
        return uid

    def archive_account(self, organisation_id: str, account_id: str) -> None:
        self.fake.update_account(organisation_id, account_id, IsActive=False)

    def connected(self) -> set[str]:
        connected: set[str] = self.fake.authorised_files()
        return connected

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
        method = "POST" if resource in self._creates else None
        self.fake.fail_next(
            self._paths[resource], status, body, times=times, headers=dict(headers or {}), method=method
        )

    def calls(self, resource: Resource) -> list[Call]:
        """The calls to `resource`; for invoices and payments, the creates (POST) only."""
        path = self._paths[resource].lower()
        calls: list[Call] = self.fake.calls_to(path)
        found = [c for c in calls if c.path.lower().rstrip("/").endswith(path)]
        return [c for c in found if c.method == "POST"] if resource in self._creates else found

    def asks_for_changes_only(self, call: Call) -> bool:
        return call.query.get("$filter", "").startswith("LastModified gt datetime'")

    # -- Invoicing ---------------------------------------------------------------------------------

    def invoicing_ready(self, organisation_id: str) -> InvoicingSetup:
        """A customer card; AccountRight's Sales account (4-1000) with GST, paid into the Business Bank Account."""
        customer = self.fake.add_customer(organisation_id, "Jo Bloggs Plumbing", email="jo@example.com")
        return InvoicingSetup(
            customer_id=customer, account_code="4-1000", tax_code="GST", payment_account_code="1-1100"
        )

    def invoices_at_package(self, organisation_id: str) -> list[dict[str, Any]]:
        invoices: list[dict[str, Any]] = self.fake.invoices(organisation_id)
        return invoices

    def read_invoice(self, organisation_id: str, body: dict[str, Any]) -> HeldInvoice:
        """A service invoice as MYOB keeps it: each line's unit count and unit price (without them, one of the line's
        Total); its account's code looked up from the line's account UID."""
        codes = self._display_ids(organisation_id)
        lines = []
        for line in body["Lines"]:
            counted = line.get("UnitCount") is not None
            quantity = _money(line["UnitCount"]) if counted else Decimal(1)
            unit_price = _money(line["UnitPrice"]) if counted else _money(line["Total"])
            description = line["Description"]
            tax_code = (line.get("TaxCode") or {}).get("Code")
            lines.append(HeldLine(description, quantity, unit_price, codes[line["Account"]["UID"]], tax_code))
        total = _money(body["TotalAmount"])
        return HeldInvoice(
            id=body["UID"],
            number=body.get("Number"),
            customer_id=body["Customer"]["UID"],
            lines=tuple(lines),
            subtotal=_money(body["Subtotal"]),
            tax=_money(body["TotalTax"]),
            total=total,
            amount_paid=total - _money(body["BalanceDueAmount"]),
        )

    def payments_at_package(self, organisation_id: str) -> list[dict[str, Any]]:
        payments: list[dict[str, Any]] = self.fake.payments(organisation_id)
        return payments

    def read_payment(self, organisation_id: str, body: dict[str, Any]) -> HeldPayment:
        [applied] = body["Invoices"]  # the provider applies each payment to one invoice
        account = self._display_ids(organisation_id)[body["Account"]["UID"]]
        return HeldPayment(body["UID"], applied["UID"], _money(applied["AmountApplied"]), account)

    def pay_at_package(self, organisation_id: str, invoice_id: str) -> None:
        self.fake.pay_in_myob(organisation_id, invoice_id)

    def hold_answers(self, resource: Resource) -> threading.Event:
        release: threading.Event = self.fake.hold_answers(self._paths[resource].strip("/"))
        return release

    def lose_next_answer(self, resource: Resource) -> None:
        self.fake.lose_answers(self._paths[resource].strip("/"))

    def _display_ids(self, organisation_id: str) -> dict[str, str]:
        """The chart's account codes by UID."""
        return {a["UID"]: a["DisplayID"] for a in self.fake.accounts(organisation_id)}


def _money(value: Any) -> Decimal:
    """A number of the fake's JSON-safe bodies (a float through its shortest text)."""
    return Decimal(str(value))
