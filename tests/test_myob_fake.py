"""The MYOB fake behaves like MYOB: its bodies validate against the resource shapes derived from MYOB's official
.NET SDK (copied in tests/specs/myob/: field names, types and enums), and its log-in, headers, OData options,
limits and errors follow PROVIDERS.md."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.myob import MyobSettings
from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.myob import MYOB_OAUTH, MyobFake, MyobLimits, QueryError, parse_filter
from tests.fakes.oauth2 import ClientApp, FakeClock, click_through_consent, redirect_params
from tests.fakes.server import free_port

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "tests" / "specs" / "myob"
CONTRACTS = json.loads((SPECS / "myob-accountright-v2-contracts.json").read_text())
URL = "http://myob.fake"
REDIRECT_URI = "http://localhost:3000/oauth/myob/callback"
SCOPES = "sme-company-file sme-general-ledger sme-contacts-customer sme-sales"
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?")  # no zone
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# ---------------------------------------------------------------------------------------------
# The shapes: each class's properties (with its bases'), C# types and enums


def properties(name: str) -> dict[str, str]:
    """A class's properties with its bases'; a generic base's `T` is the type it is given
    (`InvoiceWithLines<ServiceInvoiceLine>`: Lines is `IEnumerable<ServiceInvoiceLine>`)."""
    found: dict[str, str] = {}
    argument = None
    while name in CONTRACTS["classes"]:
        cls = CONTRACTS["classes"][name]
        types = {p["name"]: p["type"] for p in cls["properties"]}
        if argument:
            types = {k: re.sub(r"\bT\b", argument, v) for k, v in types.items()}
        found = types | found
        name, _, rest = (cls.get("base") or "").partition("<")
        argument = rest.rstrip(">") or None
    return found


def problems(value: Any, type_name: str, where: str = "$") -> list[str]:
    """What in `value` does not fit the C# type `type_name` of the shapes (empty: it fits)."""
    nullable = type_name.endswith("?")
    type_name = type_name.rstrip("?")
    if value is None:
        return []  # reference types are nullable in C#, and MYOB sends null for empty ones
    if m := re.fullmatch(r"(?:IEnumerable<|List<)?(\w+)(?:>|\[\])", type_name):
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [p for i, item in enumerate(value) for p in problems(item, m[1], f"{where}[{i}]")]
    simple = {
        "string": lambda v: isinstance(v, str),
        "Guid": lambda v: isinstance(v, str) and bool(_GUID.fullmatch(v)),
        "Uri": lambda v: isinstance(v, str) and v.startswith("http"),
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "short": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "decimal": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "double": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "DateTime": lambda v: isinstance(v, str) and bool(_TIME.fullmatch(v)),
    }
    if type_name in simple:
        return [] if simple[type_name](value) else [f"{where}: {value!r} is not a {type_name}"]
    if type_name in CONTRACTS["enums"]:
        values = CONTRACTS["enums"][type_name]["values"]
        return [] if value in values else [f"{where}: {value!r} is not one of {type_name}"]
    if type_name in CONTRACTS["classes"]:
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        fields = properties(type_name)
        unknown = [f"{where}.{k}: not a field of {type_name}" for k in value if k not in fields]
        return unknown + [p for k, v in value.items() if k in fields for p in problems(v, fields[k], f"{where}.{k}")]
    assert nullable or type_name, type_name
    return [f"{where}: unknown type {type_name}"]


def test_the_shapes_are_read() -> None:
    assert {"UID", "DisplayID", "Classification", "IsHeader", "LastModified", "RowVersion"} <= set(
        properties("Account")
    )
    assert {"CompanyName", "IsIndividual", "Addresses", "SellingDetails", "UID"} <= set(properties("Customer"))
    assert problems({"Location": "one"}, "Address") == ["$.Location: 'one' is not a int"]
    assert problems({"Classification": "Revenue"}, "Account") == [
        "$.Classification: 'Revenue' is not one of Classification"
    ]
    assert problems({"LastModified": "2014-03-19T05:04:32.993Z"}, "Customer")  # MYOB's times have no zone
    assert (SPECS / "LICENSE").read_text().startswith("The MIT License")


# ---------------------------------------------------------------------------------------------
# A fake in-process, and a log-in through it with plain HTTP


