"""Xero's side of invoicing (issue 15): the provider against the Xero fake (tax rates, an invoice created once per
Idempotency-Key, payments and the read-back), and the pure mappers (exact Decimal bodies, refusals by line)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from providers.base import AccountKind
from providers.invoicing import (
    AmountsAre,
    InvoiceLine,
    InvoiceRefused,
    InvoiceState,
    Invoicing,
    NewInvoice,
    NewPayment,
)
from providers.json_bodies import json_bytes
from providers.xero.client import XeroProvider
from providers.xero.invoice_mappers import refusals, to_invoice, to_tax_rate
from tests.test_xero_fake import accounting, assert_valid  # noqa: F401  (Xero's spec)
from tests.test_xero_provider import Env, make_env, served  # noqa: F401  (the fake on a port, and the provider)


@pytest.fixture
def xero_env(make_env: Callable[..., Env]) -> Env:  # noqa: F811
    return make_env()


def _invoice(contact_id: str, *lines: InvoiceLine, approve: bool = False) -> NewInvoice:
    return NewInvoice(
        customer_id=contact_id,
        date=date(2026, 12, 2),
        due_date=date(2026, 12, 16),
        lines=lines,
        amounts_are=AmountsAre.EXCLUSIVE,
        reference="Job 42",
        approve=approve,
    )


SALES = InvoiceLine("Hot water cylinder", Decimal("3"), Decimal("33.335"), "200", "OUTPUT2")


def test_xero_offers_invoicing() -> None:
    assert issubclass(XeroProvider, Invoicing)


def test_tax_rates_come_as_decimals_with_the_accounts_they_suit(xero_env: Env) -> None:
    _, link, _ = xero_env.connect()
    rates = {r.code: r for r in xero_env.provider.tax_rates(link)}
    assert rates["OUTPUT2"].rate == Decimal("15") and rates["OUTPUT2"].active
    assert AccountKind.INCOME in rates["OUTPUT2"].suits and AccountKind.EXPENSE not in rates["OUTPUT2"].suits
    assert not rates["TAX001"].active and rates["TAX001"].rate == Decimal("12.5")


def test_an_invoice_is_created_once_per_key_with_xeros_totals(xero_env: Env) -> None:
    _, link, _ = xero_env.connect()
    tenant = xero_env.tenants[0]
    contact = xero_env.fake.add_contact(tenant, "Jo Bloggs")
    made = xero_env.provider.create_invoice(link, _invoice(contact, SALES), idempotency_key="k-1")
    again = xero_env.provider.create_invoice(link, _invoice(contact, SALES), idempotency_key="k-1")
    assert again == made and len(xero_env.fake.invoices(tenant)) == 1
    assert (made.number, made.state, made.currency) == ("INV-0001", InvoiceState.DRAFT, "NZD")
    assert made.due_date == date(2026, 12, 16) and made.customer_id == contact
    assert (made.subtotal, made.tax, made.total) == (Decimal("100.01"), Decimal("15.00"), Decimal("115.01"))
    other = xero_env.provider.create_invoice(link, _invoice(contact, SALES), idempotency_key="k-2")
    assert other.number == "INV-0002"
    with pytest.raises(ValueError, match="1 to 128"):
        xero_env.provider.create_invoice(link, _invoice(contact, SALES), idempotency_key="k" * 129)


def test_a_refused_invoice_names_its_line_and_field(xero_env: Env) -> None:
    _, link, _ = xero_env.connect()
    contact = xero_env.fake.add_contact(xero_env.tenants[0], "Jo Bloggs")
    wrong = InvoiceLine("Fittings", Decimal(1), Decimal(5), "200", "INPUT2")
    with pytest.raises(InvoiceRefused) as refused:
        xero_env.provider.create_invoice(link, _invoice(contact, SALES, wrong), idempotency_key="k-3")
    [problem] = refused.value.refusals
    assert (problem.line, problem.field) == (1, "tax")
    assert problem.message == "The TaxType code 'INPUT2' cannot be used with account code '200'."
    assert xero_env.fake.invoices(xero_env.tenants[0]) == []


def test_payments_go_to_approved_invoices_only_and_never_above_the_amount_due(xero_env: Env) -> None:
    _, link, _ = xero_env.connect()
    tenant = xero_env.tenants[0]
    contact = xero_env.fake.add_contact(tenant, "Jo Bloggs")
    draft = xero_env.provider.create_invoice(link, _invoice(contact, SALES), idempotency_key="d")
    with pytest.raises(InvoiceRefused, match="Authorised documents"):
        xero_env.provider.record_payment(
            link, NewPayment(draft.id, "090", date(2026, 12, 3), Decimal(1)), idempotency_key="p0"
        )
    approved = xero_env.provider.create_invoice(link, _invoice(contact, SALES, approve=True), idempotency_key="a")
    with pytest.raises(InvoiceRefused, match="exceeds the amount outstanding"):
        xero_env.provider.record_payment(
            link, NewPayment(approved.id, "090", date(2026, 12, 3), Decimal("115.02")), idempotency_key="p1"
        )
    paid = NewPayment(approved.id, "090", date(2026, 12, 3), Decimal("15.01"))
    first = xero_env.provider.record_payment(link, paid, idempotency_key="p2")
    assert xero_env.provider.record_payment(link, paid, idempotency_key="p2") == first  # one payment per key
    assert len(xero_env.fake.payments(tenant)) == 1
    [back] = xero_env.provider.invoices(link, ids=[approved.id])
    assert (back.amount_paid, back.amount_due, back.state) == (
        Decimal("15.01"),
        Decimal("100.00"),
        InvoiceState.APPROVED,
    )
    assert xero_env.provider.invoice_url(link, approved.id).endswith(f"InvoiceID={approved.id}")


def test_amounts_go_out_exactly() -> None:
    body = json_bytes({"UnitAmount": Decimal("33.335"), "Quantity": Decimal("0.1"), "Big": Decimal("1234567890.1234")})
    assert body == b'{"UnitAmount":33.335,"Quantity":0.1,"Big":1234567890.1234}'
    with pytest.raises(ValueError):
        json_bytes({"x": Decimal("NaN")})


def test_readers_take_xeros_records() -> None:
    rate = to_tax_rate({"TaxType": "OUTPUT2", "Name": "GST", "EffectiveRate": 15.0, "Status": "ACTIVE"})
    assert rate is not None and rate.suits == frozenset() and rate.suits_kind("equity")  # Xero said nothing
    assert to_tax_rate({"Name": "no type"}) is None
    invoice = to_invoice(
        {"InvoiceID": "i", "Status": "PAID", "Total": 1552.51, "AmountDue": 0, "SubTotal": "x", "Contact": None}
    )
    assert (invoice.total, invoice.amount_due, invoice.subtotal, invoice.state) == (
        Decimal("1552.51"),
        Decimal(0),
        Decimal(0),
        InvoiceState.PAID,
    )
    found = refusals({"Elements": [{"ValidationErrors": [{"Message": "The contact could not be found."}]}]})
    assert [(r.line, r.field) for r in found] == [(None, "customer")]
    assert refusals({"Message": "odd"})[0].message == "odd" and refusals("not json") == []


def test_the_fakes_answers_keep_to_xeros_openapi(
    xero_env: Env,
    accounting: tuple[Any, dict[str, Any]],  # noqa: F811
) -> None:
    """TaxRates and Invoices as the fake answers them validate against Xero's spec, with no field it lacks."""
    _, link, keeper = xero_env.connect()
    contact = xero_env.fake.add_contact(xero_env.tenants[0], "Jo Bloggs")
    xero_env.provider.create_invoice(link, _invoice(contact, SALES, approve=True), idempotency_key="spec")
    headers = {
        "Authorization": f"Bearer {keeper.access_token()}",
        "xero-tenant-id": link.organisation_id,
        "Accept": "application/json",
    }
    schemas = accounting[1]["components"]["schemas"]
    for path, key, schema in (("/TaxRates", "TaxRates", "TaxRate"), ("/Invoices", "Invoices", "Invoice")):
        response = xero_env.http.get(f"{xero_env.server.url}/api.xro/2.0{path}", headers=headers)
        body = assert_valid(accounting, f"/api.xro/2.0{path}", response)
        assert body[key]
        for row in body[key]:
            assert set(row) <= set(schemas[schema]["properties"]), set(row) - set(schemas[schema]["properties"])
            for item in row.get("LineItems", []):
                assert set(item) <= set(schemas["LineItem"]["properties"])
