"""A QuickBooks company's tax codes and rates as the fake seeds them, and its sales tax worked out as QuickBooks
does: outside the US per line from the line's TaxCode (prices with or without tax, `GlobalTaxCalculation`); in the
US on the taxable (`TAX`) lines together, at the one sales tax code the invoice names (`TxnTaxCodeRef`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
CURRENCIES = {"US": "USD", "AU": "AUD", "GB": "GBP", "CA": "CAD", "NZ": "NZD"}

# (TaxRate Id, Name, RateValue, Active)
US_RATES = (("1", "California state tax", "8", True), ("2", "Old county tax", "9.5", False))
# (TaxCode Id, Name, sales rate Ids, purchase rate Ids, Active)
US_CODES = (("2", "California", ("1",), (), True), ("3", "Old county", ("2",), (), False))
OTHER_RATES = (
    ("20", "GST (sales)", "10", True),
    ("21", "GST (purchases)", "10", True),
    ("22", "GST free (sales)", "0", True),
    ("23", "GST free (purchases)", "0", True),
    ("24", "Old sales tax", "12.5", False),
)
OTHER_CODES = (
    ("10", "GST", ("20",), ("21",), True),
    ("11", "GST free", ("22",), ("23",), True),
    ("12", "GST on non-capital", (), ("21",), True),
    ("13", "Old sales tax", ("24",), (), False),
)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def seeded_rates(country: str) -> list[tuple[str, dict[str, Any]]]:
    rates = US_RATES if country == "US" else OTHER_RATES
    return [
        (rate_id, {"Name": name, "Active": active, "RateValue": float(value), "SpecialTaxType": "NONE"})
        for rate_id, name, value, active in rates
    ]


def seeded_codes(country: str) -> list[tuple[str, dict[str, Any]]]:
    codes = US_CODES if country == "US" else OTHER_CODES
    found = []
    for code_id, name, sales, purchases, active in codes:
        found.append(
            (
                code_id,
                {
                    "Name": name,
                    "Description": name,
                    "Active": active,
                    "Hidden": False,
                    "Taxable": True,
                    "TaxGroup": True,
                    "SalesTaxRateList": _rate_list(sales),
                    "PurchaseTaxRateList": _rate_list(purchases),
                },
            )
        )
    return found


def _rate_list(ids: tuple[str, ...]) -> dict[str, Any]:
    return {
        "TaxRateDetail": [
            {"TaxRateRef": {"value": rate_id}, "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0} for rate_id in ids
        ]
    }


@dataclass(frozen=True)
class TaxCode:
    """A tax code as the fake works tax out with it: its total sales rate and the sales rates it lists."""

    id: str
    active: bool
    rates: tuple[tuple[str, Decimal], ...]  # (TaxRate Id, percent)

    @property
    def percent(self) -> Decimal:
        return sum((rate for _, rate in self.rates), Decimal(0))


def tax_code(codes: dict[str, Any], rates: dict[str, Any], code_id: str) -> TaxCode | None:
    """The tax code `code_id` usable on sales (it lists sales rates), or None."""
    record = codes.get(code_id)
    if record is None or record.deleted:
        return None
    details = record.data.get("SalesTaxRateList", {}).get("TaxRateDetail", [])
    listed = []
    for detail in details:
        rate = rates.get(detail["TaxRateRef"]["value"])
        if rate is not None:
            listed.append((detail["TaxRateRef"]["value"], Decimal(str(rate.data["RateValue"]))))
    if not listed:
        return None
    return TaxCode(code_id, record.data.get("Active", True) is not False, tuple(listed))


def line_tax(net_or_gross: Decimal, percent: Decimal, *, inclusive: bool) -> tuple[Decimal, Decimal]:
    """(net amount, tax) of one line: tax worked out of a tax-inclusive amount, or on top of a net one."""
    if inclusive:
        tax = cents(net_or_gross * percent / (100 + percent))
        return net_or_gross - tax, tax
    return net_or_gross, cents(net_or_gross * percent / 100)
