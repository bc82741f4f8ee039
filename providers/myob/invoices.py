"""MYOB's side of invoicing (`providers.invoicing.Invoicing` and `SalesTerms`): tax codes, service invoices and
customer payments by UID, and reading back the invoices we raised. Mixed into `MyobProvider`, whose authorised,
paced calls it uses.

MYOB takes no idempotency key, so a create is made findable instead: the invoice's Number (a payment's
ReceiptNumber) is worked out from our idempotency key (`invoice_mappers.record_numbers`), and its memo carries a
hash of the key. Before every create, and before trying again a create whose answer never came (a timeout, a dropped
connection, a 5xx), the record is looked up by that number: found, it is returned and nothing is made twice. A
number someone else already used (another record, not ours) moves on to the next of the key's numbers. MYOB keeps
invoice numbers unique, so even a first attempt MYOB was still committing while we looked makes the second attempt
refused as a duplicate number, and the look-up that follows finds the first.

MYOB has no draft sale invoice: what is created is an open invoice (owed) whether or not the bot asked for approval,
and it reads back as approved. Account codes ("4-1000") and tax codes ("GST") are turned into MYOB's UIDs from the
chart and the tax codes, kept per company file and fetched again when a code is not known or MYOB refuses one.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from providers.base import Account, Link, RateLimited, RateLimitScope, Unavailable
from providers.http import AuthorisedClient
from providers.invoicing import (
    Invoice,
    InvoiceLine,
    InvoiceRefused,
    NewInvoice,
    NewPayment,
    Payment,
    PaymentTerms,
    Refusal,
    TaxRate,
)
from providers.json_bodies import json_bytes, read_json
from providers.myob.errors import sales_allowed
from providers.myob.invoice_mappers import (
    INVOICE_PREFIX,
    PAYMENT_PREFIX,
    invoice_body,
    key_memo,
    payment_body,
    record_numbers,
    refusals,
    to_invoice,
    to_payment,
    to_sales_terms,
    to_tax_rate,
)
from providers.myob.settings import MyobSettings
from providers.myob.times import changed_since_filter

TAX_CODES_PATH = "/GeneralLedger/TaxCode"
INVOICES_PATH = "/Sale/Invoice"
SERVICE_INVOICES_PATH = "/Sale/Invoice/Service"
PAYMENTS_PATH = "/Sale/CustomerPayment"
PREFERENCES_PATH = "/Company/Preferences"
CUSTOMERS_PATH = "/Contact/Customer"
IDS_A_CALL = 15  # invoice UIDs asked for in one $filter, keeping the URL short
KEY_LIMIT = 255
# What MYOB answers a create it will not make, whatever the number of tries: a validation error, a conflict, or
# something it points to that was removed (410). Each is told to the person in MYOB's words.
REFUSALS = frozenset({400, 409, 410})
PER_SECOND_TRIES = 3  # a call refused by MYOB's per-second limit (nothing done) is tried again after its wait
T = TypeVar("T")
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


@dataclass
class _Codes:
    """A company file's account and tax code UIDs by code, as last fetched."""

    accounts: dict[str, str] = field(default_factory=dict)
    taxes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Kind:
    """What is created: where, where it is looked up, and which of its fields carry our number and memo."""

    create_path: str
    find_path: str
    number_field: str
    memo_field: str
    noun: str


_INVOICE = _Kind(SERVICE_INVOICES_PATH, INVOICES_PATH, "Number", "JournalMemo", "invoice")
_PAYMENT = _Kind(PAYMENTS_PATH, PAYMENTS_PATH, "ReceiptNumber", "Memo", "payment")


