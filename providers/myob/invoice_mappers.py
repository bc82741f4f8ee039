"""Pure translation of MYOB's tax codes, service invoices and customer payments to and from our
`providers.invoicing` records, and the invoice numbers that make a create findable again.

MYOB keeps money as decimal numbers; they are read as `Decimal` from their JSON text, never through a float. A
service invoice line (`ServiceInvoiceLine` in the SDK's contracts) carries `UnitCount` and `UnitPrice` (decimals,
no scale given) beside its `Total`: the quantity and unit price go as they were typed (a unit price of 33.335 stays
33.335) and the `Total`, what MYOB posts and taxes, is quantity × unit price rounded to the cent, half away from
zero (as `bot.invoices.money` works out the preview).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from providers.base import AccountKind
from providers.invoicing import (
    CENT,
    AmountsAre,
    Invoice,
    InvoiceLine,
    InvoiceState,
    NewInvoice,
    Payment,
    PaymentTerms,
    Refusal,
    TaxRate,
    TermsKind,
    cents,
    money,
)
from providers.myob.times import parse_myob_time

# AccountRight's invoice (and receipt) numbers are short: eight characters is what its forms take (second-hand; the
# SDK's contracts give no length). Ours are a letter and seven characters of a hash of the idempotency key.
NUMBER_LIMIT = 8
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32: no I, L, O or U to misread
INVOICE_PREFIX, PAYMENT_PREFIX = "S", "R"
NUMBER_CANDIDATES = 4  # numbers tried in turn when one is already taken by a record that is not ours
DESCRIPTION_LIMIT = 255
TERMS_KINDS = {
    "InAGivenNumberOfDays": TermsKind.DAYS_AFTER_DATE,
    "NumberOfDaysAfterEOM": TermsKind.DAYS_AFTER_MONTH_END,
    "OnADayOfTheMonth": TermsKind.DAY_OF_MONTH,
    "DayOfMonthAfterEOM": TermsKind.DAY_OF_NEXT_MONTH,
}
DUE_AT_ONCE = frozenset({"CashOnDelivery", "Prepaid"})
MAX_TERMS_DAYS = 3660
# Tax codes only purchases take (withholding from a supplier without an ABN, import duty, luxury car tax): MYOB
# refuses them on a sale, so they suit only the accounts purchases post to. The rest: MYOB says nothing, so any.
PURCHASE_ONLY_TYPES = frozenset({"NoABN_TFN", "WithholdingsTax", "ImportDuty", "LuxuryCarTax"})
PURCHASE_KINDS = frozenset({AccountKind.EXPENSE, AccountKind.COST_OF_SALES, AccountKind.ASSET})


def line_total(line: InvoiceLine) -> Decimal:
    """What a service line's `Total` carries: quantity × unit price, to the cent, half away from zero."""
    return (line.quantity * line.unit_price).quantize(CENT, rounding=ROUND_HALF_UP)


def line_description(line: InvoiceLine) -> str:
    return line.description[:DESCRIPTION_LIMIT]


def record_numbers(key: str, prefix: str) -> list[str]:
    """The numbers a record made with `key` may carry, in the order they are tried: the same for every attempt
    with the key, so a retry looks for exactly the numbers the first attempt could have used."""
    numbers = []
    for attempt in range(NUMBER_CANDIDATES):
        digest = int.from_bytes(hashlib.sha256(f"{key}#{attempt}".encode()).digest()[:8], "big")
        chars = []
        for _ in range(NUMBER_LIMIT - len(prefix)):
            digest, index = divmod(digest, len(NUMBER_ALPHABET))
            chars.append(NUMBER_ALPHABET[index])
        numbers.append(prefix + "".join(chars))
    return numbers


def key_memo(key: str, what: str) -> str:
    """A memo that says which of our records this is (a hash of the key, never the key itself)."""
    return f"{what} raised from Slack, ref {hashlib.sha256(key.encode()).hexdigest()[:16]}"


def to_tax_rate(raw: Mapping[str, Any]) -> TaxRate | None:
    """A TaxCode, or None for one without a Code. MYOB keeps no inactive flag; a code whose rate counts negative
    (withholding) reads as a negative rate, and one only purchases take suits only purchases' accounts."""
    code = raw.get("Code")
    if not isinstance(code, str) or not code.strip():
        return None
    rate = money(raw.get("Rate"))
    if raw.get("IsRateNegative") is True:
        rate = -abs(rate)
    suits = PURCHASE_KINDS if raw.get("Type") in PURCHASE_ONLY_TYPES else frozenset()
    return TaxRate(code=code.strip()[:64], name=str(raw.get("Description") or code)[:255], rate=rate, suits=suits)


def invoice_body(
    invoice: NewInvoice,
    *,
    number: str,
    memo: str,
    accounts: Sequence[str],
    taxes: Sequence[str | None],
) -> dict[str, Any]:
    """The body of `POST Sale/Invoice/Service`, each line's account and tax code by UID (`accounts`, `taxes`: one
    a line; a None tax code takes the account's own). The due date goes as terms of so many days after the date."""
    lines = []
    for line, account_uid, tax_uid in zip(invoice.lines, accounts, taxes, strict=True):
        item: dict[str, Any] = {
            "Type": "Transaction",
            "Description": line_description(line),
            "UnitCount": line.quantity,
            "UnitPrice": line.unit_price,
            "Total": line_total(line),
            "Account": {"UID": account_uid},
        }
        if tax_uid:
            item["TaxCode"] = {"UID": tax_uid}
        lines.append(item)
    days = max(0, (invoice.due_date - invoice.date).days)
    body: dict[str, Any] = {
        "Number": number,
        "Date": f"{invoice.date.isoformat()}T00:00:00",
        "Customer": {"UID": invoice.customer_id},
        "IsTaxInclusive": invoice.amounts_are == AmountsAre.INCLUSIVE,
        "Lines": lines,
        "Terms": {"PaymentIsDue": "InAGivenNumberOfDays", "BalanceDueDate": days},
        "JournalMemo": memo,
    }
    if invoice.reference:
        body["CustomerPurchaseOrderNumber"] = invoice.reference[:20]  # AccountRight's "Customer PO No." is 20
    return body


