"""Pure translation of QuickBooks Online's tax codes, terms, invoices and payments to and from our
`providers.invoicing` records, and of its validation faults into refusals by line and field.

Tax: outside the US a line carries a TaxCode's Id and the invoice says whether prices include tax
(`GlobalTaxCalculation`); a TaxCode's rate is the sum of the TaxRates in its `SalesTaxRateList`. A US company's
lines carry only `TAX` or `NON`, and the invoice names one sales tax code (`TxnTaxDetail.TxnTaxCodeRef`) whose rate
applies to its taxable lines; we offer each of its sales tax codes as `TAX:<Id>` and `NON` for untaxed lines.
Money is read as `Decimal` from the JSON text, never through a float.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from providers.invoicing import (
    CENT,
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
from providers.quickbooks.mappers import parse_time

REQUEST_ID_LIMIT = 50  # Intuit's longest requestid
US_TAXABLE, US_UNTAXED = "TAX", "NON"
ITEM_NAME_LIMIT = 100
GLOBAL_TAX = {AmountsAre.EXCLUSIVE: "TaxExcluded", AmountsAre.INCLUSIVE: "TaxInclusive"}


def request_id(kind: str, idempotency_key: str) -> str:
    """The `requestid` for a write: the same for the same key, at most 50 characters, unique per kind of write."""
    if not idempotency_key:
        raise ValueError("an idempotency key is needed")
    return hashlib.sha256(f"{kind}:{idempotency_key}".encode()).hexdigest()[:REQUEST_ID_LIMIT]


def _ref(raw: Any) -> str | None:
    value = raw.get("value") if isinstance(raw, Mapping) else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None


def _rate_ids(tax_code: Mapping[str, Any], key: str) -> list[str]:
    listed = tax_code.get(key)
    details = listed.get("TaxRateDetail") if isinstance(listed, Mapping) else None
    return (
        [r for d in details if (r := _ref(d.get("TaxRateRef") if isinstance(d, Mapping) else None))]
        if (isinstance(details, list))
        else []
    )


def to_tax_rates(tax_codes: Sequence[Any], tax_rates: Sequence[Any], *, us: bool) -> list[TaxRate]:
    """The company's tax codes for sales lines as ours: hidden codes and purchase-only ones left out, a code's rate
    the sum of the sales TaxRates it lists. QuickBooks does not tie a tax code to kinds of account, so each suits
    any. A US company gets `NON` and a `TAX:<Id>` per sales tax code."""
    percent = {
        str(r["Id"]): money(r.get("RateValue")) for r in tax_rates if isinstance(r, Mapping) and r.get("Id") is not None
    }
    found: list[TaxRate] = [TaxRate(code=US_UNTAXED, name="Not taxable", rate=Decimal(0))] if us else []
    for raw in tax_codes:
        if not isinstance(raw, Mapping) or raw.get("Id") is None or raw.get("Hidden") is True:
            continue
        code, name = str(raw["Id"]), str(raw.get("Name") or raw["Id"])[:255]
        sales = _rate_ids(raw, "SalesTaxRateList")
        if code in (US_TAXABLE, US_UNTAXED) or not sales:
            continue  # the US pseudo-codes, where a company lists them, are offered above; purchase-only: no sales
        rate = sum((percent.get(i, Decimal(0)) for i in sales), Decimal(0))
        active = raw.get("Active") is not False
        found.append(TaxRate(f"{US_TAXABLE}:{code}" if us else code, f"Taxable, {name}" if us else name, rate, active))
    return found


def to_terms(raw: Mapping[str, Any]) -> PaymentTerms | None:
    """A Term: STANDARD counts `DueDays` from the invoice date; DATE_DRIVEN is due on `DayOfMonthDue` (of the next
    month, as we read it: QuickBooks moves it there when the invoice is issued within `DueNextMonthDays` of it)."""
    if raw.get("Active") is False:
        return None
    if raw.get("Type") == "DATE_DRIVEN":
        day = raw.get("DayOfMonthDue")
        if type(day) is int and 1 <= day <= 31:
            return PaymentTerms(day=day, kind=TermsKind.DAY_OF_NEXT_MONTH)
        return None
    days = raw.get("DueDays")
    return PaymentTerms(day=days, kind=TermsKind.DAYS_AFTER_DATE) if type(days) is int and 0 <= days <= 3660 else None


def item_name(account_name: str) -> str:
    """The service Item an account's lines go through: named after the account (a colon marks sub-items in
    QuickBooks, so a sub-account's "Parent:Child" becomes "Parent - Child")."""
    name = re.sub(r"\s+", " ", account_name.replace(":", " - ")).strip()
    return name[:ITEM_NAME_LIMIT].rstrip() or "Sales"


