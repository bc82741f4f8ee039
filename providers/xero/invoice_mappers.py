"""Pure translation of Xero's tax rates, invoices and payments to and from our `providers.invoicing` records.

Xero keeps money as decimal numbers; they are read as `Decimal` from their JSON text, never through a float.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from providers.base import AccountKind
from providers.invoicing import (
    AmountsAre,
    Invoice,
    InvoiceState,
    NewInvoice,
    NewPayment,
    Payment,
    PaymentTerms,
    Refusal,
    TaxRate,
    TermsKind,
    cents,
    money,
)
from providers.xero.mappers import parse_xero_date

# Xero's CanApplyTo... flags, and the kinds of our accounts each covers.
SUITS_BY_FLAG: dict[str, frozenset[AccountKind]] = {
    "CanApplyToRevenue": frozenset({AccountKind.INCOME, AccountKind.OTHER_INCOME}),
    "CanApplyToExpenses": frozenset({AccountKind.EXPENSE, AccountKind.COST_OF_SALES}),
    "CanApplyToAssets": frozenset({AccountKind.ASSET, AccountKind.BANK}),
    "CanApplyToLiabilities": frozenset({AccountKind.LIABILITY}),
    "CanApplyToEquity": frozenset({AccountKind.EQUITY}),
}
STATES = {
    "DRAFT": InvoiceState.DRAFT,
    "SUBMITTED": InvoiceState.SUBMITTED,
    "AUTHORISED": InvoiceState.APPROVED,
    "PAID": InvoiceState.PAID,
    "VOIDED": InvoiceState.VOIDED,
    "DELETED": InvoiceState.DELETED,
}
TERMS_KINDS = {
    "DAYSAFTERBILLDATE": TermsKind.DAYS_AFTER_DATE,
    "DAYSAFTERBILLMONTH": TermsKind.DAYS_AFTER_MONTH_END,
    "OFCURRENTMONTH": TermsKind.DAY_OF_MONTH,
    "OFFOLLOWINGMONTH": TermsKind.DAY_OF_NEXT_MONTH,
}
MAX_TERMS_DAYS = 3660  # ten years: anything longer is not a payment term a person meant
LINE_AMOUNT_TYPES = {AmountsAre.EXCLUSIVE: "Exclusive", AmountsAre.INCLUSIVE: "Inclusive"}


def to_sales_terms(raw: Mapping[str, Any]) -> PaymentTerms | None:
    """The sales payment terms of an Organisation or a Contact (`PaymentTerms.Sales`), or None where it has none
    (or ones we cannot read)."""
    terms = raw.get("PaymentTerms")
    sales = terms.get("Sales") if isinstance(terms, Mapping) else None
    if not isinstance(sales, Mapping):
        return None
    day, kind = sales.get("Day"), TERMS_KINDS.get(str(sales.get("Type")))
    if kind is None or type(day) is not int or not 0 <= day <= MAX_TERMS_DAYS:
        return None
    if kind in (TermsKind.DAY_OF_MONTH, TermsKind.DAY_OF_NEXT_MONTH) and not 1 <= day <= 31:
        return None
    return PaymentTerms(day=day, kind=kind)


def to_tax_rate(raw: Mapping[str, Any]) -> TaxRate | None:
    """A TaxRate, or None for one without a TaxType. Where Xero says none of the CanApplyTo flags, any account."""
    code = raw.get("TaxType")
    if not isinstance(code, str) or not code.strip():
        return None
    suits = frozenset(kind for flag, kinds in SUITS_BY_FLAG.items() if raw.get(flag) is True for kind in kinds)
    return TaxRate(
        code=code.strip()[:64],
        name=str(raw.get("Name") or code)[:255],
        rate=money(raw.get("EffectiveRate", raw.get("DisplayTaxRate"))),
        active=raw.get("Status", "ACTIVE") == "ACTIVE",
        suits=suits,
    )


def invoice_body(invoice: NewInvoice) -> dict[str, Any]:
    """The body of `PUT /Invoices` for one ACCREC invoice (amounts stay Decimal: `providers.http.json_bytes`)."""
    lines = []
    for line in invoice.lines:
        item: dict[str, Any] = {
            "Description": line.description,
            "Quantity": line.quantity,
            "UnitAmount": line.unit_price,
            "AccountCode": line.account_code,
        }
        if line.tax_code:
            item["TaxType"] = line.tax_code
        lines.append(item)
    body: dict[str, Any] = {
        "Type": "ACCREC",
        "Contact": {"ContactID": invoice.customer_id},
        "Date": invoice.date.isoformat(),
        "DueDate": invoice.due_date.isoformat(),
        "LineAmountTypes": LINE_AMOUNT_TYPES[invoice.amounts_are],
        "LineItems": lines,
        "Status": "AUTHORISED" if invoice.approve else "DRAFT",
    }
    if invoice.reference:
        body["Reference"] = invoice.reference
    return {"Invoices": [body]}


def payment_body(payment: NewPayment) -> dict[str, Any]:
    return {
        "Payments": [
            {
                "Invoice": {"InvoiceID": payment.invoice_id},
                "Account": {"Code": payment.account_code},
                "Date": payment.date.isoformat(),
                "Amount": payment.amount,
            }
        ]
    }


def to_invoice(raw: Mapping[str, Any]) -> Invoice:
    contact = raw.get("Contact")
    contact = contact if isinstance(contact, Mapping) else {}
    due = parse_xero_date(raw.get("DueDate"))
    return Invoice(
        id=str(raw["InvoiceID"]),
        number=str(raw["InvoiceNumber"]) if raw.get("InvoiceNumber") else None,
        state=STATES.get(str(raw.get("Status")), InvoiceState.DRAFT),
        customer_id=str(contact.get("ContactID") or ""),
        currency=str(raw["CurrencyCode"]) if raw.get("CurrencyCode") else None,
        subtotal=cents(raw.get("SubTotal")),
        tax=cents(raw.get("TotalTax")),
        total=cents(raw.get("Total")),
        amount_due=cents(raw.get("AmountDue")),
        amount_paid=cents(raw.get("AmountPaid")),
        due_date=due.date() if due else None,
        updated_at=parse_xero_date(raw.get("UpdatedDateUTC")),
    )


def to_payment(raw: Mapping[str, Any]) -> Payment:
    invoice = raw.get("Invoice")
    invoice = invoice if isinstance(invoice, Mapping) else {}
    return Payment(
        id=str(raw["PaymentID"]), invoice_id=str(invoice.get("InvoiceID") or ""), amount=cents(raw.get("Amount"))
    )


def refusals(body: Any, invoice: NewInvoice | None = None) -> list[Refusal]:
    """What a ValidationException refused, each with the field (and the line, where it can tell) it concerns."""
    found: list[Refusal] = []
    elements = body.get("Elements") if isinstance(body, Mapping) else None
    for element in elements if isinstance(elements, list) else ():
        if not isinstance(element, Mapping):
            continue
        seen = set()
        items = element.get("LineItems")
        for index, item in enumerate(items if isinstance(items, list) else ()):
            for message in _messages(item):
                seen.add(message)
                found.append(Refusal(message, line=index, field=_field_of(message)))
        for message in _messages(element):
            if message not in seen:
                found.append(Refusal(message, line=_line_of(message, invoice), field=_field_of(message)))
    if not found and isinstance(body, Mapping) and body.get("Message"):
        found.append(Refusal(str(body["Message"])))
    return found


def _messages(record: Any) -> list[str]:
    errors = record.get("ValidationErrors") if isinstance(record, Mapping) else None
    return (
        [str(e["Message"]) for e in errors if isinstance(e, Mapping) and e.get("Message")]
        if isinstance(errors, list)
        else []
    )


_FIELD_WORDS = (
    ("taxtype", "tax"),
    ("tax type", "tax"),
    ("account code", "account"),
    ("accountcode", "account"),
    ("contact", "customer"),
    ("due date", "due_date"),
    ("duedate", "due_date"),
    ("date", "date"),
    ("reference", "reference"),
    ("amount", "amount"),
    ("payment", "amount"),
)


def _field_of(message: str) -> str | None:
    lowered = message.lower()
    return next((field for words, field in _FIELD_WORDS if words in lowered), None)


def _line_of(message: str, invoice: NewInvoice | None) -> int | None:
    """The line a message names by its quoted account or tax code, when exactly one line has it."""
    if invoice is None:
        return None
    quoted = set(re.findall(r"'([^']*)'", message))
    lines = [
        index
        for index, line in enumerate(invoice.lines)
        if line.account_code in quoted or (line.tax_code is not None and line.tax_code in quoted)
    ]
    return lines[0] if len(lines) == 1 else None
