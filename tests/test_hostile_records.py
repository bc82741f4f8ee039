"""Records checked at the provider boundary: whatever shape a package's contact has, mapping it gives a customer
that the database can hold or a `Skipped` with its reason, never an exception. Generated shapes (hypothesis) and
the shapes met in the wild."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.base import ID_LIMIT, TEXT_LIMIT, Customer, Phone, Skipped
from providers.records import UnusableRecord, clean_id, clean_text, normalised, read_customers
from providers.xero.mappers import read_contacts, to_customer
from storage.models import Customer as CustomerRow
from storage.models import CustomerReference, ImportRunSkip

HOSTILE_TEXT = st.one_of(
    st.text(),
    st.lists(st.sampled_from(["\x00", "\ud800", "\udfff", "a", "<!channel>", "=1+2", " ", "é"])).map("".join),
    st.text(min_size=250, max_size=1200),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), HOSTILE_TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner))
CONTACT_FIELDS = (
    "ContactID",
    "Name",
    "FirstName",
    "LastName",
    "EmailAddress",
    "ContactStatus",
    "ContactNumber",
    "AccountNumber",
    "MergedToContactID",
    "UpdatedDateUTC",
    "IsCustomer",
    "IsSupplier",
)
PHONE = st.dictionaries(
    st.sampled_from(["PhoneType", "PhoneNumber", "PhoneAreaCode", "PhoneCountryCode"]), JSON_VALUES, max_size=4
)
ADDRESS = st.dictionaries(
    st.sampled_from(["AddressType", "AddressLine1", "AddressLine2", "City", "Region", "PostalCode", "Country"]),
    JSON_VALUES,
    max_size=7,
)
CONTACTS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {},
        optional={
            **{name: st.one_of(HOSTILE_TEXT, JSON_VALUES) for name in CONTACT_FIELDS},
            "ContactID": st.one_of(st.uuids().map(str), JSON_VALUES, HOSTILE_TEXT),
            "Phones": st.one_of(st.lists(st.one_of(PHONE, JSON_VALUES), max_size=4), PHONE, JSON_VALUES),
            "Addresses": st.one_of(st.lists(st.one_of(ADDRESS, JSON_VALUES), max_size=3), ADDRESS, JSON_VALUES),
            "UpdatedDateUTC": st.one_of(
                st.integers().map(lambda ms: f"/Date({ms}+0000)/"),
                st.integers().map(lambda ms: f"/Date({ms}+9959)/"),
                JSON_VALUES,
            ),
        },
    ),
)


def assert_storable(customer: Customer) -> None:
    """What the tables hold: an id that fits, text without NUL bytes or lone surrogates, within the columns."""
    assert isinstance(customer.id, str) and 0 < len(customer.id) <= ID_LIMIT and customer.id != "None"
    texts = [customer.name, customer.first_name, customer.last_name, customer.company, customer.email]
    texts += [customer.number, customer.raw_status, customer.merged_into]
    texts += [p.number for p in customer.phones] + [p.kind for p in customer.phones]
    texts += [line for a in customer.addresses for line in (*a.lines, a.city, a.region, a.postal_code, a.country)]
    for text in texts:
        if text is not None:
            assert isinstance(text, str) and len(text) <= TEXT_LIMIT
            assert "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
            text.encode("utf-8")  # PostgreSQL takes it
    assert customer.number is None or len(customer.number) <= ID_LIMIT
    assert customer.merged_into is None or len(customer.merged_into) <= ID_LIMIT
    json.dumps([[p.kind, p.number] for p in customer.phones])  # the JSON columns take them


@settings(max_examples=400, deadline=None)
@given(CONTACTS)
def test_a_contact_of_any_shape_maps_to_a_customer_or_an_unusable_record(raw: Any) -> None:
    """... already as the boundary's check leaves it: `read_contacts` does not check Xero's customers twice."""
    try:
        customer = to_customer(raw)
    except UnusableRecord as exc:
        assert exc.reason
        return
    assert normalised(customer) == customer
    assert_storable(customer)


@settings(max_examples=200, deadline=None)
@given(st.lists(CONTACTS, max_size=8))
def test_a_page_of_any_contacts_never_raises(raws: list[Any]) -> None:
    customers, skipped = read_contacts(raws)
    assert len(customers) + len(skipped) <= len(raws)
    assert len({c.id for c in customers}) == len(customers)  # one customer per id
    for customer in customers:
        assert_storable(customer)
    for record in skipped:
        assert isinstance(record, Skipped) and record.reason
        for text in (record.id, record.name):
            assert text is None or (len(text) <= TEXT_LIMIT and "\x00" not in text)


GOOD = {"ContactID": "7d2ee8a3-0000-4000-8000-000000000001", "Name": "Good Ltd", "ContactStatus": "ACTIVE"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"Name": "No Id Ltd"}, "it has no id"),
        ({"ContactID": None, "Name": "Null Id Ltd"}, "it has no id"),
        ({"ContactID": "  ", "Name": "Blank Id Ltd"}, "it has no id"),
        ({"ContactID": {"id": 1}, "Name": "Dict Id Ltd"}, "its id is not text"),
        ({"ContactID": ["a"], "Name": "List Id Ltd"}, "its id is not text"),
        ({"ContactID": True, "Name": "Bool Id Ltd"}, "its id is not text"),
        ({"ContactID": 1.5, "Name": "Float Id Ltd"}, "its id is not text"),
        ({"ContactID": "x" * (ID_LIMIT + 1), "Name": "Long Id Ltd"}, f"its id is longer than {ID_LIMIT} characters"),
        ({"ContactID": "a\x00b", "Name": "Nul Id Ltd"}, "its id has characters that cannot be stored"),
        ({"ContactID": "a\ud800", "Name": "Surrogate Id Ltd"}, "its id has characters that cannot be stored"),
        (None, "it is not a contact"),
        (42, "it is not a contact"),
        ("Acme", "it is not a contact"),
        ([GOOD], "it is not a contact"),
    ],
)
def test_contacts_without_a_usable_id_are_skipped_with_their_reason(raw: Any, reason: str) -> None:
    customers, [skipped] = read_contacts([raw, GOOD])
    assert [c.name for c in customers] == ["Good Ltd"]
    assert skipped.reason == reason
    if isinstance(raw, dict):
        assert skipped.name == raw["Name"]


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"Phones": [None]}, lambda c: c.phones == ()),
        ({"Phones": [None, {"PhoneNumber": "555 0100"}]}, lambda c: [p.number for p in c.phones] == ["555 0100"]),
        ({"Phones": {"PhoneNumber": 5550100, "PhoneType": {}}}, lambda c: c.phones == (Phone("default", "5550100"),)),
        ({"Phones": "555"}, lambda c: c.phones == ()),
        ({"Addresses": {"AddressType": 7, "City": "Auckland"}}, lambda c: c.addresses[0].city == "Auckland"),
        ({"Addresses": [None, 3, "x"]}, lambda c: c.addresses == ()),
        ({"Name": 12345}, lambda c: c.name == "12345"),
        ({"Name": {"first": "x"}}, lambda c: c.name == ""),
        ({"Name": "Nul\x00 Byte Ltd"}, lambda c: c.name == "Nul Byte Ltd"),
        ({"Name": "Lone \ud800 Ltd"}, lambda c: c.name == "Lone \ufffd Ltd"),
        ({"Name": "A" * 1000}, lambda c: c.name == "A" * TEXT_LIMIT),
        ({"EmailAddress": "a" * 300 + "@example.com"}, lambda c: len(c.email or "") == TEXT_LIMIT),
        ({"EmailAddress": ["a@example.com"]}, lambda c: c.email is None),
        ({"ContactNumber": "N" * 100}, lambda c: c.number == "N" * ID_LIMIT),
        ({"ContactStatus": {"x": 1}}, lambda c: c.active and c.raw_status is None),
        ({"IsCustomer": "yes", "IsSupplier": 1}, lambda c: c.is_customer is None and c.is_supplier is None),
        ({"UpdatedDateUTC": "/Date(99999999999999999999+0000)/"}, lambda c: c.updated_at is None),
        ({"UpdatedDateUTC": "/Date(0+9999)/"}, lambda c: c.updated_at is None),
        ({"UpdatedDateUTC": 1700000000}, lambda c: c.updated_at is None),
        ({"MergedToContactID": "m" * 100}, lambda c: c.merged_into is None),
        ({"MergedToContactID": "a\tb"}, lambda c: c.merged_into is None),
        ({"MergedToContactID": "00000000-0000-0000-0000-000000000000"}, lambda c: c.merged_into is None),
        ({"Phones": [{"PhoneNumber": "1", "PhoneType": "\u0130" * 32}]}, lambda c: len(c.phones[0].kind) <= 32),
        ({"ContactID": 12345}, lambda c: c.id == "12345"),
    ],
)
def test_contacts_that_can_be_repaired_are(changes: dict[str, Any], check: Any) -> None:
    [customer], skipped = read_contacts([{**GOOD, **changes}])
    assert skipped == [] and check(customer), customer
    assert_storable(customer)


def test_the_same_id_twice_in_a_page_is_one_customer_the_later_one() -> None:
    raws = [{**GOOD, "Name": "First"}, {**GOOD, "ContactID": "other", "Name": "Other"}, {**GOOD, "Name": "Second"}]
    customers, skipped = read_contacts(raws)
    assert skipped == [] and sorted(c.name for c in customers) == ["Other", "Second"]


def test_a_mapper_that_slips_skips_the_record_not_the_page() -> None:
    def slips(raw: Any) -> Customer:
        if raw == "boom":
            raise KeyError("nobody foresaw this")
        return Customer(id=str(raw), name=str(raw))

    customers, skipped = read_customers(["a", "boom", "b"], slips, describe=lambda raw: (raw, None))
    assert [c.id for c in customers] == ["a", "b"]
    assert skipped == [Skipped(id="boom", name=None, reason="it could not be read")]


def test_every_provider_record_is_normalised_the_same_way() -> None:
    """A package's mapper that forgets to clean is cleaned at the boundary anyway."""
    sloppy = Customer(id=" c1 ", name="Acme\x00 Ltd", email="x" * 999, phones=(Phone("mobile", ""), Phone("m", "1")))
    customer = normalised(sloppy)
    assert (customer.id, customer.name, len(customer.email or "")) == ("c1", "Acme Ltd", TEXT_LIMIT)
    assert customer.phones == (Phone("m", "1"),)
    with pytest.raises(UnusableRecord, match="it has no id"):
        normalised(Customer(id=None, name="x"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        *[(None, None), (True, None), (False, None), ([], None), ({}, None), ("", None)],
        *[(" a ", "a"), (5, "5"), (0, "0"), (0.0, "0.0"), ("\x00", None), ("  ", None)],
    ],
)
def test_clean_text(value: Any, text: str | None) -> None:
    assert clean_text(value) == text


