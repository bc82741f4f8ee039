"""Pure translation of Xero's records (raw JSON dicts) into our normalised Account and Customer, and of
Xero's account types and token claims into what the bot shows and keeps.

No HTTP here: `providers.xero.client` fetches, these functions translate, and tests call them directly.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from providers.base import ID_LIMIT, TEXT_LIMIT, Account, AccountKind, Address, Customer, Phone, Skipped
from providers.records import KIND_LIMIT, UnusableRecord, clean_id, clean_text, read_customers

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_MS_DATE = re.compile(r"/Date\((?P<ms>-?\d+)(?P<zone>[+-]\d{4})?\)/")
_ZERO_GUID = "00000000-0000-0000-0000-000000000000"

# Xero's account Type decides the kind; Class is the fallback for types Xero adds later.
ACCOUNT_KIND_BY_TYPE = {
    "SALES": AccountKind.INCOME,
    "REVENUE": AccountKind.INCOME,
    "OTHERINCOME": AccountKind.OTHER_INCOME,
    "DIRECTCOSTS": AccountKind.COST_OF_SALES,
    "EXPENSE": AccountKind.EXPENSE,
    "OVERHEADS": AccountKind.EXPENSE,
    "DEPRECIATN": AccountKind.EXPENSE,
    "BANK": AccountKind.BANK,
    "CURRENT": AccountKind.ASSET,
    "FIXED": AccountKind.ASSET,
    "INVENTORY": AccountKind.ASSET,
    "NONCURRENT": AccountKind.ASSET,
    "PREPAYMENT": AccountKind.ASSET,
    "CURRLIAB": AccountKind.LIABILITY,
    "LIABILITY": AccountKind.LIABILITY,
    "TERMLIAB": AccountKind.LIABILITY,
    "PAYG": AccountKind.LIABILITY,
    "EQUITY": AccountKind.EQUITY,
}
ACCOUNT_KIND_BY_CLASS = {
    "REVENUE": AccountKind.INCOME,
    "EXPENSE": AccountKind.EXPENSE,
    "ASSET": AccountKind.ASSET,
    "LIABILITY": AccountKind.LIABILITY,
    "EQUITY": AccountKind.EQUITY,
}
# Xero's account types in words, for the groups of the mapping dropdowns.
TYPE_LABELS = {
    "SALES": "Sales",
    "REVENUE": "Revenue",
    "OTHERINCOME": "Other income",
    "DIRECTCOSTS": "Direct costs",
    "EXPENSE": "Expenses",
    "OVERHEADS": "Overheads",
    "DEPRECIATN": "Depreciation",
    "BANK": "Bank accounts",
    "CURRENT": "Current assets",
    "FIXED": "Fixed assets",
    "INVENTORY": "Inventory",
    "NONCURRENT": "Non-current assets",
    "PREPAYMENT": "Prepayments",
    "CURRLIAB": "Current liabilities",
    "LIABILITY": "Liabilities",
    "TERMLIAB": "Non-current liabilities",
    "PAYG": "PAYG withholding",
    "EQUITY": "Equity",
}
ADDRESS_KINDS = {"POBOX": "postal", "STREET": "street", "DELIVERY": "delivery"}


def parse_xero_date(value: Any) -> datetime | None:
    """`/Date(1503348544227+0000)/` (milliseconds since the epoch, UTC; the optional offset only says
    which zone to show it in, negative before 1970) or an ISO 8601 string (naive means UTC). None for
    anything else, dates out of range included."""
    if not value or not isinstance(value, str):
        return None
    try:
        if value[:6] == "/Date(" and value[-7:] == "+0000)/" and (digits := value[6:-7]).isdigit():
            # Xero's usual form, without the regex; a millisecond times the count is the same timedelta as
            # `timedelta(milliseconds=...)` built at a third of the cost
            return _EPOCH + _MILLISECOND * int(digits)
        if m := _MS_DATE.fullmatch(value.strip()):
            moment = _EPOCH + timedelta(milliseconds=int(m["ms"]))
            if zone := m["zone"]:
                sign = -1 if zone[0] == "-" else 1
                offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
                moment = moment.astimezone(timezone(sign * offset))
            return moment
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def account_kind(account_type: str | None, account_class: str | None) -> AccountKind:
    """The kind of a Xero account; an unknown type falls back to its class, then to asset."""
    kind = ACCOUNT_KIND_BY_TYPE.get((account_type or "").upper())
    return kind or ACCOUNT_KIND_BY_CLASS.get((account_class or "").upper(), AccountKind.ASSET)


def account_type_label(account_type: str) -> str:
    """`Current assets` for CURRENT; a type Xero adds later reads title-cased."""
    return TYPE_LABELS.get(account_type.upper(), account_type.replace("_", " ").capitalize() or "Other")


def to_account(raw: Mapping[str, Any]) -> Account:
    """A Xero account; archived (and deleted) ones are kept but marked inactive."""
    return Account(
        id=str(raw["AccountID"]),
        code=_text(raw.get("Code")),
        name=str(raw.get("Name") or ""),
        kind=account_kind(raw.get("Type"), raw.get("Class")),
        type=str(raw.get("Type") or ""),
        active=(raw.get("Status") or "ACTIVE") == "ACTIVE",
        tax_type=_text(raw.get("TaxType")),
        type_label=account_type_label(str(raw.get("Type") or "")),
    )


def to_phone(raw: Mapping[str, Any]) -> Phone | None:
    """`+64 9 555 0123` from country, area and number; None when Xero holds an empty slot."""
    given = raw.get("PhoneNumber")
    if given is None or given == "":  # three of Xero's four slots, mostly: nothing more to read
        return None
    return phone_of(given, raw.get("PhoneCountryCode"), raw.get("PhoneAreaCode"), raw.get("PhoneType"))


def phone_of(given: Any, country_code: Any, area_code: Any, phone_type: Any) -> Phone | None:
    """`to_phone` from the slot's fields (a decoded dict's or a typed page's: one rule for both)."""
    number = _text(given)
    if number is None:
        return None
    country = _text(country_code)
    if country and country.isdigit():
        country = f"+{country}"
    area = _text(area_code)
    if not country and area and area.isdigit() and len(area) <= 2 and not area.startswith("0"):
        # Xero keeps an area code without its trunk zero (`3` beside country code `64`); dialled without the
        # country code, a one- or two-digit area code (New Zealand, Australia, London's 20) needs it back:
        # `03 318 4987`. Longer ones are left as typed (a US `626` takes no zero).
        area = f"0{area}"
    # The parts are clean already, so their join is too unless it is too long (then cut as any text is).
    dialled = " ".join(filter(None, (country, area, number)))
    if len(dialled) > TEXT_LIMIT:
        dialled = _text(dialled) or number
    # Xero's own kinds (`MOBILE`) are looked up as they come; anything else is cleaned first.
    kind = _PHONE_KINDS.get(phone_type) if type(phone_type) is str else None
    if kind is None:
        typed = _text(phone_type, KIND_LIMIT) or "DEFAULT"
        kind = _PHONE_KINDS.get(typed) or _text(typed.lower(), KIND_LIMIT) or "default"
    return Phone(kind, dialled)


