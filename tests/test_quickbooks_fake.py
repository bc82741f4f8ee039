"""The QuickBooks fake behaves like QuickBooks Online: its success bodies validate against Intuit's official XML
Schemas (copied in tests/specs/quickbooks/), and its OAuth, query language, change data capture, faults and limits
follow PROVIDERS.md."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.oauth2 import ClientApp, FakeClock, click_through_consent, redirect_params
from tests.fakes.quickbooks import (
    AUTHORIZE_PATH,
    DISCOVERY_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    QuickBooksFake,
    QuickBooksLimits,
)
from tests.fakes.server import free_port
from tests.quickbooks_schema import entity_errors, response_errors

REDIRECT_URI = "http://localhost:3000/oauth/quickbooks/callback"
SCOPE = "com.intuit.quickbooks.accounting"
BASE = "http://quickbooks.fake"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Session:
    fake: QuickBooksFake
    clock: FakeClock
    http: httpx2.Client
    client: ClientApp
    realm_id: str
    tokens: dict[str, Any]
    callback: dict[str, str]

    def api(
        self, path: str, *, realm_id: str | None = None, token: str | None = None, **params: str
    ) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {token or self.tokens['access_token']}", "Accept": "application/json"}
        url = f"{BASE}/v3/company/{realm_id or self.realm_id}{path}"
        return self.http.get(url, params={**params, "minorversion": "75"}, headers=headers)

    def query(self, statement: str, **kwargs: Any) -> httpx2.Response:
        return self.api("/query", query=statement, **kwargs)

    def token(self, **form: str) -> httpx2.Response:
        return self.http.post(
            f"{BASE}{TOKEN_PATH}", data=form, auth=(self.client.client_id, self.client.client_secret or "")
        )


def log_in(fake: QuickBooksFake, http: httpx2.Client, client: ClientApp, realm_id: str) -> dict[str, str]:
    url = httpx2.URL(
        f"{BASE}{AUTHORIZE_PATH}",
        params={
            "client_id": client.client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": SCOPE,
            "state": "s",
        },
    )
    answer = click_through_consent(http, str(url), organisations=[realm_id])
    assert answer.status_code == 302, answer.text
    return redirect_params(answer)


def make_session(**fake_options: Any) -> Session:
    clock = FakeClock()
    fake = QuickBooksFake(clock=clock, **fake_options)
    realm_id = fake.add_company("Acme Plumbing")
    fake.add_company("Other Company")
    client = fake.register_client(redirect_uris=[REDIRECT_URI])
    http = httpx2.Client(transport=ASGISyncTransport(fake.app))
    callback = log_in(fake, http, client, realm_id)
    answer = http.post(
        f"{BASE}{TOKEN_PATH}",
        data={"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": REDIRECT_URI},
        auth=(client.client_id, client.client_secret or ""),
    )
    assert answer.status_code == 200, answer.text
    return Session(fake, clock, http, client, realm_id, answer.json(), callback)


@pytest.fixture
def qbo() -> Iterator[Session]:
    session = make_session()
    yield session
    session.http.close()


# --- bodies against Intuit's schemas --------------------------------------------------------------------------


def test_success_bodies_validate_against_intuits_schemas(qbo: Session) -> None:
    ids = qbo.fake.seed_customers(qbo.realm_id, 60, jobs=2)
    qbo.fake.add_customer(qbo.realm_id, "Everything Co", Notes="Gate code 1234", ShipAddr={"Line1": "1 Main St"})
    qbo.clock.advance(1)
    since = qbo.clock()
    qbo.clock.advance(60)
    qbo.fake.update_customer(qbo.realm_id, ids[1], PrimaryEmailAddr={"Address": "new@example.com"})
    qbo.fake.delete_customer(qbo.realm_id, ids[2])
    bodies = [
        qbo.query("SELECT * FROM Customer WHERE Active IN (true, false) STARTPOSITION 1 MAXRESULTS 1000").json(),
        qbo.query("SELECT * FROM Account WHERE Active IN (true, false) MAXRESULTS 1000").json(),
        qbo.query("SELECT COUNT(*) FROM Customer").json(),
        qbo.query("SELECT * FROM Customer STARTPOSITION 5000").json(),
        qbo.query("SELECT * FROM CompanyInfo").json(),
        qbo.api(f"/companyinfo/{qbo.realm_id}").json(),
        qbo.api("/cdc", entities="Customer,Account", changedSince=_iso(since)).json(),
    ]
    for body in bodies:
        assert response_errors(body) == [], body
    customers = bodies[0]["QueryResponse"]["Customer"]
    assert len(customers) == 60 + 2 + 1 - 1  # the jobs too; not the deleted one
    assert all(entity_errors("Customer", c) == [] for c in customers)
    assert any(c.get("Job") for c in customers) and any(c["Active"] is False for c in customers)
    changed = bodies[-1]["CDCResponse"][0]["QueryResponse"][0]["Customer"]
    assert {c["Id"]: c.get("status") for c in changed} == {ids[1]: None, ids[2]: "Deleted"}


def test_the_default_chart_has_every_kind_a_sub_account_and_a_non_posting_account(qbo: Session) -> None:
    accounts = qbo.query("SELECT * FROM Account WHERE Active IN (true, false) MAXRESULTS 1000").json()
    rows = accounts["QueryResponse"]["Account"]
    assert {"Income", "Expense", "Bank", "Cost of Goods Sold", "Non-Posting"} <= {a["AccountType"] for a in rows}
    gas = next(a for a in rows if a["Name"] == "Gas and Electric")
    utilities = next(a for a in rows if a["Name"] == "Utilities")
    assert gas["SubAccount"] is True and gas["ParentRef"]["value"] == utilities["Id"]
    assert gas["FullyQualifiedName"] == "Utilities:Gas and Electric"
    numbered = qbo.fake.add_company("Numbered Ltd", numbered=True)
    assert all(a.get("AcctNum") for a in qbo.fake.accounts(numbered) if a["AccountType"] != "Non-Posting")


# --- the query language ---------------------------------------------------------------------------------------


def test_queries_by_get_and_by_post_with_keywords_in_any_case(qbo: Session) -> None:
    qbo.fake.seed_customers(qbo.realm_id, 30)
    by_get = qbo.query("select * from Customer where Active in (true, false) startposition 1 maxresults 10").json()
    by_post = qbo.http.post(
        f"{BASE}/v3/company/{qbo.realm_id}/query",
        params={"minorversion": "75"},
        content=b"SeLeCt * FrOm Customer WhErE Active IN (true, false) StartPosition 1 MaxResults 10",
        headers={"Authorization": f"Bearer {qbo.tokens['access_token']}", "Content-Type": "application/text"},
    ).json()
    ids = [c["Id"] for c in by_get["QueryResponse"]["Customer"]]
    assert ids == [c["Id"] for c in by_post["QueryResponse"]["Customer"]] and len(ids) == 10
    assert [call.statement for call in qbo.fake.calls_to("/query")][-1].startswith("SeLeCt")
    as_json = qbo.http.post(
        f"{BASE}/v3/company/{qbo.realm_id}/query",
        json={"query": "SELECT * FROM Customer"},
        headers={"Authorization": f"Bearer {qbo.tokens['access_token']}"},
    )
    assert as_json.status_code == 415


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ("SELECT * FROM customer", "4001"),  # entity names are case-sensitive
        ("SELECT * FROM Customer MAXRESULTS 1001", "4001"),
        ("SELECT * FROM Customer WHERE DisplayName = 'A' OR DisplayName = 'B'", "4000"),
        ("SELECT DisplayName FROM Customer", "4000"),
        ("SELECT * FROM Customer GROUP BY DisplayName", "4000"),
        ("DELETE FROM Customer", "4000"),
    ],
)
def test_what_intuit_refuses_is_a_400_fault(qbo: Session, statement: str, code: str) -> None:
    answer = qbo.query(statement)

    assert answer.status_code == 400
    error = answer.json()["Fault"]["Error"][0]
    assert error["code"] == code and answer.json()["Fault"]["type"] == "ValidationFault"


def test_paging_is_one_based_and_past_the_end_is_an_empty_query_response(qbo: Session) -> None:
    ids = qbo.fake.seed_customers(qbo.realm_id, 25)
    every = "SELECT * FROM Customer WHERE Active IN (true, false) ORDERBY Id"

    pages = [
        qbo.query(f"{every} STARTPOSITION {start} MAXRESULTS 10").json()["QueryResponse"] for start in (1, 11, 21, 31)
    ]

    assert [len(p.get("Customer", [])) for p in pages] == [10, 10, 5, 0]
    assert [p.get("startPosition") for p in pages[:3]] == [1, 11, 21]
    assert pages[3] == {}
    assert [c["Id"] for p in pages for c in p.get("Customer", [])] == ids
    default = qbo.query("SELECT * FROM Customer WHERE Active IN (true, false)").json()["QueryResponse"]
    assert default["maxResults"] == 25  # fewer than the default of 100


def test_name_lists_show_only_active_records_unless_the_query_names_active(qbo: Session) -> None:
    qbo.fake.seed_customers(qbo.realm_id, 50)  # one in 25 inactive

    def count(statement: str) -> int:
        return int(qbo.query(statement).json()["QueryResponse"]["totalCount"])

    assert count("SELECT COUNT(*) FROM Customer") == 48
    assert count("SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)") == 50
    assert count("SELECT COUNT(*) FROM Customer WHERE Active = false") == 2
    assert count("SELECT COUNT(*) FROM Customer WHERE DisplayName LIKE '%1%' AND Active IN (true, false)") >= 1


def test_where_on_the_update_time(qbo: Session) -> None:
    ids = qbo.fake.seed_customers(qbo.realm_id, 10)
    since = qbo.clock()
    qbo.clock.advance(30)
    qbo.fake.update_customer(qbo.realm_id, ids[3], DisplayName="Renamed")

    answer = qbo.query(f"SELECT * FROM Customer WHERE MetaData.LastUpdatedTime >= '{_iso(since)}'").json()

    assert [c["Id"] for c in answer["QueryResponse"]["Customer"]] == [ids[3]]


# --- change data capture --------------------------------------------------------------------------------------


def test_cdc_gives_changes_and_deletions_within_thirty_days_only(qbo: Session) -> None:
    ids = qbo.fake.seed_customers(qbo.realm_id, 10)
    since = qbo.clock()
    qbo.clock.advance(60)
    qbo.fake.deactivate_customer(qbo.realm_id, ids[0])
    qbo.fake.delete_customer(qbo.realm_id, ids[1])

    body = qbo.api("/cdc", entities="Customer", changedSince=_iso(since)).json()
    nothing = qbo.api("/cdc", entities="Customer", changedSince=_iso(qbo.clock() + 1)).json()
    too_old = qbo.api("/cdc", entities="Customer", changedSince=_iso(qbo.clock() - 31 * 86400))

    rows = {c["Id"]: c for c in body["CDCResponse"][0]["QueryResponse"][0]["Customer"]}
    assert rows[ids[0]]["Active"] is False and rows[ids[1]]["status"] == "Deleted" and set(rows) == set(ids[:2])
    assert nothing["CDCResponse"][0]["QueryResponse"] == [{}]
    assert too_old.status_code == 400 and too_old.json()["Fault"]["type"] == "ValidationFault"


# --- faults and limits ----------------------------------------------------------------------------------------


def test_401_and_403_answer_with_the_lower_case_fault_envelope(qbo: Session) -> None:
    expired = qbo.query("SELECT * FROM Customer", token="not-a-token")
    other = next(r for r in qbo.fake._companies if r != qbo.realm_id)
    forbidden = qbo.query("SELECT * FROM Customer", realm_id=other)

    assert expired.status_code == 401 and expired.json()["fault"]["error"][0]["code"] == "3200"
    assert "AuthenticationFailed" in expired.json()["fault"]["error"][0]["message"]
    assert forbidden.status_code == 403 and forbidden.json()["fault"]["type"] == "SERVICE"
    assert "errorCode=003100" in forbidden.json()["fault"]["error"][0]["message"]
    qbo.clock.advance(3601)  # the access token lives an hour
    assert qbo.query("SELECT * FROM Customer").status_code == 401


@pytest.mark.parametrize("xml", [False, True], ids=["json", "xml"])
def test_more_than_the_minute_limit_is_throttled_with_3001(xml: bool) -> None:
    qbo = make_session(limits=QuickBooksLimits(per_minute=5))
    qbo.fake.xml_throttle = xml
    answers = [qbo.query("SELECT * FROM Account").status_code for _ in range(6)]
    throttled = qbo.query("SELECT * FROM Account")
    qbo.clock.advance(61)
    again = qbo.query("SELECT * FROM Account")

    assert answers == [200] * 5 + [429] and throttled.status_code == 429 and again.status_code == 200
    if xml:
        assert throttled.text.startswith("<?xml") and 'code="3001"' in throttled.text
    else:
        assert throttled.json()["Fault"]["Error"][0]["code"] == "3001"
    qbo.http.close()


def test_more_calls_at_once_than_allowed_are_throttled() -> None:
    qbo = make_session(limits=QuickBooksLimits(concurrent=1), latency=0.3)
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(qbo.query("SELECT * FROM Account").status_code))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 429]
    qbo.http.close()


def test_an_injected_fault_inside_a_200(qbo: Session) -> None:
    body = {
        "Fault": {
            "Error": [{"Message": "oops", "Detail": "System Failure Error", "code": "10000"}],
            "type": "SystemFault",
        }
    }
    qbo.fake.fail_next("/query", 200, body, entity="Customer")

    accounts = qbo.query("SELECT * FROM Account")
    fault = qbo.query("SELECT * FROM Customer")

    assert accounts.status_code == 200 and "QueryResponse" in accounts.json()
    assert fault.status_code == 200 and fault.json()["Fault"]["type"] == "SystemFault"
    assert qbo.query("SELECT * FROM Customer").json()["QueryResponse"] == {}


# --- OAuth ----------------------------------------------------------------------------------------------------


def test_the_discovery_document_names_the_endpoints(qbo: Session) -> None:
    for path in (DISCOVERY_PATH, f"{DISCOVERY_PATH}/"):
        document = qbo.http.get(f"{BASE}{path}").json()
        assert document["authorization_endpoint"] == f"{BASE}{AUTHORIZE_PATH}"
        assert document["token_endpoint"] == f"{BASE}{TOKEN_PATH}"
        assert document["revocation_endpoint"] == f"{BASE}{REVOKE_PATH}"
    userinfo = qbo.http.get(
        document["userinfo_endpoint"], headers={"Authorization": f"Bearer {qbo.tokens['access_token']}"}
    )
    assert userinfo.status_code == 200 and userinfo.json()["email"] == qbo.fake.user.email


def test_the_consent_connects_one_company_and_the_callback_names_it(qbo: Session) -> None:
    assert qbo.callback["realmId"] == qbo.realm_id and qbo.fake.connected_realms() == {qbo.realm_id}
    both = list(qbo.fake._companies)
    url = httpx2.URL(
        f"{BASE}{AUTHORIZE_PATH}",
        params={
            "client_id": qbo.client.client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": SCOPE,
        },
    )
    page = click_through_consent(qbo.http, str(url), organisations=both)
    assert page.status_code == 200 and "Select a company." in page.text and 'type="radio"' in page.text


def test_refresh_tokens_are_kept_for_a_day_then_rotated_and_the_old_one_dies(qbo: Session) -> None:
    first = qbo.tokens["refresh_token"]
    assert 99 * 86400 < qbo.tokens["x_refresh_token_expires_in"] <= 100 * 86400

    same = qbo.token(grant_type="refresh_token", refresh_token=first).json()
    qbo.clock.advance(86400)
    rotated = qbo.token(grant_type="refresh_token", refresh_token=first).json()
    dead = qbo.token(grant_type="refresh_token", refresh_token=first)

    assert same["refresh_token"] == first and same["access_token"] != qbo.tokens["access_token"]
    assert rotated["refresh_token"] != first and rotated["x_refresh_token_expires_in"] == 100 * 86400
    assert dead.status_code == 400 and dead.json() == {"error": "invalid_grant"}
    assert "x_refresh_token_hard_expires_in" not in rotated
    asked = qbo.http.post(
        f"{BASE}{TOKEN_PATH}",
        data={"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]},
        auth=(qbo.client.client_id, qbo.client.client_secret or ""),
        headers={"x-include-refresh-token-hard-expires-in": "true"},
    ).json()
    assert asked["x_refresh_token_hard_expires_in"] == 5 * 365 * 86400 - 86400  # 5 years from the log-in


def test_the_token_endpoint_wants_http_basic(qbo: Session) -> None:
    answer = qbo.http.post(
        f"{BASE}{TOKEN_PATH}",
        data={
            "grant_type": "refresh_token",
            "refresh_token": qbo.tokens["refresh_token"],
            "client_id": qbo.client.client_id,
            "client_secret": qbo.client.client_secret or "",
        },
    )
    assert answer.status_code == 401 and answer.json() == {"error": "invalid_client"}


def test_revoking_takes_json_and_disconnects_the_company(qbo: Session) -> None:
    auth = (qbo.client.client_id, qbo.client.client_secret or "")
    as_form = qbo.http.post(f"{BASE}{REVOKE_PATH}", data={"token": qbo.tokens["refresh_token"]}, auth=auth)
    assert as_form.status_code == 400 and qbo.fake.connected_realms() == {qbo.realm_id}

    answer = qbo.http.post(f"{BASE}{REVOKE_PATH}", json={"token": qbo.tokens["refresh_token"]}, auth=auth)

    assert answer.status_code == 200 and qbo.fake.connected_realms() == set()
    assert qbo.query("SELECT * FROM Account").status_code == 401
    assert qbo.token(grant_type="refresh_token", refresh_token=qbo.tokens["refresh_token"]).status_code == 400


# --- python -m tests.fakes.quickbooks -------------------------------------------------------------------------


def test_runs_alone_and_prints_the_settings() -> None:
    port = free_port()
    command = [sys.executable, "-m", "tests.fakes.quickbooks", "--port", str(port)]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = []
            for line in process.stdout:
                lines.append(line.strip())
                if line.startswith("QUICKBOOKS_CLIENT_SECRET="):
                    break
            settings = dict(line.split("=", 1) for line in lines if line.startswith("QUICKBOOKS_"))
            url = f"http://127.0.0.1:{port}"
            assert settings["QUICKBOOKS_AUTHORIZE_URL"] == f"{url}{AUTHORIZE_PATH}"
            assert settings["QUICKBOOKS_TOKEN_URL"] == f"{url}{TOKEN_PATH}"
            assert settings["QUICKBOOKS_REVOKE_URL"] == f"{url}{REVOKE_PATH}"
            assert settings["QUICKBOOKS_API_URL"] == url
            with httpx2.Client(transport=httpx2.HTTPTransport(retries=6)) as http:
                page = http.get(
                    settings["QUICKBOOKS_AUTHORIZE_URL"],
                    params={
                        "client_id": settings["QUICKBOOKS_CLIENT_ID"],
                        "redirect_uri": REDIRECT_URI,
                        "response_type": "code",
                        "scope": SCOPE,
                        "state": "s",
                    },
                )
            assert page.status_code == 200 and "Craig&#x27;s Design and Landscaping Services" in page.text
        finally:
            process.terminate()
            process.wait(timeout=10)


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