@dataclass
class Env:
    fake: MyobFake
    clock: FakeClock
    client: ClientApp
    http: httpx2.Client
    file_id: str

    def authorize_url(self, **overrides: str) -> str:
        params = {
            "client_id": self.client.client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": SCOPES,
            "state": "st",
            "prompt": "consent",
        } | overrides
        return f"{URL}{MYOB_OAUTH.authorize_path}?{urlencode(params)}"

    def token(self, path: str = MYOB_OAUTH.token_path, **form: str) -> httpx2.Response:
        secret = self.client.client_secret or ""
        return self.http.post(
            f"{URL}{path}", data={"client_id": self.client.client_id, "client_secret": secret, **form}
        )

    def log_in(self, file_id: str | None = None) -> dict[str, Any]:
        answer = click_through_consent(self.http, self.authorize_url(), organisations=[file_id or self.file_id])
        params = redirect_params(answer)
        response = self.token(grant_type="authorization_code", code=params["code"], redirect_uri=REDIRECT_URI)
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    def get(self, path: str, tokens: dict[str, Any], *, file_id: str | None = None, **kw: Any) -> httpx2.Response:
        headers = {
            "Authorization": f"Bearer {tokens['access_token']}",
            "x-myobapi-key": self.client.client_id,
            "x-myobapi-version": "v2",
            **kw.pop("headers", {}),
        }
        return self.http.get(f"{URL}/accountright/{file_id or self.file_id}{path}", headers=headers, **kw)


@pytest.fixture
def env() -> Iterator[Env]:
    clock = FakeClock()
    fake = MyobFake(clock=clock)
    file_id = fake.add_company_file("Acme Plumbing Pty Ltd")
    client = fake.register_client(redirect_uris=[REDIRECT_URI])
    with httpx2.Client(transport=ASGISyncTransport(fake.app)) as http:
        yield Env(fake, clock, client, http, file_id)


# ---------------------------------------------------------------------------------------------
# Bodies against the shapes


@pytest.mark.parametrize(
    "params",
    [{}, {"$top": "5"}, {"$filter": "IsHeader eq false and IsActive eq true"}, {"$orderby": "DisplayID desc"}],
)
def test_accounts_match_the_shapes(env: Env, params: dict[str, str]) -> None:
    tokens = env.log_in()
    body = env.get("/GeneralLedger/Account", tokens, params=params).json()

    assert set(body) == {"Items", "NextPageLink", "Count"} and body["Items"]
    for account in body["Items"]:
        assert problems(account, "Account") == []
    assert {a["Classification"] for a in env.get("/GeneralLedger/Account", tokens).json()["Items"]} >= {
        "Asset", "Liability", "Equity", "Income", "CostOfSales", "Expense", "OtherIncome", "OtherExpense",
    }  # fmt: skip


def test_customers_match_the_shapes_and_show_every_variety(env: Env) -> None:
    env.fake.seed_customers(env.file_id, 120)
    env.fake.add_customer(env.file_id, "", individual=True, first="Aroha", last="Ngata", email="a@example.com")
    tokens = env.log_in()

    body = env.get("/Contact/Customer", tokens, params={"$top": "1000"}).json()

    cards = body["Items"]
    assert body["Count"] == len(cards) == 121 and body["NextPageLink"] is None
    assert all(problems(card, "Customer") == [] for card in cards), problems(cards[0], "Customer")
    assert {c["IsIndividual"] for c in cards} == {True, False} and {c["IsActive"] for c in cards} == {True, False}
    assert {a["Location"] for c in cards for a in c["Addresses"]} == {1, 2}
    assert any(c["Addresses"] and c["Addresses"][0]["Street"] is None for c in cards)  # no street address
    assert any("<!" in (c["CompanyName"] or "") for c in cards)


# ---------------------------------------------------------------------------------------------
# Paging and OData


def test_pages_follow_next_page_link_to_the_end(env: Env) -> None:
    env.fake.seed_customers(env.file_id, 950)
    tokens = env.log_in()

    first = env.get("/Contact/Customer", tokens).json()  # 400 a page unless told
    assert len(first["Items"]) == 400 and first["Count"] == 950
    seen = [c["UID"] for c in first["Items"]]
    link = first["NextPageLink"]
    while link:
        page = env.http.get(
            link,
            headers={
                "Authorization": f"Bearer {tokens['access_token']}",
                "x-myobapi-key": env.client.client_id,
                "x-myobapi-version": "v2",
            },
        ).json()
        seen += [c["UID"] for c in page["Items"]]
        link = page["NextPageLink"]
    assert sorted(seen) == sorted(env.fake.customer_uids(env.file_id))


