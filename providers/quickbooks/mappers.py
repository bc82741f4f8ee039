"""Pure translation of QuickBooks Online's records (raw JSON dicts, named as Intuit's schemas name them) into our
normalised Account and Customer, and of its account types into our kinds and into words.

No HTTP here: `providers.quickbooks.client` fetches, these functions translate, and tests call them directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from providers.base import ID_LIMIT, Account, AccountKind, Address, Customer, Phone, Skipped
from providers.records import UnusableRecord, clean_id, clean_text, read_customers

NON_POSTING = "Non-Posting"  # estimates and purchase orders live here: nothing can be posted to it

# QuickBooks' AccountType decides the kind; Classification is the fallback for types Intuit adds later.
ACCOUNT_KIND_BY_TYPE = {
    "Income": AccountKind.INCOME,
    "Other Income": AccountKind.OTHER_INCOME,
    "Cost of Goods Sold": AccountKind.COST_OF_SALES,
    "Expense": AccountKind.EXPENSE,
    "Other Expense": AccountKind.EXPENSE,
    "Bank": AccountKind.BANK,
    "Accounts Receivable": AccountKind.ASSET,
    "Other Current Asset": AccountKind.ASSET,
    "Fixed Asset": AccountKind.ASSET,
    "Other Asset": AccountKind.ASSET,
    "Accounts Payable": AccountKind.LIABILITY,
    "Credit Card": AccountKind.LIABILITY,
    "Other Current Liability": AccountKind.LIABILITY,
    "Long Term Liability": AccountKind.LIABILITY,
    "Equity": AccountKind.EQUITY,
}
ACCOUNT_KIND_BY_CLASSIFICATION = {
    "Revenue": AccountKind.INCOME,
    "Expense": AccountKind.EXPENSE,
    "Asset": AccountKind.ASSET,
    "Liability": AccountKind.LIABILITY,
    "Equity": AccountKind.EQUITY,
}
# The account types in words, for the groups of the mapping dropdowns.
TYPE_LABELS = {
    "Income": "Income",
    "Other Income": "Other income",
    "Cost of Goods Sold": "Cost of goods sold",
    "Expense": "Expenses",
    "Other Expense": "Other expenses",
    "Bank": "Bank accounts",
    "Accounts Receivable": "Accounts receivable",
    "Other Current Asset": "Other current assets",
    "Fixed Asset": "Fixed assets",
    "Other Asset": "Other assets",
    "Accounts Payable": "Accounts payable",
    "Credit Card": "Credit cards",
    "Other Current Liability": "Other current liabilities",
    "Long Term Liability": "Long-term liabilities",
    "Equity": "Equity",
}
# Where each of Intuit's phone fields goes among our phone kinds.
_PHONES = (("PrimaryPhone", "default"), ("Mobile", "mobile"), ("AlternatePhone", "office"), ("Fax", "fax"))
# The billing address is where post goes; the shipping address is where the work is.
_ADDRESSES = (("BillAddr", "postal"), ("ShipAddr", "street"))
_ADDRESS_LINES = ("Line1", "Line2", "Line3", "Line4", "Line5")


def account_kind(account_type: str | None, classification: str | None) -> AccountKind:
    """The kind of a QuickBooks account; an unknown type falls back to its classification, then to asset."""
    kind = ACCOUNT_KIND_BY_TYPE.get(account_type or "")
    return kind or ACCOUNT_KIND_BY_CLASSIFICATION.get(classification or "", AccountKind.ASSET)


def account_type_label(account_type: str) -> str:
    """`Cost of goods sold` for "Cost of Goods Sold"; a type Intuit adds later reads as it is written."""
    return TYPE_LABELS.get(account_type, account_type.capitalize() or "Other")


def read_accounts(raws: Sequence[Any]) -> list[Account]:
    """The chart of accounts: Non-Posting accounts left out, a sub-account named after its parent ("Utilities:
    Gas"), inactive (deleted) ones kept but marked so, records without an id dropped."""
    names = {
        str(raw.get("Id")): clean_text(raw.get("Name")) or ""
        for raw in raws
        if isinstance(raw, Mapping) and raw.get("Id") is not None
    }
    accounts = []
    for raw in raws:
        if not isinstance(raw, Mapping) or raw.get("AccountType") == NON_POSTING:
            continue
        try:
            accounts.append(to_account(raw, names))
        except UnusableRecord:
            continue
    return accounts


def to_account(raw: Mapping[str, Any], names: Mapping[str, str] | None = None) -> Account:
    """A QuickBooks account; `names` (ids to names of the chart) gives a sub-account its parent's name. AcctNum is
    the code where the company numbers its accounts; otherwise there is no code and people pick by name."""
    account_id = clean_id(raw.get("Id"))
    name = clean_text(raw.get("Name")) or ""
    parent = raw.get("ParentRef") if isinstance(raw.get("ParentRef"), Mapping) else None
    if raw.get("SubAccount") is True:
        parent_name = (names or {}).get(str(parent.get("value"))) if parent else None
        parent_name = parent_name or (parent and clean_text(parent.get("name")))
        qualified = clean_text(raw.get("FullyQualifiedName"))
        name = f"{parent_name}:{name}" if parent_name else (qualified or name)
    account_type = clean_text(raw.get("AccountType")) or ""
    return Account(
        id=account_id,
        code=clean_text(raw.get("AcctNum"), 32),
        name=clean_text(name) or "",
        kind=account_kind(account_type, clean_text(raw.get("Classification"))),
        type=account_type,
        active=raw.get("Active") is not False,
        tax_type=None,
        type_label=account_type_label(account_type),
    )


def parse_time(value: Any) -> datetime | None:
    """Intuit's `2015-07-24T10:35:08-07:00`; a time without a zone is read as UTC; None for anything else."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_phone(raw: Any, kind: str) -> Phone | None:
    if not isinstance(raw, Mapping) or (number := clean_text(raw.get("FreeFormNumber"))) is None:
        return None
    return Phone(kind=kind, number=number)


def to_address(raw: Any, kind: str) -> Address | None:
    """None for a missing or empty address."""
    if not isinstance(raw, Mapping):
        return None
    lines = tuple(line for key in _ADDRESS_LINES if (line := clean_text(raw.get(key))))
    address = Address(
        kind=kind,
        lines=lines,
        city=clean_text(raw.get("City")),
        region=clean_text(raw.get("CountrySubDivisionCode")),
        postal_code=clean_text(raw.get("PostalCode"), ID_LIMIT),
        country=clean_text(raw.get("Country")),
    )
    return None if address.is_empty() else address


def is_job(raw: Any) -> bool:
    """A job (a project under a customer, `Job: true`): left out of the import, as its parent is the customer."""
    return isinstance(raw, Mapping) and raw.get("Job") is True


def to_customer(raw: Any) -> Customer:
    """A QuickBooks customer. A record change data capture reports deleted (`status: "Deleted"`, only its id)
    becomes an inactive customer. Raises `UnusableRecord` when there is no usable id."""
    if not isinstance(raw, Mapping):
        raise UnusableRecord("it is not a customer")
    name = clean_text(raw.get("DisplayName")) or ""
    try:
        customer_id = clean_id(raw.get("Id"))
    except UnusableRecord as exc:
        raise UnusableRecord(exc.reason, id=exc.id, name=name or None) from None
    metadata = raw.get("MetaData")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    deleted = raw.get("status") == "Deleted"
    email = raw.get("PrimaryEmailAddr")
    first, last = clean_text(raw.get("GivenName")), clean_text(raw.get("FamilyName"))
    company = clean_text(raw.get("CompanyName"))
    return Customer(
        id=customer_id,
        name=name or company or " ".join(p for p in (first, last) if p),
        first_name=first,
        last_name=last,
        company=company,
        email=clean_text(email.get("Address")) if isinstance(email, Mapping) else None,
        phones=tuple(p for key, kind in _PHONES if (p := to_phone(raw.get(key), kind))),
        addresses=tuple(a for key, kind in _ADDRESSES if (a := to_address(raw.get(key), kind))),
        active=raw.get("Active") is not False and not deleted,
        is_customer=True,
        updated_at=parse_time(metadata.get("LastUpdatedTime")),
        raw_status="Deleted" if deleted else None,
        removed=deleted,
    )


def read_customers_page(raws: Sequence[Any]) -> tuple[list[Customer], list[Skipped]]:
    """A page of QuickBooks customers as checked customers (jobs left out), and those that could not be used."""
    return read_customers((raw for raw in raws if not is_job(raw)), to_customer, describe=_describe)


def _describe(raw: Any) -> tuple[str | None, str | None]:
    if not isinstance(raw, Mapping):
        return None, None
    return clean_text(raw.get("Id")), clean_text(raw.get("DisplayName"))
