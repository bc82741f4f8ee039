"""What the QuickBooks fake keeps: the requests it received, its limits, and the private records of companies,
their customers and accounts, our app's connections to them and injected failures."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class QuickBooksLimits:
    """Intuit's limits per company: `per_minute` requests in a rolling minute, `concurrent` at once."""

    per_minute: int = 500
    concurrent: int = 10


@dataclass
class Call:
    """One request the fake received (Authorization redacted); `statement` is a query's text, `entity` the
    entity it reads (a query's FROM, or CDC's `entities`)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    statement: str | None = None
    entity: str | None = None
    status: int | None = None

    @property
    def counts(self) -> bool:
        """Whether it was a `SELECT COUNT(*)`."""
        return bool(self.statement and "count(" in self.statement.lower().replace(" ", ""))


@dataclass
class _Record:
    data: dict[str, Any]  # Intuit's fields, without Id, SyncToken and MetaData
    created_at: float
    updated_at: float
    sync_token: int = 0
    deleted: bool = False  # removed for good: only change data capture still tells of it


@dataclass
class _Company:
    realm_id: str
    name: str
    country: str
    customers: dict[str, _Record] = field(default_factory=dict)
    accounts: dict[str, _Record] = field(default_factory=dict)
    # invoicing (tests.fakes.quickbooks.sales): Items, tax codes and rates, terms, invoices and payments
    items: dict[str, _Record] = field(default_factory=dict)
    tax_codes: dict[str, _Record] = field(default_factory=dict)
    tax_rates: dict[str, _Record] = field(default_factory=dict)
    terms: dict[str, _Record] = field(default_factory=dict)
    invoices: dict[str, _Record] = field(default_factory=dict)
    payments: dict[str, _Record] = field(default_factory=dict)
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)  # requestid → the first answer
    bodies: list[tuple[str, Any]] = field(default_factory=list)  # every write's path and body, for schema checks
    default_terms: str | None = None  # SalesFormsPrefs.DefaultTerms
    doc_number: int = 1000
    next_id: int = 1
    minute: deque[float] = field(default_factory=deque)
    in_flight: int = 0

    def new_id(self) -> str:
        self.next_id += 1
        return str(self.next_id - 1)


@dataclass
class _FailureRule:
    paths: tuple[str, ...]
    entity: str | None
    status: int
    body: Any
    headers: dict[str, str]
    times: int

    def matches(self, path: str, entity: str | None) -> bool:
        return any(p in path.lower() for p in self.paths) and (self.entity is None or self.entity == entity)
