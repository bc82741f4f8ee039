"""QuickBooks Online's default chart of accounts (a trades business's sample) and generated customers: people
and companies, some without email, phone or address, some inactive, some with Slack markup in their names."""

from __future__ import annotations

import random
from typing import Any

_CLASSIFICATION = {
    "Bank": "Asset",
    "Accounts Receivable": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Other Current Liability": "Liability",
    "Long Term Liability": "Liability",
    "Equity": "Equity",
    "Income": "Revenue",
    "Other Income": "Revenue",
    "Cost of Goods Sold": "Expense",
    "Expense": "Expense",
    "Other Expense": "Expense",
}

# (Name, AccountType, AccountSubType, parent's Name or None, Active)
DEFAULT_CHART: tuple[tuple[str, str, str, str | None, bool], ...] = (
    ("Checking", "Bank", "Checking", None, True),
    ("Savings", "Bank", "Savings", None, True),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", None, True),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds", None, True),
    ("Inventory Asset", "Other Current Asset", "Inventory", None, True),
    ("Truck", "Fixed Asset", "Vehicles", None, True),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", None, True),
    ("Mastercard", "Credit Card", "CreditCard", None, True),
    ("Sales Tax Payable", "Other Current Liability", "SalesTaxPayable", None, True),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity", None, True),
    ("Retained Earnings", "Equity", "RetainedEarnings", None, True),
    ("Sales of Product Income", "Income", "SalesOfProductIncome", None, True),
    ("Services", "Income", "ServiceFeeIncome", None, True),
    ("Installation", "Income", "ServiceFeeIncome", "Services", True),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs", None, True),
    ("Subcontractors", "Cost of Goods Sold", "CostOfLaborCos", None, True),
    ("Advertising", "Expense", "AdvertisingPromotional", None, True),
    ("Utilities", "Expense", "Utilities", None, True),
    ("Gas and Electric", "Expense", "Utilities", "Utilities", True),
    ("Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses", None, True),
    ("Travel", "Expense", "Travel", None, False),
    ("Interest Earned", "Other Income", "InterestEarned", None, True),
    ("Miscellaneous", "Other Expense", "OtherMiscellaneousExpense", None, True),
    ("Purchase Orders", "Non-Posting", "PurchaseOrderAccount", None, True),
)


def classification(account_type: str) -> str | None:
    return _CLASSIFICATION.get(account_type)


_GIVEN = ("Amy", "Bill", "Cathy", "Dylan", "Emma", "Farhan", "Grace", "Hemi", "Ines", "Jack", "Kiri", "Liam", "Mere")
_FAMILY = ("Adams", "Brown", "Chen", "Davies", "Evans", "Fraser", "Gupta", "Harris", "Ito", "Jones", "Kaur", "Lee")
_BUSINESS = ("Plumbing", "Builders", "Electrical", "Landscaping", "Roofing", "Joinery", "Drainage", "Tiling")
_CITIES = (("Mountain View", "CA", "94043"), ("Half Moon Bay", "CA", "94213"), ("Bayshore", "CA", "94326"))


def generated_customer(rng: random.Random, seq: int) -> dict[str, Any]:
    """One varied customer in Intuit's field names (without Id, SyncToken and MetaData)."""
    given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
    company = f"{family} {rng.choice(_BUSINESS)}" if rng.random() < 0.6 else None
    display = f"{company or f'{given} {family}'} {seq}"
    if seq % 40 == 0:
        display = f"<!channel> {display}"
    data: dict[str, Any] = {"GivenName": given, "FamilyName": family, "DisplayName": display}
    if company:
        data["CompanyName"] = company
    data["PrintOnCheckName"] = company or f"{given} {family}"
    data["Active"] = seq % 25 != 0
    if rng.random() < 0.85:
        data["PrimaryEmailAddr"] = {"Address": f"{given}.{family}{seq}@example.com".lower()}
    if rng.random() < 0.8:
        data["PrimaryPhone"] = {"FreeFormNumber": f"(650) 555-{rng.randrange(10000):04d}"}
    if rng.random() < 0.3:
        data["Mobile"] = {"FreeFormNumber": f"(415) 555-{rng.randrange(10000):04d}"}
    if rng.random() < 0.7:
        city, region, postal = rng.choice(_CITIES)
        data["BillAddr"] = {
            "Line1": f"{rng.randrange(1, 999)} {rng.choice(_FAMILY)} St.",
            "City": city,
            "CountrySubDivisionCode": region,
            "PostalCode": postal,
            "Country": "USA",
        }
        if rng.random() < 0.5:
            data["ShipAddr"] = dict(data["BillAddr"], Line1=f"{rng.randrange(1, 999)} Site Rd.")
    return data | customer_defaults()


def customer_defaults() -> dict[str, Any]:
    """The fields QuickBooks fills in on every customer."""
    return {
        "Job": False,
        "BillWithParent": False,
        "Taxable": True,
        "Balance": 0,
        "BalanceWithJobs": 0,
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
        "PreferredDeliveryMethod": "Print",
        "domain": "QBO",
        "sparse": False,
    }