def payment_body(
    *, number: str, memo: str, account_uid: str, customer_uid: str, invoice_uid: str, day: date, amount: Decimal
) -> dict[str, Any]:
    return {
        "DepositTo": "Account",
        "Account": {"UID": account_uid},
        "Customer": {"UID": customer_uid},
        "ReceiptNumber": number,
        "Date": f"{day.isoformat()}T00:00:00",
        "AmountReceived": amount,
        "Memo": memo,
        "Invoices": [{"UID": invoice_uid, "AmountApplied": amount, "Type": "Invoice"}],
    }


def invoice_state(raw: Mapping[str, Any]) -> InvoiceState:
    """Open with money owed: approved (MYOB has no draft sale invoice); Closed, or Credit (overpaid): paid."""
    status = raw.get("Status")
    if status in ("Closed", "Credit"):
        return InvoiceState.PAID
    return InvoiceState.APPROVED


def to_invoice(raw: Mapping[str, Any], zone: ZoneInfo) -> Invoice:
    customer = raw.get("Customer")
    customer = customer if isinstance(customer, Mapping) else {}
    terms = raw.get("Terms")
    total, due_amount = cents(raw.get("TotalAmount")), cents(raw.get("BalanceDueAmount"))
    tax = cents(raw.get("TotalTax"))
    return Invoice(
        id=str(raw["UID"]),
        number=str(raw["Number"]) if raw.get("Number") else None,
        state=invoice_state(raw),
        customer_id=str(customer.get("UID") or ""),
        currency=None,  # the company file's own; MYOB names it only for foreign-currency sales
        subtotal=total - tax,
        tax=tax,
        total=total,
        amount_due=max(due_amount, Decimal(0)),
        amount_paid=total - due_amount,
        due_date=_local_date(terms.get("DueDate")) if isinstance(terms, Mapping) else None,
        updated_at=parse_myob_time(raw.get("LastModified"), zone),
    )


def _local_date(value: Any) -> date | None:
    """The date part of a MYOB time as written (a due date is a day in the file's own calendar)."""
    if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def to_payment(raw: Mapping[str, Any], invoice_uid: str) -> Payment:
    return Payment(id=str(raw["UID"]), invoice_id=invoice_uid, amount=cents(raw.get("AmountReceived")))


def to_sales_terms(raw: Any) -> PaymentTerms | None:
    """A customer's `SellingDetails.Terms` or the company's `Sales.Terms`: None where they say nothing we can use."""
    if not isinstance(raw, Mapping):
        return None
    kind_name, day = raw.get("PaymentIsDue"), raw.get("BalanceDueDate")
    if kind_name in DUE_AT_ONCE:
        return PaymentTerms(day=0, kind=TermsKind.DAYS_AFTER_DATE)
    kind = TERMS_KINDS.get(str(kind_name))
    if kind is None or type(day) is not int or not 0 <= day <= MAX_TERMS_DAYS:
        return None
    if kind in (TermsKind.DAY_OF_MONTH, TermsKind.DAY_OF_NEXT_MONTH) and not 1 <= day <= 31:
        return None
    return PaymentTerms(day=day, kind=kind)


_LINE_INDEX = re.compile(r"\b(?:Lines|Invoices)\[(\d+)\]", re.IGNORECASE)
_FIELD_WORDS = (
    ("taxcode", "tax"),
    ("tax code", "tax"),
    ("account", "account"),
    ("customer", "customer"),
    ("terms", "due_date"),
    ("due", "due_date"),
    ("date", "date"),
    ("customerpurchaseordernumber", "reference"),
    ("purchase order", "reference"),
    ("amount", "amount"),
    ("total", "amount"),
)


def refusals(body: Any, *, line_uids: Sequence[tuple[str, str | None]] = ()) -> list[Refusal]:
    """What a 400's `Errors` refused, each with the field (and the line, where it can tell) it concerns: the line
    from `Lines[n]` in its details, or from the account or tax code UID it names (`line_uids`: ours, a line each)."""
    errors = body.get("Errors") if isinstance(body, Mapping) else None
    found: list[Refusal] = []
    for error in errors if isinstance(errors, list) else ():
        if not isinstance(error, Mapping):
            continue
        message = " ".join(str(error[k]) for k in ("Message",) if error.get(k)).strip() or str(error.get("Name") or "")
        details = str(error.get("AdditionalDetails") or "")
        if not message:
            continue
        both = f"{details} {message}"
        found.append(Refusal(message, line=_line_of(both, line_uids), field=_field_of(details) or _field_of(message)))
    return found


def _field_of(text: str) -> str | None:
    lowered = _LINE_INDEX.sub("", text).lower()
    return next((field for words, field in _FIELD_WORDS if words in lowered), None)


def _line_of(text: str, line_uids: Sequence[tuple[str, str | None]]) -> int | None:
    if (m := _LINE_INDEX.search(text)) and text[m.start() : m.start() + 5].lower() == "lines":
        index = int(m[1])
        return index if index < len(line_uids) or not line_uids else None
    lowered = text.lower()
    named = [i for i, (account, tax) in enumerate(line_uids) if account.lower() in lowered or _named(tax, lowered)]
    return named[0] if len(set(named)) == 1 else None


def _named(uid: str | None, lowered: str) -> bool:
    return bool(uid) and str(uid).lower() in lowered
