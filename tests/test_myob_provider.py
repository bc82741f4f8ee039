"""What only MYOB does, against the MYOB fake in-process (the company file from the callback, its headers, pages
that follow NextPageLink, zone-less times read across daylight-saving changes, 403 rate limits and the other 403s,
pacing under 8 calls a second), and its pure mappers without HTTP. What every provider does is the contract
suite's, in tests/providers/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.base import (
    AccountKind,
    Address,
    BadRequest,
    Grant,
    Link,
    NeedsReconnect,
    Organisation,
    Phone,
    RateLimited,
    RateLimitScope,
    Tokens,
    Unavailable,
)
from providers.http import BorrowedTransport
from providers.myob import (
    MyobProvider,
    MyobSettings,
    SecondPacer,
    account_type_label,
    changed_since_filter,
    parse_myob_time,
    to_account,
    to_customer,
)
from providers.registry import get_provider
from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.myob import MYOB_OAUTH, MyobFake
from tests.fakes.oauth2 import ClientApp, FakeClock, click_through_consent, redirect_params
from tests.keepers import MemoryKeeper

URL = "http://myob.fake"
REDIRECT_URI = "http://localhost:3000/oauth/myob/callback"
SYDNEY = ZoneInfo("Australia/Sydney")


@dataclass
class Env:
    fake: MyobFake
    clock: FakeClock
    client: ClientApp
    transport: ASGISyncTransport
    file_id: str
    made: list[MyobProvider]

    def provider(self, **settings: Any) -> MyobProvider:
        values: dict[str, Any] = {
            "client_id": self.client.client_id,
            "client_secret": self.client.client_secret,
            "authorize_url": f"{URL}{MYOB_OAUTH.authorize_path}",
            "token_url": f"{URL}{MYOB_OAUTH.token_path}",
            "api_url": f"{URL}/accountright",
            "backoff": 0.001,
        } | settings
        provider = get_provider(
            "myob",
            MyobSettings(_env_file=None, **values),  # type: ignore[call-arg]
            transport=self.transport,
            sleep=self.clock.sleep,
            clock=self.clock,
        )
        assert isinstance(provider, MyobProvider)
        self.made.append(provider)
        return provider

    def connect(self, provider: MyobProvider, file_id: str | None = None) -> tuple[Link, MemoryKeeper]:
        url = provider.authorization_url(state="st", redirect_uri=REDIRECT_URI, code_challenge="ignored")
        with httpx2.Client(transport=BorrowedTransport(self.transport)) as browser:
            params = redirect_params(click_through_consent(browser, url, organisations=[file_id or self.file_id]))
        grant = provider.exchange_code(
            code=params["code"], redirect_uri=REDIRECT_URI, code_verifier=None, params=params
        )
        [organisation] = provider.organisations(grant)
        keeper = MemoryKeeper(provider, grant.tokens)
        return Link(organisation.id, keeper), keeper


@pytest.fixture
def env() -> Iterator[Env]:
    clock = FakeClock()
    fake = MyobFake(clock=clock)
    file_id = fake.add_company_file("Acme Plumbing Pty Ltd")
    client = fake.register_client(redirect_uris=[REDIRECT_URI])
    transport = ASGISyncTransport(fake.app)
    made: list[MyobProvider] = []
    yield Env(fake, clock, client, transport, file_id, made)
    for provider in made:
        provider.close()
    transport.close()


# ---------------------------------------------------------------------------------------------
# Log-in and the company file


def test_the_log_in_asks_for_consent_and_the_granular_scopes_without_pkce(env: Env) -> None:
    url = env.provider().authorization_url(state="s1", redirect_uri=REDIRECT_URI, code_challenge="challenge")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["prompt"] == "consent"
    assert query["scope"] == "sme-company-file sme-general-ledger sme-contacts-customer sme-sales"
    assert "code_challenge" not in query


def test_the_callback_names_the_one_company_file(env: Env) -> None:
    env.fake.add_company_file("Another File")
    provider = env.provider()
    link, keeper = env.connect(provider)

    assert link.organisation_id == env.file_id
    named = Grant(keeper.tokens, {"businessId": env.file_id, "businessName": "Acme Plumbing Pty Ltd"})
    assert provider.organisations(named) == [Organisation(env.file_id, "Acme Plumbing Pty Ltd", just_authorised=True)]
    assert provider.organisations(Grant(keeper.tokens)) == []  # a callback that named no file reaches none


def test_expires_in_as_text_is_read(env: Env) -> None:
    env.fake.expires_in_as_string = True
    _, keeper = env.connect(env.provider())
    expires_at = keeper.tokens.expires_at
    assert expires_at is not None and timedelta(minutes=19) < expires_at - datetime.now(UTC) <= timedelta(minutes=20)


def test_every_call_carries_the_key_and_version_headers(env: Env) -> None:
    provider = env.provider()
    link, _ = env.connect(provider)
    provider.accounts(link)
    [call] = env.fake.calls_to("/GeneralLedger/Account")
    assert call.headers["x-myobapi-key"] == env.client.client_id and call.headers["x-myobapi-version"] == "v2"
    assert "gzip" in call.headers["accept-encoding"] and call.headers["authorization"] == "Bearer <redacted>"
    token_calls = env.fake.calls_to(MYOB_OAUTH.token_path)
    assert token_calls and all("authorization" not in c.headers for c in token_calls)  # id and secret in the form


def test_disconnect_asks_nothing_of_myob(env: Env) -> None:
    provider = env.provider()
    link, _ = env.connect(provider)
    before = len(env.fake.calls)
    provider.disconnect(link, login_shared=False)
    assert len(env.fake.calls) == before


def test_check_credentials(env: Env) -> None:
    env.provider().check_credentials()
    with pytest.raises(BadRequest, match="MYOB_CLIENT_ID and MYOB_CLIENT_SECRET"):
        env.provider(client_secret="wrong").check_credentials()


# ---------------------------------------------------------------------------------------------
# The chart and customers


def test_header_accounts_are_left_out_and_inactive_ones_marked(env: Env) -> None:
    provider = env.provider()
    link, _ = env.connect(provider)
    accounts = {a.code: a for a in provider.accounts(link)}
    headers = {a["DisplayID"] for a in env.fake.accounts(env.file_id) if a["IsHeader"]}
    assert headers and not headers & set(accounts)
    assert not accounts["6-9000"].active and accounts["4-1000"].active
    assert accounts["4-1000"].type_label == "Income" and accounts["2-1100"].kind is AccountKind.BANK


def test_customers_follow_next_page_link_until_it_is_absent(env: Env) -> None:
    env.fake.seed_customers(env.file_id, 250)
    provider = env.provider(page_size=100)
    link, _ = env.connect(provider)

    pages = list(provider.customers(link))

    assert [len(p.customers) for p in pages] == [100, 100, 50] and [p.total for p in pages] == [250] * 3
    calls = env.fake.calls_to("/Contact/Customer")
    assert [c.query.get("$skip") for c in calls] == [None, "100", "200"]
    assert all(c.query["$top"] == "100" for c in calls)


@pytest.mark.parametrize(
    "elsewhere",
    [
        "https://evil.example/accountright/{file}/Contact/Customer?$skip=1",
        "https://api.myob.com.evil.example/accountright/{file}/Contact/Customer?$skip=1",
        "http://ar1.api.myob.com/accountright/{file}/Contact/Customer?$skip=1",  # not https
        "https://ar1.api.myob.com/accountright/another-file/Contact/Customer?$skip=1",
        "not a link at all",
    ],
)
def test_a_next_page_link_elsewhere_is_not_followed(env: Env, elsewhere: str) -> None:
    provider = env.provider()
    link, _ = env.connect(provider)
    page = {"Items": [], "NextPageLink": elsewhere.format(file=env.file_id), "Count": 9}
    env.fake.fail_next("/Contact/Customer", 200, page)
    with pytest.raises(Unavailable, match="leads elsewhere"):
        list(provider.customers(link))
    assert len(env.fake.calls_to("/Contact/Customer")) == 1


def test_individuals_companies_and_address_slots() -> None:
    card = {
        "UID": "7d2f0c8e-0000-4000-8000-000000000001",
        "DisplayID": "CUS000001",
        "IsIndividual": True,
        "FirstName": "Aroha",
        "LastName": "Ngata",
        "CompanyName": None,
        "IsActive": False,
        "LastModified": "2014-03-19T05:04:32.993",
        "Addresses": [
            {"Location": 2, "Street": "Unit 4\r\n12 Main Road", "City": "Sydney", "Phone1": "02 5550 1234"},
            {"Location": 1, "Street": "PO Box 1", "Email": "aroha@example.com", "Phone1": "0412 345 678",
             "Phone2": "02 5550 1234", "Fax": "02 5550 9999"},
        ],
    }  # fmt: skip
    customer = to_customer(card)
    assert (customer.name, customer.first_name, customer.last_name, customer.company) == (
        "Aroha Ngata", "Aroha", "Ngata", None,
    )  # fmt: skip
    assert customer.email == "aroha@example.com" and not customer.active and customer.number == "CUS000001"
    assert customer.phones == (
        Phone("default", "0412 345 678"),
        Phone("other", "02 5550 1234"),
        Phone("fax", "02 5550 9999"),
    )
    assert customer.addresses == (
        Address("postal", ("PO Box 1",)),
        Address("delivery", ("Unit 4", "12 Main Road"), city="Sydney"),
    )
    assert customer.updated_at == datetime(2014, 3, 19, 5, 4, 32, 993000, tzinfo=UTC)
    company = to_customer({"UID": "x1", "IsIndividual": False, "CompanyName": "Acme", "DisplayID": "*None"})
    assert (company.name, company.company, company.first_name, company.number) == ("Acme", "Acme", None, None)


@given(
    st.dictionaries(
        st.sampled_from(["UID", "CompanyName", "FirstName", "IsIndividual", "Addresses", "LastModified", "IsActive"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.lists(st.integers(), max_size=2),
    )
)
def test_any_card_shape_maps_or_is_refused_with_a_reason(card: dict[str, Any]) -> None:
    from providers.myob import read_customer_cards

    customers, skipped = read_customer_cards([card])
    assert len(customers) + len(skipped) == 1
    assert all(s.reason for s in skipped)


def test_account_mapping() -> None:
    account = to_account(
        {"UID": "u", "DisplayID": "5-1000", "Name": "Materials", "Classification": "CostOfSales",
         "Type": "CostOfSales", "IsActive": True, "TaxCode": {"Code": "GST"}},
    )  # fmt: skip
    assert (account.code, account.kind, account.tax_type) == ("5-1000", AccountKind.COST_OF_SALES, "GST")
    assert account_type_label("OtherCurrentLiability") == "Other current liabilities"
    assert account_type_label("SomethingNew") == "Something new"


# ---------------------------------------------------------------------------------------------
# Zone-less times and daylight saving


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2014-03-19T05:04:32.993", "UTC", datetime(2014, 3, 19, 5, 4, 32, 993000, tzinfo=UTC)),
        ("2014-03-19T05:04:32.9931234", "UTC", datetime(2014, 3, 19, 5, 4, 32, 993123, tzinfo=UTC)),
        ("2014-03-19T05:04:32", "Australia/Sydney", datetime(2014, 3, 18, 18, 4, 32, tzinfo=UTC)),  # AEDT, +11
        ("2014-07-19T05:04:32", "Australia/Sydney", datetime(2014, 7, 18, 19, 4, 32, tzinfo=UTC)),  # AEST, +10
        ("2026-04-05T02:30:00", "Australia/Sydney", datetime(2026, 4, 4, 15, 30, tzinfo=UTC)),  # repeated: the first
        ("not a time", "UTC", None),
        (None, "UTC", None),
    ],
)
def test_myob_times_are_read_in_the_configured_zone(text: Any, zone: str, expected: datetime | None) -> None:
    assert parse_myob_time(text, ZoneInfo(zone)) == expected


def test_the_filter_is_written_in_the_zone_with_the_overlap() -> None:
    since = datetime(2026, 4, 4, 15, 45, tzinfo=UTC)  # 02:45 in Sydney, the first time round
    assert changed_since_filter(since, SYDNEY, overlap=timedelta(minutes=65)) == (
        "LastModified gt datetime'2026-04-05T01:40:00.000'"
    )


@pytest.mark.parametrize(
    ("last_sync", "change", "read_as"),
    [
        # clocks go back at 03:00 AEDT on 5 April 2026: 02:00-03:00 happens twice
        ("2026-04-04T15:45:00", "2026-04-04T16:30:00", "2026-04-04T15:30:00"),  # changed at 02:30, second time round
        # clocks go forward at 02:00 AEST on 4 October 2026: 02:00-03:00 never happens
        ("2026-10-03T15:50:00", "2026-10-03T16:05:00", "2026-10-03T16:05:00"),  # changed at 03:05 AEDT
    ],
    ids=["clocks-go-back", "clocks-go-forward"],
)
def test_a_sync_across_a_daylight_saving_change_misses_nothing(last_sync: str, change: str, read_as: str) -> None:
    clock = FakeClock(datetime.fromisoformat(last_sync).replace(tzinfo=UTC).timestamp() - 86400)
    fake = MyobFake(clock=clock)
    file_id = fake.add_company_file("Sydney Sparkies", time_zone="Australia/Sydney")
    uids = fake.seed_customers(file_id, 30)
    client = fake.register_client(redirect_uris=[REDIRECT_URI])
    transport = ASGISyncTransport(fake.app)
    env = Env(fake, clock, client, transport, file_id, [])
    try:
        provider = env.provider(time_zone="Australia/Sydney")
        blind = env.provider(time_zone="Australia/Sydney", sync_overlap=0)
        link, _ = env.connect(provider)
        since = datetime.fromisoformat(last_sync).replace(tzinfo=UTC)
        clock.advance(datetime.fromisoformat(change).replace(tzinfo=UTC).timestamp() - clock())
        fake.update_customer(file_id, uids[7], Notes="changed after the last sync")
        clock.advance(600)

        changed = {c.id: c for p in provider.customers(link, since=since) for c in p.customers}
        without_overlap = {c.id for p in blind.customers(link, since=since) for c in p.customers}

        assert set(changed) == {uids[7]}
        assert changed[uids[7]].updated_at == datetime.fromisoformat(read_as).replace(tzinfo=UTC)
        if change.startswith("2026-04"):
            assert without_overlap == set()  # MYOB compares wall-clock times: only the overlap catches it
    finally:
        for p in env.made:
            p.close()
        transport.close()


# ---------------------------------------------------------------------------------------------
# Limits and errors


def test_the_per_second_limit_is_waited_out_by_pacing(env: Env) -> None:
    env.fake.seed_customers(env.file_id, 30)
    provider = env.provider(page_size=1)
    link, _ = env.connect(provider)

    pages = list(provider.customers(link))

    assert len(pages) == 30  # 30 calls, never refused
    assert {c.status for c in env.fake.calls_to("/Contact/Customer")} == {200}
    assert sum(env.clock.slept) >= 2.5  # 30 calls at 8 a second: over three seconds, on the fake's clock


def test_the_pacer_spaces_calls_over_the_second() -> None:
    clock = FakeClock()
    pacer = SecondPacer(per_second=8, clock=clock, sleep=clock.sleep)
    for _ in range(17):
        pacer.before("any")
    assert clock.slept == [1.0, 1.0]  # eight at once, then a second's wait before the next eight, and again


@pytest.mark.parametrize(
    ("daily", "retry_after", "scope"), [(False, 1.0, RateLimitScope.SECOND), (True, 3600.0, RateLimitScope.DAY)]
)
def test_403_rate_limit_errors_are_rate_limited(
    env: Env, daily: bool, retry_after: float, scope: RateLimitScope
) -> None:
    provider = env.provider()
    link, _ = env.connect(provider)
    env.fake.limit_next("/Contact/Customer", daily=daily)
    with pytest.raises(RateLimited) as caught:
        list(provider.customers(link))
    assert (caught.value.retry_after, caught.value.scope) == (retry_after, scope)
    assert "MYOB asked us to slow down" in caught.value.message


def test_an_inactive_key_says_which_setting_to_check(env: Env) -> None:
    provider = env.provider()
    link, _ = env.connect(provider)
    env.fake.deactivate_key(env.client.client_id)
    with pytest.raises(BadRequest) as caught:
        provider.accounts(link)
    assert "API key is inactive" in caught.value.message and "MYOB_CLIENT_ID" in caught.value.message


def test_a_user_no_longer_administrator_and_a_removed_file_need_reconnecting(env: Env) -> None:
    provider = env.provider()
    link, _ = env.connect(provider)
    env.fake.demote(env.file_id)
    with pytest.raises(NeedsReconnect, match="only an administrator"):
        provider.accounts(link)
    env.fake.remove_company_file(env.file_id)
    with pytest.raises(NeedsReconnect, match="could not find the company file") as caught:
        provider.accounts(link)
    assert "/accounts connect" in caught.value.format_message()


def test_a_slow_call_504_is_retried_then_unavailable(env: Env) -> None:
    provider = env.provider()
    link, _ = env.connect(provider)
    env.fake.gateway_timeout, env.fake.latency = 0.0, 0.01
    with pytest.raises(Unavailable, match="took too long"):
        provider.accounts(link)
    assert [c.status for c in env.fake.calls_to("/GeneralLedger/Account")] == [504, 504, 504]


def test_an_expired_access_token_is_refreshed_and_the_new_refresh_token_kept(env: Env) -> None:
    provider = env.provider()
    link, keeper = env.connect(provider)
    first = keeper.tokens.refresh_token
    env.clock.advance(1201)
    assert provider.accounts(link)
    assert keeper.refreshes == 1 and keeper.tokens.refresh_token not in (None, first)
    with pytest.raises(NeedsReconnect, match="no longer accepts the saved log-in"):
        provider.refresh(Tokens("x", first, None))


def test_a_next_page_link_to_a_regional_myob_host_for_the_same_file_is_followed(env: Env) -> None:
    env.fake.seed_customers(env.file_id, 5)
    provider = env.provider(page_size=2)
    link, _ = env.connect(provider)
    regional = f"https://ar2.api.myob.com/accountright/{env.file_id}/Contact/Customer?$top=2&$skip=2"
    env.fake.fail_next("/Contact/Customer", 200, {"Items": [], "NextPageLink": regional, "Count": 5})

    pages = list(provider.customers(link))

    [first, *_] = env.fake.calls_to("/Contact/Customer")[1:]
    assert first.headers["host"] == "ar2.api.myob.com" and first.query["$skip"] == "2"
    assert [len(p.customers) for p in pages] == [0, 2, 1]
