"""The writes of the QuickBooks fake (an Item, an invoice, a payment) as QuickBooks checks and records them, and
the ValidationFaults it answers (`Refused`): names unique (6240), references that exist and are active (2500),
Amount = Qty × UnitPrice (6070), tax worked out as `tests.fakes.quickbooks.taxes` says, DocNumbers from 1001,
payments never above an invoice's open balance."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.fakes.quickbooks.faults import intuit_time
from tests.fakes.quickbooks.records import _Company, _Record
from tests.fakes.quickbooks.taxes import CURRENCIES, cents, line_tax, tax_code

INACTIVE = "Something you're trying to use has been made inactive. Check the fields with accounts, customers, items."


class Refused(Exception):
    """A ValidationFault for the write being done: `code`, Intuit's message and detail, and the `element`."""

    def __init__(self, code: str, message: str, detail: str, element: str | None = None) -> None:
        super().__init__(detail)
        self.code, self.message, self.detail, self.element = code, message, detail, element


def _invalid_reference(what: str, element: str) -> Refused:
    return Refused("2500", "Invalid Reference Id", f"Invalid Reference Id : {what}: {INACTIVE}", element)


def _business(detail: str, element: str | None = None) -> Refused:
    message = "A business validation error has occurred while processing your request"
    return Refused("6000", message, f"Business Validation Error: {detail}", element)


