"""Items, invoices and payments as QuickBooks Online takes them (`POST /item`, `/invoice`, `/payment`), and the
company's preferences: every body checked against Intuit's schemas (an unknown field is refused, 2010), Item names
unique (6240), references that must exist and be active (2500), a line's Amount that must be Qty × UnitPrice (6070),
DocNumbers counted from 1001, totals and Balance worked out, payments never above the open balance, and a
`requestid` answered a second time with the first answer. Money is Decimal here and a JSON number on the wire."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.oauth2 import Reply
from tests.fakes.quickbooks.api import CompanyApi
from tests.fakes.quickbooks.faults import fault, intuit_time
from tests.fakes.quickbooks.records import _Company, _Record
from tests.fakes.quickbooks.taxes import seeded_codes, seeded_rates
from tests.fakes.quickbooks.writes import Refused, Writes
from tests.quickbooks_schema import entity_errors, schema

REQUEST_ID_LIMIT = 50


class Hold(threading.Event):
    """A write's answer kept back: set it to let the answer go; `acted` is set once QuickBooks has done the write."""

    def __init__(self) -> None:
        super().__init__()
        self.acted = threading.Event()


class SalesApi(Writes, CompanyApi):
    """The company API's writes and preferences, on the records `QuickBooksState` keeps."""

    _lost: dict[str, int]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        schema()  # Intuit's schemas take a second or two to load: once a process, now rather than inside a request

    # -- controls ------------------------------------------------------------------------------

    def add_company(self, name: str, *, chart: bool = True, numbered: bool = False, country: str = "US") -> str:
        realm_id = super().add_company(name, chart=chart, numbered=numbered, country=country)
        with self._lock:
            company, now = self._company(realm_id), self.clock()
            for rate_id, data in seeded_rates(country):
                company.tax_rates[rate_id] = _Record(data, now, now)
            for code_id, data in seeded_codes(country):
                company.tax_codes[code_id] = _Record(data, now, now)
        return realm_id

    def add_term(self, realm_id: str, name: str, **fields: Any) -> str:
        """A Term (`DueDays=30`, or `Type="DATE_DRIVEN", DayOfMonthDue=20`)."""
        with self._lock:
            company = self._company(realm_id)
            term_id = company.new_id()
            data = {"Name": name, "Active": True, "Type": "STANDARD"} | fields
            company.terms[term_id] = _Record(data, self.clock(), self.clock())
            return term_id

    def set_default_terms(self, realm_id: str, term_id: str | None) -> None:
        with self._lock:
            self._company(realm_id).default_terms = term_id

    def add_item(self, realm_id: str, name: str, income_account_id: str, **fields: Any) -> str:
        """An Item made in QuickBooks itself."""
        with self._lock:
            company = self._company(realm_id)
            status, answer = self._item(
                company, {"Name": name, "Type": "Service"} | fields | {"IncomeAccountRef": {"value": income_account_id}}
            )
            assert status == 200, answer
            return str(answer["Item"]["Id"])

    def update_item(self, realm_id: str, item_id: str, **fields: Any) -> None:
        """Change an Item in QuickBooks itself (`Active=False`: made inactive)."""
        with self._lock:
            record = self._company(realm_id).items[item_id]
            record.data.update(fields)
            record.updated_at, record.sync_token = self.clock(), record.sync_token + 1

    def items(self, realm_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [self.render(r, i) for i, r in self._company(realm_id).items.items()]

    def invoices(self, realm_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [self.render(r, i) for i, r in self._company(realm_id).invoices.items() if not r.deleted]

    def payments(self, realm_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [self.render(r, i) for i, r in self._company(realm_id).payments.items()]

    def write_bodies(self, realm_id: str) -> list[tuple[str, Any]]:
        """Every write's entity ("Invoice", ...) and body as received, in order."""
        with self._lock:
            return list(self._company(realm_id).bodies)

    def lose_answers(self, resource: str, times: int = 1) -> None:
        """Do the next `times` writes to `resource` ("invoice", "payment", "item"), then answer 504 instead of the
        result, as when a gateway times out after QuickBooks acted: only the requestid saves a retry."""
        with self._lock:
            lost = self.__dict__.setdefault("_lost", {})
            lost[resource] = lost.get(resource, 0) + times

    def hold_answers(self, resource: str) -> Hold:
        """Act on writes to `resource` ("invoice", "payment", "item") at once but keep their answers until the
        returned event is set: a test can kill the caller between QuickBooks acting and the caller hearing of it."""
        release = Hold()
        with self._lock:
            self.__dict__.setdefault("_answer_holds", {}).setdefault(resource, []).append(release)
        return release

    def pay_in_quickbooks(self, realm_id: str, invoice_id: str, amount: str, account_id: str | None = None) -> str:
        """A payment received in QuickBooks itself (not through the API we are tested on)."""
        with self._lock:
            company = self._company(realm_id)
            invoice = company.invoices[invoice_id]
            deposit = account_id or next(i for i, a in company.accounts.items() if a.data["Name"] == "Checking")
            body = {
                "CustomerRef": invoice.data["CustomerRef"],
                "TotalAmt": Decimal(amount),
                "DepositToAccountRef": {"value": deposit},
                "Line": [{"Amount": Decimal(amount), "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}],
            }
            status, answer = self._payment(company, body)
            assert status == 200, answer
            return str(answer["Payment"]["Id"])

    def void_invoice(self, realm_id: str, invoice_id: str) -> None:
        """What voiding does in QuickBooks: the invoice stays, every amount zero, "Voided" in its private note."""
        with self._lock:
            record = self._company(realm_id).invoices[invoice_id]
            for line in record.data["Line"]:
                line["Amount"] = 0.0
            record.data.update(TotalAmt=0.0, Balance=0.0, PrivateNote="Voided")
            record.data["TxnTaxDetail"]["TotalTax"] = 0.0
            record.updated_at, record.sync_token = self.clock(), record.sync_token + 1

    def delete_invoice(self, realm_id: str, invoice_id: str) -> None:
        with self._lock:
            record = self._company(realm_id).invoices[invoice_id]
            record.deleted, record.updated_at = True, self.clock()

    # -- routes --------------------------------------------------------------------------------

    def _records(self, company: _Company, entity: str) -> dict[str, _Record]:
        by_entity = {
            "Item": company.items,
            "TaxCode": company.tax_codes,
            "TaxRate": company.tax_rates,
            "Term": company.terms,
            "Invoice": company.invoices,
            "Payment": company.payments,
        }
        return by_entity[entity] if entity in by_entity else super()._records(company, entity)

    async def _preferences(self, request: Request) -> Response:
        return await self._company_call(request, self._preferences_body)

    def _preferences_body(self, company: _Company) -> dict[str, Any]:
        forms: dict[str, Any] = {"CustomTxnNumbers": False, "AllowDeposit": True, "AllowDiscount": True}
        if company.default_terms is not None:
            forms["DefaultTerms"] = {"value": company.default_terms}
        now = intuit_time(self.clock())
        prefs = {"SalesFormsPrefs": forms, "domain": "QBO", "sparse": False, "Id": "1", "SyncToken": "0"}
        return {"Preferences": prefs | {"MetaData": {"CreateTime": now, "LastUpdatedTime": now}}}

    async def _post_item(self, request: Request) -> Response:
        return await self._write(request, "Item", self._item)

    async def _post_invoice(self, request: Request) -> Response:
        return await self._write(request, "Invoice", self._invoice)

    async def _post_payment(self, request: Request) -> Response:
        return await self._write(request, "Payment", self._payment)

    async def _write(
        self, request: Request, entity: str, make: Callable[[_Company, dict[str, Any]], tuple[int, Any]]
    ) -> Response:
        raw = await request.body()
        requestid = request.query_params.get("requestid")

        def produce(company: _Company) -> dict[str, Any]:
            if requestid is not None and len(requestid) > REQUEST_ID_LIMIT:
                raise _reply(400, Refused("2010", "Request has invalid or unsupported property", "requestid"), self)
            if requestid is not None and requestid in company.answers:
                status, answer = company.answers[requestid]
                answer = json.loads(json.dumps(answer))
            else:
                try:
                    body = json.loads(raw, parse_float=Decimal)
                except ValueError:
                    body = None
                company.bodies.append((entity, json.loads(raw) if body is not None else raw))
                status, answer = self._checked(company, entity, body, make)
                if requestid is not None:
                    company.answers[requestid] = (status, answer)
            lost = self.__dict__.get("_lost", {})
            if lost.get(entity.lower(), 0) > 0:
                lost[entity.lower()] -= 1
                raise Reply(Response("<html><body>504 Gateway Time-out</body></html>", 504, media_type="text/html"))
            if status != 200:
                raise Reply(JSONResponse(answer, status_code=status))
            return dict(answer)

        response = await self._company_call(request, produce)
        with self._lock:
            holds = list(self.__dict__.get("_answer_holds", {}).get(entity.lower(), []))
        for release in holds:  # the write is done; its answer waits
            release.acted.set()
            while not release.is_set():
                await asyncio.sleep(0.01)
        return response

    async def _company_call(self, request: Request, produce: Callable[[_Company], dict[str, Any]]) -> Response:
        try:
            return await super()._company_call(request, produce)
        except Reply as reply:  # raised by a write while the company was admitted: its count is already given back
            return reply.response

    def _checked(
        self, company: _Company, entity: str, body: Any, make: Callable[[_Company, dict[str, Any]], tuple[int, Any]]
    ) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, self._fault(Refused("2010", "Request has invalid or unsupported property", "not JSON"))
        try:
            problems = entity_errors(entity, body)
        except AssertionError as exc:  # a field Intuit's schema does not have
            problems = [str(exc)]
        if problems:
            detail = f"Property Name:{problems[0][:200]}"
            return 400, self._fault(Refused("2010", "Request has invalid or unsupported property", detail))
        try:
            return make(company, body)
        except Refused as refused:
            return 400, self._fault(refused)

    def _fault(self, refused: Refused) -> dict[str, Any]:
        return fault(
            refused.code,
            refused.message,
            refused.detail,
            fault_type="ValidationFault",
            now=self.clock(),
            element=refused.element,
        )


def _reply(status: int, refused: Refused, fake: SalesApi) -> Reply:
    return Reply(JSONResponse(fake._fault(refused), status_code=status))
