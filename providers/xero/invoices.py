"""Xero's side of invoicing (`providers.invoicing.Invoicing`): tax rates, `PUT /Invoices` and `PUT /Payments` with
an Idempotency-Key, and reading back the invoices we raised. Mixed into `XeroProvider`, whose authorised,
paced calls it uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from providers.base import Link, Unavailable
from providers.http import AuthorisedClient
from providers.invoicing import Invoice, InvoiceRefused, NewInvoice, NewPayment, Payment, PaymentTerms, TaxRate
from providers.json_bodies import json_bytes, read_json
from providers.xero.invoice_mappers import (
    invoice_body,
    payment_body,
    refusals,
    to_invoice,
    to_payment,
    to_sales_terms,
    to_tax_rate,
)
from providers.xero.settings import XeroSettings

IDEMPOTENCY_KEY_LIMIT = 128  # Xero's longest Idempotency-Key
IDS_A_CALL = 40  # invoice ids asked for in one GET, keeping the URL short


class XeroInvoicing:
    """Invoicing for `XeroProvider`; needs its `settings`, `_api` and `_accounting`."""

    settings: XeroSettings
    _api: AuthorisedClient

    def _accounting(
        self,
        path: str,
        link: Link,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        raise NotImplementedError  # XeroProvider's paced GET

    def tax_rates(self, link: Link) -> list[TaxRate]:
        body = self._accounting("/TaxRates", link)
        rates = (to_tax_rate(raw) for raw in (body.get("TaxRates") or ()) if isinstance(raw, dict))
        return [rate for rate in rates if rate is not None]

    def create_invoice(self, link: Link, invoice: NewInvoice, *, idempotency_key: str) -> Invoice:
        """Create the invoice (a draft unless `invoice.approve`). Unit prices keep four decimals (`unitdp=4`);
        Xero rounds each line to cents. A repeat with the same key returns the invoice the first call made."""
        answer = self._write("/Invoices", link, invoice_body(invoice), idempotency_key, invoice)
        return to_invoice(_only(answer, "Invoices"))

    def record_payment(self, link: Link, payment: NewPayment, *, idempotency_key: str) -> Payment:
        answer = self._write("/Payments", link, payment_body(payment), idempotency_key, None)
        return to_payment(_only(answer, "Payments"))

    def invoices(self, link: Link, *, ids: Sequence[str], since: datetime | None = None) -> list[Invoice]:
        headers = {}
        if since is not None:
            moment = since if since.tzinfo else since.replace(tzinfo=UTC)
            headers["If-Modified-Since"] = moment.astimezone(UTC).isoformat(timespec="seconds")
        found: list[Invoice] = []
        for start in range(0, len(ids), IDS_A_CALL):
            chunk = ",".join(ids[start : start + IDS_A_CALL])
            body = self._accounting("/Invoices", link, params={"IDs": chunk, "unitdp": "4"}, headers=headers)
            found += [to_invoice(raw) for raw in body.get("Invoices") or () if isinstance(raw, dict)]
        return found

    def sales_terms(self, link: Link, *, customer_id: str | None) -> tuple[PaymentTerms | None, PaymentTerms | None]:
        """The contact's `PaymentTerms.Sales` (only a paged GET /Contacts carries them) and the Organisation's."""
        customers = None
        if customer_id:
            body = self._accounting("/Contacts", link, params={"IDs": customer_id, "page": "1"})
            contact = next((c for c in body.get("Contacts") or () if isinstance(c, dict)), None)
            customers = to_sales_terms(contact) if contact is not None else None
        body = self._accounting("/Organisation", link)
        organisation = next((o for o in body.get("Organisations") or () if isinstance(o, dict)), None)
        return customers, to_sales_terms(organisation) if organisation is not None else None

    def invoice_url(self, link: Link, invoice_id: str) -> str:
        return f"{self.settings.web_url}/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"

    def _write(
        self, path: str, link: Link, body: dict[str, Any], idempotency_key: str, invoice: NewInvoice | None
    ) -> Any:
        if not 0 < len(idempotency_key) <= IDEMPOTENCY_KEY_LIMIT:
            raise ValueError("an idempotency key is 1 to 128 characters")
        response = self._api.send(
            "PUT",
            f"{self.settings.api_url}{path}",
            keeper=link.tokens,
            organisation_id=link.organisation_id,
            params={"unitdp": "4"},
            headers={"xero-tenant-id": link.organisation_id, "Idempotency-Key": idempotency_key},
            content=json_bytes(body),
            allow=frozenset({400}),
        )
        try:
            answer = read_json(response.content)
        except ValueError:
            raise Unavailable("Xero answered with something we could not read.", status=response.status_code) from None
        if response.status_code == 400:
            found = refusals(answer, invoice)
            words = "; ".join(r.message for r in found) or "no reason given"
            raise InvoiceRefused(f"Xero refused it: {words}", refusals=found, status=400, detail=words)
        return answer


def _only(answer: Any, key: str) -> dict[str, Any]:
    rows = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(rows, list) or len(rows) != 1 or not isinstance(rows[0], dict):
        raise Unavailable(f"Xero's answer held no {key[:-1].lower()} we could read.", status=200)
    return rows[0]
