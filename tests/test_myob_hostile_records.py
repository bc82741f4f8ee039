"""MYOB's customer cards checked at the provider boundary: whatever shape a card has, it maps to a customer the
database can hold or a `Skipped` with its reason, never an exception; through the fake and the provider too, and
through a whole import. Generated shapes (hypothesis) and the shapes met in the wild."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from providers.base import Link, Skipped
from providers.myob import read_customer_cards
from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.myob import MyobFake
from tests.fakes.myob.seed import empty_address
from tests.fakes.oauth2 import FakeClock
from tests.keepers import MemoryKeeper
from tests.test_hostile_records import HOSTILE_TEXT, JSON_VALUES, assert_storable
from tests.test_myob_provider import REDIRECT_URI, Env

CARD_FIELDS = ("CompanyName", "FirstName", "LastName", "DisplayID", "Notes", "LastModified", "RowVersion")
SLOT = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(HOSTILE_TEXT, JSON_VALUES)
        for name in ("Location", "Street", "City", "State", "PostCode", "Country", "Phone1", "Phone2", "Fax", "Email")
    },
)
CARDS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {},
        optional={
            **{name: st.one_of(HOSTILE_TEXT, JSON_VALUES) for name in CARD_FIELDS},
            "UID": st.one_of(st.uuids().map(str), JSON_VALUES, HOSTILE_TEXT),
            "IsIndividual": st.one_of(st.booleans(), JSON_VALUES),
            "IsActive": st.one_of(st.booleans(), JSON_VALUES),
            "Addresses": st.one_of(st.lists(st.one_of(SLOT, JSON_VALUES), max_size=5), SLOT, JSON_VALUES),
            "LastModified": st.one_of(
                st.datetimes().map(lambda d: d.isoformat(timespec="milliseconds")), HOSTILE_TEXT, JSON_VALUES
            ),
        },
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(CARDS, max_size=8))
def test_a_page_of_any_cards_never_raises(raws: list[Any]) -> None:
    customers, skipped = read_customer_cards(raws)
    assert len(customers) + len(skipped) <= len(raws)
    assert len({c.id for c in customers}) == len(customers)
    for customer in customers:
        assert_storable(customer)
    assert all(isinstance(s, Skipped) and s.reason for s in skipped)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(CARDS, min_size=1, max_size=6))
def test_cards_of_any_shape_come_through_the_fake_and_the_provider(raws: list[Any]) -> None:
    try:
        json.dumps(raws, allow_nan=False)
    except ValueError:
        assume(False)  # MYOB writes no infinities
    clock = FakeClock()
    fake = MyobFake(clock=clock)
    file_id = fake.add_company_file("Acme")
    good = fake.seed_customers(file_id, 3)
    for raw in raws:
        fake.add_raw_customer(file_id, raw)
    client = fake.register_client(redirect_uris=[REDIRECT_URI])
    transport = ASGISyncTransport(fake.app)
    env = Env(fake, clock, client, transport, file_id, [])
    try:
        provider = env.provider(page_size=4)
        link, _ = env.connect(provider)
        pages = list(provider.customers(Link(link.organisation_id, MemoryKeeper(provider, link.tokens.tokens))))
    finally:
        for made in env.made:
            made.close()
        transport.close()
    customers = [c for p in pages for c in p.customers]
    assert set(good) <= {c.id for c in customers}
    assert sum(len(p.customers) + len(p.skipped) for p in pages) <= len(raws) + 3
    for customer in customers:
        assert_storable(customer)


def test_a_card_with_markup_nul_bytes_and_lone_surrogates_is_cleaned() -> None:
    slot = empty_address(1) | {"Email": "a\x00b@example.com", "Phone1": "\ud800 021 555", "Street": "1 Main\x00 St"}
    card = {"UID": "u-1", "IsIndividual": False, "CompanyName": "<!channel> Ltd\ud800", "Addresses": [slot]}
    [customer], [] = read_customer_cards([card])
    assert_storable(customer)
    assert customer.name == "<!channel> Ltd\ufffd" and customer.email == "ab@example.com"