def item_body(name: str, account_id: str) -> dict[str, Any]:
    return {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": account_id}}


def line_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """A line's Amount as QuickBooks checks it: quantity × unit price to the cent, half away from zero."""
    return (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def invoice_body(invoice: NewInvoice, items: Sequence[str], *, us: bool) -> dict[str, Any]:
    """The body of `POST /invoice`: one SalesItemLineDetail line per line, through `items` (an Item Id per line).
    The reference goes in the customer-facing memo and the private note. Amounts stay Decimal (`json_bytes`)."""
    lines: list[dict[str, Any]] = []
    sales_code: str | None = None
    for line, item in zip(invoice.lines, items, strict=True):
        detail: dict[str, Any] = {"ItemRef": {"value": item}, "UnitPrice": line.unit_price, "Qty": line.quantity}
        amount = line_amount(line.quantity, line.unit_price)
        if line.tax_code:
            if us and line.tax_code.startswith(f"{US_TAXABLE}:"):
                detail["TaxCodeRef"] = {"value": US_TAXABLE}
                sales_code = line.tax_code.split(":", 1)[1]
            else:  # a TaxCode's Id, or a US company's TAX or NON (anything else is QuickBooks' to refuse)
                detail["TaxCodeRef"] = {"value": line.tax_code}
        if invoice.amounts_are is AmountsAre.INCLUSIVE and not us:
            detail["TaxInclusiveAmt"] = amount
        lines.append(
            {
                "Description": line.description,
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": detail,
            }
        )
    body: dict[str, Any] = {
        "TxnDate": invoice.date.isoformat(),
        "Line": lines,
        "CustomerRef": {"value": invoice.customer_id},
        "DueDate": invoice.due_date.isoformat(),
    }
    if invoice.reference:
        body["PrivateNote"] = invoice.reference[:4000]
        body["CustomerMemo"] = {"value": invoice.reference[:1000]}
    if us and sales_code:
        body["TxnTaxDetail"] = {"TxnTaxCodeRef": {"value": sales_code}}
    if not us:
        body["GlobalTaxCalculation"] = GLOBAL_TAX[invoice.amounts_are]
    return _ordered(body)


_INVOICE_ORDER = ("TxnDate", "PrivateNote", "Line", "TxnTaxDetail", "CustomerRef", "CustomerMemo", "DueDate")


def _ordered(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in (*_INVOICE_ORDER, *body) if k in body}


def us_sales_codes(invoice: NewInvoice) -> dict[str, list[int]]:
    """A US invoice's sales tax codes (`TAX:<Id>`) and the lines carrying each: QuickBooks takes one an invoice."""
    found: dict[str, list[int]] = {}
    for index, line in enumerate(invoice.lines):
        if line.tax_code and line.tax_code.startswith(f"{US_TAXABLE}:"):
            found.setdefault(line.tax_code, []).append(index)
    return found


def payment_body(payment: NewPayment, *, customer_id: str, deposit_account_id: str) -> dict[str, Any]:
    return {
        "TxnDate": payment.date.isoformat(),
        "Line": [{"Amount": payment.amount, "LinkedTxn": [{"TxnId": payment.invoice_id, "TxnType": "Invoice"}]}],
        "CustomerRef": {"value": customer_id},
        "DepositToAccountRef": {"value": deposit_account_id},
        "TotalAmt": payment.amount,
    }


def is_voided(raw: Mapping[str, Any]) -> bool:
    """QuickBooks keeps a voided invoice with every amount zero and "Voided" in its private note."""
    note = raw.get("PrivateNote")
    return isinstance(note, str) and note.strip().lower().startswith("voided") and money(raw.get("TotalAmt")) == 0


def to_invoice(raw: Mapping[str, Any]) -> Invoice:
    """QuickBooks has no drafts: an invoice is open (approved) from the start, paid at Balance 0."""
    total, balance = cents(raw.get("TotalAmt")), cents(raw.get("Balance", raw.get("TotalAmt")))
    detail = raw.get("TxnTaxDetail")
    tax = cents(detail.get("TotalTax")) if isinstance(detail, Mapping) else Decimal("0.00")
    if raw.get("status") == "Deleted":
        state = InvoiceState.DELETED
    elif is_voided(raw):
        state = InvoiceState.VOIDED
    elif balance <= 0 and total > 0:
        state = InvoiceState.PAID
    else:
        state = InvoiceState.APPROVED
    metadata = raw.get("MetaData")
    due = raw.get("DueDate")
    return Invoice(
        id=str(raw["Id"]),
        number=str(raw["DocNumber"]) if raw.get("DocNumber") else None,
        state=state,
        customer_id=_ref(raw.get("CustomerRef")) or "",
        currency=_ref(raw.get("CurrencyRef")),
        subtotal=total - tax,
        tax=tax,
        total=total,
        amount_due=balance,
        amount_paid=total - balance,
        due_date=_day(due),
        updated_at=parse_time(metadata.get("LastUpdatedTime")) if isinstance(metadata, Mapping) else None,
    )


def deleted_invoice(invoice_id: str) -> Invoice:
    """What change data capture says of an invoice deleted for good: only its id."""
    zero = Decimal("0.00")
    return Invoice(invoice_id, None, InvoiceState.DELETED, "", None, zero, zero, zero, zero, zero)


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if isinstance(value, str) else None
    except ValueError:
        return None


def to_payment(raw: Mapping[str, Any], invoice_id: str) -> Payment:
    return Payment(id=str(raw["Id"]), invoice_id=invoice_id, amount=cents(raw.get("TotalAmt")))


# Where a fault's `element` points, as our fields: the first match of the element's (lower-cased) path.
_ELEMENT_FIELDS = (
    ("customerref", "customer"),
    ("duedate", "due_date"),
    ("txndate", "date"),
    ("privatenote", "reference"),
    ("customermemo", "reference"),
    ("taxcoderef", "tax"),
    ("txntaxdetail", "tax"),
    ("itemref", "account"),
    ("incomeaccountref", "account"),
    ("deposittoaccountref", "account"),
    ("unitprice", "amount"),
    ("qty", "amount"),
    ("amount", "amount"),
    ("totalamt", "amount"),
    ("linkedtxn", "amount"),
)
_WORD_FIELDS = (("tax", "tax"), ("customer", "customer"), ("due date", "due_date"), ("account", "account"))


def fault_errors(body: Any) -> list[Mapping[str, Any]]:
    envelope = body.get("Fault") if isinstance(body, Mapping) else None
    errors = envelope.get("Error") if isinstance(envelope, Mapping) else None
    return [e for e in errors if isinstance(e, Mapping)] if isinstance(errors, list) else []


def refusals(body: Any, invoice: NewInvoice | None = None, *, items: Sequence[str] = ()) -> list[Refusal]:
    """Each error of a ValidationFault as a refusal: the field its `element` (or failing that its words) names,
    and the line, where the element carries a line number or its words name what only one line has."""
    found = []
    for error in fault_errors(body):
        message, detail = str(error.get("Message") or ""), str(error.get("Detail") or "")
        words = detail or message or "no reason given"
        element = str(error.get("element") or "")
        lowered = element.lower()
        field = next((f for key, f in _ELEMENT_FIELDS if key in lowered), None)
        if field is None:
            text = words.lower()
            field = next((f for key, f in _WORD_FIELDS if key in text), None)
        found.append(Refusal(words[:1000], line=_line_of(element, words, invoice, items), field=field))
    return found


_LINE_NUMBER = re.compile(r"line\[?\s*(\d+)\]?", re.I)


def _line_of(element: str, words: str, invoice: NewInvoice | None, items: Sequence[str]) -> int | None:
    if invoice is None:
        return None
    numbered = _LINE_NUMBER.search(element)
    if numbered and 0 <= int(numbered.group(1)) < len(invoice.lines):
        return int(numbered.group(1))
    named = set(re.findall(r"[\w-]+", words))
    lines = [
        index
        for index, line in enumerate(invoice.lines)
        if (index < len(items) and "item" in words.lower() and items[index] in named)
        or (line.tax_code is not None and (line.tax_code in named or line.tax_code.split(":")[-1] in named))
    ]
    return lines[0] if len(set(lines)) == 1 else None
