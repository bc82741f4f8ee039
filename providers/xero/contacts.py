"""A page of Xero's contacts decoded straight into typed records with msgspec, reading only the fields we map.

Xero's contacts carry some forty fields of which we map fourteen; decoding the page into typed structs skips
the rest without building them and is several times faster than decoding it into dicts and reading those.
The types are Xero's documented ones; a page with anything else in a field we map (a number for a name, a
lone record for a list, `null` in a list) is not of this shape, and `decode_contacts` returns None for it:
the client then reads it the careful way (`read_json` and `read_contacts`), which repairs what it can and
skips what it cannot, record by record. Both ways map through the same `customer_of`, `phone_of` and
`address_of`, so a page reads the same either way (tests/test_xero_contacts.py holds that).

`glance_contacts` looks at a page before reading it: each contact's id and a digest of its bytes, so an import
reads only the contacts that changed since it stored them (`bot.imports.reading`).
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Collection
from typing import Any

import msgspec
import xxhash

from providers import base, records
from providers.base import Customer, Glance, Skipped, Unavailable
from providers.json_bodies import read_json
from providers.records import UnusableRecord, clean_id, clean_text, code_digest, read_customers
from providers.xero import mappers
from providers.xero.mappers import address_of, customer_of, phone_of, read_contacts, survivor_id

TITLE = "Xero"


class XeroPhone(msgspec.Struct, gc=False):
    PhoneType: str | None = None
    PhoneNumber: str | None = None
    PhoneAreaCode: str | None = None
    PhoneCountryCode: str | None = None


class XeroAddress(msgspec.Struct, gc=False):
    AddressType: str | None = None
    AddressLine1: str | None = None
    AddressLine2: str | None = None
    AddressLine3: str | None = None
    AddressLine4: str | None = None
    City: str | None = None
    Region: str | None = None
    PostalCode: str | None = None
    Country: str | None = None


class XeroContact(msgspec.Struct, gc=False):
    ContactID: str | None = None
    ContactStatus: str | None = None
    Name: str | None = None
    FirstName: str | None = None
    LastName: str | None = None
    EmailAddress: str | None = None
    Phones: list[XeroPhone] | None = None
    Addresses: list[XeroAddress] | None = None
    IsCustomer: bool | None = None
    IsSupplier: bool | None = None
    UpdatedDateUTC: str | None = None
    MergedToContactID: str | None = None
    ContactNumber: str | None = None
    AccountNumber: str | None = None


class XeroPagination(msgspec.Struct):
    pageCount: int | None = None  # noqa: N815 (Xero's names)
    itemCount: int | None = None  # noqa: N815


class XeroContactsPage(msgspec.Struct):
    Contacts: list[XeroContact]  # required: an answer without it is not a page of contacts
    pagination: XeroPagination | None = None


class XeroPageNumbers(msgspec.Struct):
    pagination: XeroPagination | None = None


class XeroContactsAsSent(msgspec.Struct):
    Contacts: list[msgspec.Raw]  # each contact's bytes, not read


class XeroContactAtAGlance(msgspec.Struct, gc=False):
    ContactID: str | None = None
    ContactStatus: str | None = None
    IsCustomer: bool | None = None
    IsSupplier: bool | None = None
    MergedToContactID: str | None = None


_PAGE = msgspec.json.Decoder(XeroContactsPage)
_NUMBERS = msgspec.json.Decoder(XeroPageNumbers)  # the contacts are skipped, not built: about a millisecond a page
_AS_SENT = msgspec.json.Decoder(XeroContactsAsSent)
_AT_A_GLANCE = msgspec.json.Decoder(XeroContactAtAGlance)
_CONTACT = msgspec.json.Decoder(XeroContact)
# The code that makes a customer of a contact's bytes: a source digest made by other code does not match.
_READING_CODE = code_digest(sys.modules[__name__], mappers, records, base)


def decode_contacts(body: bytes) -> tuple[list[Customer], list[Skipped], int, int | None, int | None] | None:
    """A page's customers, the contacts it could not use, how many contacts came, and Xero's page count and item
    count; None when the
    body is not a page of contacts of the documented shape (read it with `read_json` and `read_contacts`)."""
    try:
        page = _PAGE.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    customers, skipped = read_customers(page.Contacts, _to_customer, describe=_describe, checked=True)
    received, pagination = len(page.Contacts), page.pagination
    del page  # Xero's page is not held while we wait
    if pagination is None:
        return customers, skipped, received, None, None
    return customers, skipped, received, pagination.pageCount, pagination.itemCount


def _to_customer(contact: XeroContact) -> Customer:
    # The slots are read here rather than in a function each: a contact has six of them, most of them empty.
    phones = []
    for slot in contact.Phones or ():
        if slot.PhoneNumber and (
            phone := phone_of(slot.PhoneNumber, slot.PhoneCountryCode, slot.PhoneAreaCode, slot.PhoneType)
        ):
            phones.append(phone)
    addresses = []
    for place in contact.Addresses or ():
        if (
            place.AddressLine1
            or place.AddressLine2
            or place.AddressLine3
            or place.AddressLine4
            or place.City
            or place.Region
            or place.PostalCode
            or place.Country
        ) and (  # not one of the empty slots Xero always sends, seen without cleaning each field
            address := address_of(
                place.AddressType,
                (place.AddressLine1, place.AddressLine2, place.AddressLine3, place.AddressLine4),
                place.City,
                place.Region,
                place.PostalCode,
                place.Country,
            )
        ):
            addresses.append(address)
    return customer_of(
        contact.ContactID,
        status=contact.ContactStatus,
        name=contact.Name,
        first_name=contact.FirstName,
        last_name=contact.LastName,
        email=contact.EmailAddress,
        phones=tuple(phones),
        addresses=tuple(addresses),
        is_customer=contact.IsCustomer,
        is_supplier=contact.IsSupplier,
        updated=contact.UpdatedDateUTC,
        merged_to=contact.MergedToContactID,
        contact_number=contact.ContactNumber,
        account_number=contact.AccountNumber,
    )


def _describe(contact: Any) -> tuple[str | None, str | None]:
    return clean_text(contact.ContactID), clean_text(contact.Name)


def read_page(body: bytes) -> tuple[list[Customer], list[Skipped], int, int | None, int | None]:
    """A page's customers, the contacts it could not use, how many contacts came, and Xero's page count and item
    count: decoded straight into typed records (`decode_contacts`) where the page is of the documented shape, else
    read field by field, repairing what can be and skipping what cannot. Raises `Unavailable` for a body that is
    not a page of contacts at all."""
    fast = decode_contacts(body)  # the usual page
    if fast is not None:
        return fast
    try:
        answer = read_json(body)
    except ValueError:
        raise Unavailable(f"{TITLE} answered with something we could not read.", status=200) from None
    contacts = answer.get("Contacts") if isinstance(answer, dict) else None
    if not isinstance(contacts, list):
        raise Unavailable(f"{TITLE} sent a page of contacts we could not read.", status=200)
    pagination = answer.get("pagination")
    pagination = pagination if isinstance(pagination, dict) else {}
    page_count, total = pagination.get("pageCount"), pagination.get("itemCount")
    customers, skipped = read_contacts(contacts)
    received = len(contacts)
    del answer, contacts  # Xero's page, several times the size of what we keep, is not held while we wait
    return customers, skipped, received, _count(page_count), _count(total)


def read_records(body: bytes) -> tuple[list[Customer], list[Skipped]]:
    """A page's customers and the contacts it could not use (`providers.base.Encoded.read`)."""
    customers, skipped, *_ = read_page(body)
    return customers, skipped


