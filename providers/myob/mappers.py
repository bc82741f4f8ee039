"""Pure translation of MYOB's records (`GeneralLedger/Account` and `Contact/Customer` items) into our normalised
Account and Customer, and of MYOB's account types into words people read.

No HTTP here: `providers.myob.client` fetches, these functions translate, and tests call them directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from providers.base import ID_LIMIT, TEXT_LIMIT, Account, AccountKind, Address, Customer, Phone, Skipped
from providers.myob.times import parse_myob_time
from providers.records import UnusableRecord, clean_id, clean_text, read_customers

UTC_ZONE = ZoneInfo("UTC")

# An account's Classification decides its kind; a few Types say more (a bank or credit card account).
ACCOUNT_KIND_BY_CLASSIFICATION = {
    "Asset": AccountKind.ASSET,
    "Liability": AccountKind.LIABILITY,
    "Equity": AccountKind.EQUITY,
    "Income": AccountKind.INCOME,
    "CostOfSales": AccountKind.COST_OF_SALES,
    "Expense": AccountKind.EXPENSE,
    "OtherIncome": AccountKind.OTHER_INCOME,
    "OtherExpense": AccountKind.EXPENSE,
}
ACCOUNT_KIND_BY_TYPE = {"Bank": AccountKind.BANK, "CreditCard": AccountKind.BANK}
# MYOB's account types in words, for the groups of the mapping dropdowns.
TYPE_LABELS = {
    "Bank": "Bank accounts",
    "AccountReceivable": "Accounts receivable",
    "OtherCurrentAsset": "Other current assets",
    "FixedAsset": "Fixed assets",
    "OtherAsset": "Other assets",
    "CreditCard": "Credit cards",
    "AccountsPayable": "Accounts payable",
    "OtherCurrentLiability": "Other current liabilities",
    "LongTermLiability": "Long-term liabilities",
    "OtherLiability": "Other liabilities",
    "Equity": "Equity",
    "Income": "Income",
    "CostOfSales": "Cost of sales",
    "Expense": "Expenses",
    "OtherIncome": "Other income",
    "OtherExpense": "Other expenses",
}
# A customer's five address slots: the first is where invoices go, the second where work is delivered.
ADDRESS_KINDS = {1: "postal", 2: "delivery"}
PHONE_FIELDS = (("Phone1", "default"), ("Phone2", "other"), ("Phone3", "other"), ("Fax", "fax"))
NO_CARD_ID = "*None"  # what AccountRight shows for a card without an ID


def account_kind(classification: str | None, account_type: str | None) -> AccountKind:
    """The kind of a MYOB account; an unknown classification reads as an asset."""
    kind = ACCOUNT_KIND_BY_TYPE.get(account_type or "")
    return kind or ACCOUNT_KIND_BY_CLASSIFICATION.get(classification or "", AccountKind.ASSET)


def account_type_label(account_type: str) -> str:
    """`Cost of sales` for CostOfSales; a type MYOB adds later is split into words."""
    if account_type in TYPE_LABELS:
        return TYPE_LABELS[account_type]
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in account_type).strip()
    return words.capitalize() or "Other"


def is_postable(raw: Mapping[str, Any]) -> bool:
    """A header account only groups others: nothing can be posted to it, so it is never offered."""
    return raw.get("IsHeader") is not True


def to_account(raw: Mapping[str, Any]) -> Account:
    """A MYOB account: DisplayID ("4-1000") is its code; inactive ones are kept but marked so."""
    tax_code = raw.get("TaxCode")
    account_type = str(raw.get("Type") or "")
    return Account(
        id=str(raw["UID"]),
        code=_text(raw.get("DisplayID")),
        name=str(raw.get("Name") or ""),
        kind=account_kind(_text(raw.get("Classification")), account_type),
        type=account_type,
        active=raw.get("IsActive") is not False,
        tax_type=_text(tax_code.get("Code")) if isinstance(tax_code, Mapping) else None,
        type_label=account_type_label(account_type),
    )


def to_address(raw: Mapping[str, Any]) -> Address | None:
    """One of a card's address slots; None for an empty one. MYOB's Street holds every line, one a line."""
    street = raw.get("Street")
    lines = tuple(line for part in street.splitlines() if (line := _text(part))) if isinstance(street, str) else ()
    city, region = _text(raw.get("City")), _text(raw.get("State"))
    postal_code, country = _text(raw.get("PostCode"), ID_LIMIT), _text(raw.get("Country"))
    if not (lines or city or region or postal_code or country):
        return None
    location = raw.get("Location")
    kind = ADDRESS_KINDS.get(location, "other") if isinstance(location, int) else "other"
    return Address(kind=kind, lines=lines, city=city, region=region, postal_code=postal_code, country=country)


def to_customer(raw: Any, zone: ZoneInfo = UTC_ZONE) -> Customer:
    """A MYOB customer card: an individual by first and last name, a company by CompanyName. Its email is the first
    one of its address slots (in slot order); its phones are every slot's, each number once.

    Whatever the card's shape, this returns a customer or raises `UnusableRecord` (no usable UID)."""
    if not isinstance(raw, Mapping):
        raise UnusableRecord("it is not a customer card")
    individual = raw.get("IsIndividual") is True
    first, last, company = _text(raw.get("FirstName")), _text(raw.get("LastName")), _text(raw.get("CompanyName"))
    person = " ".join(p for p in (first, last) if p)
    name = (person or company or "") if individual else (company or person or "")
    try:
        customer_id = clean_id(raw.get("UID"))
    except UnusableRecord as exc:
        raise UnusableRecord(exc.reason, id=exc.id, name=name or None) from None
    slots = sorted(_records(raw.get("Addresses")), key=_location)
    phones: list[Phone] = []
    for slot in slots:
        for field, kind in PHONE_FIELDS:
            number = _text(slot.get(field))
            if number and all(p.number != number for p in phones):
                phones.append(Phone(kind=kind, number=number))
    email = next((e for slot in slots if (e := _text(slot.get("Email")))), None)
    display_id = _text(raw.get("DisplayID"), ID_LIMIT)
    return Customer(
        id=customer_id,
        name=name,
        first_name=first if individual else None,
        last_name=last if individual else None,
        company=None if individual else company,
        email=email,
        phones=tuple(phones),
        addresses=tuple(a for slot in slots if (a := to_address(slot))),
        active=raw.get("IsActive") is not False,
        is_customer=True,  # every card read from Contact/Customer is one
        updated_at=parse_myob_time(raw.get("LastModified"), zone),
        number=None if display_id == NO_CARD_ID else display_id,
        raw_status=None if raw.get("IsActive") is not False else "inactive",
    )


def read_customer_cards(cards: Sequence[Any], zone: ZoneInfo = UTC_ZONE) -> tuple[list[Customer], list[Skipped]]:
    """A page of MYOB customer cards as checked customers, and those that could not be used with their reason."""
    return read_customers(cards, lambda raw: to_customer(raw, zone), describe=_describe_card)


def _describe_card(raw: Any) -> tuple[str | None, str | None]:
    if not isinstance(raw, Mapping):
        return None, None
    name = raw.get("CompanyName") or " ".join(str(raw.get(k) or "") for k in ("FirstName", "LastName")).strip()
    return clean_text(raw.get("UID")), clean_text(name)


def _location(slot: Mapping[str, Any]) -> int:
    location = slot.get("Location")
    return location if isinstance(location, int) and not isinstance(location, bool) else 99


def _text(value: Any, limit: int = TEXT_LIMIT) -> str | None:
    return clean_text(value, limit)


def _records(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, Mapping)]
    return []
