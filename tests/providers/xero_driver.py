"""Xero as the contract suite and the end-to-end flows drive it (see `tests.providers.packages`, which imports this
module at its end and lists it in PACKAGES: import `XeroDriver` from there, so that the base classes exist first)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from providers.base import AccountKind, BadRequest, NeedsReconnect, RateLimitScope, Unavailable
from providers.xero.settings import DEFAULT_SCOPES, XeroSettings
from tests.fakes.oauth2 import ClientApp, FakeClock
from tests.fakes.xero import XERO_IDENTITY, XeroFake
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
    invoicing = True
    tax_picks = {"sales": "OUTPUT2", "services": "ZERORATED", "labour": "INPUT2", "materials": "INPUT2"}
    tax_picks |= {"expenses": "INPUT2"}
    overpayment_words = "Payment amount exceeds the amount outstanding on this document."
    _paths: ClassVar[Mapping[Resource, str]] = {
        Resource.TOKEN: "/connect/token",
        Resource.ORGANISATIONS: "/connections",
        Resource.ACCOUNTS: "/api.xro/2.0/Accounts",
        Resource.CUSTOMERS: "/api.xro/2.0/Contacts",
        Resource.TAX_CODES: "/api.xro/2.0/TaxRates",
        Resource.INVOICES: "/api.xro/2.0/Invoices",
        Resource.PAYMENTS: "/api.xro/2.0/Payments",
    }
    _writes: ClassVar[Mapping[Resource, str]] = {Resource.INVOICES: "Invoices", Resource.PAYMENTS: "Payments"}

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

    def invoicing_ready(self, organisation_id: str) -> InvoicingSetup:
        customer = self.add_customer(organisation_id, "Jo Bloggs", email="jo@example.com")
        return InvoicingSetup(customer_id=customer, account_code="200", tax_code="OUTPUT2", payment_account_code="090")

    def invoices_at_package(self, organisation_id: str) -> list[dict[str, Any]]:
        return self.fake.invoices(organisation_id, unitdp=4)  # type: ignore[no-any-return]

    def read_invoice(self, organisation_id: str, body: dict[str, Any]) -> HeldInvoice:
        lines = tuple(
            HeldLine(
                description=line["Description"],
                quantity=_money(line["Quantity"]),
                unit_price=_money(line["UnitAmount"]),
                account_code=line["AccountCode"],
                tax_code=line.get("TaxType"),
            )
            for line in body["LineItems"]
        )
        return HeldInvoice(
            id=body["InvoiceID"],
            number=body.get("InvoiceNumber"),
            customer_id=body["Contact"]["ContactID"],
            lines=lines,
            subtotal=_money(body["SubTotal"]),
            tax=_money(body["TotalTax"]),
            total=_money(body["Total"]),
            amount_paid=_money(body["AmountPaid"]),
        )

    def payments_at_package(self, organisation_id: str) -> list[dict[str, Any]]:
        return self.fake.payments(organisation_id)  # type: ignore[no-any-return]

    def read_payment(self, organisation_id: str, body: dict[str, Any]) -> HeldPayment:
        return HeldPayment(
            body["PaymentID"], body["Invoice"]["InvoiceID"], _money(body["Amount"]), body["Account"]["Code"]
        )

    def pay_at_package(self, organisation_id: str, invoice_id: str) -> None:
        [invoice] = [i for i in self.fake.invoices(organisation_id) if i["InvoiceID"] == invoice_id]
        if invoice["Status"] in ("DRAFT", "SUBMITTED"):  # Xero takes payments against approved invoices only
            self.fake.set_invoice_status(organisation_id, invoice_id, "AUTHORISED")
        self.fake.pay_in_xero(organisation_id, invoice_id, str(_money(invoice["AmountDue"])))

    def hold_answers(self, resource: Resource) -> threading.Event:
        return self.fake.hold_answers(self._writes[resource])  # type: ignore[no-any-return]

    def lose_next_answer(self, resource: Resource) -> None:
        self.fake.lose_answers(self._writes[resource])


def _money(value: Any) -> Decimal:
    """A number of the fake's JSON-safe bodies (a float through its shortest text: 33.335 stays 33.335)."""
    return Decimal(str(value))