class MyobInvoicing:
    """Invoicing for `MyobProvider`; needs its `settings`, `zone`, `_api`, `_writes` (the same calls without
    retries: a create is retried here, after a look-up) and its paged GETs."""

    settings: MyobSettings
    zone: ZoneInfo
    _api: AuthorisedClient
    _writes: AuthorisedClient
    _sleep: Callable[[float], None]
    _codes: dict[str, _Codes]
    _codes_lock: threading.Lock

    def _start_invoicing(self) -> None:
        self._codes = {}
        self._codes_lock = threading.Lock()

    def accounts(self, link: Link) -> list[Account]:
        raise NotImplementedError  # MyobProvider's chart

    def _file_url(self, link: Link, path: str) -> str:
        raise NotImplementedError

    def _get(self, url: str, link: Link, params: Mapping[str, str] | None) -> dict[str, Any]:
        raise NotImplementedError

    def _next_page(self, body: Mapping[str, Any], link: Link) -> str | None:
        raise NotImplementedError

    # -- Invoicing -----------------------------------------------------------------------------

    def tax_rates(self, link: Link) -> list[TaxRate]:
        raws = list(self._items(link, TAX_CODES_PATH, {"$top": "1000"}))
        with self._codes_lock:
            self._codes.setdefault(link.organisation_id, _Codes()).taxes = {
                str(r["Code"]): str(r["UID"]) for r in raws if r.get("Code") and r.get("UID")
            }
        return [rate for raw in raws if (rate := to_tax_rate(raw)) is not None]

    def create_invoice(self, link: Link, invoice: NewInvoice, *, idempotency_key: str) -> Invoice:
        """A service invoice, its lines' totals rounded to the cent (see `invoice_mappers`); once per key."""
        _check_key(idempotency_key)
        accounts, taxes = self._line_uids(link, invoice.lines)
        memo = key_memo(idempotency_key, "Invoice")
        line_uids = list(zip(accounts, taxes, strict=True))
        for number in record_numbers(idempotency_key, INVOICE_PREFIX):
            body = invoice_body(invoice, number=number, memo=memo, accounts=accounts, taxes=taxes)
            raw = self._create(link, _INVOICE, number, memo, body, invoice.customer_id, line_uids)
            if raw is not None:
                return to_invoice(raw, self.zone)
        raise Unavailable("MYOB already has invoices with every number this one could take; try again later.")

    def record_payment(self, link: Link, payment: NewPayment, *, idempotency_key: str) -> Payment:
        """A customer payment applied to the invoice, deposited to the mapped account; once per key."""
        _check_key(idempotency_key)
        invoice = self._invoice(link, payment.invoice_id)
        if invoice is None:
            raise InvoiceRefused(
                "MYOB has no such invoice any more: it may have been deleted there.",
                refusals=[Refusal("MYOB has no such invoice any more.")],
            )
        customer = invoice.get("Customer")
        customer_uid = str(customer.get("UID") or "") if isinstance(customer, Mapping) else ""
        account_uid = self._uids(link, {payment.account_code}, set()).accounts.get(payment.account_code)
        if account_uid is None:
            words = _no_account(payment.account_code)
            raise InvoiceRefused(words, refusals=[Refusal(words, field="account")])
        memo = key_memo(idempotency_key, "Payment")
        for number in record_numbers(idempotency_key, PAYMENT_PREFIX):
            body = payment_body(
                number=number,
                memo=memo,
                account_uid=account_uid,
                customer_uid=customer_uid,
                invoice_uid=payment.invoice_id,
                day=payment.date,
                amount=payment.amount,
            )
            raw = self._create(link, _PAYMENT, number, memo, body, customer_uid, [])
            if raw is not None:
                return to_payment(raw, payment.invoice_id)
        raise Unavailable("MYOB already has payments with every number this one could take; try again later.")

    def invoices(self, link: Link, *, ids: Sequence[str], since: datetime | None = None) -> list[Invoice]:
        """Those of `ids` changed since `since` (from `MYOB_SYNC_OVERLAP` earlier: MYOB's times have no zone)."""
        uids = [uid for uid in ids if _GUID.fullmatch(uid)]
        changed = ""
        if since is not None:
            overlap = timedelta(seconds=self.settings.sync_overlap)
            changed = f" and {changed_since_filter(since, self.zone, overlap=overlap)}"
        found: list[Invoice] = []
        for start in range(0, len(uids), IDS_A_CALL):
            chosen = " or ".join(f"UID eq guid'{uid}'" for uid in uids[start : start + IDS_A_CALL])
            query = {"$filter": f"({chosen}){changed}", "$top": "1000"}
            found += [to_invoice(raw, self.zone) for raw in self._items(link, INVOICES_PATH, query) if raw.get("UID")]
        return found

    def invoice_url(self, link: Link, invoice_id: str) -> str:
        return f"{self.settings.web_url}/{link.organisation_id}/invoice/{invoice_id}"

    # -- SalesTerms ----------------------------------------------------------------------------

    def sales_terms(self, link: Link, *, customer_id: str | None) -> tuple[PaymentTerms | None, PaymentTerms | None]:
        """The customer card's `SellingDetails.Terms` and the company's sales preferences' `Terms`."""
        customers = None
        if customer_id and _GUID.fullmatch(customer_id):
            query = {"$filter": f"UID eq guid'{customer_id}'"}
            card = next(iter(self._items(link, CUSTOMERS_PATH, query)), None)
            selling = card.get("SellingDetails") if card else None
            customers = to_sales_terms(selling.get("Terms")) if isinstance(selling, Mapping) else None
        preferences = self._patiently(lambda: self._get(self._file_url(link, PREFERENCES_PATH), link, None))
        sales = preferences.get("Sales")
        return customers, to_sales_terms(sales.get("Terms")) if isinstance(sales, Mapping) else None

    # -- creating once -------------------------------------------------------------------------

    def _create(
        self,
        link: Link,
        kind: _Kind,
        number: str,
        memo: str,
        body: dict[str, Any],
        customer_uid: str,
        line_uids: Sequence[tuple[str, str | None]],
    ) -> dict[str, Any] | None:
        """The record made with `number`: found already, or created now (asked again, after another look, when
        the answer is lost). None: the number is another record's, not ours."""
        last: Unavailable | None = None
        for attempt in range(self.settings.retries + 1):
            if attempt:
                self._sleep(self.settings.backoff * 2 ** (attempt - 1))
            found = self._find(link, kind, number)
            if found is not None:
                return found if _ours(found, kind, memo, customer_uid) else None
            try:
                response = sales_allowed(
                    kind.create_path,
                    lambda: self._patiently(
                        lambda: self._writes.send(
                            "POST",
                            self._file_url(link, kind.create_path),
                            keeper=link.tokens,
                            organisation_id=link.organisation_id,
                            content=json_bytes(body),
                            allow=REFUSALS,
                        )
                    ),
                )
            except Unavailable as exc:  # no answer, a 5xx or a gateway's 504: MYOB may have made it
                last = exc
                continue
            if response.status_code in REFUSALS:
                answer = _json_or_none(response.content)
                if response.status_code == 400 and _number_taken(answer, kind.number_field):
                    found = self._find(link, kind, number)
                    return found if found is not None and _ours(found, kind, memo, customer_uid) else None
                self._forget(link)  # a code may have changed at MYOB since we fetched them
                found_refusals = refusals(answer, line_uids=line_uids)
                words = "; ".join(r.message for r in found_refusals) or "no reason given"
                status = response.status_code
                raise InvoiceRefused(f"MYOB refused it: {words}", refusals=found_refusals, status=status, detail=words)
            uid = _location_uid(response.headers.get("Location"))
            made = self._read(link, kind.create_path, uid) if uid else self._find(link, kind, number)
            if made is None:
                raise Unavailable(f"MYOB made the {kind.noun} but we could not read it back.", status=201)
            return made
        assert last is not None
        raise last

    def _patiently(self, call: Callable[[], T]) -> T:
        """`call()`, tried again after MYOB's per-second limit refused it (a 403 that did nothing: safe to repeat,
        even a create). Our own pacing keeps under the limit, but other processes share the key."""
        for attempt in range(1, PER_SECOND_TRIES + 1):
            try:
                return call()
            except RateLimited as exc:
                if exc.scope != RateLimitScope.SECOND or attempt == PER_SECOND_TRIES:
                    raise
                self._sleep(exc.retry_after)
        raise AssertionError("unreachable")

    def _find(self, link: Link, kind: _Kind, number: str) -> dict[str, Any] | None:
        query = {"$filter": f"{kind.number_field} eq '{number}'"}
        return next(iter(self._items(link, kind.find_path, query)), None)

    def _read(self, link: Link, path: str, uid: str) -> dict[str, Any] | None:
        body = sales_allowed(
            path, lambda: self._patiently(lambda: self._get(self._file_url(link, f"{path}/{uid}"), link, None))
        )
        return body if body.get("UID") else None

    def _invoice(self, link: Link, uid: str) -> dict[str, Any] | None:
        if not _GUID.fullmatch(uid):
            return None
        return next(iter(self._items(link, INVOICES_PATH, {"$filter": f"UID eq guid'{uid}'"})), None)

    def _items(self, link: Link, path: str, params: Mapping[str, str] | None) -> Iterator[dict[str, Any]]:
        url: str | None = self._file_url(link, path)
        while url:
            body = sales_allowed(path, partial(self._patiently, partial(self._get, url, link, params)))
            items = body.get("Items")
            if not isinstance(items, list):
                raise Unavailable("MYOB sent a page we could not read.", status=200)
            yield from (item for item in items if isinstance(item, dict))
            url, params = self._next_page(body, link), None

    # -- codes to UIDs -------------------------------------------------------------------------

    def _line_uids(self, link: Link, lines: Sequence[InvoiceLine]) -> tuple[list[str], list[str | None]]:
        """Each line's account UID and tax code UID (None: the account's own), or InvoiceRefused naming the lines
        whose codes MYOB does not have."""
        wanted_taxes = {line.tax_code for line in lines if line.tax_code}
        codes = self._uids(link, {line.account_code for line in lines}, wanted_taxes)
        problems: list[Refusal] = []
        accounts: list[str] = []
        taxes: list[str | None] = []
        for index, line in enumerate(lines):
            account = codes.accounts.get(line.account_code)
            if account is None:
                problems.append(Refusal(_no_account(line.account_code), line=index, field="account"))
            tax = codes.taxes.get(line.tax_code) if line.tax_code else None
            if line.tax_code and tax is None:
                words = f"MYOB has no tax code {line.tax_code} any more: choose another tax code."
                problems.append(Refusal(words, line=index, field="tax"))
            accounts.append(account or "")
            taxes.append(tax)
        if problems:
            raise InvoiceRefused("; ".join(p.message for p in problems), refusals=problems)
        return accounts, taxes

    def _uids(self, link: Link, accounts: set[str], taxes: set[str]) -> _Codes:
        with self._codes_lock:
            known = self._codes.setdefault(link.organisation_id, _Codes())
            stale_accounts, stale_taxes = bool(accounts - known.accounts.keys()), bool(taxes - known.taxes.keys())
        if stale_accounts:
            fetched = {a.code: a.id for a in self.accounts(link) if a.code and a.active}
            with self._codes_lock:
                known.accounts = fetched
        if stale_taxes:
            self.tax_rates(link)
        return known

    def _forget(self, link: Link) -> None:
        with self._codes_lock:
            self._codes.pop(link.organisation_id, None)


