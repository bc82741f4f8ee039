"""The Accounting API's TaxRates, Invoices and Payments as Xero takes them: tax types that must suit the account,
invoice numbering, line and tax rounding to cents (unit prices to two decimals unless `unitdp=4`), payments only
against approved invoices and never above the amount due, and the Idempotency-Key honoured (a repeat gets the
first answer, whatever it was). Money is Decimal throughout."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.oauth2 import Reply
from tests.fakes.xero.accounting import Accounting
from tests.fakes.xero.dates import _parse_if_modified_since, ms_date
from tests.fakes.xero.errors import _problem, _validation_exception
from tests.fakes.xero.records import _Organisation

CENT = Decimal("0.01")
IDEMPOTENCY_KEY_LIMIT = 128
_FLAGS = ("CanApplyToAssets", "CanApplyToEquity", "CanApplyToExpenses", "CanApplyToLiabilities", "CanApplyToRevenue")
# A New Zealand organisation's tax rates: (name, TaxType, rate, what it may apply to, status)
DEFAULT_TAX_RATES: tuple[tuple[str, str, str, frozenset[str], str], ...] = (
    ("GST on Income", "OUTPUT2", "15", frozenset({"Revenue", "Assets", "Liabilities", "Equity"}), "ACTIVE"),
    ("GST on Expenses", "INPUT2", "15", frozenset({"Expenses", "Assets", "Liabilities", "Equity"}), "ACTIVE"),
    ("No GST", "NONE", "0", frozenset({"Revenue", "Expenses", "Assets", "Liabilities", "Equity"}), "ACTIVE"),
    ("Zero Rated", "ZERORATED", "0", frozenset({"Revenue", "Expenses", "Assets", "Liabilities", "Equity"}), "ACTIVE"),
    ("Exempt Income", "EXEMPTOUTPUT", "0", frozenset({"Revenue"}), "ACTIVE"),
    ("Old GST 12.5%", "TAX001", "12.5", frozenset({"Revenue"}), "ARCHIVED"),
)
_APPLIES = {
    "REVENUE": "Revenue",
    "EXPENSE": "Expenses",
    "ASSET": "Assets",
    "LIABILITY": "Liabilities",
    "EQUITY": "Equity",
}


@dataclass
class _Invoice:
    data: dict[str, Any]  # Xero's fields; money as Decimal
    updated_at: float


@dataclass
class _Ledger:
    """An organisation's tax rates, invoices, payments and the answers kept for idempotency keys."""

    tax_rates: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, _Invoice] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)  # every PUT body received, for spec checks
    sales_terms: dict[str, Any] | None = None  # the Organisation's PaymentTerms.Sales, when set
    invoice_seq: int = 0


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class FakeInvoicing(Accounting):
    """TaxRates, Invoices and Payments of the fake's organisations (their ledgers are kept here by tenant id)."""

    _ledgers: dict[str, _Ledger]

    def ledger(self, tenant_id: str) -> _Ledger:
        with self._lock:
            if not hasattr(self, "_ledgers"):
                self._ledgers = {}
            if tenant_id not in self._ledgers:
                self._org(tenant_id)
                ledger = self._ledgers[tenant_id] = _Ledger()
                for name, code, rate, applies, status in DEFAULT_TAX_RATES:
                    self.add_tax_rate(tenant_id, name, code, rate, applies, status=status, ledger=ledger)
            return self._ledgers[tenant_id]

    # -- controls ------------------------------------------------------------------------------

    def add_tax_rate(
        self,
        tenant_id: str,
        name: str,
        code: str,
        rate: str,
        applies: frozenset[str],
        *,
        status: str = "ACTIVE",
        ledger: _Ledger | None = None,
    ) -> None:
        ledger = ledger or self.ledger(tenant_id)
        ledger.tax_rates[code] = {
            "Name": name,
            "TaxType": code,
            "TaxComponents": [{"Name": "GST", "Rate": float(rate), "IsCompound": False, "IsNonRecoverable": False}],
            "Status": status,
            "ReportTaxType": "OUTPUT" if "Revenue" in applies else "INPUT",
            **{flag: flag.removeprefix("CanApplyTo") in applies for flag in _FLAGS},
            "DisplayTaxRate": float(rate),
            "EffectiveRate": float(rate),
        }

    def set_sales_terms(self, tenant_id: str, day: int, kind: str) -> None:
        """The organisation's default payment terms for sales (`Type`: DAYSAFTERBILLDATE, OFFOLLOWINGMONTH...)."""
        self.ledger(tenant_id).sales_terms = {"Day": day, "Type": kind}

    def invoices(self, tenant_id: str, *, unitdp: int = 2) -> list[dict[str, Any]]:
        """The organisation's invoices as GET /Invoices shows them (unit prices to `unitdp` decimals)."""
        with self._lock:
            return [_rendered(i, unitdp=unitdp) for i in self.ledger(tenant_id).invoices.values()]

    def payments(self, tenant_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [_json_safe(p) for p in self.ledger(tenant_id).payments.values()]

    def put_bodies(self, tenant_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.ledger(tenant_id).bodies)

    def lose_answers(self, resource: str, times: int = 1) -> None:
        """Do the next `times` writes to `resource` ("Invoices", "Payments"), then answer 504 instead of the result,
        as when a gateway times out after Xero has acted: only the Idempotency-Key saves a retry from acting twice."""
        with self._lock:
            lost = self.__dict__.setdefault("_lost", {})
            lost[resource] = lost.get(resource, 0) + times

    def hold_answers(self, resource: str) -> threading.Event:
        """Act on writes to `resource` ("Invoices") at once but keep their answers until the returned event is set:
        a test can kill the caller between Xero acting and the caller hearing of it."""
        release = threading.Event()
        with self._lock:
            self.__dict__.setdefault("_answer_holds", {}).setdefault(resource, []).append(release)
        return release

    def set_invoice_status(self, tenant_id: str, invoice_id: str, status: str) -> None:
        """What someone does in Xero: approve (AUTHORISED), void (VOIDED) or delete (DELETED) an invoice."""
        with self._lock:
            invoice = self.ledger(tenant_id).invoices[invoice_id]
            invoice.data["Status"] = status
            invoice.updated_at = self.clock()

    def pay_in_xero(self, tenant_id: str, invoice_id: str, amount: str, account_code: str = "090") -> str:
        """A payment recorded in Xero itself (not through the API we are tested on)."""
        with self._lock:
            org = self._org(tenant_id)
            body = {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": account_code}, "Amount": Decimal(amount)}
            status, answer = self._payment(org, self.ledger(tenant_id), body)
            assert status == 200, answer
            return str(answer["Payments"][0]["PaymentID"])

    # -- routes --------------------------------------------------------------------------------

    async def _get_tax_rates(self, request: Request) -> Response:
        return await self._accounting(
            request, "taxrates", lambda org, _: {"TaxRates": list(self.ledger(org.tenant_id).tax_rates.values())}
        )

    async def _get_organisation(self, request: Request) -> Response:
        return await self._accounting(request, "organisation", self._organisation_body)

    def _organisation_body(self, org: _Organisation, _: Request) -> dict[str, Any]:
        """GET /Organisation: the one organisation of the tenant; PaymentTerms only where they are set, as Xero."""
        found: dict[str, Any] = {
            "OrganisationID": org.tenant_id,
            "Name": org.name,
            "LegalName": org.name,
            "BaseCurrency": "NZD",
            "CountryCode": "NZ",
            "OrganisationType": "COMPANY",
            "PaysTax": True,
        }
        terms = self.ledger(org.tenant_id).sales_terms
        if terms is not None:
            found["PaymentTerms"] = {"Sales": dict(terms)}
        return {"Organisations": [found]}

    async def _get_invoices(self, request: Request) -> Response:
        return await self._accounting(request, "invoices", self._invoices_body)

    async def _put_invoices(self, request: Request) -> Response:
        raw = await request.body()
        response = await self._accounting(request, "invoices", lambda org, req: self._write(org, req, raw, "Invoices"))
        with self._lock:
            holds = list(self.__dict__.get("_answer_holds", {}).get("Invoices", []))
        for release in holds:  # the invoice is made; its answer waits
            while not release.is_set():
                await asyncio.sleep(0.01)
        return response

    async def _put_payments(self, request: Request) -> Response:
        raw = await request.body()
        return await self._accounting(request, "payments", lambda org, req: self._write(org, req, raw, "Payments"))

    def _invoices_body(self, org: _Organisation, request: Request) -> dict[str, Any]:
        since = _parse_if_modified_since(request.headers.get("if-modified-since"))
        ids = {i.strip().lower() for i in request.query_params.get("IDs", "").split(",") if i.strip()}
        chosen = [
            _rendered(i, unitdp=_unitdp(request))
            for key, i in self.ledger(org.tenant_id).invoices.items()
            if (not ids or key in ids) and (since is None or i.updated_at > since)
        ]
        return {"Invoices": chosen}

    def _write(self, org: _Organisation, request: Request, raw: bytes, kind: str) -> dict[str, Any]:
        ledger = self.ledger(org.tenant_id)
        key = request.headers.get("idempotency-key")
        if key is not None and len(key) > IDEMPOTENCY_KEY_LIMIT:
            raise _refused(f"The Idempotency-Key must be {IDEMPOTENCY_KEY_LIMIT} characters or fewer.")
        if key is not None and f"{kind}/{key}" in ledger.answers:
            status, answer = ledger.answers[f"{kind}/{key}"]
            answer = json.loads(json.dumps(answer))
        else:
            try:
                body = json.loads(raw, parse_float=Decimal, parse_int=Decimal)
            except ValueError:
                raise _refused("The request body could not be read as JSON.") from None
            ledger.bodies.append(json.loads(raw))
            records = body.get(kind) if isinstance(body, dict) and kind in body else [body]
            if not isinstance(records, list) or len(records) != 1 or not isinstance(records[0], dict):
                raise _refused(f"Send one {kind[:-1].lower()}.")
            if kind == "Invoices":
                status, answer = self._invoice(org, ledger, records[0], _unitdp(request))
            else:
                status, answer = self._payment(org, ledger, records[0])
            if key is not None:
                ledger.answers[f"{kind}/{key}"] = (status, answer)
        lost = self.__dict__.get("_lost", {})
        if lost.get(kind, 0) > 0:
            lost[kind] -= 1
            raise Reply(JSONResponse(_problem(504, "Gateway Timeout", "The request timed out"), status_code=504))
        if status != 200:
            raise Reply(JSONResponse(answer, status_code=status))
        return answer

    def _invoice(self, org: _Organisation, ledger: _Ledger, body: dict[str, Any], unitdp: int) -> tuple[int, Any]:
        errors: list[str] = []
        line_errors: list[list[str]] = []
        if body.get("Type") != "ACCREC":
            errors.append("Invoice Type must be ACCREC or ACCPAY.")
        contact_id = str((body.get("Contact") or {}).get("ContactID") or "").lower()
        contact = org.contacts.get(contact_id)
        if contact is None:
            errors.append("The contact could not be found. Check the ContactID.")
        amounts_are = body.get("LineAmountTypes", "Exclusive")
        if amounts_are not in ("Exclusive", "Inclusive", "NoTax"):
            errors.append(f"'{amounts_are}' is not a valid LineAmountTypes value.")
        status = body.get("Status", "DRAFT")
        if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
            errors.append("Invoice Status must be DRAFT, SUBMITTED or AUTHORISED when creating.")
        issued, due = _date(body.get("Date")), _date(body.get("DueDate"))
        if body.get("Date") is not None and issued is None:
            errors.append("The Date is not a valid date.")
        if body.get("DueDate") is not None and due is None:
            errors.append("The Due Date is not a valid date.")
        if status == "AUTHORISED" and due is None:
            errors.append("Due Date is required for an approved invoice.")
        reference = body.get("Reference")
        if reference is not None and (not isinstance(reference, str) or len(reference) > 255):
            errors.append("The Reference must be 255 characters or fewer.")
        by_code = {a.data.get("Code"): a.data for a in org.accounts.values() if a.data.get("Code")}
        lines = []
        for item in body.get("LineItems") or []:
            problems: list[str] = []
            line_errors.append(problems)
            quantity = _number(item.get("Quantity", Decimal(1)))
            unit = _number(item.get("UnitAmount", Decimal(0)))
            if quantity is None or unit is None:
                problems.append("Quantity and UnitAmount must be numbers.")
                continue
            unit = unit.quantize(Decimal(1).scaleb(-unitdp), rounding=ROUND_HALF_UP)
            description = item.get("Description")
            if not isinstance(description, str) or not description.strip():
                problems.append("Description needs to be at least 1 char long.")
            elif len(description) > 4000:
                problems.append("Description must be 4000 characters or fewer.")
            code = item.get("AccountCode")
            account = by_code.get(code)
            if account is None or account.get("Status") != "ACTIVE":
                problems.append(f"Account code '{code}' is not a valid code for this document.")
                continue
            tax_type = item.get("TaxType") or account.get("TaxType") or "NONE"
            rate = ledger.tax_rates.get(tax_type)
            if rate is None or rate["Status"] != "ACTIVE":
                problems.append(
                    f"The TaxType code '{tax_type}' does not exist or cannot be used with this type of transaction."
                )
                continue
            if not rate.get(f"CanApplyTo{_APPLIES[account['Class']]}"):
                problems.append(f"The TaxType code '{tax_type}' cannot be used with account code '{code}'.")
                continue
            percent = Decimal(str(rate["EffectiveRate"])) if amounts_are != "NoTax" else Decimal(0)
            amount = round_cents(quantity * unit)
            if amounts_are == "Inclusive":
                tax = round_cents(amount * percent / (100 + percent))
            else:
                tax = round_cents(amount * percent / 100)
            lines.append(
                {
                    "LineItemID": str(uuid.uuid4()),
                    "Description": description,
                    "Quantity": quantity,
                    "UnitAmount": unit,
                    "AccountCode": code,
                    "TaxType": tax_type,
                    "TaxAmount": tax,
                    "LineAmount": amount,
                }
            )
        if errors or any(line_errors):
            element = dict(body, ValidationErrors=[{"Message": m} for m in errors + sum(line_errors, [])])
            element["LineItems"] = [
                dict(item, ValidationErrors=[{"Message": m} for m in problems])
                for item, problems in zip(body.get("LineItems") or [], line_errors, strict=False)
            ]
            answer = _validation_exception()
            answer["Elements"] = [_json_safe(element)]
            return 400, answer
        assert contact is not None
        ledger.invoice_seq += 1
        taxes = sum((line["TaxAmount"] for line in lines), Decimal(0))
        amounts = sum((line["LineAmount"] for line in lines), Decimal(0))
        subtotal = amounts - taxes if amounts_are == "Inclusive" else amounts
        invoice_id = str(uuid.uuid4())
        now = self.clock()
        data = {
            "Type": "ACCREC",
            "InvoiceID": invoice_id,
            "InvoiceNumber": f"INV-{ledger.invoice_seq:04d}",
            "Reference": reference or "",
            "Contact": {"ContactID": contact_id, "Name": (contact.data or {}).get("Name", "")},
            "Date": issued or datetime.fromtimestamp(now, UTC).date(),
            "DueDate": due,
            "Status": status,
            "LineAmountTypes": amounts_are,
            "LineItems": lines,
            "SubTotal": subtotal,
            "TotalTax": taxes,
            "Total": subtotal + taxes,
            "AmountDue": subtotal + taxes,
            "AmountPaid": Decimal(0),
            "AmountCredited": Decimal(0),
            "CurrencyCode": "NZD",
            "HasAttachments": False,
        }
        ledger.invoices[invoice_id] = _Invoice(data, now)
        return 200, {"Invoices": [_rendered(ledger.invoices[invoice_id], unitdp=unitdp)]}

    def _payment(self, org: _Organisation, ledger: _Ledger, body: dict[str, Any]) -> tuple[int, Any]:
        invoice_id = str((body.get("Invoice") or {}).get("InvoiceID") or "").lower()
        invoice = ledger.invoices.get(invoice_id)
        code = (body.get("Account") or {}).get("Code")
        account = next((a.data for a in org.accounts.values() if a.data.get("Code") == code and code), None)
        amount = _number(body.get("Amount"))
        errors = []
        if invoice is None:
            errors.append("Invoice could not be found.")
        elif invoice.data["Status"] != "AUTHORISED":
            errors.append("Payments can only be made against Authorised documents.")
        if account is None or account.get("Status") != "ACTIVE":
            errors.append(f"Account code '{code}' is not a valid code for this document.")
        elif account.get("Type") != "BANK" and not account.get("EnablePaymentsToAccount"):
            errors.append("Account type is invalid for making a payment to/from.")
        if amount is None or amount <= 0:
            errors.append("Payment amount must be greater than zero.")
        elif invoice is not None and amount > invoice.data["AmountDue"]:
            errors.append("Payment amount exceeds the amount outstanding on this document.")
        if errors:
            return 400, _validation_exception(*errors)
        assert invoice is not None and amount is not None
        amount = round_cents(amount)
        invoice.data["AmountPaid"] += amount
        invoice.data["AmountDue"] -= amount
        if invoice.data["AmountDue"] == 0:
            invoice.data["Status"] = "PAID"
        invoice.updated_at = self.clock()
        payment_id = str(uuid.uuid4())
        payment = {
            "PaymentID": payment_id,
            "Date": _date(body.get("Date")) or datetime.fromtimestamp(self.clock(), UTC).date(),
            "Amount": amount,
            "Status": "AUTHORISED",
            "Invoice": {"InvoiceID": invoice_id, "InvoiceNumber": invoice.data["InvoiceNumber"]},
            "Account": {"AccountID": account["AccountID"], "Code": code},
        }
        ledger.payments[payment_id] = payment
        return 200, {"Payments": [_json_safe(payment)]}


def _refused(message: str) -> Reply:
    return Reply(JSONResponse(_validation_exception(message), status_code=400))


def _unitdp(request: Request) -> int:
    return 4 if request.query_params.get("unitdp") == "4" else 2


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _rendered(invoice: _Invoice, *, unitdp: int = 2) -> dict[str, Any]:
    row = dict(invoice.data)
    row["LineItems"] = [
        dict(line, UnitAmount=line["UnitAmount"].quantize(Decimal(1).scaleb(-unitdp), rounding=ROUND_HALF_UP))
        for line in row["LineItems"]
    ]
    for name in ("Date", "DueDate"):
        day = row.get(name)
        if isinstance(day, date):
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            row[name] = ms_date(moment.timestamp(), zone=False)
        else:
            row.pop(name, None)
    row["UpdatedDateUTC"] = ms_date(invoice.updated_at)
    return _json_safe(row)


def _json_safe(value: Any) -> Any:
    """Decimals as JSON numbers (through their text, so 0.1 stays 0.1), dates as ISO text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value
