"""Sales in the MYOB fake: `GeneralLedger/TaxCode`, `Sale/Invoice` (every layout, read-only, without lines),
`Sale/Invoice/Service` (read and `POST`), `Sale/CustomerPayment` (read and `POST`) and `Company/Preferences`. A create
answers 201 with a Location header and no body, as MYOB does. Service invoices take their lines' `Total`s as sent (to
the cent), with a unit count and unit price kept as sent (`sale_rules.counted`); tax is worked out line by line from
each line's tax code (out of the total when the invoice is tax-inclusive), rounded half away from zero; the invoice
starts Open with its whole amount due. An invoice number is at most eight characters and unique in the file (MYOB
refuses a duplicate); without one the next free number ("00000001", ...) is given. A payment may not apply more than
an invoice's balance; paid in full, it is Closed. `lose_answers` makes the next creates act and then answer 504, as
when the gateway gives up after MYOB committed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.myob.api import CompanyFileApi
from tests.fakes.myob.errors import myob_errors
from tests.fakes.myob.records import _Card, _CompanyFile
from tests.fakes.myob.sale_rules import SALES_TERMS, Refused, amount_of, cents, counted, day_of, terms_of, uid_of
from tests.fakes.oauth2 import Reply

NUMBER_LIMIT = 8
PO_LIMIT = 20
NOT_FOR_SALES = frozenset({"NoABN_TFN", "WithholdingsTax", "ImportDuty", "LuxuryCarTax"})
INVOICE, PAYMENT = "Sale/Invoice/Service", "Sale/CustomerPayment"


class SalesApi(CompanyFileApi):
    # -- what a test sets up and reads back -----------------------------------------------------

    def tax_codes(self, file_id: str) -> list[dict[str, Any]]:
        with self._lock:
            company_file = self._file(file_id)
            return [self._render(company_file, c, "GeneralLedger/TaxCode") for c in company_file.tax_codes.values()]

    def invoices(self, file_id: str) -> list[dict[str, Any]]:
        with self._lock:
            company_file = self._file(file_id)
            return [self._render(company_file, c, INVOICE) for c in company_file.invoices.values()]

    def payments(self, file_id: str) -> list[dict[str, Any]]:
        with self._lock:
            company_file = self._file(file_id)
            return [self._render(company_file, c, PAYMENT) for c in company_file.payments.values()]

    def bodies(self, file_id: str, resource: str) -> list[Any]:
        """The bodies of the creates of `resource` ("Sale/Invoice/Service", ...), as sent."""
        with self._lock:
            return [body for posted, body in self._file(file_id).posted if posted == resource]

    def update_invoice(self, file_id: str, uid: str, **fields: Any) -> None:
        """What someone changes on an invoice in MYOB itself."""
        with self._lock:
            card = self._file(file_id).invoices[uid]
            card.data.update(fields)
            card.modified_at = self.clock()

    def lose_answers(self, resource: str, times: int = 1) -> None:
        """The next `times` creates of `resource` ("Sale/Invoice/Service", "Sale/CustomerPayment"), in any file,
        are made, then answered 504 instead of 201: the caller never learns that MYOB committed them."""
        with self._lock:
            self._lost[resource] = self._lost.get(resource, 0) + times

    def hold_answers(self, resource: str) -> threading.Event:
        """Make the creates of `resource` at once but keep their answers until the returned event is set: a test
        can kill the caller between MYOB committing and the caller hearing of it."""
        release = threading.Event()
        with self._lock:
            self._holds.setdefault(resource, []).append(release)
        return release

    def pay_in_myob(self, file_id: str, invoice_uid: str, amount: str | None = None, account: str = "1-1100") -> str:
        """Somebody records a customer payment in MYOB itself (the invoice's whole balance unless `amount`)."""
        with self._lock:
            company_file = self._file(file_id)
            invoice = company_file.invoices[invoice_uid].data
            bank = next(a for a in company_file.accounts.values() if a.data["DisplayID"] == account)
            paid = Decimal(amount) if amount is not None else Decimal(str(invoice["BalanceDueAmount"]))
            body = {
                "DepositTo": "Account",
                "Account": {"UID": bank.data["UID"]},
                "Customer": {"UID": invoice["Customer"]["UID"]},
                "Date": invoice["Date"],
                "AmountReceived": paid,
                "Invoices": [{"UID": invoice_uid, "AmountApplied": paid, "Type": "Invoice"}],
            }
            return self._payment(company_file, body)

    # -- routes ----------------------------------------------------------------------------------

    async def _get_tax_codes(self, request: Request) -> Response:
        return await self._page(request, "GeneralLedger/TaxCode")

    async def _get_invoices(self, request: Request) -> Response:
        return await self._page(request, "Sale/Invoice")

    async def _get_service_invoices(self, request: Request) -> Response:
        return await self._page(request, INVOICE)

    async def _get_payments(self, request: Request) -> Response:
        return await self._page(request, PAYMENT)

    async def _get_service_invoice(self, request: Request) -> Response:
        return await self._one(request, INVOICE)

    async def _get_payment(self, request: Request) -> Response:
        return await self._one(request, PAYMENT)

    async def _get_preferences(self, request: Request) -> Response:
        try:
            with self._lock:
                self._admit(request, self.oauth.bearer(request), "Company/Preferences")
        except Reply as reply:
            return reply.response
        return JSONResponse({"Sales": {"Terms": SALES_TERMS}, "RowVersion": "1"})

    async def _post_service_invoice(self, request: Request) -> Response:
        return await self._create(request, INVOICE)

    async def _post_payment(self, request: Request) -> Response:
        return await self._create(request, PAYMENT)

    async def _one(self, request: Request, resource: str) -> Response:
        try:
            with self._lock:
                company_file = self._admit(request, self.oauth.bearer(request), resource)
                card = self._cards(company_file, resource).get(request.path_params["uid"].lower())
                if card is None:
                    return JSONResponse(myob_errors("NotFound", "The resource could not be found", code=404), 404)
                return JSONResponse(self._render(company_file, card, resource))
        except Reply as reply:
            return reply.response

    async def _create(self, request: Request, resource: str) -> Response:
        raw = await request.body()
        try:
            with self._lock:
                company_file = self._admit(request, self.oauth.bearer(request), resource)
        except Reply as reply:
            return reply.response
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            body = json.loads(raw, parse_float=Decimal, parse_int=Decimal)
            with self._lock:
                company_file.posted.append((resource, json.loads(raw)))
            if not isinstance(body, dict):
                raise Refused("The request body must be an object", "Body")
            with self._lock:
                uid = self._invoice(company_file, body) if resource == INVOICE else self._payment(company_file, body)
                lost = self._lost.get(resource, 0)
                if lost:
                    self._lost[resource] = lost - 1
        except ValueError:
            return JSONResponse(myob_errors("ValidationError", "The request body is not valid JSON", code=400), 400)
        except Refused as refused:
            return JSONResponse(refused.body, status_code=400)
        with self._lock:
            holds = list(self._holds.get(resource, []))
        for release in holds:  # made; its answer waits
            while not release.is_set():
                await asyncio.sleep(0.01)
        if lost:
            return Response("<html><body><h1>504 Gateway Time-out</h1></body></html>", status_code=504)
        location = f"{str(request.base_url).rstrip('/')}/accountright/{company_file.id}/{resource}/{uid}"
        return Response(status_code=201, headers={"Location": location})

    # -- what MYOB checks and works out -----------------------------------------------------------

    def _invoice(self, company_file: _CompanyFile, body: dict[str, Any]) -> str:
        customer = self._customer(company_file, body)
        day = day_of(body.get("Date"), "Date")
        number = self._number(company_file, body.get("Number"), company_file.invoices, "Number", "invoice")
        order = body.get("CustomerPurchaseOrderNumber")
        if order is not None and (not isinstance(order, str) or len(order) > PO_LIMIT):
            raise Refused(f"The customer PO number can be at most {PO_LIMIT} characters", "CustomerPurchaseOrderNumber")
        inclusive = body.get("IsTaxInclusive") is True
        lines = body.get("Lines")
        if not isinstance(lines, list) or not lines:
            raise Refused("An invoice needs at least one line", "Lines")
        rendered, subtotal, tax_total = [], Decimal(0), Decimal(0)
        for index, line in enumerate(lines):
            row, amount, tax = self._line(company_file, line, index, inclusive)
            rendered.append(row)
            subtotal += amount - tax if inclusive else amount
            tax_total += tax
        total = subtotal + tax_total
        terms = terms_of(body.get("Terms"), day)
        uid = str(uuid.uuid4())
        data = {
            "UID": uid,
            "Number": number,
            "Date": f"{day.isoformat()}T00:00:00",
            "CustomerPurchaseOrderNumber": order,
            "Customer": self._link(company_file, customer, "Contact/Customer"),
            "PromisedDate": None,
            "BalanceDueAmount": float(total),
            "Status": "Open",
            "Lines": rendered,
            "ShipToAddress": None,
            "Terms": terms,
            "IsTaxInclusive": inclusive,
            "Subtotal": float(subtotal),
            "Freight": 0.0,
            "FreightTaxCode": None,
            "TotalTax": float(tax_total),
            "TotalAmount": float(total),
            "Category": None,
            "Salesperson": None,
            "Comment": None,
            "ShippingMethod": None,
            "JournalMemo": str(body.get("JournalMemo") or f"Sale; {customer.data.get('CompanyName') or ''}")[:255],
            "ReferralSource": None,
            "InvoiceDeliveryStatus": "Nothing",
            "LastPaymentDate": None,
            "Order": None,
            "ForeignCurrency": None,
            "CurrencyExchangeRate": None,
            "CanApplySurcharge": False,
            "OnlinePaymentMethod": "None",
        }
        company_file.invoices[uid] = _Card(data, self.clock())
        return uid

    def _line(
        self, company_file: _CompanyFile, line: Any, index: int, inclusive: bool
    ) -> tuple[dict[str, Any], Decimal, Decimal]:
        where = f"Lines[{index}]"
        if not isinstance(line, dict) or line.get("Type") != "Transaction":
            raise Refused("Only Transaction lines can be sent", f"{where}.Type")
        account = company_file.accounts.get(uid_of(line.get("Account")))
        if account is None:
            raise Refused("The account could not be found", f"{where}.Account")
        if account.data.get("IsHeader"):
            name = f"{account.data['DisplayID']} {account.data['Name']}"
            raise Refused(f"The account {name} is a header account and cannot be posted to", f"{where}.Account")
        if account.data.get("IsActive") is False:
            raise Refused(f"The account {account.data['DisplayID']} is inactive", f"{where}.Account")
        tax_uid = uid_of(line.get("TaxCode")) or uid_of(account.data.get("TaxCode"))
        tax_code = company_file.tax_codes.get(tax_uid)
        if tax_code is None:
            raise Refused("The tax code could not be found", f"{where}.TaxCode")
        if tax_code.data["Type"] in NOT_FOR_SALES:
            raise Refused(f"The tax code {tax_code.data['Code']} cannot be used on a sale", f"{where}.TaxCode")
        amount = amount_of(line.get("Total"), f"{where}.Total")
        count, price = counted(line, where, amount)
        rate = Decimal(str(tax_code.data["Rate"]))
        tax = cents(amount * rate / (100 + rate)) if inclusive else cents(amount * rate / 100)
        row = {
            "RowID": index + 1,
            "Type": "Transaction",
            "Description": str(line.get("Description") or "")[:255],
            "UnitCount": None if count is None else float(count),
            "UnitPrice": None if price is None else float(price),
            "Total": float(amount),
            "Account": self._link(company_file, account, "GeneralLedger/Account"),
            "TaxCode": self._link(company_file, tax_code, "GeneralLedger/TaxCode"),
            "Job": None,
            "RowVersion": "1",
        }
        return row, amount, tax

    def _payment(self, company_file: _CompanyFile, body: dict[str, Any]) -> str:
        if body.get("DepositTo") not in ("Account", "UndepositedFunds"):
            raise Refused("DepositTo must be Account or UndepositedFunds", "DepositTo")
        account = company_file.accounts.get(uid_of(body.get("Account")))
        if body["DepositTo"] == "Account" and (account is None or account.data["Type"] != "Bank"):
            raise Refused("The account to deposit to must be a bank account", "Account")
        customer = self._customer(company_file, body)
        day = day_of(body.get("Date"), "Date")
        number = self._number(
            company_file, body.get("ReceiptNumber"), company_file.payments, "ReceiptNumber", "receipt"
        )
        received = amount_of(body.get("AmountReceived"), "AmountReceived")
        lines = body.get("Invoices")
        if not isinstance(lines, list) or not lines:
            raise Refused("A payment must be applied to at least one invoice", "Invoices")
        applied, rows = Decimal(0), []
        for index, line in enumerate(lines):
            where = f"Invoices[{index}]"
            card = company_file.invoices.get(uid_of(line)) if isinstance(line, dict) else None
            if card is None or line.get("Type") != "Invoice":
                raise Refused("The invoice could not be found", f"{where}.UID")
            invoice = card.data
            if invoice["Customer"]["UID"] != customer.data["UID"]:
                raise Refused(f"Invoice {invoice['Number']} is not this customer's", f"{where}.UID")
            amount = amount_of(line.get("AmountApplied"), f"{where}.AmountApplied")
            balance = Decimal(str(invoice["BalanceDueAmount"]))
            if invoice["Status"] != "Open" or amount > balance:
                message = f"The amount applied is more than the balance due on invoice {invoice['Number']} ({balance})"
                raise Refused(message, f"{where}.AmountApplied")
            applied += amount
            rows.append((card, amount))
        if applied != received:
            raise Refused("The amount received must equal the amounts applied to invoices", "AmountReceived")
        uid = str(uuid.uuid4())
        payment_lines = []
        for row_id, (card, amount) in enumerate(rows, start=1):
            balance = Decimal(str(card.data["BalanceDueAmount"])) - amount
            card.data.update(BalanceDueAmount=float(balance), LastPaymentDate=f"{day.isoformat()}T00:00:00")
            card.data["Status"] = "Closed" if balance == 0 else "Open"
            card.modified_at = self.clock()
            link = self._link(company_file, card, INVOICE)
            payment_lines.append(
                {
                    "RowID": row_id,
                    "Number": card.data["Number"],
                    "UID": card.data["UID"],
                    "AmountApplied": float(amount),
                    "Type": "Invoice",
                    "Uri": link["URI"],
                }
            )
        company_file.payments[uid] = _Card(
            {
                "UID": uid,
                "DepositTo": body["DepositTo"],
                "Account": self._link(company_file, account, "GeneralLedger/Account") if account else None,
                "Customer": self._link(company_file, customer, "Contact/Customer"),
                "ReceiptNumber": number,
                "Date": f"{day.isoformat()}T00:00:00",
                "AmountReceived": float(received),
                "PaymentMethod": None,
                "Memo": str(body.get("Memo") or "")[:255] or None,
                "Invoices": payment_lines,
            },
            self.clock(),
        )
        return uid

    def _customer(self, company_file: _CompanyFile, body: dict[str, Any]) -> _Card:
        card = company_file.customers.get(uid_of(body.get("Customer")))
        if card is None or card.raw or card.data.get("IsActive") is False:
            raise Refused("The customer could not be found, or is inactive", "Customer")
        return card

    def _number(self, company_file: _CompanyFile, value: Any, taken: dict[str, _Card], field: str, noun: str) -> str:
        numbers = {str(c.data.get(field)).upper() for c in taken.values()}
        if value is None:
            numeric = [int(n) for n in numbers if n.isdigit()]
            return f"{max(numeric, default=0) + 1:08d}"
        if not isinstance(value, str) or not value.strip() or len(value) > NUMBER_LIMIT:
            raise Refused(f"The {noun} number must be 1 to {NUMBER_LIMIT} characters", field)
        if value.upper() in numbers:
            raise Refused(f"The {noun} number {value} already exists", field, name="DuplicateNumber")
        return value

    def _link(self, company_file: _CompanyFile, card: _Card, resource: str) -> dict[str, Any]:
        data = card.data
        link = {
            "UID": data["UID"],
            "URI": f"https://api.myob.com/accountright/{company_file.id}/{resource}/{data['UID']}",
        }
        if resource == "GeneralLedger/TaxCode":
            return link | {"Code": data["Code"]}
        if resource == INVOICE:
            return link | {"Number": data["Number"]}
        name = (
            data.get("Name")
            or data.get("CompanyName")
            or " ".join(str(data.get(k) or "") for k in ("LastName", "FirstName"))
        )
        return link | {"Name": name, "DisplayID": data.get("DisplayID")}

    # -- listing ----------------------------------------------------------------------------------

    def _cards(self, company_file: _CompanyFile, resource: str) -> dict[str, _Card]:
        cards = {
            "GeneralLedger/TaxCode": company_file.tax_codes,
            "Sale/Invoice": company_file.invoices,
            INVOICE: company_file.invoices,
            PAYMENT: company_file.payments,
        }.get(resource)
        return cards if cards is not None else super()._cards(company_file, resource)

    def _render(self, company_file: _CompanyFile, card: _Card, resource: str) -> dict[str, Any]:
        if resource == "Sale/Invoice":  # every layout's invoices, without their lines
            row = super()._render(company_file, card, INVOICE)
            row.pop("Lines", None)
            return row | {"InvoiceType": "Service"}
        return super()._render(company_file, card, resource)
