"""Seed data: an AccountRight chart of accounts for a new company file (headers, an inactive account, tax codes),
and varied generated customer cards (individuals and companies, several address slots, missing details,
inactive ones, Slack markup in names) as real files have them."""

from __future__ import annotations

import random
from typing import Any

from tests.fakes.xero.seed import _CITIES, _FIRST, _LAST, _MARKUP_NAMES, _PLACES, _STREETS, _TRADES, _slug

# (DisplayID, Name, Classification, Type, header, tax code, extra)
DEFAULT_CHART: tuple[tuple[str, str, str, str, bool, str, dict[str, Any]], ...] = (
    ("1-0000", "Assets", "Asset", "OtherAsset", True, "N-T", {}),
    ("1-1000", "Current Assets", "Asset", "OtherCurrentAsset", True, "N-T", {}),
    ("1-1100", "Business Bank Account", "Asset", "Bank", False, "N-T", {}),
    ("1-1110", "Business Savings Account", "Asset", "Bank", False, "N-T", {}),
    ("1-1190", "Undeposited Funds", "Asset", "Bank", False, "N-T", {}),
    ("1-1200", "Trade Debtors", "Asset", "AccountReceivable", False, "N-T", {}),
    ("1-1300", "Inventory", "Asset", "OtherCurrentAsset", False, "N-T", {}),
    ("1-2000", "Fixed Assets", "Asset", "FixedAsset", True, "N-T", {}),
    ("1-2100", "Tools & Equipment", "Asset", "FixedAsset", False, "CAP", {}),
    ("2-0000", "Liabilities", "Liability", "OtherLiability", True, "N-T", {}),
    ("2-1100", "Business Credit Card", "Liability", "CreditCard", False, "N-T", {}),
    ("2-1200", "Trade Creditors", "Liability", "AccountsPayable", False, "N-T", {}),
    ("2-1310", "GST Collected", "Liability", "OtherCurrentLiability", False, "N-T", {}),
    ("2-1330", "GST Paid", "Liability", "OtherCurrentLiability", False, "N-T", {}),
    ("2-2000", "Vehicle Loan", "Liability", "LongTermLiability", False, "N-T", {}),
    ("3-0000", "Equity", "Equity", "Equity", True, "N-T", {}),
    ("3-1000", "Owner's Capital", "Equity", "Equity", False, "N-T", {}),
    ("3-8000", "Retained Earnings", "Equity", "Equity", False, "N-T", {}),
    ("4-0000", "Income", "Income", "Income", True, "GST", {}),
    ("4-1000", "Sales", "Income", "Income", False, "GST", {"Description": "Income from jobs and goods sold"}),
    ("4-2000", "Service Income", "Income", "Income", False, "GST", {}),
    ("4-3000", "Call-out Fees", "Income", "Income", False, "GST", {}),
    ("5-0000", "Cost Of Sales", "CostOfSales", "CostOfSales", True, "GST", {}),
    ("5-1000", "Materials", "CostOfSales", "CostOfSales", False, "GST", {}),
    ("5-2000", "Subcontractors", "CostOfSales", "CostOfSales", False, "GST", {}),
    ("6-0000", "Expenses", "Expense", "Expense", True, "GST", {}),
    ("6-1000", "Advertising", "Expense", "Expense", False, "GST", {}),
    ("6-1100", "Bank Fees", "Expense", "Expense", False, "FRE", {}),
    ("6-2000", "General Expenses", "Expense", "Expense", False, "GST", {}),
    ("6-3000", "Motor Vehicle Expenses", "Expense", "Expense", False, "GST", {}),
    ("6-4000", "Rent", "Expense", "Expense", False, "GST", {}),
    ("6-5000", "Telephone & Internet", "Expense", "Expense", False, "GST", {}),
    ("6-9000", "Old Trade Expenses", "Expense", "Expense", False, "GST", {"IsActive": False}),
    ("8-0000", "Other Income", "OtherIncome", "OtherIncome", True, "N-T", {}),
    ("8-1000", "Interest Income", "OtherIncome", "OtherIncome", False, "ITS", {}),
    ("9-0000", "Other Expenses", "OtherExpense", "OtherExpense", True, "N-T", {}),
    ("9-1000", "Interest Expense", "OtherExpense", "OtherExpense", False, "FRE", {}),
)

# AccountRight's Australian tax codes: (Code, Description, Type, Rate, IsRateNegative)
TAX_CODES: tuple[tuple[str, str, str, float, bool], ...] = (
    ("ABN", "No ABN Withholding", "NoABN_TFN", 47.0, True),
    ("CAP", "Capital Acquisitions", "GST_VAT", 10.0, False),
    ("EXP", "GST Free Exports", "GST_VAT", 0.0, False),
    ("FRE", "GST Free", "GST_VAT", 0.0, False),
    ("GST", "Goods & Services Tax", "GST_VAT", 10.0, False),
    ("ITS", "Input Taxed Sales", "InputTaxed", 0.0, False),
    ("N-T", "Not Reportable", "GST_VAT", 0.0, False),
)