@pytest.mark.parametrize(("top", "status"), [("1000", 200), ("1001", 400), ("0", 400), ("many", 400)])
def test_top_is_at_most_1000(env: Env, top: str, status: int) -> None:
    tokens = env.log_in()
    assert env.get("/Contact/Customer", tokens, params={"$top": top}).status_code == status


def test_filter_by_last_modified_compares_wall_clock_times(env: Env) -> None:
    uids = env.fake.seed_customers(env.file_id, 10)
    env.clock.advance(3600.5)
    env.fake.update_customer(env.file_id, uids[3], Notes="changed")
    tokens = env.log_in()
    changed_at = env.fake.customer(env.file_id, uids[3])["LastModified"]

    before = env.get("/Contact/Customer/", tokens, params={"$filter": f"LastModified gt datetime'{changed_at[:19]}'"})
    at = env.get("/Contact/Customer", tokens, params={"$filter": f"LastModified gt datetime'{changed_at}'"})

    assert [c["UID"] for c in before.json()["Items"]] == [uids[3]]
    assert at.json()["Items"] == [] and at.json()["Count"] == 0


def test_orderby_and_skip(env: Env) -> None:
    env.fake.seed_customers(env.file_id, 30)
    tokens = env.log_in()
    everything = env.get("/Contact/Customer", tokens, params={"$orderby": "DisplayID desc, UID"}).json()["Items"]
    page = env.get("/Contact/Customer", tokens, params={"$orderby": "DisplayID desc, UID", "$skip": "10", "$top": "5"})
    assert [c["UID"] for c in page.json()["Items"]] == [c["UID"] for c in everything[10:15]]
    assert everything[0]["DisplayID"] >= everything[-1]["DisplayID"]


@pytest.mark.parametrize(
    "text", ["LastModified gt", "IsActive eq", "Name zz 'x'", "(IsActive eq true", "LastModified gt datetime'nope'"]
)
def test_a_filter_myob_would_refuse_is_a_400_with_its_errors(env: Env, text: str) -> None:
    tokens = env.log_in()
    answer = env.get("/Contact/Customer", tokens, params={"$filter": text})
    assert answer.status_code == 400 and answer.json()["Errors"][0]["Name"] == "InvalidQuery"


@given(st.text(max_size=60))
def test_any_filter_text_parses_or_is_refused(text: str) -> None:
    try:
        predicate = parse_filter(text)
    except QueryError:
        return
    predicate({"IsActive": True, "Name": "x"})  # a parsed filter evaluates without raising anything else


# ---------------------------------------------------------------------------------------------
# Log-in, headers, limits and errors


def test_consent_names_the_company_file_in_the_callback(env: Env) -> None:
    other = env.fake.add_company_file("Second File")
    answer = click_through_consent(env.http, env.authorize_url(), organisations=[other])
    params = redirect_params(answer)
    assert (params["businessId"], params["businessName"], params["state"]) == (other, "Second File", "st")


def test_only_an_administrator_may_consent(env: Env) -> None:
    theirs = env.fake.add_company_file("Someone Else's File", administrator=False)
    answer = click_through_consent(env.http, env.authorize_url(), organisations=[theirs])
    assert answer.status_code == 403 and "Only an administrator of Someone Else&#x27;s File" in answer.text


