"""QuickBooks Online's side of invoicing (`providers.invoicing.Invoicing` and `SalesTerms`): tax codes, invoices
whose lines go through one service Item per income account (found, or made once and remembered), payments linked
to the invoice, and reading back the invoices we raised (change data capture since the last look, or a query).

Every write is `POST` with a `requestid` derived from our idempotency key: QuickBooks answers a repeat with its
first answer, so a retry after a lost answer makes nothing new. QuickBooks has no draft invoices: an invoice is
open (approved) as soon as it is made, whatever `NewInvoice.approve` says. Mixed into `QuickBooksProvider`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from providers.base import BadRequest, Link, TokenKeeper, Unavailable
from providers.http import AuthorisedClient
from providers.invoicing import (
    AmountsAre,
    Invoice,
    InvoiceRefused,
    NewInvoice,
    NewPayment,
    Payment,
    PaymentTerms,
    Refusal,
    TaxRate,
)
from providers.json_bodies import json_bytes, read_json
from providers.quickbooks.errors import error_from_fault, read_fault
from providers.quickbooks.invoice_mappers import (
    deleted_invoice,
    fault_errors,
    invoice_body,
    item_body,
    item_name,
    payment_body,
    refusals,
    request_id,
    to_invoice,
    to_payment,
    to_tax_rates,
    to_terms,
    us_sales_codes,
)
from providers.quickbooks.settings import QuickBooksSettings

IDS_A_QUERY = 100  # invoice ids in one `Id IN (...)`, keeping the statement short
CDC_LIMIT = 1000
DUPLICATE_NAME = "6240"


@dataclass
class InvoicingCache:
    """What a provider remembers between calls, per company: whether it is a US one, its accounts by code and
    name, and the Item each income account's lines go through."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    us: dict[str, bool] = field(default_factory=dict)
    accounts: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # realm → key → (Id, name)
    items: dict[tuple[str, str], str] = field(default_factory=dict)  # (realm, account Id) → Item Id


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class QuickBooksInvoicing:
    """Invoicing for `QuickBooksProvider`; needs its settings, authorised client and GET/query helpers."""

    settings: QuickBooksSettings
    title: str
    now: Any
    _api: AuthorisedClient
    _invoicing: InvoicingCache

    def _get(self, path: str, realm_id: str, keeper: TokenKeeper, **params: str) -> Any:
        raise NotImplementedError  # QuickBooksProvider's paced GET

    def _query(self, link: Link, statement: str, entity: str) -> list[Any]:
        raise NotImplementedError

    def _read(self, response: httpx2.Response) -> Any:
        raise NotImplementedError

    # -- tax codes and terms ---------------------------------------------------------------------

    def tax_rates(self, link: Link) -> list[TaxRate]:
        """The TaxCodes (inactive ones marked so) with their rates from the TaxRates they list. The codes, the rates
        and (once a company) its country are asked for at once: three round trips in the time of one, which the
        mapping modal waits for (QuickBooks takes ten calls at once a company)."""
        with ThreadPoolExecutor(2, thread_name_prefix="quickbooks-tax") as beside:
            rates = beside.submit(self._all, link, "TaxRate")
            us = beside.submit(self._is_us, link)
            codes = self._all(link, "TaxCode")  # should it raise, the others end first (they are waited for)
            return to_tax_rates(codes, rates.result(), us=us.result())

    def sales_terms(self, link: Link, *, customer_id: str | None) -> tuple[PaymentTerms | None, PaymentTerms | None]:
        """The customer's `SalesTermRef` and the company's default terms (`SalesFormsPrefs.DefaultTerms`)."""
        customers = None
        if customer_id:
            rows = self._query(link, f"select * from Customer where Id = {_quoted(customer_id)}", "Customer")
            term = rows[0].get("SalesTermRef") if rows and isinstance(rows[0], dict) else None
            customers = self._term(link, term)
        body = self._get("/preferences", link.organisation_id, link.tokens)
        prefs = body.get("Preferences") if isinstance(body, dict) else None
        forms = prefs.get("SalesFormsPrefs") if isinstance(prefs, dict) else None
        return customers, self._term(link, forms.get("DefaultTerms") if isinstance(forms, dict) else None)

    def _term(self, link: Link, ref: Any) -> PaymentTerms | None:
        term_id = ref.get("value") if isinstance(ref, dict) else None
        if not isinstance(term_id, str) or not term_id:
            return None
        rows = self._query(link, f"select * from Term where Id = {_quoted(term_id)}", "Term")
        return to_terms(rows[0]) if rows and isinstance(rows[0], dict) else None

    # -- invoices ------------------------------------------------------------------------------

    def create_invoice(self, link: Link, invoice: NewInvoice, *, idempotency_key: str) -> Invoice:
        """Create the invoice, each line through its account's service Item. A repeat with the same key gets the
        invoice the first call made (`requestid`)."""
        us = self._is_us(link)
        self._check_us(invoice, us)
        items = [self._item(link, line.account_code, index) for index, line in enumerate(invoice.lines)]
        body = invoice_body(invoice, items, us=us)
        try:
            answer = self._post(link, "/invoice", body, request_id("invoice", idempotency_key), invoice, items)
        except InvoiceRefused as exc:
            if any(r.field == "account" for r in exc.refusals):  # an Item made inactive since: look again next time
                self._forget_items(link, items)
            raise
        return to_invoice(_entity(answer, "Invoice"))

    def record_payment(self, link: Link, payment: NewPayment, *, idempotency_key: str) -> Payment:
        """A Payment linked to the invoice, deposited to the account mapped for payments received."""
        raw = next(iter(self._invoice_rows(link, [payment.invoice_id])), None)
        if raw is None:
            raise InvoiceRefused(
                "QuickBooks no longer has that invoice.", refusals=[Refusal("QuickBooks no longer has that invoice.")]
            )
        account_id, _ = self._account(link, payment.account_code, None)
        customer = raw.get("CustomerRef", {}).get("value") if isinstance(raw.get("CustomerRef"), dict) else None
        body = payment_body(payment, customer_id=str(customer or ""), deposit_account_id=account_id)
        answer = self._post(link, "/payment", body, request_id("payment", idempotency_key), None, ())
        return to_payment(_entity(answer, "Payment"), payment.invoice_id)

    def invoices(self, link: Link, *, ids: Sequence[str], since: datetime | None = None) -> list[Invoice]:
        """Those of `ids` changed since `since`: from change data capture while it reaches back that far (deleted
        ones too), otherwise by a query on their Ids and update time."""
        wanted = set(ids)
        if since is not None:
            moment = since if since.tzinfo else since.replace(tzinfo=UTC)
            if self.now() - moment < timedelta(days=self.settings.cdc_days):
                changed = self._changed_invoices(link, moment)
                if changed is not None:
                    return [i for i in changed if i.id in wanted]
        return [to_invoice(raw) for raw in self._invoice_rows(link, list(ids), since=since)]

    def invoice_url(self, link: Link, invoice_id: str) -> str:
        return f"{self.settings.web_url}/app/invoice?txnId={invoice_id}"

    def _invoice_rows(self, link: Link, ids: list[str], *, since: datetime | None = None) -> list[dict[str, Any]]:
        when = ""
        if since is not None:
            moment = (since if since.tzinfo else since.replace(tzinfo=UTC)).astimezone(UTC)
            when = f" AND MetaData.LastUpdatedTime >= '{moment.isoformat(timespec='seconds')}'"
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), IDS_A_QUERY):
            chosen = ", ".join(_quoted(i) for i in ids[start : start + IDS_A_QUERY])
            statement = f"select * from Invoice where Id IN ({chosen}){when} MAXRESULTS {IDS_A_QUERY}"
            rows += [r for r in self._query(link, statement, "Invoice") if isinstance(r, dict) and r.get("Id")]
        return rows

    def _changed_invoices(self, link: Link, since: datetime) -> list[Invoice] | None:
        changed_since = since.astimezone(UTC).isoformat(timespec="seconds")
        body = self._get("/cdc", link.organisation_id, link.tokens, entities="Invoice", changedSince=changed_since)
        rows = [r for r in _cdc_rows(body, "Invoice") if isinstance(r, dict) and r.get("Id")]
        if len(rows) >= CDC_LIMIT:
            return None
        return [deleted_invoice(str(r["Id"])) if r.get("status") == "Deleted" else to_invoice(r) for r in rows]

    # -- items and accounts --------------------------------------------------------------------

    def _item(self, link: Link, account_code: str, line: int | None) -> str:
        """The service Item for the account `account_code`'s lines: remembered, found by name, or created; made by
        someone else meanwhile (6240, a duplicate name) it is looked up again."""
        account_id, account_name = self._account(link, account_code, line)
        key = (link.organisation_id, account_id)
        with self._invoicing.lock:
            known = self._invoicing.items.get(key)
        if known is not None:
            return known
        name = item_name(account_name)
        item_id = self._item_named(link, name, account_id, line)
        if item_id is None:
            answer = self._post_item(link, item_body(name, account_id))
            item_id = str(_entity(answer, "Item")["Id"]) if answer is not None else None
            if item_id is None:
                item_id = self._item_named(link, name, account_id, line)
            if item_id is None:
                raise Unavailable("QuickBooks said the product or service exists but did not show it to us.")
        with self._invoicing.lock:
            self._invoicing.items[key] = item_id
        return item_id

    def _forget_items(self, link: Link, items: Sequence[str]) -> None:
        with self._invoicing.lock:
            for key, item_id in list(self._invoicing.items.items()):
                if key[0] == link.organisation_id and item_id in items:
                    del self._invoicing.items[key]

    def _item_named(self, link: Link, name: str, account_id: str, line: int | None) -> str | None:
        statement = f"select * from Item where Name = {_quoted(name)} AND Active IN (true, false)"
        for row in self._query(link, statement, "Item"):
            if not isinstance(row, dict) or row.get("Id") is None:
                continue
            income = row.get("IncomeAccountRef")
            if isinstance(income, dict) and str(income.get("value")) == account_id and row.get("Active") is not False:
                return str(row["Id"])
            words = (
                f"QuickBooks already has a product or service called {name!r} that does not post to that account "
                "(or is inactive). Rename or change it in QuickBooks, then try again."
            )
            raise InvoiceRefused(words, refusals=[Refusal(words, line=line, field="account")])
        return None

    def _post_item(self, link: Link, body: dict[str, Any]) -> Any | None:
        """Create an Item; None when QuickBooks says the name is taken (6240)."""
        response = self._send_post(link, "/item", body, None)
        answer = _json(response)
        errors = fault_errors(answer)
        if errors and any(str(e.get("code")) == DUPLICATE_NAME for e in errors):
            return None
        return self._answer(response, answer, None, ())

    def _account(self, link: Link, account_code: str, line: int | None) -> tuple[str, str]:
        """The Account Id and full name for our account code: its AcctNum, or its name where it has no number
        (a sub-account's "Parent:Child", as the chart shows it). The chart is read again once when it is missing."""
        for fresh in (False, True):
            index = self._account_index(link, fresh=fresh)
            if account_code in index:
                return index[account_code]
        words = f"QuickBooks has no account {account_code!r} any more. Check the mapping with `/accounts map`."
        raise InvoiceRefused(words, refusals=[Refusal(words, line=line, field="account")])

    def _account_index(self, link: Link, *, fresh: bool) -> dict[str, tuple[str, str]]:
        with self._invoicing.lock:
            known = self._invoicing.accounts.get(link.organisation_id)
        if known is not None and not fresh:
            return known
        index: dict[str, tuple[str, str]] = {}
        for raw in self._all(link, "Account"):
            if not isinstance(raw, dict) or raw.get("Id") is None or raw.get("Active") is False:
                continue
            name = str(raw.get("FullyQualifiedName") or raw.get("Name") or "")
            entry = (str(raw["Id"]), name)
            for key in (name, raw.get("Name"), raw.get("AcctNum")):
                if isinstance(key, str) and key:
                    index.setdefault(key, entry)
            if isinstance(raw.get("AcctNum"), str) and raw["AcctNum"]:
                index[raw["AcctNum"]] = entry  # a number wins over a name that reads the same
        with self._invoicing.lock:
            self._invoicing.accounts[link.organisation_id] = index
        return index

    # -- helpers -------------------------------------------------------------------------------

    def _is_us(self, link: Link) -> bool:
        realm = link.organisation_id
        with self._invoicing.lock:
            known = self._invoicing.us.get(realm)
        if known is None:
            body = self._get(f"/companyinfo/{realm}", realm, link.tokens)
            info = body.get("CompanyInfo") if isinstance(body, dict) else None
            known = str(info.get("Country") or "").upper() in ("US", "USA") if isinstance(info, dict) else False
            with self._invoicing.lock:
                self._invoicing.us[realm] = known
        return known

    def _check_us(self, invoice: NewInvoice, us: bool) -> None:
        """What a US company's invoice cannot be: priced with tax included, or taxed by two sales tax codes."""
        if not us:
            return
        if invoice.amounts_are is AmountsAre.INCLUSIVE:
            words = "QuickBooks in the US adds sales tax to the prices: enter the prices before tax."
            raise InvoiceRefused(words, refusals=[Refusal(words, field="amount")])
        codes = us_sales_codes(invoice)
        if len(codes) > 1:
            words = "QuickBooks in the US takes one sales tax rate an invoice: choose the same one on every taxed line."
            lines = sorted(i for found in codes.values() for i in found)
            raise InvoiceRefused(words, refusals=[Refusal(words, line=i, field="tax") for i in lines[1:]])

    def _all(self, link: Link, entity: str) -> list[Any]:
        rows: list[Any] = []
        start, size = 1, self.settings.page_size
        while True:
            statement = f"select * from {entity} where Active IN (true, false) STARTPOSITION {start} MAXRESULTS {size}"
            page = self._query(link, statement, entity)
            rows += page
            if len(page) < size:
                return rows
            start += size

    def _send_post(self, link: Link, path: str, body: dict[str, Any], requestid: str | None) -> httpx2.Response:
        params = {"minorversion": str(self.settings.minor_version)}
        if requestid is not None:
            params["requestid"] = requestid
        return self._api.send(
            "POST",
            f"{self.settings.api_url}/v3/company/{link.organisation_id}{path}",
            keeper=link.tokens,
            organisation_id=link.organisation_id,
            params=params,
            content=json_bytes(body),
            allow=frozenset({400}),
        )

    def _post(
        self,
        link: Link,
        path: str,
        body: dict[str, Any],
        requestid: str,
        invoice: NewInvoice | None,
        items: Sequence[str],
    ) -> Any:
        response = self._send_post(link, path, body, requestid)
        return self._answer(response, _json(response), invoice, items)

    def _answer(self, response: httpx2.Response, answer: Any, invoice: NewInvoice | None, items: Sequence[str]) -> Any:
        """The answer, or InvoiceRefused for a ValidationFault (in a 400, or in a 200), or the typed error."""
        envelope = answer.get("Fault") if isinstance(answer, dict) else None
        if isinstance(envelope, dict) and envelope.get("type") == "ValidationFault":
            found = refusals(answer, invoice, items=items)
            words = "; ".join(r.message for r in found) or "no reason given"
            raise InvoiceRefused(f"QuickBooks refused it: {words}", refusals=found, status=response.status_code)
        if response.status_code == 400:
            fault = read_fault(response.content)
            if fault is None:
                raise BadRequest("QuickBooks refused the request.", status=400)
            raise error_from_fault(fault, status=400, headers=response.headers)
        return self._read(response)


def _json(response: httpx2.Response) -> Any:
    try:
        return read_json(response.content)
    except ValueError:
        return None


def _entity(answer: Any, name: str) -> dict[str, Any]:
    found = answer.get(name) if isinstance(answer, dict) else None
    if not isinstance(found, dict) or found.get("Id") is None:
        raise Unavailable(f"QuickBooks' answer held no {name.lower()} we could read.", status=200)
    return found


def _cdc_rows(body: Any, entity: str) -> Iterator[Any]:
    blocks = body.get("CDCResponse") if isinstance(body, Mapping) else None
    for block in blocks if isinstance(blocks, list) else ():
        answers = block.get("QueryResponse") if isinstance(block, Mapping) else None
        for answer in answers if isinstance(answers, list) else ():
            rows = answer.get(entity) if isinstance(answer, Mapping) else None
            yield from rows if isinstance(rows, list) else ()
