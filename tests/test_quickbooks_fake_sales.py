"""The QuickBooks fake's writes over its HTTP API, as Intuit's documentation and schemas say QuickBooks answers:
bodies outside the schema refused (2010), Item names unique (6240), `requestid` answered with the first answer and
at most 50 characters, a line Amount that is not Qty × UnitPrice refused (6070), payments never above the open
balance, queries of Items, tax codes, terms and invoices, preferences, every answer valid against the XSDs, and an
invoice's answer held back after it was made (`hold_answers`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.quickbooks.invoice_mappers import refusals, to_tax_rates
from tests.quickbooks_schema import response_errors
from tests.test_quickbooks_fake import BASE, Session, make_session


@pytest.fixture
def qbo() -> Iterator[Session]:
    session = make_session()
    yield session
    session.http.close()


def post(qbo: Session, path: str, body: Any, requestid: str | None = None) -> httpx2.Response:
    params = {"minorversion": "75"} | ({"requestid": requestid} if requestid else {})
    headers = {"Authorization": f"Bearer {qbo.tokens['access_token']}", "Accept": "application/json"}
    return qbo.http.post(f"{BASE}/v3/company/{qbo.realm_id}{path}", params=params, json=body, headers=headers)


def account(qbo: Session, name: str) -> str:
    return next(a["Id"] for a in qbo.fake.accounts(qbo.realm_id) if a["Name"] == name)


def item(qbo: Session, name: str = "Services") -> str:
    answer = post(qbo, "/item", {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": account(qbo, name)}})
    assert answer.status_code == 200, answer.text
    assert response_errors(answer.json()) == []
    return str(answer.json()["Item"]["Id"])


def invoice_body(qbo: Session, customer: str, item_id: str, amount: float = 100.0) -> dict[str, Any]:
    line = {"ItemRef": {"value": item_id}, "UnitPrice": 100, "Qty": 1, "TaxCodeRef": {"value": "TAX"}}
    return {
        "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": line}],
        "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "2"}},
        "CustomerRef": {"value": customer},
    }


def fault(answer: httpx2.Response) -> tuple[int, str, str]:
    [error] = answer.json()["Fault"]["Error"]
    assert answer.json()["Fault"]["type"] == "ValidationFault"
    return answer.status_code, error["code"], error.get("element", "")


def test_an_item_name_is_unique_and_a_body_outside_the_schema_is_refused(qbo: Session) -> None:
    item(qbo)
    again = post(qbo, "/item", {"Name": "services", "Type": "Service", "IncomeAccountRef": {"value": "1"}})
    assert fault(again) == (400, "6240", "Name")
    unknown = post(qbo, "/item", {"Name": "Other", "Colour": "red"})
    assert fault(unknown)[:2] == (400, "2010") and "Colour" in unknown.json()["Fault"]["Error"][0]["Detail"]
    [(listed,)] = [(r["Name"],) for r in qbo.query("select * from Item").json()["QueryResponse"]["Item"]]
    assert listed == "Services"


def test_an_invoice_is_numbered_totalled_and_made_once_per_requestid(qbo: Session) -> None:
    jo = qbo.fake.add_customer(qbo.realm_id, "Jo Bloggs")
    body = invoice_body(qbo, jo, item(qbo))
    first = post(qbo, "/invoice", body, requestid="r-1")
    again = post(qbo, "/invoice", body, requestid="r-1")
    assert first.status_code == again.status_code == 200 and first.json()["Invoice"] == again.json()["Invoice"]
    made = first.json()["Invoice"]
    assert response_errors(first.json()) == []
    assert (made["DocNumber"], made["TotalAmt"], made["Balance"], made["TxnTaxDetail"]["TotalTax"]) == (
        "1001",
        108.0,
        108.0,
        8.0,
    )
    assert made["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    assert post(qbo, "/invoice", body, requestid="r-2").json()["Invoice"]["DocNumber"] == "1002"
    assert fault(post(qbo, "/invoice", body, requestid="r" * 51))[:2] == (400, "2010")
    assert len(qbo.fake.invoices(qbo.realm_id)) == 2
    found = qbo.query(f"select * from Invoice where Id IN ('{made['Id']}')").json()["QueryResponse"]["Invoice"]
    assert [f["Id"] for f in found] == [made["Id"]]


def test_a_held_invoice_is_made_at_once_and_answered_only_once_released(qbo: Session) -> None:
    """The control the killed-process tests use: QuickBooks has acted while its answer is still on its way."""
    jo = qbo.fake.add_customer(qbo.realm_id, "Jo Bloggs")
    body = invoice_body(qbo, jo, item(qbo))
    release = qbo.fake.hold_answers("invoice")
    answers: list[httpx2.Response] = []
    sender = threading.Thread(target=lambda: answers.append(post(qbo, "/invoice", body, requestid="r-held")))
    sender.start()
    try:
        assert release.acted.wait(20), "QuickBooks never made the held invoice"
        [made] = qbo.fake.invoices(qbo.realm_id)
        assert answers == [] and sender.is_alive()
    finally:
        release.set()
        sender.join(20)
    [answer] = answers
    assert answer.status_code == 200 and answer.json()["Invoice"]["Id"] == made["Id"]
    assert post(qbo, "/invoice", body, requestid="r-held").json()["Invoice"]["Id"] == made["Id"]  # not held again


def test_an_amount_that_is_not_qty_times_price_and_bad_references_are_refused(qbo: Session) -> None:
    jo = qbo.fake.add_customer(qbo.realm_id, "Jo Bloggs")
    services = item(qbo)
    assert fault(post(qbo, "/invoice", invoice_body(qbo, jo, services, 99.99))) == (400, "6070", "Line.Amount")
    assert fault(post(qbo, "/invoice", invoice_body(qbo, "404", services)))[1:] == ("2500", "CustomerRef")
    assert fault(post(qbo, "/invoice", invoice_body(qbo, jo, "404")))[1:] == (
        "2500",
        "Line.SalesItemLineDetail.ItemRef",
    )
    assert qbo.fake.invoices(qbo.realm_id) == []


def test_a_payment_above_the_open_balance_is_refused(qbo: Session) -> None:
    jo = qbo.fake.add_customer(qbo.realm_id, "Jo Bloggs")
    made = post(qbo, "/invoice", invoice_body(qbo, jo, item(qbo))).json()["Invoice"]

    def pay(amount: float) -> httpx2.Response:
        line = {"Amount": amount, "LinkedTxn": [{"TxnId": made["Id"], "TxnType": "Invoice"}]}
        checking = {"value": account(qbo, "Checking")}
        return post(
            qbo,
            "/payment",
            {"Line": [line], "CustomerRef": {"value": jo}, "DepositToAccountRef": checking, "TotalAmt": amount},
        )

    paid = pay(100)
    assert paid.status_code == 200 and response_errors(paid.json()) == []
    assert fault(pay(8.01)) == (400, "6000", "Line.Amount")
    assert pay(8).status_code == 200
    [invoice] = qbo.fake.invoices(qbo.realm_id)
    assert invoice["Balance"] == 0 and [t["TxnType"] for t in invoice["LinkedTxn"]] == ["Payment", "Payment"]


def test_tax_codes_terms_and_preferences_are_served_as_intuit_shapes_them(qbo: Session) -> None:
    net_30 = qbo.fake.add_term(qbo.realm_id, "Net 30", DueDays=30)
    qbo.fake.set_default_terms(qbo.realm_id, net_30)
    for entity in ("TaxCode", "TaxRate", "Term"):
        answer = qbo.query(f"select * from {entity} where Active IN (true, false)").json()
        assert answer["QueryResponse"][entity] and response_errors(answer) == [], entity
    prefs = qbo.api("/preferences").json()
    assert response_errors(prefs) == [] and prefs["Preferences"]["SalesFormsPrefs"]["DefaultTerms"] == {"value": net_30}
    active = qbo.query("select * from TaxCode").json()["QueryResponse"]["TaxCode"]
    assert {c["Name"] for c in active} == {"California"}  # a name list shows only active rows unless asked


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.decimals(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(body=_JSON, errors=st.lists(st.dictionaries(st.sampled_from(["Message", "Detail", "element", "code"]), _JSON)))
def test_fault_bodies_and_tax_codes_of_any_shape_never_break_the_mappers(body: Any, errors: list[Any]) -> None:
    for answer in (body, {"Fault": {"Error": errors, "type": "ValidationFault"}}):
        assert all(r.message for r in refusals(answer))
    assert isinstance(to_tax_rates([body, *errors], [body], us=False), list)
    assert to_tax_rates(
        [{"Id": "1", "SalesTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": "9"}}]}}],
        [{"Id": "9", "RateValue": "7.5"}],
        us=True,
    )[1].rate == Decimal("7.5")
