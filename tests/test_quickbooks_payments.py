"""QuickBooks Online's payments and read-back (issue 15): the provider against the QuickBooks fake in-process.
Payments linked to the invoice and never above its balance, the read-back of part-paid, paid, voided and deleted
invoices (change data capture, or a query), payment terms, and every body checked against Intuit's schemas."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from providers.base import Unavailable
from providers.invoicing import (
    InvoiceLine,
    InvoiceRefused,
    InvoiceState,
    NewInvoice,
    NewPayment,
    PaymentTerms,
    TermsKind,
)
from providers.quickbooks.invoice_mappers import REQUEST_ID_LIMIT, refusals, request_id, to_invoice
from tests import quickbooks_companies
from tests.providers.packages import Resource
from tests.quickbooks_companies import HOT_WATER, Company
from tests.quickbooks_schema import entity_errors, response_errors

# The fixtures, from the shared module.
companies, us, au = quickbooks_companies.companies, quickbooks_companies.us, quickbooks_companies.au


# -- payments and tracking ---------------------------------------------------------------------------


def test_a_payment_is_linked_to_the_invoice_and_deposited_to_the_mapped_account(us: Company) -> None:
    made = us.provider.create_invoice(us.link, us.invoice(HOT_WATER), idempotency_key="key-1")
    payment = NewPayment(made.id, "Checking", date(2026, 12, 3), Decimal("50"))
    recorded = us.provider.record_payment(us.link, payment, idempotency_key="pay-1")
    again = us.provider.record_payment(us.link, payment, idempotency_key="pay-1")
    assert again == recorded and (recorded.invoice_id, recorded.amount) == (made.id, Decimal("50.00"))
    [stored] = us.fake.payments(us.realm)
    assert stored["DepositToAccountRef"]["value"] == us.account_id("Checking")
    assert stored["CustomerRef"]["value"] == us.jo and stored["TotalAmt"] == 50.0
    assert stored["Line"][0]["LinkedTxn"] == [{"TxnId": made.id, "TxnType": "Invoice"}]
    [read] = us.provider.invoices(us.link, ids=[made.id])
    assert (read.state, read.amount_paid, read.amount_due) == (
        InvoiceState.APPROVED,
        Decimal("50.00"),
        Decimal("58.01"),
    )

    with pytest.raises(InvoiceRefused) as refused:
        us.provider.record_payment(
            us.link, NewPayment(made.id, "Checking", date(2026, 12, 3), Decimal("60")), idempotency_key="pay-2"
        )
    [refusal] = refused.value.refusals
    assert refusal.field == "amount" and "more than its open balance" in refusal.message
    assert len(us.fake.payments(us.realm)) == 1


def test_the_read_back_sees_paid_voided_and_deleted_invoices(us: Company) -> None:
    made = [us.provider.create_invoice(us.link, us.invoice(HOT_WATER), idempotency_key=f"key-{n}") for n in range(3)]
    ids = [m.id for m in made]
    since = datetime.fromtimestamp(us.clock(), UTC)
    us.clock.advance(60)
    assert us.provider.invoices(us.link, ids=ids, since=since + timedelta(seconds=1)) == []  # nothing changed
    us.driver.pay_at_package(us.realm, ids[0])
    us.fake.void_invoice(us.realm, ids[1])
    us.fake.delete_invoice(us.realm, ids[2])
    changed = {i.id: i for i in us.provider.invoices(us.link, ids=ids, since=since + timedelta(seconds=1))}
    assert us.fake.calls_to("/cdc")[-1].query["entities"] == "Invoice"
    assert {i: c.state for i, c in changed.items()} == {
        ids[0]: InvoiceState.PAID,
        ids[1]: InvoiceState.VOIDED,
        ids[2]: InvoiceState.DELETED,
    }
    assert changed[ids[0]].amount_due == 0 and changed[ids[0]].amount_paid == Decimal("108.01")
    # all of them, or since longer ago than change data capture reaches: a query by Id (deleted ones are gone)
    everything = {i.id: i.state for i in us.provider.invoices(us.link, ids=ids)}
    assert everything == {ids[0]: InvoiceState.PAID, ids[1]: InvoiceState.VOIDED}
    us.clock.advance(40 * 86400)
    assert us.provider.invoices(us.link, ids=ids, since=since) and "Invoice where Id IN" in str(
        us.fake.calls_to("/query")[-1].statement
    )


def test_sales_terms_are_the_customers_then_the_companys(us: Company) -> None:
    assert us.provider.sales_terms(us.link, customer_id=us.jo) == (None, None)
    net_30 = us.fake.add_term(us.realm, "Net 30", DueDays=30)
    twentieth = us.fake.add_term(us.realm, "20th next month", Type="DATE_DRIVEN", DayOfMonthDue=20, DueNextMonthDays=5)
    us.fake.set_default_terms(us.realm, twentieth)
    us.fake.update_customer(us.realm, us.jo, SalesTermRef={"value": net_30})
    assert us.provider.sales_terms(us.link, customer_id=us.jo) == (
        PaymentTerms(30, TermsKind.DAYS_AFTER_DATE),
        PaymentTerms(20, TermsKind.DAY_OF_NEXT_MONTH),
    )


# -- the wire ----------------------------------------------------------------------------------------


def test_every_body_sent_and_served_keeps_to_intuits_schemas(us: Company, au: Company) -> None:
    for company, tax in ((us, "TAX:2"), (au, "10")):
        line = InvoiceLine("Call-out", Decimal(1), Decimal("85.5"), "Services", tax)
        made = company.provider.create_invoice(company.link, company.invoice(line), idempotency_key="key-1")
        payment = NewPayment(made.id, "Checking", date(2026, 12, 3), Decimal(10))
        company.provider.record_payment(company.link, payment, idempotency_key="pay-1")
        sent = company.fake.write_bodies(company.realm)
        assert [entity for entity, _ in sent] == ["Item", "Invoice", "Payment"]
        for entity, body in sent:
            assert entity_errors(entity, body) == [], (entity, body)
        time = "2026-01-01T00:00:00.000-08:00"
        for entity, rows in (
            ("Invoice", company.fake.invoices(company.realm)),
            ("Payment", company.fake.payments(company.realm)),
            ("Item", company.fake.items(company.realm)),
        ):
            for row in rows:
                assert response_errors({entity: row, "time": time}) == [], row


def test_mappers_read_refusals_and_states() -> None:
    assert request_id("invoice", "k") == request_id("invoice", "k") != request_id("payment", "k")
    assert len(request_id("invoice", "k" * 500)) == REQUEST_ID_LIMIT
    body = {
        "Fault": {
            "Error": [
                {
                    "Message": "Invalid Reference Id",
                    "Detail": "Invalid Reference Id : Customer 4",
                    "element": "CustomerRef",
                },
                {"Message": "Invalid", "Detail": "Bad tax", "element": "Line[1].SalesItemLineDetail.TaxCodeRef"},
            ],
            "type": "ValidationFault",
        }
    }
    lines = [InvoiceLine("a", Decimal(1), Decimal(1), "X", "10"), InvoiceLine("b", Decimal(1), Decimal(1), "X", "10")]
    invoice = NewInvoice("4", date(2026, 1, 1), date(2026, 1, 2), lines)
    assert [(r.line, r.field) for r in refusals(body, invoice)] == [(None, "customer"), (1, "tax")]
    zero = {"Id": "1", "TotalAmt": 0, "Balance": 0}
    assert to_invoice(zero | {"PrivateNote": "Voided"}).state is InvoiceState.VOIDED
    assert to_invoice(zero).state is InvoiceState.APPROVED  # nothing owed is not "paid" unless there was a total
    assert to_invoice({"Id": "1", "TotalAmt": "10.5", "Balance": 0}).state is InvoiceState.PAID


def test_the_drivers_invoicing_methods_drive_the_fake_faithfully(us: Company) -> None:
    setup = us.driver.invoicing_ready(us.realm)
    lines = [InvoiceLine("Work", Decimal(1), Decimal(100), setup.account_code, setup.tax_code)]
    invoice = NewInvoice(setup.customer_id, date(2026, 12, 2), date(2026, 12, 16), lines)
    made = us.provider.create_invoice(us.link, invoice, idempotency_key="key-1")
    assert [i["Id"] for i in us.driver.invoices_at_package(us.realm)] == [made.id] and made.total == Decimal(108)

    us.driver.lose_next_answer(Resource.PAYMENTS)
    payment = NewPayment(made.id, setup.payment_account_code, date(2026, 12, 3), Decimal(10))
    us.provider.record_payment(us.link, payment, idempotency_key="pay-1")
    assert len(us.driver.payments_at_package(us.realm)) == 1
    assert [c.status for c in us.driver.calls(Resource.PAYMENTS)] == [504, 200]

    us.driver.pay_at_package(us.realm, made.id)
    [paid] = us.provider.invoices(us.link, ids=[made.id])
    assert (paid.state, paid.amount_due, paid.amount_paid) == (InvoiceState.PAID, 0, Decimal(108))

    us.driver.fail_next(Resource.TAX_CODES, 500, times=us.driver.tries)
    with pytest.raises(Unavailable):
        us.provider.tax_rates(us.link)
    assert [c.status for c in us.driver.calls(Resource.TAX_CODES)][-3:] == [500, 500, 500]
