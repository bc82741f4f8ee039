"""What only Xero does, against the Xero fake over real HTTP (auth events, its request shapes, cursors, the
high-volume refusal, MinutePacer's arithmetic, its backoff settings), and its pure mappers without HTTP. What
every provider does is the contract suite's, in tests/providers/."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.base import (
    Address,
    BadRequest,
    Cursor,
    Grant,
    Link,
    NeedsReconnect,
    Phone,
    Provider,
    RateLimited,
    RateLimitScope,
    Tokens,
    Unavailable,
)
from providers.json_bodies import read_json
from providers.registry import UnknownProvider, get_provider
from providers.xero.client import XeroProvider
from providers.xero.contacts import decode_contacts
from providers.xero.mappers import (
    account_kind,
    account_type_label,
    jwt_claims,
    parse_xero_date,
    read_contacts,
    to_account,
    to_address,
    to_customer,
    to_phone,
)
from providers.xero.pacing import MinutePacer
from providers.xero.settings import DEFAULT_SCOPES, XeroSettings
from tests.fakes.server import Mount, ServerThread, free_port
from tests.fakes.xero import (
    FakeClock,
    XeroClientApp,
    XeroFake,
    XeroLimits,
    click_through_consent,
    ms_date,
    redirect_params,
)
from tests.keepers import MemoryKeeper as Keeper

REDIRECT_URI = "http://localhost:3000/oauth/xero/callback"


# ---------------------------------------------------------------------------------------------
# Fixtures: a fake Xero on a real port, the provider pointed at it, and a token keeper like the bot's


@dataclass
class Env:
    fake: XeroFake
    clock: FakeClock
    server: ServerThread
    client: XeroClientApp
    provider: XeroProvider
    http: httpx2.Client
    tenants: list[str] = field(default_factory=list)

    def connect(self, tenants: list[str] | None = None) -> tuple[Grant, Link, Keeper]:
        """Log in through the consent page (ticking `tenants`, default all) and link the first organisation."""
        verifier = secrets.token_urlsafe(48)
        url = self.provider.authorization_url(state="st-1", redirect_uri=REDIRECT_URI, code_challenge=s256(verifier))
        answer = click_through_consent(self.http, url, organisations=tenants)
        params = redirect_params(answer)
        assert params["state"] == "st-1"
        grant = self.provider.exchange_code(
            code=params["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier, params=params
        )
        chosen = self.provider.organisations(grant)[0]
        keeper = Keeper(self.provider, grant.tokens)
        return grant, Link(chosen.id, keeper, chosen.connection_id), keeper

    def variant(self, **changes: Any) -> XeroProvider:
        """Another provider on the same fake and clock with some settings changed; the test closes it."""
        return XeroProvider(self.provider.settings.model_copy(update=changes), sleep=self.clock.sleep, clock=self.clock)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ServerThread, Mount]]:
    current = Mount()
    with ServerThread(current) as server:
        yield server, current


@pytest.fixture
def make_env(served: tuple[ServerThread, Mount]) -> Iterator[Callable[..., Env]]:
    server, current = served
    made: list[Env] = []

    def make(
        *,
        organisations: tuple[str, ...] = ("Demo Company (NZ)",),
        public: bool = False,
        fake_options: dict[str, Any] | None = None,
        **config: Any,
    ) -> Env:
        assert not made, "one fake a test"
        clock = FakeClock()
        fake = XeroFake(clock=clock, **(fake_options or {}))
        tenants = [fake.add_organisation(name) for name in organisations]
        client = fake.register_client(redirect_uris=[REDIRECT_URI], public=public)
        current.app = fake
        provider = XeroProvider(xero_settings(server.url, client, **config), sleep=clock.sleep, clock=clock)
        env = Env(fake, clock, server, client, provider, httpx2.Client(), tenants)
        made.append(env)
        return env

    yield make
    for env in made:
        env.provider.close()
        env.http.close()
    current.app = None


@pytest.fixture
def env(make_env: Callable[..., Env]) -> Env:
    return make_env()


def xero_settings(url: str, client: XeroClientApp, **overrides: Any) -> XeroSettings:
    """Settings pointing at the fake (and nothing read from the environment or a .env file)."""
    values: dict[str, Any] = {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "authorize_url": f"{url}/identity/connect/authorize",
        "token_url": f"{url}/connect/token",
        "revoke_url": f"{url}/connect/revocation",
        "connections_url": f"{url}/connections",
        "api_url": f"{url}/api.xro/2.0",
        "timeout": 5.0,
    }
    return XeroSettings(_env_file=None, **(values | overrides))


# ---------------------------------------------------------------------------------------------
# OAuth


@pytest.mark.parametrize("public", [False, True], ids=["with-secret", "pkce-app"])
def test_code_exchange_with_pkce(make_env: Callable[..., Env], public: bool) -> None:
    env = make_env(public=public)

    grant, link, _ = env.connect()

    assert grant.tokens.refresh_token and grant.tokens.expires_at
    assert grant.tokens.expires_at > datetime.now(UTC) + timedelta(minutes=29)
    assert grant.tokens.scope == DEFAULT_SCOPES
    (connection,) = env.fake.connections
    assert grant.extra["auth_event_id"] == connection["authEventId"]
    assert grant.extra["xero_user_id"] == env.fake.user.user_id
    assert (link.organisation_id, link.connection_id) == (env.tenants[0], connection["id"])
    token_calls = env.fake.calls_to("/connect/token")
    assert [c.headers.get("authorization") for c in token_calls] == [None if public else "Basic <redacted>"]


def test_refresh_without_refresh_token_needs_reconnect(env: Env) -> None:
    with pytest.raises(NeedsReconnect, match="offline_access"):
        env.provider.refresh(Tokens(access_token="x", refresh_token=None, expires_at=None))


# ---------------------------------------------------------------------------------------------
# Accounts and customers


def test_customers_come_in_pages_of_1000(env: Env) -> None:
    ids = env.fake.seed_contacts(env.tenants[0], 2500)
    _, link, _ = env.connect()

    pages = list(env.provider.customers(link))

    assert [len(p.customers) for p in pages] == [1000, 1000, 500]
    assert [p.total for p in pages] == [2500, 2500, 2500]
    assert [p.cursor for p in pages] == [
        Cursor({"page": 2, "pageSize": 1000}),
        Cursor({"page": 3, "pageSize": 1000}),
        None,
    ]
    seen = [c.id for p in pages for c in p.customers]
    assert sorted(seen) == sorted(ids)  # archived ones too: includeArchived
    assert any(not c.active for p in pages for c in p.customers)
    calls = env.fake.calls_to("/Contacts")
    # each page read once; pages 2 and 3 are read at once after page 1 told the total, so they arrive in either order
    assert sorted((c.query for c in calls), key=lambda q: int(q["page"])) == [
        {"page": str(n), "pageSize": "1000", "includeArchived": "true"} for n in (1, 2, 3)
    ]
    assert calls[0].query["page"] == "1"
    assert all(c.headers["xero-tenant-id"] == env.tenants[0] for c in calls)
    assert all(c.headers["accept"] == "application/json" for c in calls)


def test_pages_asked_for_encoded_come_with_their_contacts_unread(env: Env) -> None:
    """Every page comes as Xero sent it, the first too (only its page count is read, which says how many to fetch
    at once), with the same cursor and total as read pages, and reads to the same records."""
    env.fake.seed_contacts(env.tenants[0], 2500)
    _, link, _ = env.connect()

    plain = list(env.provider.customers(link))
    encoded = list(env.provider.customers(link, encoded=True))

    assert [p.customers for p in encoded] == [[], [], []] and all(p.encoded and p.encoded.body for p in encoded)
    assert all(p.encoded is None for p in plain)
    assert [(p.cursor, p.total) for p in encoded] == [(p.cursor, p.total) for p in plain]
    assert [p.records() for p in encoded] == [(p.customers, p.skipped) for p in plain]


def test_a_walk_reads_every_contact_once_from_the_fakes_index(env: Env) -> None:
    seeded = env.fake.seed_contacts(env.tenants[0], 2100)
    _, link, _ = env.connect()
    before = [c.id for p in env.provider.customers(link) for c in p.customers]
    added = env.fake.add_contact(env.tenants[0], "Aaron Late")  # a change: the index is made again with it

    env.fake.index_contacts(env.tenants[0])
    after = [c.id for p in env.provider.customers(link) for c in p.customers]

    assert sorted(before) == sorted(seeded)
    assert len(after) == len(set(after)) == 2101 and set(after) == {*seeded, added}


def test_the_fakes_pages_are_decoded_straight_into_typed_records(env: Env) -> None:
    env.fake.seed_contacts(env.tenants[0], 300)
    _, link, _ = env.connect()
    body = env.provider._contacts(link, 1, 1000, {})

    fast = decode_contacts(body)

    assert fast is not None  # the fake speaks Xero's documented shape: no page goes the careful way
    assert fast[:2] == read_contacts(read_json(body)["Contacts"])
    assert fast[2:] == (300, 1, 300)


def test_customers_since_returns_only_changed_ones(env: Env) -> None:
    tenant = env.tenants[0]
    ids = env.fake.seed_contacts(tenant, 2500)
    _, link, _ = env.connect()
    since = datetime.fromtimestamp(env.clock(), UTC)
    env.clock.advance(600)
    env.fake.update_contact(tenant, ids[10], EmailAddress="new@example.com")
    env.fake.archive_contact(tenant, ids[20])
    env.fake.merge_contacts(tenant, ids[30], ids[31])
    env.fake.gdpr_erase(tenant, ids[40])
    env.fake.update_contact(tenant, ids[50], IsCustomer=False, IsSupplier=True)  # does not count in Xero

    pages = list(env.provider.customers(link, since=since))

    changed = {c.id: c for p in pages for c in p.customers}
    assert set(changed) == {ids[10], ids[20], ids[30], ids[40]}
    assert pages[-1].total == 4 and pages[-1].cursor is None
    assert changed[ids[10]].email == "new@example.com"
    assert not changed[ids[20]].active and changed[ids[20]].raw_status == "ARCHIVED"
    assert changed[ids[30]].merged_into == ids[31] and not changed[ids[30]].active
    assert changed[ids[40]].erase_personal_data and changed[ids[40]].email is None
    (call,) = env.fake.calls_to("/Contacts")
    assert datetime.fromisoformat(call.headers["if-modified-since"]) == since


@pytest.mark.parametrize(("page", "sizes"), [(2, [1000, 500]), (3, [500])])
def test_customers_resume_from_a_cursor(env: Env, page: int, sizes: list[int]) -> None:
    ids = env.fake.seed_contacts(env.tenants[0], 2500)
    _, link, _ = env.connect()
    everything = [c.id for p in env.provider.customers(link) for c in p.customers]

    pages = list(env.provider.customers(link, resume=Cursor({"page": page})))

    assert [len(p.customers) for p in pages] == sizes
    assert [c.id for p in pages for c in p.customers] == everything[(page - 1) * 1000 :]
    assert len(everything) == len(ids)


def test_a_cursor_keeps_the_page_size_it_was_made_with(env: Env) -> None:
    """A run started with 500 a page and resumed after the setting became 1,000 reads on in pages of 500,
    neither skipping nor repeating a contact."""
    env.fake.seed_contacts(env.tenants[0], 2500)
    _, link, _ = env.connect()
    everything = [c.id for p in env.provider.customers(link) for c in p.customers]
    small = env.variant(page_size=500)
    try:
        first = next(iter(small.customers(link)))
    finally:
        small.close()
    assert first.cursor == Cursor({"page": 2, "pageSize": 500})

    rest = list(env.provider.customers(link, resume=first.cursor))

    assert [len(p.customers) for p in rest] == [500, 500, 500, 500]
    assert [c.id for p in [first, *rest] for c in p.customers] == everything


def test_high_volume_organisation_still_imports(make_env: Callable[..., Env]) -> None:
    env = make_env(fake_options={"high_volume_threshold": 100})
    env.fake.seed_contacts(env.tenants[0], 150)
    _, link, _ = env.connect()

    customers = [c for p in env.provider.customers(link) for c in p.customers]

    assert len(customers) == 150
    assert all("where" not in c.query for c in env.fake.calls_to("/Contacts"))


# ---------------------------------------------------------------------------------------------
# Limits, failures and errors


@pytest.mark.parametrize(
    ("headers", "retry_after", "scope"),
    [
        ({"Retry-After": "42", "X-Rate-Limit-Problem": "minute"}, 42.0, RateLimitScope.MINUTE),
        ({"Retry-After": "86000", "X-Rate-Limit-Problem": "day"}, 86000.0, RateLimitScope.DAY),
        ({"Retry-After": "1", "X-Rate-Limit-Problem": "concurrent"}, 1.0, RateLimitScope.CONCURRENT),
        ({"Retry-After": "7", "X-Rate-Limit-Problem": "appminute"}, 7.0, RateLimitScope.APP),
        ({"Retry-After": "5", "X-Rate-Limit-Problem": "somethingnew"}, 5.0, RateLimitScope.MINUTE),
    ],
)
def test_429_raises_rate_limited_without_waiting(
    env: Env, headers: dict[str, str], retry_after: float, scope: RateLimitScope
) -> None:
    _, link, _ = env.connect()
    env.fake.fail_next("/Contacts", 429, headers=headers)

    with pytest.raises(RateLimited) as caught:
        list(env.provider.customers(link))

    assert (caught.value.retry_after, caught.value.scope, caught.value.status) == (retry_after, scope, 429)
    assert headers["X-Rate-Limit-Problem"] in caught.value.message
    assert env.clock.slept == [] and len(env.fake.calls_to("/Contacts")) == 1


def test_daily_limit_reached_raises_rate_limited(make_env: Callable[..., Env]) -> None:
    env = make_env(fake_options={"limits": XeroLimits(per_day=3)})
    _, link, _ = env.connect()
    for _ in range(3):
        env.provider.accounts(link)

    with pytest.raises(RateLimited) as caught:
        env.provider.accounts(link)

    assert caught.value.scope == RateLimitScope.DAY and 86000 < caught.value.retry_after <= 86400


@pytest.mark.parametrize("calls", [59, 60, 61, 70, 130])
def test_pacing_sends_each_minutes_calls_as_soon_as_the_window_has_room(env: Env, calls: int) -> None:
    _, link, _ = env.connect()
    start = env.clock()

    for _ in range(calls):
        env.provider.accounts(link)

    answers = env.fake.calls_to("/api.xro/2.0/Accounts")
    times = [c.at for c in answers]
    assert len(times) == calls and all(c.status == 200 for c in answers)
    busiest = max(sum(1 for u in times if t - 60 < u <= t) for t in times)
    assert busiest <= 60  # the rolling minute is never exceeded
    assert times[: min(calls, 60)] == [start] * min(calls, 60)  # a minute's calls wait for nothing
    # one wait for each minute beyond the first, each until the minute's calls leave the window, not longer
    assert len(env.clock.slept) == (calls - 1) // 60
    assert all(60 < t - u <= 61 for u, t in zip(times, times[60:], strict=False))


def test_a_walk_of_pages_at_once_stays_in_the_window_without_a_429(make_env: Callable[..., Env]) -> None:
    env = make_env(fake_options={"limits": XeroLimits(per_minute=4)}, calls_per_minute=4, page_size=10)
    env.fake.seed_contacts(env.tenants[0], 95)
    _, link, _ = env.connect()
    start = env.clock()

    pages = list(env.provider.customers(link))

    assert sum(len(p.customers) for p in pages) == 95 and pages[-1].cursor is None
    calls = env.fake.calls_to("/Contacts")
    assert len(calls) == 10 and all(c.status == 200 for c in calls)  # each page once: no 429, no retry
    times = sorted(c.at for c in calls)
    assert max(sum(1 for u in times if t - 60 < u <= t) for t in times) <= 4
    # Page 1, then the next three at once: the window had room, so only the calls beyond it waited. (How long
    # they waited is not asserted: each thread's wait moves the test's one clock for all of them.)
    assert times[0] == start and 1 <= len(env.clock.slept) <= len(calls) - 4
    assert env.fake._org(env.tenants[0]).most_in_flight <= 5


def test_the_pacer_counts_others_calls_from_the_remaining_header() -> None:
    now, waited = [0.0], list[float]()
    pacer = MinutePacer(clock=lambda: now[0], sleep=waited.append, per_minute=10)
    pacer.after("org", {"X-MinLimit-Remaining": "2"}, pacer.before("org"))  # 7 calls were someone else's
    pacer.after("org", {}, pacer.before("org"))  # no answer: it still counts
    pacer.after("org", {"X-MinLimit-Remaining": "0"}, pacer.before("org"))
    assert waited == []

    now[0] = 5.0
    ticket = pacer.before("org")  # our 3 and the others' 7 fill the window: wait until they leave it

    assert len(waited) == 1 and 60.0 < waited[0] + 5.0 <= 60.0 + MinutePacer.margin + 1e-9
    now[0] += waited[0]
    pacer.after("org", {"X-MinLimit-Remaining": "9"}, ticket)
    now[0] += 1.0
    pacer.before("org")
    assert len(waited) == 1  # room again: the next goes at once


def test_a_call_counts_until_a_minute_after_its_answer_however_slow() -> None:
    now, waited = [0.0], list[float]()
    pacer = MinutePacer(clock=lambda: now[0], sleep=waited.append, per_minute=1)
    ticket = pacer.before("org")
    now[0] = 30.0  # answered 30 s later: Xero may have counted it on arrival at any time until then
    pacer.after("org", {"X-MinLimit-Remaining": "0"}, ticket)

    pacer.before("org")

    assert waited == [pytest.approx(60.0 + MinutePacer.margin)]


def assert_backed_off(slept: list[float]) -> bool:
    """Two retries: 0.5 s then 1 s (XERO_BACKOFF doubling), each with up to 0.5 s of jitter."""
    assert len(slept) == 2 and 0.5 <= slept[0] <= 1.0 and 1.0 <= slept[1] <= 1.5, slept
    return True


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_transient_errors_are_retried_then_unavailable(env: Env, status: int) -> None:
    _, link, _ = env.connect()
    env.fake.fail_next("/Accounts", status, times=3)

    with pytest.raises(Unavailable) as caught:
        env.provider.accounts(link)

    assert len(env.fake.calls_to("/Accounts")) == 3
    assert_backed_off(env.clock.slept)
    assert f"HTTP {status}" in caught.value.message


def test_connection_errors_become_unavailable(env: Env) -> None:
    _, link, keeper = env.connect()
    nowhere = env.variant(api_url=f"http://127.0.0.1:{free_port()}/api.xro/2.0")
    try:
        with pytest.raises(Unavailable, match="Xero did not answer"):
            nowhere.accounts(link)
    finally:
        nowhere.close()
    assert_backed_off(env.clock.slept)


def test_timeouts_are_retried_then_unavailable(env: Env) -> None:
    _, link, _ = env.connect()
    slow = env.variant(timeout=0.1)
    env.fake.latency = 0.3  # Xero holds each call longer than we wait
    try:
        with pytest.raises(Unavailable, match="ReadTimeout"):
            slow.accounts(link)
    finally:
        slow.close()
    assert_backed_off(env.clock.slept) and len(env.fake.calls_to("/Accounts")) == 3


def test_high_volume_exception_is_a_bad_request(env: Env) -> None:
    """The other error answers are the contract suite's (tests/providers); this one only Xero gives."""
    _, link, _ = env.connect()
    body = {"ErrorNumber": 51, "Type": "HighVolumeException", "Message": "Too many contacts for this filter"}
    env.fake.fail_next("/Contacts", 400, body)

    with pytest.raises(BadRequest, match="Xero refused the request: Too many contacts for this filter"):
        list(env.provider.customers(link))