def _check_key(key: str) -> None:
    if not 0 < len(key) <= KEY_LIMIT:
        raise ValueError(f"an idempotency key is 1 to {KEY_LIMIT} characters")


def _no_account(code: str) -> str:
    return f"MYOB has no active account {code} any more: choose another account for this category in the mapping."


def _ours(found: Mapping[str, Any], kind: _Kind, memo: str, customer_uid: str) -> bool:
    """A record with our number is ours when it carries our memo, or (someone edited the memo in MYOB) is for
    the same customer: a number worked out of our key is nobody else's for that customer."""
    customer = found.get("Customer")
    uid = customer.get("UID") if isinstance(customer, Mapping) else None
    return found.get(kind.memo_field) == memo or (bool(customer_uid) and str(uid).lower() == customer_uid.lower())


def _number_taken(answer: Any, number_field: str) -> bool:
    errors = answer.get("Errors") if isinstance(answer, Mapping) else None
    for error in errors if isinstance(errors, list) else ():
        if not isinstance(error, Mapping):
            continue
        details = str(error.get("AdditionalDetails") or "")
        message = str(error.get("Message") or "").lower()
        if (details == number_field or "number" in message) and any(
            w in message for w in ("already", "duplicate", "in use", "exists")
        ):
            return True
    return False


def _location_uid(location: str | None) -> str | None:
    """The UID at the end of a create's Location; we read it back from our own company-file URL, never from a
    host the header names."""
    tail = (location or "").rstrip("/").rsplit("/", 1)[-1]
    return tail if _GUID.fullmatch(tail) else None


def _json_or_none(content: bytes) -> Any:
    try:
        return read_json(content)
    except ValueError:
        return None
