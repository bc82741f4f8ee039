"""QuickBooks Online as the contract suite and the end-to-end flows drive it (`packages.PACKAGES` lists it)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from providers.base import AccountKind, BadRequest, NeedsReconnect, RateLimitScope, Unavailable
from providers.quickbooks import DEFAULT_SCOPES, QuickBooksSettings
from tests.fakes.oauth2 import ClientApp, FakeClock
from tests.fakes.quickbooks import AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH, Call, QuickBooksFake
from tests.fakes.quickbooks.identity import REFRESH_TOKEN_KEPT_FOR
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

THROTTLED = {
    "Fault": {
        "Error": [
            {
                "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                "Detail": "The request limit was reached.  You can try your request again later.",
                "code": "3001",
            }
        ],
        "type": "ServiceFault",
    },
    "time": "2026-01-01T00:00:00.000-08:00",
}


class QuickBooksDriver(PackageDriver):
    name = "quickbooks"
    redirect_uri = "http://localhost:3000/oauth/quickbooks/callback"
    authorize_path = AUTHORIZE_PATH
    scopes = DEFAULT_SCOPES
    pkce = False
    chooses_several = False
    lists_earlier_organisations = False
    revokes_on_disconnect = True
    grace_period = 0.0
    refresh_token_kept_for = REFRESH_TOKEN_KEPT_FOR
    access_token_ttl = 3600.0
    reports_total = True
    grant_extra_keys = frozenset({"realm_id"})
    organisation_kind = None
    reconnect_words = "QuickBooks no longer accepts the saved log-in"
    expected_accounts = {
        "Sales of Product Income": ExpectedAccount(None, AccountKind.INCOME, "Income"),
        "Services": ExpectedAccount(None, AccountKind.INCOME, "Income"),
        "Services:Installation": ExpectedAccount(None, AccountKind.INCOME, "Income"),
        "Interest Earned": ExpectedAccount(None, AccountKind.OTHER_INCOME, "Other Income"),
        "Cost of Goods Sold": ExpectedAccount(None, AccountKind.COST_OF_SALES, "Cost of Goods Sold"),
        "Advertising": ExpectedAccount(None, AccountKind.EXPENSE, "Expense"),
        "Utilities:Gas and Electric": ExpectedAccount(None, AccountKind.EXPENSE, "Expense"),
        "Miscellaneous": ExpectedAccount(None, AccountKind.EXPENSE, "Other Expense"),
        "Travel": ExpectedAccount(None, AccountKind.EXPENSE, "Expense", active=False),
        "Checking": ExpectedAccount(None, AccountKind.BANK, "Bank"),
        "Accounts Receivable (A/R)": ExpectedAccount(None, AccountKind.ASSET, "Accounts Receivable"),
        "Mastercard": ExpectedAccount(None, AccountKind.LIABILITY, "Credit Card"),
        "Retained Earnings": ExpectedAccount(None, AccountKind.EQUITY, "Equity"),
    }
    errors = {
        Failure.VALIDATION: ErrorCase(
            400,
            BadRequest,
            "QuickBooks refused the request: that name is already used",
            body={
                "Fault": {
                    "Error": [
                        {
                            "Message": "Duplicate Name Exists Error",
                            "Detail": "The name supplied already exists. : Another customer uses this name.",
                            "code": "6240",
                        }
                    ],
                    "type": "ValidationFault",
                },
                "time": "2026-01-01T00:00:00.000-08:00",
            },
        ),
        Failure.UNAUTHORISED: ErrorCase(401, NeedsReconnect, "QuickBooks did not accept our access"),
        Failure.FORBIDDEN: ErrorCase(403, NeedsReconnect, "company is no longer connected"),
        Failure.NOT_FOUND: ErrorCase(404, BadRequest, "QuickBooks could not find what we asked for"),
        Failure.SERVER_ERROR: ErrorCase(500, Unavailable, "QuickBooks is not answering properly right now (HTTP 500)"),
        Failure.NOT_JSON: ErrorCase(200, Unavailable, "could not read", body="<html>Down for maintenance</html>"),
    }
    rate_limits = {
        RateLimitScope.MINUTE: RateLimitCase(429, {}, 60.0, body=THROTTLED),
        RateLimitScope.CONCURRENT: RateLimitCase(
            429,
            {"Retry-After": "2"},
            2.0,
            body={
                "Fault": {
                    "Error": [
                        {"Message": "ThrottleExceeded", "Detail": "Too many concurrent requests.", "code": "3001"}
                    ],
                    "type": "ServiceFault",
                }
            },
        ),
    }
    tries = 3  # QuickBooksSettings.retries is 2
    chart_picks = {  # what an admin of a plumbing business picks from the default chart (no account numbers)
        "sales": ChartPick("Sales of Product Income", "Sales of Product Income"),
        "services": ChartPick("Services", "Services"),
        "labour": ChartPick("Subcontractors", "Subcontractors"),
        "materials": ChartPick("Cost of Goods Sold", "Cost of Goods Sold"),
        "expenses": ChartPick("Office Expenses", "Office Expenses"),
        "payments_received": ChartPick("Checking", "Checking"),
    }
    _paths: ClassVar[Mapping[Resource, tuple[tuple[str, ...], str | None]]] = {
        Resource.TOKEN: ((TOKEN_PATH,), None),
        Resource.ORGANISATIONS: (("/companyinfo/",), None),
        Resource.ACCOUNTS: (("/query",), "Account"),
        Resource.CUSTOMERS: (("/query", "/cdc"), "Customer"),
        Resource.TAX_CODES: (("/query",), "TaxCode"),
        Resource.INVOICES: (("/invoice",), None),
        Resource.PAYMENTS: (("/payment",), None),
    }
    invoicing = True
    # A US company: its sales lines are taxable (TAX, at the invoice's one sales tax code, California's 8%) or not
    # (NON); purchases carry no sales tax.
    tax_picks = {"sales": "TAX:2", "services": "NON", "labour": "NON", "materials": "NON", "expenses": "NON"}
    overpayment_words = "is more than its open balance"
    tax_inclusive_prices = False  # a US company: sales tax is added to prices before tax
    tax_inclusive_words = "QuickBooks in the US adds sales tax to the prices: enter the prices before tax."
    _writes: ClassVar[Mapping[Resource, str]] = {Resource.INVOICES: "invoice", Resource.PAYMENTS: "payment"}

    def __init__(self, clock: FakeClock, *, fake: QuickBooksFake | None = None) -> None:
        super().__init__(clock)
        self.fake = fake or QuickBooksFake(clock=clock)
        self.oauth = self.fake.oauth

    def settings(self, url: str, client: ClientApp, **overrides: Any) -> QuickBooksSettings:
        values: dict[str, Any] = {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "authorize_url": f"{url}{AUTHORIZE_PATH}",
            "token_url": f"{url}{TOKEN_PATH}",
            "revoke_url": f"{url}{REVOKE_PATH}",
            "api_url": url,
            "timeout": 5.0,
        }
        return QuickBooksSettings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]

    def add_organisation(self, name: str) -> str:
        return self.fake.add_company(name)

    def seed_customers(self, organisation_id: str, n: int) -> list[str]:
        return self.fake.seed_customers(organisation_id, n)

    def add_customer(
        self, organisation_id: str, name: str, *, email: str | None = None, phone: str | None = None
    ) -> str:
        fields: dict[str, Any] = {}
        if email:
            fields["PrimaryEmailAddr"] = {"Address": email}
        if phone:
            fields["Mobile"] = {"FreeFormNumber": phone}
        return self.fake.add_customer(organisation_id, name, **fields)

    def importable_customers(self, organisation_id: str) -> list[str]:
        rows = [self.fake.customer(organisation_id, c) for c in self.fake.customer_ids(organisation_id)]
        return [r["Id"] for r in rows if r.get("Active") is not False and not r.get("Job")]

    def change_customer(self, organisation_id: str, customer_id: str, *, email: str) -> None:
        self.fake.update_customer(organisation_id, customer_id, PrimaryEmailAddr={"Address": email})

    def archive_customer(self, organisation_id: str, customer_id: str) -> None:
        self.fake.deactivate_customer(organisation_id, customer_id)

    def account_count(self, organisation_id: str) -> int:
        return len([a for a in self.fake.accounts(organisation_id) if a["AccountType"] != "Non-Posting"])

    def account_ids(self, organisation_id: str) -> dict[str, str]:
        return {a.get("AcctNum") or a["Name"]: a["Id"] for a in self.fake.accounts(organisation_id)}

    def add_income_account(self, organisation_id: str) -> str:
        return self.fake.add_account(organisation_id, "Emergency Call-outs", "Income")

    def archive_account(self, organisation_id: str, account_id: str) -> None:
        self.fake.update_account(organisation_id, account_id, Active=False)

    def connected(self) -> set[str]:
        return self.fake.connected_realms()

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
        paths, entity = self._paths[resource]
        self.fake.fail_next(paths, status, body, entity=entity, times=times, headers=dict(headers or {}))

    def calls(self, resource: Resource) -> list[Call]:
        """The calls for `resource`; for customers, the pages and change data capture (not the COUNT)."""
        paths, entity = self._paths[resource]
        return [
            c
            for c in self.fake.calls
            if any(c.path.endswith(p) or p.endswith("/") and p in c.path for p in paths)
            and (entity is None or c.entity == entity)
            and not c.counts
        ]

    def asks_for_changes_only(self, call: Call) -> bool:
        return call.path.endswith("/cdc") or "lastupdatedtime" in (call.statement or "").lower()

    # --- Invoicing ----------------------------------------------------------------------------------------------

    def invoicing_ready(self, organisation_id: str) -> InvoicingSetup:
        """A customer; lines to the Services income account (no account numbers: named), taxed at the US company's
        California sales tax (`TAX:2`), payments into Checking."""
        customer_id = self.fake.add_customer(
            organisation_id, "Jo Bloggs", PrimaryEmailAddr={"Address": "jo@example.com"}
        )
        return InvoicingSetup(
            customer_id=customer_id, account_code="Services", tax_code="TAX:2", payment_account_code="Checking"
        )

    def invoices_at_package(self, organisation_id: str) -> list[dict[str, Any]]:
        return self.fake.invoices(organisation_id)

    def read_invoice(self, organisation_id: str, body: dict[str, Any]) -> HeldInvoice:
        """Each sales line's account is its Item's income account; a US line's `TAX` is named with the invoice's
        sales tax code (`TAX:<Id>`), as the provider names it."""
        items = {i["Id"]: i for i in self.fake.items(organisation_id)}
        codes = self._account_codes(organisation_id)
        sales_code = (body.get("TxnTaxDetail") or {}).get("TxnTaxCodeRef", {}).get("value")
        lines = []
        for line in body["Line"]:
            if line["DetailType"] != "SalesItemLineDetail":
                continue
            detail = line["SalesItemLineDetail"]
            tax = (detail.get("TaxCodeRef") or {}).get("value")
            if tax == "TAX" and sales_code is not None:
                tax = f"TAX:{sales_code}"
            account = items[detail["ItemRef"]["value"]]["IncomeAccountRef"]["value"]
            lines.append(
                HeldLine(
                    description=line.get("Description", ""),
                    quantity=_money(detail["Qty"]),
                    unit_price=_money(detail["UnitPrice"]),
                    account_code=codes[account],
                    tax_code=tax,
                )
            )
        total, tax_total = _money(body["TotalAmt"]), _money(body["TxnTaxDetail"]["TotalTax"])
        return HeldInvoice(
            id=body["Id"],
            number=body.get("DocNumber"),
            customer_id=body["CustomerRef"]["value"],
            lines=tuple(lines),
            subtotal=sum(
                (_money(x["Amount"]) for x in body["Line"] if x["DetailType"] == "SalesItemLineDetail"), Decimal(0)
            ),
            tax=tax_total,
            total=total,
            amount_paid=total - _money(body["Balance"]),
        )

    def payments_at_package(self, organisation_id: str) -> list[dict[str, Any]]:
        return self.fake.payments(organisation_id)

    def read_payment(self, organisation_id: str, body: dict[str, Any]) -> HeldPayment:
        """A payment of one invoice (the only kind we record): the invoice its one line is linked to."""
        [line] = body["Line"]
        [linked] = [t for t in line["LinkedTxn"] if t["TxnType"] == "Invoice"]
        deposit = self._account_codes(organisation_id)[body["DepositToAccountRef"]["value"]]
        return HeldPayment(body["Id"], linked["TxnId"], _money(body["TotalAmt"]), deposit)

    def _account_codes(self, organisation_id: str) -> dict[str, str]:
        """The chart's codes by account id (the name of an account without a number), as `account_ids` keys them."""
        return {account_id: code for code, account_id in self.account_ids(organisation_id).items()}

    def pay_at_package(self, organisation_id: str, invoice_id: str) -> None:
        [invoice] = [i for i in self.fake.invoices(organisation_id) if i["Id"] == invoice_id]
        self.fake.pay_in_quickbooks(organisation_id, invoice_id, str(invoice["Balance"]))

    def hold_answers(self, resource: Resource) -> threading.Event:
        return self.fake.hold_answers(self._writes[resource])

    def lose_next_answer(self, resource: Resource) -> None:
        self.fake.lose_answers(self._writes[resource])


def _money(value: Any) -> Decimal:
    """A number of the fake's JSON bodies (a float through its shortest text: 33.335 stays 33.335)."""
    return Decimal(str(value))


class QuickBooksElsewhereDriver(QuickBooksDriver):
    """A QuickBooks company outside the US (Australia): a TaxCode Id on each line, prices with or without tax
    (`GlobalTaxCalculation`). Not one of `packages.PACKAGES` (the suites run for the US company); the end-to-end
    flows take it where the US company differs (tax-inclusive prices)."""

    country = "AU"
    tax_picks = {"sales": "10", "services": "11", "labour": "10", "materials": "10", "expenses": "10"}  # GST, free
    tax_inclusive_prices = True
    tax_inclusive_words = ""

    def add_organisation(self, name: str) -> str:
        return self.fake.add_company(name, country=self.country)

    def invoicing_ready(self, organisation_id: str) -> InvoicingSetup:
        """As the US company's, taxed at GST (`10`)."""
        setup = super().invoicing_ready(organisation_id)
        return InvoicingSetup(
            customer_id=setup.customer_id, account_code="Services", tax_code="10", payment_account_code="Checking"
        )