def page_numbers(body: bytes) -> tuple[int | None, int | None] | None:
    """Xero's page count and item count of a page of contacts, without reading the contacts; None for a body
    not of the documented shape (read it with `read_page`, which says what it makes of it)."""
    try:
        pagination = _NUMBERS.decode(body).pagination
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if pagination is None:
        return None, None
    return pagination.pageCount, pagination.itemCount


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class GlancedContacts:
    """A page of Xero's contacts at a first look (`providers.base.Glanced`): its contacts' bytes apart (about 0.6 ms
    a page of 1,000), their glances made when asked for (3 ms more, a tenth of reading them). Each source is
    XXH3-128 of the contact's bytes, seeded with the reading code and the caller's key: a change detector, not a
    seal (0.15 ms a page, BLAKE2b took 1.25 ms: a first import hashes every contact, in the reading process that
    bounds it as much as the writes do)."""

    def __init__(self, body: bytes, raws: list[msgspec.Raw], key: bytes) -> None:
        self._body, self._raws = body, raws
        self._seed = int.from_bytes(hashlib.blake2b(_READING_CODE + key, digest_size=8).digest())

    def _source(self, raw: msgspec.Raw) -> str:
        return xxhash.xxh3_128_hexdigest(raw, self._seed)

    def glances(self) -> list[Glance] | None:
        return self._glances

    @functools.cached_property
    def _glances(self) -> list[Glance] | None:
        try:
            seen = [_AT_A_GLANCE.decode(raw) for raw in self._raws]
        except (msgspec.ValidationError, msgspec.DecodeError):  # not of the documented shape
            return None
        glances = []
        try:
            for raw, contact in zip(self._raws, seen, strict=True):
                status = clean_text(contact.ContactStatus)  # as `customer_of` reads it
                active = status is None or status == "ACTIVE"
                merged = contact.MergedToContactID is not None and survivor_id(contact.MergedToContactID) is not None
                glances.append(
                    Glance(
                        clean_id(contact.ContactID),
                        self._source(raw),
                        active,
                        not active or merged or status == "GDPRREQUEST",
                        contact.IsCustomer,
                        contact.IsSupplier,
                    )
                )
        except UnusableRecord:
            return None
        if len({g.id for g in glances}) != len(glances):
            return None  # the later of the two wins (`read_customers`): read as a page
        return glances

    def read(self, leave: Collection[str]) -> tuple[list[Customer], list[Skipped], dict[str, str]]:
        raws = self._raws
        if leave:
            glances = self.glances()
            assert glances is not None, "records are left by their glances"
            raws = [raw for raw, seen in zip(raws, glances, strict=True) if seen.id not in leave]
        try:  # the whole page at once where none is left (a decoder call a contact costs a fifth more)
            contacts: list[Any] = [_CONTACT.decode(raw) for raw in raws] if leave else _PAGE.decode(self._body).Contacts
        except (msgspec.ValidationError, msgspec.DecodeError):  # not of the documented shape: field by field,
            contacts = [read_json(bytes(raw)) for raw in raws]  # as a page of them is (`read_page`), no sources
            return (*read_contacts(contacts), {})
        sources, twice = {}, set()
        for raw, contact in zip(raws, contacts, strict=True):
            try:
                contact_id = clean_id(contact.ContactID)
            except UnusableRecord:
                continue
            if contact_id in sources:
                twice.add(contact_id)
            sources[contact_id] = self._source(raw)
        for contact_id in twice:  # which of the two is kept depends on reading them (`read_customers`): none
            del sources[contact_id]
        return (*read_customers(contacts, _to_customer, describe=_describe, checked=True), sources)


def glance_contacts(body: bytes, key: bytes) -> GlancedContacts | None:
    """The page at a first look; None for a page not of the documented shape: `read_records` reads it."""
    try:
        return GlancedContacts(body, _AS_SENT.decode(body).Contacts, key)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
