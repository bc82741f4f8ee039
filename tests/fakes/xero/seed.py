"""Seed data: Xero's default chart of accounts for a new organisation, and varied generated contacts (missing
details, suppliers, archived ones, Slack markup in names) as real organisations have them."""

from __future__ import annotations

import random
import re
from typing import Any

_CLASS_OF_TYPE = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "FIXED": "ASSET",
    "INVENTORY": "ASSET",
    "NONCURRENT": "ASSET",
    "PREPAYMENT": "ASSET",
    "CURRLIAB": "LIABILITY",
    "LIABILITY": "LIABILITY",
    "TERMLIAB": "LIABILITY",
    "PAYG": "LIABILITY",
    "EQUITY": "EQUITY",
    "DEPRECIATN": "EXPENSE",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "OTHERINCOME": "REVENUE",
    "REVENUE": "REVENUE",
    "SALES": "REVENUE",
}

# (code, name, type, tax type, extra fields); code None: a bank account without a code, as Xero allows
DEFAULT_CHART: tuple[tuple[str | None, str, str, str, dict[str, Any]], ...] = (
    ("090", "Business Bank Account", "BANK", "NONE", {"BankAccountNumber": "0209087654321050"}),
    (None, "Business Savings Account", "BANK", "NONE", {"BankAccountNumber": "0209087654321051"}),
    ("", "Company Credit Card", "BANK", "NONE", {"BankAccountType": "CREDITCARD"}),
    ("200", "Sales", "REVENUE", "OUTPUT2", {"Description": "Income from any normal business activity"}),
    ("205", "Online Sales", "SALES", "OUTPUT2", {}),
    ("260", "Other Revenue", "REVENUE", "OUTPUT2", {}),
    ("270", "Interest Income", "OTHERINCOME", "NONE", {}),
    ("280", "Grants Received", "OTHERINCOME", "EXEMPTOUTPUT", {}),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "INPUT2", {}),
    ("320", "Subcontractors", "DIRECTCOSTS", "INPUT2", {}),
    ("400", "Advertising", "OVERHEADS", "INPUT2", {}),
    ("404", "Bank Fees", "OVERHEADS", "NONE", {}),
    ("408", "Cleaning", "OVERHEADS", "INPUT2", {}),
    ("412", "Consulting & Accounting", "EXPENSE", "INPUT2", {}),
    ("416", "Depreciation", "DEPRECIATN", "NONE", {}),
    ("420", "Entertainment", "OVERHEADS", "INPUT2", {}),
    ("429", "General Expenses", "OVERHEADS", "INPUT2", {}),
    ("433", "Insurance", "OVERHEADS", "INPUT2", {}),
    ("445", "Light, Power, Heating", "OVERHEADS", "INPUT2", {}),
    ("461", "Printing & Stationery", "OVERHEADS", "INPUT2", {}),
    ("469", "Rent", "OVERHEADS", "INPUT2", {}),
    ("473", "Repairs and Maintenance", "OVERHEADS", "INPUT2", {}),
    ("485", "Subscriptions", "EXPENSE", "INPUT2", {}),
    ("489", "Telephone & Internet", "OVERHEADS", "INPUT2", {}),
    ("493", "Travel - National", "OVERHEADS", "INPUT2", {}),
    ("494", "Travel - International", "OVERHEADS", "NONE", {"Status": "ARCHIVED"}),
    ("610", "Accounts Receivable", "CURRENT", "NONE", {"SystemAccount": "DEBTORS"}),
    ("620", "Prepayments", "PREPAYMENT", "NONE", {}),
    ("630", "Inventory", "INVENTORY", "NONE", {}),
    ("710", "Office Equipment", "FIXED", "INPUT2", {}),
    ("711", "Less Accumulated Depreciation on Office Equipment", "FIXED", "NONE", {}),
    ("750", "Investments", "NONCURRENT", "NONE", {}),
    ("800", "Accounts Payable", "CURRLIAB", "NONE", {"SystemAccount": "CREDITORS"}),
    ("820", "GST", "CURRLIAB", "NONE", {"SystemAccount": "GST"}),
    ("840", "Historical Adjustment", "CURRLIAB", "NONE", {"SystemAccount": "HISTORICAL"}),
    ("860", "Rounding", "CURRLIAB", "NONE", {"SystemAccount": "ROUNDING"}),
    ("900", "Loan", "TERMLIAB", "NONE", {}),
    ("960", "Retained Earnings", "EQUITY", "NONE", {"SystemAccount": "RETAINEDEARNINGS"}),
    ("970", "Owner A Funds Introduced", "EQUITY", "NONE", {}),
)

