"""What QuickBooks Online does differently, through the provider against the QuickBooks fake in-process: faults
inside an HTTP 200, throttling as XML, change data capture and its window, deleted records, jobs, sub-accounts and
Non-Posting accounts, account numbers, pacing under 500 calls a minute, and records of any shape."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.base import BadRequest, Customer, Link, NeedsReconnect, RateLimited, RateLimitScope
from providers.quickbooks import MinutePacer, QuickBooksProvider, read_accounts, read_fault, to_customer
from providers.records import UnusableRecord
from providers.registry import get_provider
from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.oauth2 import FakeClock, click_through_consent, redirect_params
from tests.fakes.quickbooks import QuickBooksFake
from tests.keepers import MemoryKeeper
from tests.providers.packages import Resource
from tests.providers.quickbooks_driver import QuickBooksDriver

URL = "http://quickbooks.fake"
SYSTEM_FAULT = {
    "Fault": {
        "Error": [
            {
                "Message": "An application error has occurred while processing your request",
                "Detail": "System Failure Error: Could not find resource",
                "code": "10000",
            }
        ],
        "type": "SystemFault",
    },
    "time": "2026-01-01T00:00:00.000-08:00",
}
XML_THROTTLE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse xmlns="http://schema.intuit.com/finance/v3"'
    ' time="2026-01-01T00:00:00.000-08:00"><Fault type="ServiceFault"><Error code="3001"><Message>message='
    "ThrottleExceeded; errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.</Detail>"
    "</Error></Fault></IntuitResponse>"
)


@dataclass
class Connected:
    driver: QuickBooksDriver
    clock: FakeClock
    provider: QuickBooksProvider
    link: Link
    realm_id: str

    @property
    def fake(self) -> QuickBooksFake:
        fake: QuickBooksFake = self.driver.fake
        return fake


def connect(**settings: Any) -> tuple[Connected, ASGISyncTransport]:
    clock = FakeClock()
    driver = QuickBooksDriver(clock)
    realm_id = driver.add_organisation("Acme Plumbing")
    client = driver.register_client()
    transport = ASGISyncTransport(driver.app)
    provider = cast(
        QuickBooksProvider,
        get_provider(
            "quickbooks", driver.settings(URL, client, **settings), transport=transport, sleep=clock.sleep, clock=clock
        ),
    )
    with httpx2.Client(transport=ASGISyncTransport(driver.app)) as browser:  # closing it closes its own
        url = provider.authorization_url(state="s", redirect_uri=driver.redirect_uri, code_challenge="ignored")
        params = redirect_params(click_through_consent(browser, url))
    grant = provider.exchange_code(
        code=params["code"], redirect_uri=driver.redirect_uri, code_verifier=None, params=params
    )
    [organisation] = provider.organisations(grant)
    link = Link(organisation.id, MemoryKeeper(provider, grant.tokens))
    return Connected(driver, clock, provider, link, realm_id), transport


@pytest.fixture
def qbo() -> Iterator[Connected]:
    connected, transport = connect(page_size=100)
    yield connected
    connected.provider.close()
    transport.close()


def customers(qbo: Connected, **kwargs: Any) -> list[Customer]:
    return [c for page in qbo.provider.customers(qbo.link, **kwargs) for c in page.customers]


# --- log-in ---------------------------------------------------------------------------------------------------


def test_the_company_is_named_from_company_info_and_pkce_is_not_sent(qbo: Connected) -> None:
    url = qbo.provider.authorization_url(state="s", redirect_uri=qbo.driver.redirect_uri, code_challenge="abc")
    assert "code_challenge" not in url and "appcenter" not in url  # pointed at the fake
    assert qbo.link.organisation_id == qbo.realm_id
    calls = qbo.fake.calls_to("/companyinfo/")
    assert calls and calls[-1].query["minorversion"] == "75"


def test_the_refresh_tokens_lifetimes_are_kept(qbo: Connected) -> None:
    tokens = cast(MemoryKeeper, qbo.link.tokens).tokens
    now = datetime.now(UTC)

    assert tokens.refresh_expires_at and tokens.refresh_hard_expires_at
    assert abs(tokens.refresh_expires_at - (now + timedelta(days=100))) < timedelta(minutes=1)
    assert abs(tokens.refresh_hard_expires_at - (now + timedelta(days=5 * 365))) < timedelta(minutes=1)
    qbo.clock.advance(86400)
    refreshed = qbo.provider.refresh(tokens)
    assert refreshed.refresh_token != tokens.refresh_token  # a day old: rotated
    assert abs(refreshed.refresh_hard_expires_at - (now + timedelta(days=5 * 365 - 1))) < timedelta(minutes=1)  # type: ignore[operator]


def test_a_callback_without_a_realm_id_is_refused(qbo: Connected) -> None:
    with pytest.raises(BadRequest, match="did not say which company"):
        qbo.provider.exchange_code(code="x", redirect_uri=qbo.driver.redirect_uri, code_verifier=None, params={})


# --- faults ---------------------------------------------------------------------------------------------------


def test_a_system_fault_inside_a_200_is_retried(qbo: Connected) -> None:
    qbo.fake.seed_customers(qbo.realm_id, 30)
    qbo.fake.fail_next("/query", 200, SYSTEM_FAULT, entity="Customer")

    assert len(customers(qbo)) == 30
    assert [c.status for c in qbo.driver.calls(Resource.CUSTOMERS)] == [200, 200]
    assert len(qbo.clock.slept) == 1


def test_a_validation_fault_inside_a_200_is_a_bad_request_at_once(qbo: Connected) -> None:
    body = {
        "Fault": {
            "Error": [{"Message": "Invalid query", "Detail": "QueryParserError", "code": "4000"}],
            "type": "ValidationFault",
        }
    }
    qbo.fake.fail_next("/query", 200, body, entity="Customer")

    with pytest.raises(BadRequest, match="QuickBooks refused the request: QueryParserError"):
        customers(qbo)
    assert qbo.clock.slept == []


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [(429, XML_THROTTLE, "application/xml"), (200, XML_THROTTLE, "application/xml"), (429, "", "text/plain")],
    ids=["429-xml", "200-xml", "429-empty"],
)
def test_throttling_in_any_form_is_rate_limited_for_a_minute(
    qbo: Connected, status: int, body: str, content_type: str
) -> None:
    qbo.fake.fail_next("/query", status, body, entity="Customer", headers={"Content-Type": content_type})

    with pytest.raises(RateLimited) as caught:
        customers(qbo)

    assert (caught.value.retry_after, caught.value.scope) == (60.0, RateLimitScope.MINUTE)
    assert "QuickBooks asked us to slow down" in caught.value.message
    assert "wait and carry on" in caught.value.format_message()


def test_faults_are_read_in_every_form() -> None:
    lower = (
        b'{"fault":{"error":[{"message":"message=AuthenticationFailed; errorCode=003200; statusCode=401",'
        b'"detail":"d","code":null}],"type":"AUTHENTICATION"}}'
    )
    xml_401 = (
        b'<Fault type="AuthenticationFault"><Error><Message>message=AuthenticationFailed; errorCode=003200; '
        b"statusCode=401</Message></Error></Fault>"
    )
    assert (read_fault(lower) or _none()).code == "3200"
    assert (read_fault(xml_401) or _none()).code == "3200"
    assert (read_fault(XML_THROTTLE.encode()) or _none()).code == "3001"
    assert read_fault(b'{"QueryResponse": {}}') is None
    assert read_fault(b"<!DOCTYPE x [<!ENTITY a 'b'>]><Fault/>") is None  # no entities read


def test_a_403_means_reconnecting_in_words_an_admin_understands(qbo: Connected) -> None:
    qbo.fake.fail_next("/query", 403, entity="Account")

    with pytest.raises(NeedsReconnect) as caught:
        qbo.provider.accounts(qbo.link)

    assert "no longer connected" in caught.value.message and "/accounts connect" in caught.value.format_message()


# --- records --------------------------------------------------------------------------------------------------


def test_the_chart_leaves_out_non_posting_and_names_sub_accounts_after_their_parent(qbo: Connected) -> None:
    accounts = {a.name: a for a in qbo.provider.accounts(qbo.link)}

    assert "Purchase Orders" not in accounts
    assert "Utilities:Gas and Electric" in accounts and "Services:Installation" in accounts
    assert all(a.code is None for a in accounts.values())
    assert qbo.provider.account_type_label("Cost of Goods Sold") == "Cost of goods sold"


def test_account_numbers_are_the_codes_where_the_company_uses_them() -> None:
    fake = QuickBooksFake()
    numbered = fake.add_company("Numbered Ltd", numbered=True)

    accounts = {a.name: a for a in read_accounts(fake.accounts(numbered))}

    assert accounts["Checking"].code == "1000" and accounts["Utilities:Gas and Electric"].code
    assert "Purchase Orders" not in accounts


def test_jobs_are_left_out_and_their_parent_kept(qbo: Connected) -> None:
    ids = qbo.fake.seed_customers(qbo.realm_id, 5, jobs=3)

    seen = {c.id for c in customers(qbo)}

    assert ids[0] in seen and len(seen) == 5  # one of the five is inactive, still seen
    assert all(not qbo.fake.customer(qbo.realm_id, i).get("Job") for i in seen)


def test_a_customers_fields(qbo: Connected) -> None:
    customer_id = qbo.fake.add_customer(
        qbo.realm_id,
        "Amy's Bird Sanctuary",
        GivenName="Amy",
        FamilyName="Lauterbach",
        CompanyName="Amy's Bird Sanctuary",
        PrimaryEmailAddr={"Address": "Birds@Intuit.com"},
        PrimaryPhone={"FreeFormNumber": "(650) 555-3311"},
        Mobile={"FreeFormNumber": "(650) 555-0000"},
        BillAddr={"Line1": "4581 Finch St.", "City": "Bayshore", "CountrySubDivisionCode": "CA", "PostalCode": "94326"},
        ShipAddr={"Line1": "1 Site Rd", "City": "Bayshore", "Country": "USA"},
    )

    [customer] = customers(qbo)

    assert (customer.id, customer.name, customer.company) == (
        customer_id,
        "Amy's Bird Sanctuary",
        "Amy's Bird Sanctuary",
    )
    assert (customer.first_name, customer.last_name, customer.email) == ("Amy", "Lauterbach", "Birds@Intuit.com")
    assert [(p.kind, p.number) for p in customer.phones] == [
        ("default", "(650) 555-3311"),
        ("mobile", "(650) 555-0000"),
    ]
    assert [(a.kind, a.lines, a.region) for a in customer.addresses] == [
        ("postal", ("4581 Finch St.",), "CA"),
        ("street", ("1 Site Rd",), None),
    ]
    assert customer.active and customer.updated_at is not None and customer.updated_at.tzinfo is not None


# --- incremental reads ----------------------------------------------------------------------------------------


def test_changes_within_the_window_come_from_cdc_with_deletions_inactive(qbo: Connected) -> None:
    ids = qbo.fake.seed_customers(qbo.realm_id, 20)
    since = datetime.fromtimestamp(qbo.clock(), UTC)
    qbo.provider.now = lambda: since + timedelta(days=2)
    qbo.clock.advance(60)
    qbo.fake.update_customer(qbo.realm_id, ids[3], DisplayName="Renamed")
    qbo.fake.delete_customer(qbo.realm_id, ids[4])

    changed = {c.id: c for c in customers(qbo, since=since)}

    assert set(changed) == {ids[3], ids[4]}
    assert changed[ids[3]].name == "Renamed" and not changed[ids[4]].active
    assert changed[ids[4]].raw_status == "Deleted"
    [call] = qbo.driver.calls(Resource.CUSTOMERS)
    assert call.path.endswith("/cdc") and call.query["entities"] == "Customer"


def test_changes_beyond_the_window_are_read_by_update_time(qbo: Connected) -> None:
    ids = qbo.fake.seed_customers(qbo.realm_id, 20)
    since = datetime.fromtimestamp(qbo.clock(), UTC)
    qbo.provider.now = lambda: since + timedelta(days=45)
    qbo.clock.advance(60)
    qbo.fake.deactivate_customer(qbo.realm_id, ids[5])

    changed = customers(qbo, since=since)

    assert [(c.id, c.active) for c in changed] == [(ids[5], False)]
    assert not qbo.fake.calls_to("/cdc")
    assert "MetaData.LastUpdatedTime >=" in (qbo.driver.calls(Resource.CUSTOMERS)[0].statement or "")


def test_a_full_cdc_answer_falls_back_to_a_read_by_update_time(qbo: Connected) -> None:
    ids = qbo.fake.seed_customers(qbo.realm_id, 1005)
    since = datetime.fromtimestamp(qbo.clock(), UTC)
    qbo.provider.now = lambda: since + timedelta(hours=2)
    qbo.clock.advance(60)
    for customer_id in ids:  # more changes than one CDC answer holds
        qbo.fake.update_customer(qbo.realm_id, customer_id, Notes="changed")

    changed = customers(qbo, since=since)

    assert {c.id for c in changed} == set(ids)  # inactive ones too
    assert qbo.fake.calls_to("/cdc") and qbo.fake.calls_to("/query")


# --- pacing ---------------------------------------------------------------------------------------------------


def test_the_pacer_keeps_a_company_under_its_minute_budget() -> None:
    clock = FakeClock()
    pacer = MinutePacer(per_minute=3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        pacer.before("realm")
    assert clock.slept == []
    pacer.before("realm")
    assert clock.slept == [61.0]
    pacer.before("other realm")  # each company has its own budget
    assert clock.slept == [61.0]


# --- records of any shape -------------------------------------------------------------------------------------

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=2),
    st.dictionaries(st.sampled_from(["Address", "FreeFormNumber", "Line1", "value"]), st.text(max_size=10), max_size=2),
)
_FIELDS = [
    "Id",
    "DisplayName",
    "GivenName",
    "FamilyName",
    "CompanyName",
    "PrimaryEmailAddr",
    "PrimaryPhone",
    "Mobile",
    "BillAddr",
    "ShipAddr",
    "Active",
    "MetaData",
    "status",
    "Job",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.dictionaries(st.sampled_from(_FIELDS), _VALUES), st.integers(), st.text(), st.none()))
def test_any_record_is_a_customer_or_an_unusable_record(raw: Any) -> None:
    try:
        customer = to_customer(raw)
    except UnusableRecord:
        return
    assert isinstance(customer, Customer) and customer.id


def _none() -> Any:
    raise AssertionError("no fault read")