def empty_address(location: int) -> dict[str, Any]:
    return {
        "Location": location,
        "Street": None,
        "City": None,
        "State": None,
        "PostCode": None,
        "Country": None,
        "Phone1": None,
        "Phone2": None,
        "Phone3": None,
        "Fax": None,
        "Email": None,
        "Website": None,
        "ContactName": None,
        "Salutation": None,
    }


def customer_fields(
    *, individual: bool, name: str, first: str | None = None, last: str | None = None
) -> dict[str, Any]:
    """A customer card's fields as MYOB sends them (UID, RowVersion and LastModified are the fake's)."""
    return {
        "CompanyName": None if individual else name,
        "LastName": last if individual else None,
        "FirstName": first if individual else None,
        "IsIndividual": individual,
        "DisplayID": "*None",
        "IsActive": True,
        "Addresses": [],
        "Notes": None,
        "Identifiers": [],
        "CustomList1": None,
        "CustomList2": None,
        "CustomList3": None,
        "CustomField1": None,
        "CustomField2": None,
        "CustomField3": None,
        "CurrentBalance": 0.0,
        "SellingDetails": {
            "SaleLayout": "Service",
            "PrintedForm": "Pre-Printed Invoice",
            "InvoiceDelivery": "Print",
            "ItemPriceLevel": "Base Selling Price",
            "IncomeAccount": None,
            "ReceiptMemo": None,
            "SalesPerson": None,
            "SaleComment": None,
            "ShippingMethod": None,
            "HourlyBillingRate": 0.0,
            "ABN": None,
            "ABNBranch": None,
            "TaxCode": None,
            "FreightTaxCode": None,
            "UseCustomerTaxCode": False,
            "Terms": {
                "PaymentIsDue": "InAGivenNumberOfDays",
                "DiscountDate": 0,
                "BalanceDueDate": 30,
                "DiscountForEarlyPayment": 0.0,
                "MonthlyChargeForLatePayment": 0.0,
                "VolumeDiscount": 0.0,
            },
            "Credit": {"Limit": 0.0, "Available": 0.0, "PastDue": 0.0, "OnHold": False},
            "TaxIdNumber": None,
            "Memo": None,
        },
        "PaymentDetails": {
            "Method": "Cash",
            "CardNumber": None,
            "NameOnCard": None,
            "BSBNumber": None,
            "BankAccountNumber": None,
            "BankAccountName": None,
            "Notes": None,
        },
        "ForeignCurrency": None,
        "PhotoURI": None,
    }


def generated_customer(rng: random.Random, seq: int) -> dict[str, Any]:
    """One varied customer card; `seq` picks the variety so any 100 in a row show every case."""
    first, last = rng.choice(_FIRST.split()), rng.choice(_LAST.split())
    individual = seq % 3 == 0
    if seq % 40 == 39:
        name = f"{_MARKUP_NAMES[(seq // 40) % len(_MARKUP_NAMES)]} {seq}"
        individual = False
    else:
        name = f"{rng.choice(_PLACES.split())} {rng.choice(_TRADES.split())} {seq}"
    data = customer_fields(individual=individual, name=name, first=first, last=f"{last} {seq}")
    if seq % 4 == 0:
        data["DisplayID"] = f"CUS{seq:06d}"
    city, region, postcode, country, country_code, area = rng.choice(_CITIES)
    first_slot = empty_address(1)
    if seq % 9 != 8:  # some cards have no address at all
        lines = [f"{rng.randint(1, 400)} {rng.choice(_STREETS)}"]
        if seq % 2 == 0:
            lines.insert(0, f"Level {rng.randint(1, 12)}")
        first_slot.update(Street="\r\n".join(lines), City=city, State=region, PostCode=postcode, Country=country)
    if seq % 10 != 7:  # some have no email
        email = f"{_slug(first)}.{_slug(last)}{seq}@example.com" if individual else f"accounts{seq}@example.net"
        first_slot["Email"] = email
    if seq % 7 != 6:  # some have no phone
        first_slot["Phone1"] = f"+{country_code} {area} {rng.randint(200, 999)} {rng.randint(1000, 9999)}"
        if seq % 5 == 2:
            first_slot["Phone3"] = f"04{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}"
    first_slot["ContactName"] = f"{first} {last}"
    data["Addresses"] = [first_slot]
    if seq % 4 == 3:  # a site address for the work, with its own phone
        site = empty_address(2)
        site.update(Street=f"Unit {rng.randint(1, 30)}, {rng.randint(1, 400)} Main Road", City=city, State=region)
        site.update(PostCode=postcode, Country=country, Phone1=f"+{country_code} {area} 555 {seq % 10000:04d}")
        data["Addresses"].append(site)
    if seq % 25 == 24:
        data["IsActive"] = False
    if seq % 6 == 1:
        data["Notes"] = "Prefers morning appointments"
    data["CurrentBalance"] = round(rng.uniform(0, 5000), 2) if seq % 3 else 0.0
    return data