def test_clean_id_writes_numbers_out() -> None:
    assert clean_id(42) == "42" and clean_id(" abc ") == "abc"


# Printable ASCII ids are taken by a quicker way than the others: both keep and refuse the same ids.
@pytest.mark.parametrize(
    ("value", "kept"),
    [
        *[("658cbbad-5364-5a46-acb3-4d036cd46716", "658cbbad-5364-5a46-acb3-4d036cd46716"), ("a" * 64, "a" * 64)],
        *[(" abc", "abc"), ("abc ", "abc"), (" " + "a" * 64, "a" * 64), ("caf\u00e9", "caf\u00e9"), ("a b", "a b")],
    ],
)
def test_clean_id_keeps_text(value: str, kept: str) -> None:
    assert clean_id(value) == kept


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        *[("a" * 65, "longer than 64"), ("a\tb", "cannot be stored"), ("a\x7fb", "cannot be stored")],
        *[("a\x00", "cannot be stored"), ("\ud800", "cannot be stored"), (" ", "no id"), ("", "no id")],
    ],
)
def test_clean_id_refuses_text(value: str, reason: str) -> None:
    with pytest.raises(UnusableRecord, match=reason):
        clean_id(value)


def test_the_limits_are_the_columns() -> None:
    assert CustomerReference.__table__.c.external_id.type.length == ID_LIMIT  # type: ignore[attr-defined]
    assert CustomerRow.__table__.c.name.type.length == TEXT_LIMIT  # type: ignore[attr-defined]
    assert CustomerRow.__table__.c.number.type.length == ID_LIMIT  # type: ignore[attr-defined]
    assert ImportRunSkip.__table__.c.name.type.length == TEXT_LIMIT  # type: ignore[attr-defined]