class Writes:
    """Mixed into the fake: needs its clock and `render`."""

    clock: Callable[[], float]
    render: Callable[[_Record, str], dict[str, Any]]

    def _answer(self, entity: str, record: _Record, record_id: str) -> tuple[int, Any]:
        return 200, {entity: self.render(record, record_id), "time": intuit_time(self.clock())}

    # -- the writes ----------------------------------------------------------------------------

    def _item(self, company: _Company, body: dict[str, Any]) -> tuple[int, Any]:
        name = body.get("Name")
        if not isinstance(name, str) or not name.strip():
            raise Refused("2020", "Required param missing, need to supply the required value for the API", "Name")
        if any(r.data["Name"].casefold() == name.strip().casefold() for r in company.items.values()):
            detail = f"The name supplied already exists. : {name.strip()}"
            raise Refused("6240", "Duplicate Name Exists Error", detail, "Name")
        account_id = str((body.get("IncomeAccountRef") or {}).get("value") or "")
        account = company.accounts.get(account_id)
        if account is None or account.data.get("Active") is False:
            raise _invalid_reference(f"Account {account_id}", "IncomeAccountRef")
        data = {
            "Name": name.strip(),
            "Description": body.get("Description") or name.strip(),
            "Active": True,
            "FullyQualifiedName": name.strip(),
            "Taxable": True,
            "UnitPrice": 0,
            "Type": body.get("Type", "Service"),
            "IncomeAccountRef": {"value": account_id, "name": account.data["Name"]},
            "TrackQtyOnHand": False,
            "domain": "QBO",
            "sparse": False,
        }
        item_id = company.new_id()
        company.items[item_id] = _Record(data, self.clock(), self.clock())
        return self._answer("Item", company.items[item_id], item_id)

    def _invoice(self, company: _Company, body: dict[str, Any]) -> tuple[int, Any]:
        us = company.country == "US"
        customer_id = str((body.get("CustomerRef") or {}).get("value") or "")
        customer = company.customers.get(customer_id)
        if not customer_id:
            raise Refused(
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter CustomerRef is missing in the request",
                "CustomerRef",
            )
        if customer is None or customer.deleted or customer.data.get("Active") is False:
            raise _invalid_reference(f"Customer {customer_id}", "CustomerRef")
        sent = [line for line in body.get("Line") or [] if line.get("DetailType") == "SalesItemLineDetail"]
        if not sent:
            raise Refused(
                "2020",
                "Required param missing, need to supply the required value for the API",
                "Required parameter Line is missing in the request",
                "Line",
            )
        inclusive = not us and body.get("GlobalTaxCalculation") == "TaxInclusive"
        sales_code = None
        if us and (ref := (body.get("TxnTaxDetail") or {}).get("TxnTaxCodeRef")):
            sales_code = tax_code(company.tax_codes, company.tax_rates, str(ref.get("value")))
            if sales_code is None or not sales_code.active:
                raise _invalid_reference(f"Tax code {ref.get('value')}", "TxnTaxDetail.TxnTaxCodeRef")
        lines, taxable, tax = [], Decimal(0), Decimal(0)
        for number, line in enumerate(sent, start=1):
            detail = line["SalesItemLineDetail"]
            item_id = str((detail.get("ItemRef") or {}).get("value") or "")
            item = company.items.get(item_id)
            if item is None or item.data.get("Active") is False:
                raise _invalid_reference(f"Item {item_id}", "Line.SalesItemLineDetail.ItemRef")
            quantity, price = _number(detail.get("Qty", 1)), _number(detail.get("UnitPrice", 0))
            amount = _number(line.get("Amount"))
            if inclusive and detail.get("TaxInclusiveAmt") is not None:
                amount = _number(detail["TaxInclusiveAmt"])
            if quantity is None or price is None or amount is None or cents(quantity * price) != amount:
                detail_words = f"Amount is not equal to UnitPrice * Qty. Supplied value:{line.get('Amount')}"
                raise Refused("6070", "Amount calculation incorrect in the request", detail_words, "Line.Amount")
            code = str((detail.get("TaxCodeRef") or {}).get("value") or "")
            if us:
                if code not in ("", "TAX", "NON"):
                    raise _invalid_reference(f"Tax code {code}", "Line.SalesItemLineDetail.TaxCodeRef")
                net = amount
                if code == "TAX":
                    taxable += amount
            else:
                found = tax_code(company.tax_codes, company.tax_rates, code) if code else None
                if not code:
                    raise _business("Make sure all your transactions have a GST rate before you save.", "TaxCodeRef")
                if found is None or not found.active:
                    raise _invalid_reference(f"Tax code {code}", "Line.SalesItemLineDetail.TaxCodeRef")
                net, line_tax_amount = line_tax(amount, found.percent, inclusive=inclusive)
                tax += line_tax_amount
            kept = dict(detail, ItemRef={"value": item_id, "name": item.data["Name"]})
            if code:
                kept["TaxCodeRef"] = {"value": code}
            if inclusive:
                kept["TaxInclusiveAmt"] = amount
            lines.append(
                {
                    "Id": str(number),
                    "LineNum": number,
                    "Description": line.get("Description", ""),
                    "Amount": net,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": kept,
                }
            )
        if us and sales_code is not None:
            tax = cents(taxable * sales_code.percent / 100)
        subtotal = sum((line["Amount"] for line in lines), Decimal(0))
        lines.append({"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        company.doc_number += 1
        tax_detail: dict[str, Any] = {"TotalTax": tax}
        if sales_code is not None:
            tax_detail = {"TxnTaxCodeRef": {"value": sales_code.id}} | tax_detail
        data: dict[str, Any] = {
            "DocNumber": str(company.doc_number),
            "TxnDate": body.get("TxnDate") or intuit_time(self.clock())[:10],
            "CurrencyRef": {"value": CURRENCIES.get(company.country, "USD")},
            "PrivateNote": body.get("PrivateNote"),
            "LinkedTxn": [],
            "Line": lines,
            "TxnTaxDetail": tax_detail,
            "CustomerRef": {"value": customer_id, "name": customer.data["DisplayName"]},
            "CustomerMemo": body.get("CustomerMemo"),
            "DueDate": body.get("DueDate") or body.get("TxnDate"),
            "GlobalTaxCalculation": None if us else body.get("GlobalTaxCalculation", "TaxExcluded"),
            "TotalAmt": subtotal + tax,
            "PrintStatus": "NotSet",
            "EmailStatus": "NotSet",
            "Balance": subtotal + tax,
            "domain": "QBO",
            "sparse": False,
        }
        invoice_id = company.new_id()
        company.invoices[invoice_id] = _Record(_json_safe(data), self.clock(), self.clock())
        return 200, {
            "Invoice": self.render(company.invoices[invoice_id], invoice_id),
            "time": intuit_time(self.clock()),
        }

    def _payment(self, company: _Company, body: dict[str, Any]) -> tuple[int, Any]:
        customer_id = str((body.get("CustomerRef") or {}).get("value") or "")
        if customer_id not in company.customers:
            raise _invalid_reference(f"Customer {customer_id}", "CustomerRef")
        total = _number(body.get("TotalAmt"))
        if total is None or total <= 0:
            raise _business("The payment amount must be more than zero.", "TotalAmt")
        deposit_id = str((body.get("DepositToAccountRef") or {}).get("value") or "")
        if deposit_id:
            account = company.accounts.get(deposit_id)
            if account is None or account.data.get("Active") is False:
                raise _invalid_reference(f"Account {deposit_id}", "DepositToAccountRef")
            if account.data["AccountType"] not in ("Bank", "Other Current Asset"):
                raise _business(
                    "Payments can only be deposited to a bank or other current asset account.", "DepositToAccountRef"
                )
        applied: list[tuple[_Record, Decimal]] = []
        for line in body.get("Line") or []:
            amount = _number(line.get("Amount"))
            for linked in line.get("LinkedTxn") or []:
                invoice = company.invoices.get(str(linked.get("TxnId")))
                if linked.get("TxnType") != "Invoice" or invoice is None or invoice.deleted:
                    raise _invalid_reference(f"Invoice {linked.get('TxnId')}", "Line.LinkedTxn")
                if invoice.data["CustomerRef"]["value"] != customer_id:
                    raise _business("The invoice belongs to another customer.", "CustomerRef")
                balance = Decimal(str(invoice.data["Balance"]))
                if amount is None or amount <= 0 or amount > balance:
                    number = invoice.data["DocNumber"]
                    raise _business(
                        f"The amount applied to invoice {number} ({amount}) is more than its open balance ({balance}).",
                        "Line.Amount",
                    )
                applied.append((invoice, amount))
        if sum((a for _, a in applied), Decimal(0)) > total:
            raise _business("The amounts applied are more than the payment's total.", "TotalAmt")
        payment_id = company.new_id()
        for invoice, amount in applied:
            invoice.data["Balance"] = float(Decimal(str(invoice.data["Balance"])) - cents(amount))
            invoice.data["LinkedTxn"].append({"TxnId": payment_id, "TxnType": "Payment"})
            invoice.updated_at, invoice.sync_token = self.clock(), invoice.sync_token + 1
        unapplied = total - sum((a for _, a in applied), Decimal(0))
        data = {
            "TxnDate": body.get("TxnDate") or intuit_time(self.clock())[:10],
            "CurrencyRef": {"value": CURRENCIES.get(company.country, "USD")},
            "Line": [dict(line, Amount=_number(line.get("Amount"))) for line in body.get("Line") or []],
            "CustomerRef": body["CustomerRef"],
            "DepositToAccountRef": body.get("DepositToAccountRef"),
            "TotalAmt": total,
            "UnappliedAmt": unapplied,
            "ProcessPayment": False,
            "domain": "QBO",
            "sparse": False,
        }
        company.payments[payment_id] = _Record(_json_safe(data), self.clock(), self.clock())
        return 200, {
            "Payment": self.render(company.payments[payment_id], payment_id),
            "time": intuit_time(self.clock()),
        }


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _json_safe(value: Any) -> Any:
    """Decimals as JSON numbers (through their text), None left out, as QuickBooks leaves out what is not set."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value