_FIRST = "Aroha Ben Chloé Dev Emma Finn Grace Hemi Isla Jack Kiri Liam Mia Noah Olivia Priya Quinn Ruby Sam Tama"
_LAST = "Anderson Brown Chen Davies Edwards Fraser Harris Ioane Jones Kaur Lee Martin Ngata O'Brien Patel Singh"
_PLACES = "Harbour Kauri Summit Coastal Alpine Riverside Southern Pacific Greenfield Ironbark Pōhutukawa Tōtara"
_TRADES = "Plumbing Electrical Bakery Consulting Landscaping Café Builders Design Motors Florist Joinery Dental"
_SUFFIXES = ("Ltd", "Limited", "& Co", "Group", "Partners", "NZ")
_MARKUP_NAMES = (
    "<!channel> Alerts Ltd",
    "*Bold* & _Italic_ Traders",
    "<@U0123ABCD> Holdings",
    "Tom & Jerry <Cheese> Co",
    "`rm -rf` Labs",
    "<https://evil.example|Click me> Ltd",
    "~Strike~ Supplies",
    "<!here|here> Party Hire",
)
_CITIES = (
    ("Auckland", "Auckland", "1010", "New Zealand", "64", "9"),
    ("Wellington", "Wellington", "6011", "New Zealand", "64", "4"),
    ("Christchurch", "Canterbury", "8011", "New Zealand", "64", "3"),
    ("Sydney", "NSW", "2000", "Australia", "61", "2"),
    ("Melbourne", "VIC", "3000", "Australia", "61", "3"),
    ("London", "", "EC1A 1BB", "United Kingdom", "44", "20"),
)
_STREETS = "Queen Street|Cuba Street|Colombo Street|George Street|Collins Street|Baker Street".split("|")


def _slug(text: str) -> str:
    ascii_text = text.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", ".", ascii_text).strip(".") or "contact"


def _empty_addresses() -> list[dict[str, Any]]:
    return [
        {"AddressType": "STREET", "City": "", "Region": "", "PostalCode": "", "Country": ""},
        {
            "AddressType": "POBOX",
            "AddressLine1": "",
            "AddressLine2": "",
            "AddressLine3": "",
            "AddressLine4": "",
            "City": "",
            "Region": "",
            "PostalCode": "",
            "Country": "",
        },
    ]