def test_token_endpoint_with_and_without_a_trailing_slash_rotates_refresh_tokens(env: Env) -> None:
    first = env.log_in()
    assert first["user"]["username"] and isinstance(first["expires_in"], int)
    second = env.token(f"{MYOB_OAUTH.token_path}/", grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    again = env.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert again.status_code == 400 and again.json() == {"error": "invalid_request"}


def test_expires_in_may_come_as_text(env: Env) -> None:
    env.fake.expires_in_as_string = True
    assert env.log_in()["expires_in"] == "1200"


def test_client_credentials_go_in_the_form(env: Env) -> None:
    answer = env.http.post(
        f"{URL}{MYOB_OAUTH.token_path}",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(env.client.client_id, env.client.client_secret or ""),
    )
    assert answer.status_code == 401 and answer.json() == {"error": "invalid_client"}


@pytest.mark.parametrize(
    ("headers", "status", "name"),
    [
        ({"x-myobapi-key": ""}, 403, "DeveloperInactive"),
        ({"x-myobapi-key": "someone-elses-key"}, 403, "DeveloperInactive"),
        ({"x-myobapi-version": "v1"}, 400, "UnsupportedVersion"),
    ],
)
def test_the_key_and_version_headers_are_checked(env: Env, headers: dict[str, str], status: int, name: str) -> None:
    tokens = env.log_in()
    answer = env.get("/Contact/Customer", tokens, headers=headers)
    assert answer.status_code == status and answer.json()["Errors"][0]["Name"] == name


def test_an_inactive_key_a_demoted_user_and_a_removed_file(env: Env) -> None:
    tokens = env.log_in()
    env.fake.demote(env.file_id)
    assert env.get("/Contact/Customer", tokens).json()["Errors"][0]["Name"] == "AccessDenied"
    other = env.fake.add_company_file("Other")
    assert env.get("/Contact/Customer", tokens, file_id=other).status_code == 403  # consent covers one file
    env.fake.remove_company_file(env.file_id)
    assert env.get("/Contact/Customer", tokens).status_code == 404
    env.fake.deactivate_key(env.client.client_id)
    assert env.get("/Contact/Customer", tokens).json()["Errors"][0]["Name"] == "DeveloperInactive"


def test_an_expired_token_is_a_401_with_myobs_errors(env: Env) -> None:
    tokens = env.log_in()
    env.clock.advance(1201)
    answer = env.get("/Contact/Customer", tokens)
    assert answer.status_code == 401 and answer.json()["Errors"][0]["Name"] == "OAuthTokenIsInvalid"


def test_per_second_and_daily_limits_answer_403_rate_limit_error() -> None:
    clock = FakeClock()
    fake = MyobFake(clock=clock, limits=MyobLimits(per_second=8, per_day=12))
    file_id = fake.add_company_file("Acme")
    client = fake.register_client(redirect_uris=[REDIRECT_URI])
    with httpx2.Client(transport=ASGISyncTransport(fake.app)) as http:
        env = Env(fake, clock, client, http, file_id)
        tokens = env.log_in()
        statuses = [env.get("/Contact/Customer", tokens).status_code for _ in range(9)]
        limited = env.get("/Contact/Customer", tokens).json()["Errors"][0]
        clock.advance(1.0)
        more = [env.get("/Contact/Customer", tokens).status_code for _ in range(5)]
        daily = env.get("/Contact/Customer", tokens).json()["Errors"][0]

    assert statuses == [200] * 8 + [403]
    assert limited["Name"] == "RateLimitError" and "per-second" in limited["Message"]
    assert more == [200] * 4 + [403]
    assert daily["Name"] == "RateLimitError" and daily["Message"] == "API key has exceeded the daily rate limit"


def test_a_call_slower_than_the_gateway_gets_504(env: Env) -> None:
    tokens = env.log_in()
    env.fake.gateway_timeout = 0.0
    env.fake.latency = 0.01
    assert env.get("/Contact/Customer", tokens).status_code == 504


# ---------------------------------------------------------------------------------------------
# python -m tests.fakes.myob


def test_runs_alone_and_prints_the_settings_that_point_the_bot_at_it() -> None:
    port = free_port()
    command = [sys.executable, "-m", "tests.fakes.myob", "--port", str(port)]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = []
            for line in process.stdout:
                lines.append(line.strip())
                if line.startswith("MYOB_CLIENT_SECRET="):
                    break
            settings = dict(line.split("=", 1) for line in lines if line.startswith("MYOB_"))
            url = f"http://127.0.0.1:{port}"
            assert settings["MYOB_AUTHORIZE_URL"] == f"{url}/oauth2/account/authorize"
            assert settings["MYOB_TOKEN_URL"] == f"{url}/oauth2/v1/authorize"
            assert settings["MYOB_API_URL"] == f"{url}/accountright"
            # what the bot reads: every printed setting is a MyobSettings field
            assert MyobSettings(_env_file=None, **{k.removeprefix("MYOB_").lower(): v for k, v in settings.items()})
            with httpx2.Client(transport=httpx2.HTTPTransport(retries=6)) as http:
                page = http.get(
                    settings["MYOB_AUTHORIZE_URL"],
                    params={
                        "client_id": settings["MYOB_CLIENT_ID"],
                        "redirect_uri": REDIRECT_URI,
                        "response_type": "code",
                        "scope": SCOPES,
                        "state": "s",
                        "prompt": "consent",
                    },
                )
            assert page.status_code == 200 and "Acme Plumbing Pty Ltd" in page.text
        finally:
            process.terminate()
            process.wait(timeout=10)