_PHONE_KINDS = {"DEFAULT": "default", "DDI": "ddi", "MOBILE": "mobile", "FAX": "fax", "OFFICE": "office"}
_ADDRESS_LINES = ("AddressLine1", "AddressLine2", "AddressLine3", "AddressLine4")
_ADDRESS_FIELDS = (*_ADDRESS_LINES, "City", "Region", "PostalCode", "Country")


def to_address(raw: Mapping[str, Any]) -> Address | None:
    """None for the empty address slots Xero always returns."""
    for key in _ADDRESS_FIELDS:
        value = raw.get(key)
        if value is not None and value != "":
            break
    else:  # every field missing or empty: the slot is empty, seen without cleaning each field
        return None
    return address_of(
        raw.get("AddressType"),
        tuple(raw.get(key) for key in _ADDRESS_LINES),
        raw.get("City"),
        raw.get("Region"),
        raw.get("PostalCode"),
        raw.get("Country"),
    )


def address_of(
    address_type: Any, raw_lines: tuple[Any, ...], city: Any, region: Any, postal_code: Any, country: Any
) -> Address | None:
    """`to_address` from the slot's fields (a decoded dict's or a typed page's: one rule for both)."""
    lines = tuple(filter(None, map(_text, raw_lines)))
    city, region = _text(city), _text(region)
    postal_code, country = _text(postal_code, ID_LIMIT), _text(country)
    if not (lines or city or region or postal_code or country):
        return None
    # Xero's own kinds (`STREET`) are looked up as they come; anything else is cleaned first.
    kind = ADDRESS_KINDS.get(address_type) if type(address_type) is str else None
    if kind is None:
        typed = _text(address_type, KIND_LIMIT) or ""
        kind = ADDRESS_KINDS.get(typed) or _text(typed.lower(), KIND_LIMIT) or "postal"
    return Address(kind, lines, city, region, postal_code, country)


