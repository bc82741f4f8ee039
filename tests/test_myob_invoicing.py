"""MYOB's side of invoicing (issue 15): the provider against the MYOB fake in-process (tax codes, service invoices
by account and tax code UID, one invoice per key however the answer is lost, refusals by line and field, customer
payments, tracking), and the pure mappers (rounding of three-decimal prices, tax-inclusive lines, numbers)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx2
import pytest

from bot.invoices import money
from providers.base import AccountKind, Link, NeedsReconnect, RateLimited, Unavailable
from providers.http import BorrowedTransport
from providers.invoicing import (
    AmountsAre,
    InvoiceLine,
    InvoiceRefused,
    InvoiceState,
    Invoicing,
    NewInvoice,
    NewPayment,
    PaymentTerms,
    SalesTerms,
    TermsKind,
)
from providers.myob import MyobProvider
from providers.myob.invoice_mappers import (
    NUMBER_LIMIT,
    record_numbers,
)
from providers.registry import get_provider
from tests.fakes.asgi_transport import ASGISyncTransport
from tests.fakes.myob.errors import myob_errors
from tests.fakes.oauth2 import FakeClock, click_through_consent, redirect_params
from tests.keepers import MemoryKeeper
from tests.providers.packages import MyobDriver, Resource
from tests.test_myob_fake import problems
from tests.test_myob_provider import SYDNEY, Env, env  # noqa: F401  (the fake in-process, and the provider)

SALES = InvoiceLine("Hot water cylinder", Decimal("3"), Decimal("33.335"), "4-1000", "GST")
CALL_OUT = InvoiceLine("Call-out", Decimal("1"), Decimal("85"), "4-2000", "FRE")


def _invoice(customer: str, *lines: InvoiceLine, inclusive: bool = False, approve: bool = False) -> NewInvoice:
    return NewInvoice(
        customer_id=customer,
        date=date(2026, 12, 2),
        due_date=date(2026, 12, 16),
        lines=lines,
        amounts_are=AmountsAre.INCLUSIVE if inclusive else AmountsAre.EXCLUSIVE,
        reference="Job 42",
        approve=approve,
    )


def _ready(env: Env, **settings: Any) -> tuple[MyobProvider, Any, str]:  # noqa: F811
    provider = env.provider(**settings)
    link, _ = env.connect(provider)
    customer = env.fake.add_customer(env.file_id, "Jo Bloggs Plumbing", email="jo@example.com")
    return provider, link, customer


def _uids(env: Env) -> tuple[dict[str, str], dict[str, str]]:  # noqa: F811
    accounts = {a["DisplayID"]: a["UID"] for a in env.fake.accounts(env.file_id)}
    return accounts, {t["Code"]: t["UID"] for t in env.fake.tax_codes(env.file_id)}


def _posts(env: Env, path: str) -> list[Any]:  # noqa: F811
    return [c for c in env.fake.calls_to(path) if c.method == "POST"]


def test_myob_offers_invoicing_and_sales_terms() -> None:
    assert issubclass(MyobProvider, Invoicing) and issubclass(MyobProvider, SalesTerms)


def test_tax_codes_come_as_decimals(env: Env) -> None:  # noqa: F811
    provider, link, _ = _ready(env)
    rates = {r.code: r for r in provider.tax_rates(link)}
    assert rates["GST"].rate == Decimal("10") and rates["GST"].name == "Goods & Services Tax" and rates["GST"].active
    assert rates["FRE"].rate == 0 and rates["ABN"].rate == Decimal("-47")  # a withholding rate counts negative
    # MYOB says nothing of the accounts a code suits, but refuses purchase-only codes on a sale
    assert rates["GST"].suits == frozenset() and rates["GST"].suits_kind(AccountKind.INCOME)
    assert not rates["ABN"].suits_kind(AccountKind.INCOME) and rates["ABN"].suits_kind(AccountKind.EXPENSE)
    [call] = env.fake.calls_to("/GeneralLedger/TaxCode")
    assert call.query["$top"] == "1000"


def test_an_invoice_goes_with_account_and_tax_code_uids_and_myobs_totals(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    made = provider.create_invoice(link, _invoice(customer, SALES, CALL_OUT), idempotency_key="accounts-bot-k1")
    [stored] = env.fake.invoices(env.file_id)
    accounts, taxes = _uids(env)
    assert [
        (li["Account"]["UID"], li["TaxCode"]["UID"], li["UnitCount"], li["UnitPrice"], li["Total"])
        for li in stored["Lines"]
    ] == [
        (accounts["4-1000"], taxes["GST"], 3.0, 33.335, 100.01),  # 3 × 33.335 = 100.005 → 100.01
        (accounts["4-2000"], taxes["FRE"], 1.0, 85.0, 85.0),
    ]
    assert stored["Lines"][0]["Description"] == "Hot water cylinder"
    assert stored["Lines"][1]["Description"] == "Call-out"
    assert stored["CustomerPurchaseOrderNumber"] == "Job 42" and stored["Status"] == "Open"
    assert stored["IsTaxInclusive"] is False
    assert stored["Terms"]["DueDate"] == "2026-12-16T00:00:00"
    assert made.id == stored["UID"] and made.number == stored["Number"] and len(made.number) == NUMBER_LIMIT
    assert made.state == InvoiceState.APPROVED  # MYOB has no draft sale invoice
    assert (made.subtotal, made.tax, made.total) == (Decimal("185.01"), Decimal("10.00"), Decimal("195.01"))
    assert (made.amount_due, made.amount_paid, made.due_date) == (Decimal("195.01"), 0, date(2026, 12, 16))
    assert made.customer_id == customer
    worked = [(Decimal(3), Decimal("33.335"), Decimal(10)), (Decimal(1), Decimal(85), Decimal(0))]
    preview = money.totals(worked, inclusive=False)
    assert (preview.subtotal, preview.tax, preview.total) == (made.subtotal, made.tax, made.total)
    [post] = _posts(env, "/Sale/Invoice/Service")
    assert post.status == 201
    # the same key again: found by its number, nothing more made
    assert provider.create_invoice(link, _invoice(customer, SALES, CALL_OUT), idempotency_key="accounts-bot-k1") == made
    assert len(_posts(env, "/Sale/Invoice/Service")) == 1 and len(env.fake.invoices(env.file_id)) == 1
    other = provider.create_invoice(link, _invoice(customer, CALL_OUT), idempotency_key="accounts-bot-k2")
    assert other.number != made.number and len(env.fake.invoices(env.file_id)) == 2
    assert provider.invoice_url(link, made.id) == f"https://app.myob.com/#/au/{env.file_id}/invoice/{made.id}"


def test_a_tax_inclusive_invoice_works_tax_out_of_each_line(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    lines = (
        InvoiceLine("Labour", Decimal("2.5"), Decimal("88.889"), "4-2000", "GST"),  # 222.2225 → 222.22
        InvoiceLine("Parts", Decimal("7"), Decimal("1.005"), "4-1000", "GST"),  # 7.035 → 7.04
    )
    made = provider.create_invoice(link, _invoice(customer, *lines, inclusive=True), idempotency_key="incl")
    [stored] = env.fake.invoices(env.file_id)
    assert stored["IsTaxInclusive"] is True and [li["Total"] for li in stored["Lines"]] == [222.22, 7.04]
    # 222.22 × 10/110 = 20.2018 → 20.20; 7.04 × 10/110 = 0.64
    preview = money.totals([(li.quantity, li.unit_price, Decimal(10)) for li in lines], inclusive=True)
    assert (made.total, made.tax, made.subtotal) == (Decimal("229.26"), Decimal("20.84"), Decimal("208.42"))
    assert (preview.total, preview.tax, preview.subtotal) == (made.total, made.tax, made.subtotal)


def test_a_lost_answer_is_looked_up_by_number_and_one_invoice_made(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    env.fake.lose_answers("Sale/Invoice/Service")
    made = provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="lost-1")
    assert [c.status for c in _posts(env, "/Sale/Invoice/Service")] == [504]  # made, answer lost, never sent again
    [stored] = env.fake.invoices(env.file_id)
    assert made.id == stored["UID"]
    looks = [c.query["$filter"] for c in env.fake.calls_to("/Sale/Invoice") if "$filter" in c.query]
    assert looks == [f"Number eq '{made.number}'"] * 2  # before the create, and before trying again


def test_a_create_killed_before_its_answer_is_found_by_the_next_process(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env, retries=0)
    env.fake.lose_answers("Sale/Invoice/Service")
    with pytest.raises(Unavailable):
        provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="killed")
    again = env.provider()  # a new process: nothing remembered but the key
    made = again.create_invoice(link, _invoice(customer, SALES), idempotency_key="killed")
    [stored] = env.fake.invoices(env.file_id)
    assert made.id == stored["UID"] and len(_posts(env, "/Sale/Invoice/Service")) == 1


def test_a_5xx_after_nothing_was_made_is_tried_again_after_a_look(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    env.fake.fail_next("/Sale/Invoice/Service", 500)
    made = provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="five")
    assert [c.status for c in _posts(env, "/Sale/Invoice/Service")] == [500, 201]
    assert [i["UID"] for i in env.fake.invoices(env.file_id)] == [made.id]


def test_a_create_refused_by_the_per_second_limit_is_sent_again_after_its_wait(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    env.fake.limit_next("/Sale/Invoice/Service", daily=False)
    made = provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="paced")
    assert [c.status for c in _posts(env, "/Sale/Invoice/Service")] == [403, 201]
    assert [i["UID"] for i in env.fake.invoices(env.file_id)] == [made.id] and 1.0 in env.clock.slept
    env.fake.limit_next("/Sale/Invoice", daily=True)  # the daily cap is not waited out here
    with pytest.raises(RateLimited):
        provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="capped")


def test_a_number_someone_else_took_moves_on_to_the_keys_next(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    someone = env.fake.add_customer(env.file_id, "Someone Else")
    first, second = record_numbers("taken", "S")[:2]
    theirs = provider.create_invoice(link, _invoice(someone, CALL_OUT), idempotency_key="theirs")
    env.fake.update_invoice(env.file_id, theirs.id, Number=first, JournalMemo="Typed in MYOB")
    made = provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="taken")
    assert made.number == second
    assert provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="taken") == made
    assert len(env.fake.invoices(env.file_id)) == 2


def test_refusals_name_the_line_and_field(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    withholding = InvoiceLine("Fittings", Decimal(1), Decimal(5), "4-1000", "ABN")
    with pytest.raises(InvoiceRefused) as refused:
        provider.create_invoice(link, _invoice(customer, SALES, withholding), idempotency_key="r1")
    [problem] = refused.value.refusals
    assert (problem.line, problem.field, problem.message) == (1, "tax", "The tax code ABN cannot be used on a sale")
    # codes MYOB does not have are refused before anything is sent, line by line
    unknown = InvoiceLine("Fittings", Decimal(1), Decimal(5), "4-9999", "XYZ")
    with pytest.raises(InvoiceRefused) as refused:
        provider.create_invoice(link, _invoice(customer, unknown, SALES), idempotency_key="r2")
    assert [(r.line, r.field) for r in refused.value.refusals] == [(0, "account"), (0, "tax")]
    assert "4-9999" in refused.value.refusals[0].message
    # an inactive customer card
    env.fake.update_customer(env.file_id, customer, IsActive=False)
    with pytest.raises(InvoiceRefused) as refused:
        provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="r3")
    assert [(r.line, r.field) for r in refused.value.refusals] == [(None, "customer")]
    assert env.fake.invoices(env.file_id) == [] and len(_posts(env, "/Sale/Invoice/Service")) == 2


def test_a_gone_record_or_a_conflict_is_refused_in_myobs_words_not_tried_again(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    gone = myob_errors("ResourceGone", "The customer has been removed", details="Customer")
    env.fake.fail_next("/Sale/Invoice/Service", 410, gone, method="POST")
    with pytest.raises(InvoiceRefused) as refused:
        provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="gone")
    assert [(r.field, r.message) for r in refused.value.refusals] == [("customer", "The customer has been removed")]
    assert [c.status for c in _posts(env, "/Sale/Invoice/Service")] == [410]


def test_an_account_made_inactive_since_it_was_fetched_is_refused_on_its_line(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    provider.create_invoice(link, _invoice(customer, CALL_OUT), idempotency_key="warm")  # codes fetched
    accounts, _ = _uids(env)
    env.fake.update_account(env.file_id, accounts["4-1000"], IsActive=False)
    with pytest.raises(InvoiceRefused) as refused:
        provider.create_invoice(link, _invoice(customer, CALL_OUT, SALES), idempotency_key="stale")
    [problem] = refused.value.refusals
    assert (problem.line, problem.field) == (1, "account") and "inactive" in problem.message
    with pytest.raises(InvoiceRefused) as refused:  # fetched again: now known to be gone, before sending
        provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="stale-2")
    assert "no active account 4-1000" in refused.value.refusals[0].message


def test_a_file_connected_before_invoicing_needs_the_connection_renewed_not_an_administrator(
    env: Env,  # noqa: F811
) -> None:
    provider, link, customer = _ready(env, scopes="sme-company-file sme-general-ledger sme-contacts-customer")
    with pytest.raises(NeedsReconnect) as caught:
        provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="no-sales")
    told = caught.value.format_message()
    assert "connection needs to be renewed to allow invoicing" in told and "`/accounts connect myob` again" in told
    assert "only an administrator" not in told and caught.value.status == 403
    with pytest.raises(NeedsReconnect, match="renewed to allow invoicing"):
        provider.invoices(link, ids=["0a7ba3c5-56f0-4b63-9bd7-4d4d3c4e5f60"])
    assert _posts(env, "/Sale/") == []

    # a 403 from the sales because the person is no longer the file's administrator says so, as elsewhere
    provider, link, customer = _ready(env)
    provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="warm")  # the codes are kept
    env.fake.demote(env.file_id)
    with pytest.raises(NeedsReconnect, match="only an administrator of the file can connect it"):
        provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="demoted")


def test_payments_apply_to_the_invoice_once_and_never_above_its_balance(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    made = provider.create_invoice(link, _invoice(customer, SALES, CALL_OUT), idempotency_key="pay-inv")
    with pytest.raises(InvoiceRefused) as refused:
        provider.record_payment(
            link, NewPayment(made.id, "1-1100", date(2026, 12, 3), Decimal("195.02")), idempotency_key="p0"
        )
    assert [(r.line, r.field) for r in refused.value.refusals] == [(None, "amount")]
    assert "more than the balance due" in refused.value.refusals[0].message
    part = NewPayment(made.id, "1-1100", date(2026, 12, 3), Decimal("95.01"))
    env.fake.lose_answers("Sale/CustomerPayment")
    first = provider.record_payment(link, part, idempotency_key="p1")
    assert provider.record_payment(link, part, idempotency_key="p1") == first  # one payment per key
    [stored] = env.fake.payments(env.file_id)
    accounts, _ = _uids(env)
    assert (stored["Account"]["UID"], stored["Customer"]["UID"], stored["AmountReceived"]) == (
        accounts["1-1100"],
        customer,
        95.01,
    )
    assert stored["DepositTo"] == "Account" and stored["Invoices"][0]["UID"] == made.id
    assert (first.id, first.invoice_id, first.amount) == (stored["UID"], made.id, Decimal("95.01"))
    [back] = provider.invoices(link, ids=[made.id])
    assert (back.state, back.amount_paid, back.amount_due) == (InvoiceState.APPROVED, Decimal("95.01"), 100)
    with pytest.raises(InvoiceRefused) as refused:  # a bank account is needed to deposit to
        not_bank = NewPayment(made.id, "4-1000", date(2026, 12, 4), Decimal(1))
        provider.record_payment(link, not_bank, idempotency_key="p2")
    assert [(r.field) for r in refused.value.refusals] == ["account"]


def test_tracking_reads_what_changed_since_and_sees_paid_in_myob(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    one = provider.create_invoice(link, _invoice(customer, SALES), idempotency_key="t1")
    two = provider.create_invoice(link, _invoice(customer, CALL_OUT), idempotency_key="t2")
    env.clock.advance(7200)  # beyond MYOB_SYNC_OVERLAP, read again each time
    since = datetime.fromtimestamp(env.clock(), UTC)
    env.clock.advance(60)
    env.fake.pay_in_myob(env.file_id, two.id, amount="40")
    [changed] = provider.invoices(link, ids=[one.id, two.id, "not-a-uid"], since=since)
    assert (changed.id, changed.state, changed.amount_due) == (two.id, InvoiceState.APPROVED, Decimal("45.00"))
    env.fake.pay_in_myob(env.file_id, two.id)
    [paid] = provider.invoices(link, ids=[two.id], since=since)
    assert (paid.state, paid.amount_due, paid.amount_paid) == (InvoiceState.PAID, 0, Decimal("85.00"))
    assert {i.id for i in provider.invoices(link, ids=[one.id, two.id])} == {one.id, two.id}
    [call] = [c for c in env.fake.calls_to("/Sale/Invoice") if "LastModified" in c.query.get("$filter", "")][:1]
    assert "LastModified gt datetime'" in call.query["$filter"] and f"UID eq guid'{one.id}'" in call.query["$filter"]


def test_sales_terms_are_the_customers_and_the_companys(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    terms = {"PaymentIsDue": "DayOfMonthAfterEOM", "BalanceDueDate": 20, "DiscountDate": 0}
    env.fake.update_customer(env.file_id, customer, SellingDetails={"Terms": terms})
    assert provider.sales_terms(link, customer_id=customer) == (
        PaymentTerms(20, TermsKind.DAY_OF_NEXT_MONTH),
        PaymentTerms(30, TermsKind.DAYS_AFTER_DATE),
    )
    assert provider.sales_terms(link, customer_id=None)[0] is None


def test_the_fakes_sales_keep_to_myobs_shapes(env: Env) -> None:  # noqa: F811
    provider, link, customer = _ready(env)
    made = provider.create_invoice(link, _invoice(customer, SALES, CALL_OUT), idempotency_key="shape")
    provider.record_payment(link, NewPayment(made.id, "1-1100", date(2026, 12, 3), Decimal(10)), idempotency_key="p")
    for row in env.fake.tax_codes(env.file_id):
        assert problems(row, "TaxCode") == []
    for row in env.fake.invoices(env.file_id):
        assert problems(row, "ServiceInvoice") == [] and problems(row["Lines"][0], "ServiceInvoiceLine") == []
    for row in env.fake.payments(env.file_id):
        assert problems(row, "CustomerPayment") == []
    listed = provider._get(provider._file_url(link, "/Sale/Invoice"), link, None)["Items"]
    assert [problems(row, "Invoice") for row in listed] == [[]] and "Lines" not in listed[0]
    # and what the provider sent
    for call_path, shape in (("/Sale/Invoice/Service", "ServiceInvoice"), ("/Sale/CustomerPayment", "CustomerPayment")):
        [body] = env.fake.bodies(env.file_id, call_path.strip("/"))
        assert problems(json.loads(json.dumps(body)), shape) == []


@pytest.mark.parametrize(
    ("quantity", "price", "total"),
    [
        ("3", "33.335", "100.01"),  # 100.005: half away from zero
        ("1", "0.005", "0.01"),
        ("0.5", "0.125", "0.06"),  # 0.0625
        ("7", "1.4285", "10.00"),  # 9.9995
        ("2", "33.334", "66.67"),  # 66.668
    ],
)
def test_a_unit_price_of_more_than_two_decimals_is_kept_and_the_total_rounded_to_the_cent(
    env: Env,  # noqa: F811
    quantity: str,
    price: str,
    total: str,
) -> None:
    provider, link, customer = _ready(env)
    line = InvoiceLine("Fittings", Decimal(quantity), Decimal(price), "4-1000", "GST")
    made = provider.create_invoice(link, _invoice(customer, line), idempotency_key=f"k-{quantity}-{price}")
    [body] = env.fake.bodies(env.file_id, "Sale/Invoice/Service")
    [sent] = body["Lines"]
    assert (Decimal(str(sent["UnitCount"])), Decimal(str(sent["UnitPrice"]))) == (Decimal(quantity), Decimal(price))
    assert Decimal(str(sent["Total"])) == Decimal(total)
    [stored] = env.fake.invoices(env.file_id)
    assert (stored["Lines"][0]["UnitPrice"], stored["Lines"][0]["Total"]) == (float(price), float(total))
    gst = (Decimal(total) / 10).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert (made.subtotal, made.tax, made.total) == (Decimal(total), gst, Decimal(total) + gst)


def test_the_fake_refuses_a_total_that_is_not_the_units_times_the_price(env: Env) -> None:  # noqa: F811
    """As AccountRight works a line out: its Total is the unit count times the unit price, to the cent."""
    provider, link, customer = _ready(env)
    accounts, taxes = _uids(env)
    line = {
        "Type": "Transaction",
        "Description": "Fittings",
        "UnitCount": 3,
        "UnitPrice": 33.335,
        "Total": 100.0,  # truncated, not rounded
        "Account": {"UID": accounts["4-1000"]},
        "TaxCode": {"UID": taxes["GST"]},
    }
    body = {"Date": "2026-12-02T00:00:00", "Customer": {"UID": customer}, "IsTaxInclusive": False, "Lines": [line]}
    url = provider._file_url(link, "/Sale/Invoice/Service")
    refused = provider._writes.send(
        "POST", url, keeper=link.tokens, organisation_id=link.organisation_id, json=body, allow=frozenset({400})
    )
    assert refused.status_code == 400
    [error] = refused.json()["Errors"]
    assert "unit count times the unit price (100.01)" in error["Message"] and error["AdditionalDetails"] == (
        "Lines[0].Total"
    )
    assert env.fake.invoices(env.file_id) == []


# ---------------------------------------------------------------------------------------------
# The driver, as the package-generic invoicing suite uses it


def test_the_driver_does_what_the_invoicing_suite_needs() -> None:
    clock = FakeClock()
    driver = MyobDriver(clock)
    file_id = driver.add_organisation("Demo Company")
    client = driver.register_client()
    transport = ASGISyncTransport(driver.app)
    provider = get_provider(
        "myob", driver.settings("http://myob.fake", client), transport=transport, sleep=clock.sleep, clock=clock
    )
    try:
        url = provider.authorization_url(state="s", redirect_uri=driver.redirect_uri, code_challenge=None)
        with httpx2.Client(transport=BorrowedTransport(transport)) as browser:
            params = redirect_params(click_through_consent(browser, url, organisations=[file_id]))
        code = params["code"]
        grant = provider.exchange_code(code=code, redirect_uri=driver.redirect_uri, code_verifier=None, params=params)
        link = Link(file_id, MemoryKeeper(provider, grant.tokens))
        assert driver.invoicing and isinstance(provider, Invoicing)
        setup = driver.invoicing_ready(file_id)

        driver.fail_next(Resource.TAX_CODES, 500, times=driver.tries)
        with pytest.raises(Unavailable):
            provider.tax_rates(link)
        assert [c.status for c in driver.calls(Resource.TAX_CODES)] == [500] * driver.tries
        assert setup.tax_code in {r.code for r in provider.tax_rates(link)}

        line = InvoiceLine("Work", Decimal(1), Decimal(100), setup.account_code, setup.tax_code)
        new = NewInvoice(setup.customer_id, date(2026, 12, 2), date(2026, 12, 16), [line])
        driver.fail_next(Resource.INVOICES, 400)  # MYOB's own body for a 400
        with pytest.raises(InvoiceRefused):
            provider.create_invoice(link, new, idempotency_key="suite-1")
        driver.lose_next_answer(Resource.INVOICES)
        made = provider.create_invoice(link, new, idempotency_key="suite-1")
        assert [c.status for c in driver.calls(Resource.INVOICES)] == [400, 504]  # the creates only
        assert [i["UID"] for i in driver.invoices_at_package(file_id)] == [made.id]

        paid = NewPayment(made.id, setup.payment_account_code, date(2026, 12, 3), Decimal(50))
        driver.fail_next(Resource.PAYMENTS, 400)
        with pytest.raises(InvoiceRefused):
            provider.record_payment(link, paid, idempotency_key="suite-p")
        driver.lose_next_answer(Resource.PAYMENTS)
        payment = provider.record_payment(link, paid, idempotency_key="suite-p")
        assert [p["UID"] for p in driver.payments_at_package(file_id)] == [payment.id]
        assert [c.status for c in driver.calls(Resource.PAYMENTS)] == [400, 504]

        driver.pay_at_package(file_id, made.id)
        [back] = provider.invoices(link, ids=[made.id])
        assert (back.state, back.amount_due) == (InvoiceState.PAID, 0)
    finally:
        provider.close()
        transport.close()