def _empty_phones() -> list[dict[str, Any]]:
    return [
        {"PhoneType": kind, "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""}
        for kind in ("DDI", "DEFAULT", "FAX", "MOBILE")
    ]


def _generated_contact(rng: random.Random, seq: int, contact_id: str) -> dict[str, Any]:
    """One varied contact; `seq` picks the variety so any 100 in a row show every case."""
    first, last = rng.choice(_FIRST.split()), rng.choice(_LAST.split())
    person = seq % 3 == 0
    if seq % 40 == 39:
        name = f"{_MARKUP_NAMES[(seq // 40) % len(_MARKUP_NAMES)]} {seq}"
    elif person:
        name = f"{first} {last} {seq}"
    else:
        name = f"{rng.choice(_PLACES.split())} {rng.choice(_TRADES.split())} {rng.choice(_SUFFIXES)} {seq}"
    city, region, postcode, country, country_code, area = rng.choice(_CITIES)
    data: dict[str, Any] = {
        "ContactID": contact_id,
        "ContactStatus": "ACTIVE",
        "Name": name,
        "FirstName": first,
        "LastName": last,
        "EmailAddress": f"{_slug(first)}.{_slug(last)}{seq}@example.com" if person else f"accounts{seq}@example.net",
        "BankAccountDetails": "",
        "TaxNumber": f"{rng.randint(10, 99)}-{rng.randint(100, 999)}-{rng.randint(100, 999)}" if seq % 4 == 1 else "",
        "Addresses": _empty_addresses(),
        "Phones": _empty_phones(),
        "ContactGroups": [],
        "IsSupplier": False,
        "IsCustomer": True,
        "DefaultCurrency": "AUD" if country == "Australia" else "NZD",
        "SalesDefaultLineAmountType": rng.choice(("INCLUSIVE", "EXCLUSIVE")),
        "PurchasesDefaultLineAmountType": "INCLUSIVE",
        "ContactPersons": [],
        "HasAttachments": False,
        "HasValidationErrors": False,
    }
    if seq % 4 == 0:
        data["ContactNumber"] = f"CUS{seq:05d}"
    if seq % 5 == 0:
        data["AccountNumber"] = f"ACC-{seq}"
    if seq % 8 == 2:
        data["ContactPersons"] = [
            {
                "FirstName": first,
                "LastName": last,
                "EmailAddress": f"{_slug(first)}@example.org",
                "IncludeInEmails": True,
            }
        ]
    if seq % 6 == 1:
        data["PaymentTerms"] = {"Sales": {"Day": 20, "Type": "OFFOLLOWINGMONTH"}}
    # who they are to the business: Xero sets these from invoices and bills
    if seq % 6 == 5:
        data["IsCustomer"], data["IsSupplier"] = False, True
    elif seq % 6 == 4:
        data["IsSupplier"] = True
    elif seq % 6 == 3:
        data["IsCustomer"] = False
    if data["IsCustomer"]:
        outstanding = round(rng.uniform(0, 5000), 2)
        data["Balances"] = {"AccountsReceivable": {"Outstanding": outstanding, "Overdue": round(outstanding / 3, 2)}}
    # missing data, the way real organisations have it
    if seq % 10 == 7:
        data["EmailAddress"] = ""
    if seq % 7 != 6:
        phones = data["Phones"]
        phones[1].update(PhoneNumber=f"{rng.randint(200, 999)} {rng.randint(1000, 9999)}", PhoneAreaCode=area)
        if seq % 3 != 0:
            phones[1]["PhoneCountryCode"] = country_code
        if seq % 5 == 2:
            phones[3].update(PhoneNumber=f"021 {rng.randint(100, 999)} {rng.randint(100, 999)}")
    if seq % 9 != 8:
        pobox = data["Addresses"][1]
        pobox.update(
            AddressLine1=f"{rng.randint(1, 400)} {rng.choice(_STREETS)}",
            City=city,
            Region=region,
            PostalCode=postcode,
            Country=country,
        )
        if seq % 2 == 0:
            pobox["AddressLine2"] = f"Level {rng.randint(1, 12)}"
        if seq % 4 == 3:
            data["Addresses"][0].update(City=city, Region=region, PostalCode=postcode, Country=country)
            data["Addresses"][0]["AddressLine1"] = f"Unit {rng.randint(1, 30)}, {rng.randint(1, 400)} Main Road"
    if seq % 25 == 24:
        data["ContactStatus"] = "ARCHIVED"
    return data


def _gdpr_erased(data: dict[str, Any]) -> dict[str, Any]:
    erased = dict(data)
    erased.update(
        ContactStatus="GDPRREQUEST",
        Name=f"Deleted contact {data['ContactID'][:8]}",
        FirstName="",
        LastName="",
        EmailAddress="",
        Addresses=_empty_addresses(),
        Phones=_empty_phones(),
        ContactPersons=[],
        TaxNumber="",
    )
    return erased