def test_organisation_disconnected_in_xero_needs_reconnect(env: Env) -> None:
    _, link, _ = env.connect()
    assert link.connection_id
    env.fake.remove_connection(link.connection_id)

    with pytest.raises(NeedsReconnect, match="no longer connected"):
        env.provider.accounts(link)


# ---------------------------------------------------------------------------------------------
# Secrets, registry


def test_tokens_and_secrets_are_never_logged(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    grant, link, keeper = env.connect()
    env.clock.advance(1801)
    env.provider.accounts(link)
    env.fake.fail_next("/Accounts", 500)
    env.provider.accounts(link)

    secrets_seen = [grant.tokens.access_token, keeper.tokens.access_token, keeper.tokens.refresh_token]
    secrets_seen += [grant.tokens.refresh_token, env.client.client_secret]
    text = caplog.text + repr(grant) + repr(keeper.tokens) + repr(env.provider.settings)
    assert caplog.records and not [s for s in secrets_seen if s and s in text]


def test_registry_finds_xero_and_names_the_known_ones() -> None:
    settings = XeroSettings(_env_file=None, client_id="id", client_secret="secret")
    provider = get_provider("xero", settings)
    try:
        assert isinstance(provider, XeroProvider) and (provider.name, provider.title) == ("xero", "Xero")
    finally:
        provider.close()
    with pytest.raises(UnknownProvider, match=r"No accounting package called 'sage'; known: myob, quickbooks, xero\."):
        get_provider("sage", settings)


def test_xero_provider_is_a_provider() -> None:
    provider: Provider = XeroProvider(XeroSettings(_env_file=None, client_id="id"))
    assert (provider.organisation_noun, provider.refresh_token_idle_lifetime) == ("organisation", timedelta(days=60))
    assert provider.account_type_label("CURRLIAB") == "Current liabilities"
    assert provider.account_type_label("SOMETHING_NEW") == account_type_label("SOMETHING_NEW") == "Something new"
    provider.close()


# ---------------------------------------------------------------------------------------------
# Pure mappers, no HTTP


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/Date(1503348544227+0000)/", datetime(2017, 8, 21, 20, 49, 4, 227000, tzinfo=UTC)),
        ("/Date(1503348544227)/", datetime(2017, 8, 21, 20, 49, 4, 227000, tzinfo=UTC)),
        ("/Date(1503348544227+1200)/", datetime(2017, 8, 22, 8, 49, 4, 227000, tzinfo=timezone(timedelta(hours=12)))),
        (
            "/Date(1503348544227-0530)/",
            datetime(2017, 8, 21, 15, 19, 4, 227000, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        ),
        ("/Date(-62135596800000)/", datetime(1, 1, 1, tzinfo=UTC)),
        ("/Date(-86400000+0000)/", datetime(1969, 12, 31, tzinfo=UTC)),
        ("2019-12-07T18:46:19.5165400", datetime(2019, 12, 7, 18, 46, 19, 516540, tzinfo=UTC)),
        ("2020-02-06T12:17:43.202-08:00", datetime(2020, 2, 6, 20, 17, 43, 202000, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_parse_xero_date(raw: str | None, expected: datetime | None) -> None:
    parsed = parse_xero_date(raw)
    assert parsed == expected
    if parsed is not None and raw and raw.endswith("+1200)/"):
        assert parsed.utcoffset() == timedelta(hours=12)


@given(st.integers(min_value=0, max_value=10**18))
def test_xero_usual_dates_read_as_the_other_forms(ms: int) -> None:
    """`/Date(...+0000)/`, Xero's usual form, is read by its own quicker way; it gives what the general form
    gives, out-of-range counts (None) included."""
    usual = parse_xero_date(f"/Date({ms}+0000)/")
    assert usual == parse_xero_date(f"/Date({ms})/") == parse_xero_date(f" /Date({ms}+0000)/ ")
    assert usual is None or usual.tzinfo is UTC


def test_fake_dates_round_trip() -> None:
    assert parse_xero_date(ms_date(1_767_225_600.5)) == datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("xero_type", "xero_class", "kind"),
    [
        ("SALES", "REVENUE", "income"),
        ("REVENUE", "REVENUE", "income"),
        ("OTHERINCOME", "REVENUE", "other_income"),
        ("DIRECTCOSTS", "EXPENSE", "cost_of_sales"),
        ("EXPENSE", "EXPENSE", "expense"),
        ("OVERHEADS", "EXPENSE", "expense"),
        ("DEPRECIATN", "EXPENSE", "expense"),
        ("BANK", "ASSET", "bank"),
        ("CURRENT", "ASSET", "asset"),
        ("FIXED", "ASSET", "asset"),
        ("INVENTORY", "ASSET", "asset"),
        ("NONCURRENT", "ASSET", "asset"),
        ("PREPAYMENT", "ASSET", "asset"),
        ("CURRLIAB", "LIABILITY", "liability"),
        ("LIABILITY", "LIABILITY", "liability"),
        ("TERMLIAB", "LIABILITY", "liability"),
        ("PAYG", "LIABILITY", "liability"),
        ("EQUITY", "EQUITY", "equity"),
        ("SOMETHINGNEW", "REVENUE", "income"),
        ("SOMETHINGNEW", None, "asset"),
    ],
)
def test_account_kind(xero_type: str, xero_class: str | None, kind: str) -> None:
    assert account_kind(xero_type, xero_class) == kind


@pytest.mark.parametrize(
    ("raw", "code", "active"),
    [
        ({"AccountID": "a", "Code": "200", "Name": "Sales", "Type": "REVENUE", "Status": "ACTIVE"}, "200", True),
        ({"AccountID": "b", "Name": "Savings", "Type": "BANK", "Status": "ACTIVE"}, None, True),
        ({"AccountID": "c", "Code": "  ", "Name": "Card", "Type": "BANK"}, None, True),
        ({"AccountID": "d", "Code": "494", "Name": "Travel", "Type": "OVERHEADS", "Status": "ARCHIVED"}, "494", False),
        ({"AccountID": "e", "Code": "495", "Name": "Gone", "Type": "OVERHEADS", "Status": "DELETED"}, "495", False),
    ],
)
def test_to_account(raw: dict[str, Any], code: str | None, active: bool) -> None:
    account = to_account(raw)
    assert (account.id, account.code, account.name, account.active) == (raw["AccountID"], code, raw["Name"], active)


def _contact(**fields: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "ContactID": "5cc8cf28-567e-4d43-b287-687cfcaec47c",
        "ContactStatus": "ACTIVE",
        "Name": "Katherine Warren",
        "FirstName": "Katherine",
        "LastName": "Warren",
        "EmailAddress": "kat.warren@clampett.com",
        "Addresses": [
            {"AddressType": "STREET", "City": "", "Region": "", "PostalCode": "", "Country": ""},
            {
                "AddressType": "POBOX",
                "AddressLine1": "PO Box 10",
                "AddressLine2": "",
                "AddressLine3": "",
                "AddressLine4": "",
                "City": "Palo Alto",
                "Region": "CA",
                "PostalCode": "94020",
                "Country": "United States",
            },
        ],
        "Phones": [
            {"PhoneType": "DDI", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""},
            {"PhoneType": "DEFAULT", "PhoneNumber": "847-1294", "PhoneAreaCode": "(626)", "PhoneCountryCode": ""},
            {"PhoneType": "MOBILE", "PhoneNumber": "21 555 123", "PhoneAreaCode": "", "PhoneCountryCode": "64"},
            {"PhoneType": "FAX", "PhoneNumber": "  ", "PhoneAreaCode": "9", "PhoneCountryCode": "64"},
        ],
        "UpdatedDateUTC": "/Date(1503348544227+0000)/",
        "IsSupplier": False,
        "IsCustomer": True,
    }
    raw.update(fields)
    return raw


def test_to_customer_maps_a_full_contact() -> None:
    customer = to_customer(_contact(ContactNumber="CUS001"))

    assert customer.id == "5cc8cf28-567e-4d43-b287-687cfcaec47c"
    assert (customer.name, customer.first_name, customer.last_name) == ("Katherine Warren", "Katherine", "Warren")
    assert customer.company is None  # the name is the person's
    assert customer.email == "kat.warren@clampett.com"
    assert customer.phones == (Phone("default", "(626) 847-1294"), Phone("mobile", "+64 21 555 123"))
    assert customer.addresses == (Address("postal", ("PO Box 10",), "Palo Alto", "CA", "94020", "United States"),)
    assert (customer.active, customer.is_customer, customer.is_supplier) == (True, True, False)
    assert customer.updated_at == datetime(2017, 8, 21, 20, 49, 4, 227000, tzinfo=UTC)
    assert (customer.number, customer.raw_status, customer.merged_into) == ("CUS001", "ACTIVE", None)
    assert not customer.erase_personal_data


@pytest.mark.parametrize(
    ("fields", "check"),
    [
        ({"ContactStatus": "ARCHIVED"}, lambda c: not c.active and not c.erase_personal_data),
        ({"ContactStatus": "GDPRREQUEST"}, lambda c: c.erase_personal_data and not c.active),
        (
            {"ContactStatus": "ARCHIVED", "MergedToContactID": "3ec601ad-eddc-4ccb-a8ac-736e88293b1b"},
            lambda c: c.merged_into == "3ec601ad-eddc-4ccb-a8ac-736e88293b1b",
        ),
        ({"MergedToContactID": "00000000-0000-0000-0000-000000000000"}, lambda c: c.merged_into is None),
        ({"IsCustomer": False, "IsSupplier": True}, lambda c: (c.is_customer, c.is_supplier) == (False, True)),
        ({"IsCustomer": None}, lambda c: c.is_customer is None),
        ({"Name": "Warren Plumbing Ltd"}, lambda c: c.company == "Warren Plumbing Ltd"),
        (
            {"EmailAddress": "", "Phones": [], "Addresses": []},
            lambda c: (c.email, c.phones, c.addresses) == (None, (), ()),
        ),
        ({"Name": "<!channel> & co"}, lambda c: c.name == "<!channel> & co"),  # escaping is the view's job
        ({"AccountNumber": "ACC-9"}, lambda c: c.number == "ACC-9"),
        ({"UpdatedDateUTC": None}, lambda c: c.updated_at is None),
    ],
)
def test_to_customer_variants(fields: dict[str, Any], check: Callable[[Any], bool]) -> None:
    assert check(to_customer(_contact(**fields)))


def test_jwt_claims_reads_our_own_token_and_tolerates_others() -> None:
    payload = base64.urlsafe_b64encode(b'{"authentication_event_id":"e1"}').rstrip(b"=").decode()
    assert jwt_claims(f"h.{payload}.s") == {"authentication_event_id": "e1"}
    assert jwt_claims("opaque-token") == {}
    assert jwt_claims("a.!!!.c") == {}


@pytest.mark.parametrize(
    ("area", "country", "number", "shown"),
    [
        ("3", "", "318 4987", "03 318 4987"),  # Christchurch, no country code: the trunk zero is back
        ("03", "", "318 4987", "03 318 4987"),  # typed with it: not doubled
        ("3", "64", "318 4987", "+64 3 318 4987"),  # with the country code, no zero
        ("20", "", "7946 0000", "020 7946 0000"),  # London
        ("626", "", "847-1294", "626 847-1294"),  # a US area code takes no zero
        ("(626)", "", "847-1294", "(626) 847-1294"),
        ("", "", "021 555 123", "021 555 123"),
    ],
)
def test_phones_keep_their_leading_zero_without_a_country_code(
    area: str, country: str, number: str, shown: str
) -> None:
    raw = {"PhoneType": "DEFAULT", "PhoneNumber": number, "PhoneAreaCode": area, "PhoneCountryCode": country}
    assert to_phone(raw) == Phone("default", shown)


@pytest.mark.parametrize(
    "raw",
    [
        {"PhoneType": "DDI", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""},
        {"PhoneType": "FAX", "PhoneNumber": None, "PhoneAreaCode": "9"},
        {"PhoneType": "MOBILE", "PhoneNumber": "   ", "PhoneCountryCode": "64"},
        {"PhoneType": "MOBILE", "PhoneNumber": ["021"]},
        {},
    ],
)
def test_an_empty_phone_slot_is_no_phone(raw: dict[str, Any]) -> None:
    assert to_phone(raw) is None


def test_a_phone_number_that_is_a_number_is_kept() -> None:
    assert to_phone({"PhoneType": "MOBILE", "PhoneNumber": 0}) == Phone("mobile", "0")


@pytest.mark.parametrize(
    "raw",
    [
        {"AddressType": "STREET", "City": "", "Region": "", "PostalCode": "", "Country": ""},
        {"AddressType": "POBOX", "AddressLine1": None, "AddressLine4": "", "City": None},
        {"AddressType": "POBOX", "AddressLine2": "  ", "Country": "\x00", "City": [], "Region": False},
        {"AddressType": "DELIVERY", "AttentionTo": "Sam"},
    ],
)
def test_an_empty_address_slot_is_no_address(raw: dict[str, Any]) -> None:
    assert to_address(raw) is None


@pytest.mark.parametrize(
    ("raw", "address"),
    [
        ({"AddressType": "STREET", "AddressLine4": "Unit 2"}, Address("street", ("Unit 2",))),
        ({"AddressType": "POBOX", "City": "", "PostalCode": 8011}, Address("postal", postal_code="8011")),
        ({"AddressType": "POBOX", "Country": 0}, Address("postal", country="0")),
        ({"City": " Nelson "}, Address("postal", city="Nelson")),
    ],
)
def test_an_address_with_any_field_is_read_in_full(raw: dict[str, Any], address: Address) -> None:
    assert to_address(raw) == address
