"""Xero's pages decoded straight into typed records (`providers.xero.contacts`) read exactly as the careful way
(`read_json` + `read_contacts`) reads them, whatever the page holds: a page of the documented shape is decoded
the fast way, and any other page is left to the careful way (None), never read differently."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from providers.json_bodies import read_json
from providers.xero.contacts import decode_contacts
from providers.xero.mappers import read_contacts
from tests.test_hostile_records import CONTACTS

TEXT = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["", " ", "  Acme Ltd ", "x" * 300, "a\x00b"]))
PHONE = st.fixed_dictionaries(
    {},
    optional={
        "PhoneType": st.one_of(TEXT, st.sampled_from(["DEFAULT", "DDI", "MOBILE", "FAX", "OFFICE"])),
        "PhoneNumber": st.one_of(TEXT, st.sampled_from(["555 0123", "966 6862"])),
        "PhoneAreaCode": st.one_of(TEXT, st.sampled_from(["3", "09", "626", "20"])),
        "PhoneCountryCode": st.one_of(TEXT, st.sampled_from(["64", "+61", "1"])),
    },
)
ADDRESS = st.fixed_dictionaries(
    {},
    optional={
        key: TEXT
        for key in (
            *("AddressType", "AddressLine1", "AddressLine2", "AddressLine3", "AddressLine4"),
            *("City", "Region", "PostalCode", "Country"),
        )
    },
)
DOCUMENTED = st.fixed_dictionaries(
    {"ContactID": st.one_of(st.uuids().map(str), TEXT)},
    optional={
        **{
            key: TEXT
            for key in ("Name", "FirstName", "LastName", "EmailAddress", "ContactNumber", "AccountNumber", "Website")
        },
        "ContactStatus": st.one_of(TEXT, st.sampled_from(["ACTIVE", "ARCHIVED", "GDPRREQUEST"])),
        "MergedToContactID": st.one_of(TEXT, st.just("00000000-0000-0000-0000-000000000000"), st.uuids().map(str)),
        "UpdatedDateUTC": st.one_of(
            TEXT, st.integers(-(10**14), 10**14).map(lambda ms: f"/Date({ms}+0000)/"), st.just("2024-05-01T10:00:00")
        ),
        "IsCustomer": st.one_of(st.none(), st.booleans()),
        "IsSupplier": st.one_of(st.none(), st.booleans()),
        "Phones": st.one_of(st.none(), st.lists(PHONE, max_size=4)),
        "Addresses": st.one_of(st.none(), st.lists(ADDRESS, max_size=3)),
        "ContactGroups": st.lists(st.dictionaries(st.text(max_size=5), st.integers(), max_size=2), max_size=2),
        "Balances": st.dictionaries(st.text(max_size=5), st.floats(allow_nan=False, allow_infinity=False), max_size=2),
    },
)


def page(contacts: list[Any], **pagination: Any) -> bytes:
    return json.dumps({"Id": "x", "pagination": pagination, "Contacts": contacts}).encode()


def careful(body: bytes) -> tuple[Any, ...]:
    answer = read_json(body)
    customers, skipped = read_contacts(answer["Contacts"])
    return customers, skipped, len(answer["Contacts"])


@settings(max_examples=300, deadline=None)
@given(st.lists(DOCUMENTED, max_size=6))
def test_a_page_of_the_documented_shape_is_decoded_straight_and_reads_the_same(contacts: list[Any]) -> None:
    body = page(contacts, page=1, pageSize=1000, pageCount=3, itemCount=2500)
    fast = decode_contacts(body)
    assert fast is not None
    customers, skipped, received, page_count, total = fast
    assert (customers, skipped, received) == careful(body)
    assert (page_count, total) == (3, 2500)


@settings(max_examples=300, deadline=None)
@given(st.lists(CONTACTS, max_size=4))
def test_a_page_of_any_shape_reads_the_same_or_is_left_to_the_careful_way(contacts: list[Any]) -> None:
    body = page(contacts, pageCount=1)
    fast = decode_contacts(body)
    if fast is not None:
        assert fast[:3] == careful(body)


def test_what_is_not_a_page_of_contacts_is_left_to_the_careful_way() -> None:
    assert decode_contacts(b"not json") is None
    assert decode_contacts(b'{"pagination": {"pageCount": 1}}') is None  # no Contacts
    assert decode_contacts(b'{"Contacts": null}') is None
    assert decode_contacts(b'{"Contacts": [{"ContactID": "a", "Name": 42}]}') is None  # a number for a name
    assert decode_contacts(b'{"Contacts": [], "pagination": {"pageCount": true}}') is None
    assert decode_contacts(b'{"Contacts": [{"ContactID": "a", "Phones": {"PhoneNumber": "1"}}]}') is None


def test_without_pagination_the_counts_are_unknown() -> None:
    fast = decode_contacts(b'{"Contacts": [{"ContactID": "a", "Name": "Acme"}]}')
    assert fast is not None
    [customer], skipped, received, page_count, total = fast
    assert (customer.name, skipped, received, page_count, total) == ("Acme", [], 1, None, None)