def to_customer(raw: Mapping[str, Any]) -> Customer:
    """A Xero contact. Xero has no separate customer record: `is_customer` says whether it has sales.

    Whatever the contact's shape, this returns a customer or raises `UnusableRecord` (no usable ContactID):
    a field of the wrong shape (a dict for a list, a number for text, `Phones: [null]`) is read as far as
    it makes sense and otherwise left out."""
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise UnusableRecord("it is not a contact")
    return customer_of(
        raw.get("ContactID"),
        status=raw.get("ContactStatus"),
        name=raw.get("Name"),
        first_name=raw.get("FirstName"),
        last_name=raw.get("LastName"),
        email=raw.get("EmailAddress"),
        phones=tuple(p for raw_phone in _records(raw.get("Phones")) if (p := to_phone(raw_phone))),
        addresses=tuple(a for raw_address in _records(raw.get("Addresses")) if (a := to_address(raw_address))),
        is_customer=raw.get("IsCustomer"),
        is_supplier=raw.get("IsSupplier"),
        updated=raw.get("UpdatedDateUTC"),
        merged_to=raw.get("MergedToContactID"),
        contact_number=raw.get("ContactNumber"),
        account_number=raw.get("AccountNumber"),
    )


def customer_of(
    raw_id: Any,
    *,
    status: Any,
    name: Any,
    first_name: Any,
    last_name: Any,
    email: Any,
    phones: tuple[Phone, ...],
    addresses: tuple[Address, ...],
    is_customer: Any,
    is_supplier: Any,
    updated: Any,
    merged_to: Any,
    contact_number: Any,
    account_number: Any,
) -> Customer:
    """`to_customer` from the contact's fields, its phones and addresses already read (a decoded dict's or a
    typed page's: one rule for both)."""
    status = _text(status)
    first, last = _text(first_name), _text(last_name)
    name = _text(name) or ""
    try:
        contact_id = clean_id(raw_id)
    except UnusableRecord as exc:
        raise UnusableRecord(exc.reason, id=exc.id, name=name or None) from None
    person = f"{first} {last}" if first and last else first or last or ""
    # The fields in the order Customer declares them, not by keyword: a thousand customers a page, and passing
    # sixteen keywords costs twice what the whole `__init__` does.
    return Customer(
        contact_id,
        name,
        first,  # first_name
        last,  # last_name
        name if name and name != person and name.casefold() != person.casefold() else None,  # company
        _text(email),
        phones,
        addresses,
        status is None or status == "ACTIVE",  # active
        _flag(is_customer),
        _flag(is_supplier),
        parse_xero_date(updated),  # updated_at
        None if merged_to is None else survivor_id(merged_to),  # merged_into
        status == "GDPRREQUEST",  # erase_personal_data
        _text(contact_number, ID_LIMIT) or _text(account_number, ID_LIMIT),  # number
        # raw_status: the status is clean already, only a long one is cut again
        status if status is None or len(status) <= KIND_LIMIT else _text(status, KIND_LIMIT),
    )


def read_contacts(contacts: Sequence[Any]) -> tuple[list[Customer], list[Skipped]]:
    """A page of Xero contacts as checked customers, and those that could not be used with their reason.
    `to_customer` builds every field with the boundary's own `clean_text` and `clean_id`, so its customers are
    not checked a second time (tests/test_hostile_records.py shows `normalised` leaves them as they are)."""
    return read_customers(contacts, to_customer, describe=_describe_contact, checked=True)


def survivor_id(value: Any) -> str | None:
    """The surviving contact's id, as ids are kept; None for Xero's all-zero id and for one that is unusable."""
    try:
        survivor = clean_id(value) if value is not None else None
    except UnusableRecord:
        return None
    return None if survivor == _ZERO_GUID else survivor


def _describe_contact(raw: Any) -> tuple[str | None, str | None]:
    if not isinstance(raw, Mapping):
        return None, None
    return clean_text(raw.get("ContactID")), clean_text(raw.get("Name"))


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without verifying it: only to learn what Xero put in our own token
    (`authentication_event_id`, `xero_userid`). Empty when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


_text = clean_text  # called some forty times a contact: no wrapper in between


def _records(value: Any) -> list[Mapping[str, Any]]:
    """The records of a list field (Phones, Addresses): a lone record counts as a list of one; anything that is
    not a record (`null`, a number) is left out."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list | tuple):
        # `type(...) is dict` first: what JSON gives, checked without the slower abstract Mapping check
        return [item for item in value if type(item) is dict or isinstance(item, Mapping)]
    return []


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
