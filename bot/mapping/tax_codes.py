"""Tax codes in the mapping: the package's tax rates (fetched with the chart where the package offers invoicing),
the default tax code of each category's invoice lines, and whether a tax code suits an account.

Plain Python over a session; `store_tax_rates` is called by `account_mapping.refresh_chart`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.categories import Category
from providers.base import Provider
from providers.invoicing import Invoicing, TaxRate
from storage.models import ChartTaxRate, Connection
from storage.models.chart import store_rows

MAX_TAX_OPTIONS = 100  # a static select's limit; organisations have a handful


def offers_invoicing(provider: Provider) -> bool:
    """Whether the package raises invoices (and so has tax codes): the optional `Invoicing` capability."""
    return isinstance(provider, Invoicing)


def invoicing_of(provider: Provider) -> Invoicing | None:
    return provider if isinstance(provider, Invoicing) else None


@dataclass(frozen=True)
class TaxEntry:
    """One stored tax code, as the views show it."""

    code: str
    name: str
    rate: Decimal  # percent
    active: bool = True
    suits: frozenset[str] = frozenset()  # account kinds; empty: any

    @property
    def label(self) -> str:
        """`GST on Income (15%)`."""
        return f"{self.name} ({format(self.rate.normalize(), 'f')}%)"

    def suits_kind(self, kind: str) -> bool:
        return not self.suits or kind in self.suits

    @classmethod
    def from_row(cls, row: ChartTaxRate) -> TaxEntry:
        suits = frozenset(k for k in row.suits.split(",") if k)
        return cls(code=row.code, name=row.name, rate=Decimal(row.rate), active=row.active, suits=suits)


def taxable(category: Category) -> bool:
    """Whether a category's lines carry a tax code: any but a bank-only category (payments received)."""
    return any(kind != "bank" for kind in category.kinds)


def store_tax_rates(session: Session, *, connection: Connection, rates: Iterable[TaxRate], now: datetime) -> None:
    """Make the stored tax codes the given ones: update by code, add new ones, delete those gone; only the rows
    that change are written."""
    stored = {
        row.code: row
        for row in session.scalars(select(ChartTaxRate).where(ChartTaxRate.connection_id == connection.id))
    }
    fetched = {
        rate.code: {
            "name": rate.name[:255],
            "rate": rate.rate,
            "active": rate.active,
            "suits": ",".join(sorted(rate.suits))[:255],
        }
        for rate in rates
    }
    store_rows(
        session, stored, fetched, lambda code: ChartTaxRate(connection_id=connection.id, code=code[:64]), now=now
    )


def tax_codes(session: Session, *, connection_id: int) -> dict[str, TaxEntry]:
    """The stored tax codes by code, archived ones included, in name order."""
    rows = session.scalars(
        select(ChartTaxRate).where(ChartTaxRate.connection_id == connection_id).order_by(ChartTaxRate.name)
    )
    return {row.code: TaxEntry.from_row(row) for row in rows}


def tax_options(category: Category, entries: Iterable[TaxEntry]) -> tuple[TaxEntry, ...]:
    """The active tax codes that suit at least one kind of account the category takes."""
    offered = [e for e in entries if e.active and any(e.suits_kind(kind) for kind in category.kinds)]
    return tuple(offered[:MAX_TAX_OPTIONS])


def tax_problem(entry: TaxEntry | None, *, account_kind: str, account_label: str) -> str | None:
    """Why a tax code cannot go with an account (in words for a person), or None when it can."""
    if entry is None:
        return "That tax code is no longer in the organisation's tax rates. Choose another."
    if not entry.active:
        return f"{entry.label} is archived. Choose another."
    if not entry.suits_kind(account_kind):
        return f"{entry.label} cannot be used with {account_label}. Choose a tax code for that kind of account."
    return None
