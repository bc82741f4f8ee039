"""Mapping account codes: a connection's chart of accounts (fetched, stored, searched), the accounts each
category may post to, validating and saving the mapping, and what has gone stale since it was saved.

Plain Python over a session (and, to fetch the chart, a provider), so tests can call it without Slack.
`refresh_chart` is the one function that calls the provider; the sync job calls it too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, bindparam, case, func, or_, select
from sqlalchemy.orm import Session

from bot import workspaces
from bot.categories import Category
from bot.connections.links import link_for
from bot.mapping import tax_codes
from bot.mapping.tax_codes import TaxEntry
from bot.runtime import Runtime
from providers.base import ACCOUNT_KINDS, Account
from storage.models import AccountMapping, ChartAccount, ChartTaxRate, Connection, ConnectionStatus, locked_connection
from storage.models.chart import store_rows

log = logging.getLogger(__name__)

CHART_MAX_AGE = timedelta(minutes=5)  # older than this, opening the modal fetches the chart again
MAX_MENU_OPTIONS = 100  # a static select holds 100 options; with more candidates the field is a typeahead
MAX_SEARCH_RESULTS = 100  # an external select shows at most 100 options

Reason = Literal["unmapped", "gone", "archived", "wrong_kind"]


@dataclass(frozen=True)
class ChartEntry:
    """One account of the stored chart, as views show it."""

    id: str  # the package's id: what a mapping stores (codes can change, and bank accounts may have none)
    code: str | None
    name: str
    kind: str
    type: str
    active: bool = True
    type_label: str = ""  # the type in words as the package's provider put it ("Direct costs")
    tax_code: str | None = None  # the account's own default tax code at the package

    @property
    def type_words(self) -> str:
        """The type for the dropdown's groups: the provider's words, else the package's own type, readable."""
        return self.type_label or self.type.replace("_", " ").capitalize() or "Other"

    @property
    def label(self) -> str:
        """`200 – Sales`, or the name alone for an account without a code."""
        return f"{self.code} – {self.name}" if self.code else self.name

    @property
    def reference(self) -> str:
        """How invoices and payments name the account to the package: its code, or its name where the package gives
        it none (an organisation that does not number its accounts)."""
        return self.code or self.name

    @classmethod
    def from_row(cls, row: ChartAccount) -> ChartEntry:
        return cls(
            id=row.external_id,
            code=row.code,
            name=row.name,
            kind=row.kind,
            type=row.type,
            active=row.active,
            type_label=row.type_label or "",
            tax_code=row.tax_type,
        )


@dataclass(frozen=True)
class MappingProblem:
    """Why a category has no usable account: never mapped, or its account left the chart, was archived, or
    changed kind. `account` is the account as last known (the chart's row, else the saved snapshot)."""

    category: Category
    reason: Reason
    account: ChartEntry | None = None


@dataclass(frozen=True)
class TaxProblem:
    """A category's saved default tax code that the package archived or removed since it was saved. `tax` is the
    code as stored (None when it is gone from the package)."""

    category: Category
    code: str
    reason: Literal["gone", "archived"]
    tax: TaxEntry | None = None


@dataclass(frozen=True)
class CategoryField:
    """One dropdown of the mapping modal."""

    category: Category
    options: tuple[ChartEntry, ...] | None  # every candidate, or None: too many for a menu, so a typeahead
    candidates: int
    current: ChartEntry | None  # what the dropdown starts with
    problem: MappingProblem | None = None  # why the saved account is not offered any more
    tax_options: tuple[TaxEntry, ...] | None = None  # None: no tax code for this category (or this package)
    tax_current: TaxEntry | None = None

    @property
    def typeahead(self) -> bool:
        return self.options is None


@dataclass(frozen=True)
class MappingForm:
    """What the mapping modal shows for a connection."""

    connection_id: int
    organisation_name: str
    provider_title: str
    chart_refreshed_at: datetime | None
    fields: tuple[CategoryField, ...]
    notice: str | None = None  # e.g. the chart could not be refreshed just now


@dataclass(frozen=True)
class SavedMapping:
    """The outcome of a save: `errors` (category key → message for a person) when nothing was saved."""

    errors: dict[str, str]
    entries: tuple[tuple[Category, ChartEntry | None], ...] = ()
    first: bool = False  # the connection had no mapping before: time to offer the initial import
    changed: tuple[str, ...] = ()  # keys of the categories whose account (or tax code) changed
    tax_errors: dict[str, str] = field(default_factory=dict)  # category key → what is wrong with its tax code
    taxes: tuple[tuple[Category, TaxEntry | None], ...] = ()  # the tax code saved per taxable category

    @property
    def ok(self) -> bool:
        return not self.errors and not self.tax_errors


@dataclass(frozen=True)
class MappingStatus:
    """What `/accounts status` and App Home say about the mapping."""

    saved_by: str | None
    saved_at: datetime | None
    mapped: int  # categories with a usable account
    categories: int
    problems: tuple[MappingProblem, ...]
    chart_refreshed_at: datetime | None
    tax_problems: tuple[TaxProblem, ...] = ()

    @property
    def started(self) -> bool:
        return self.saved_at is not None

    @property
    def needs_attention(self) -> bool:
        """A saved mapping that no longer holds (an account gone, archived or of the wrong kind, a required
        category without one, or a default tax code archived or removed at the package)."""
        return self.started and bool(self.problems or self.tax_problems)


# The chart of accounts


def chart_is_fresh(connection: Connection, now: datetime) -> bool:
    return connection.chart_refreshed_at is not None and now - connection.chart_refreshed_at < CHART_MAX_AGE


def refresh_chart(runtime: Runtime, *, connection_id: int) -> int:
    """Fetch the connection's chart (and its tax codes, where the package invoices) and store it; returns how
    many accounts it has.

    Raises `providers.base.ProviderError` (and stores nothing) when the package fails. Call it after
    acknowledging Slack: it is the one step here that waits on the package.
    """
    with runtime.db.session() as s:
        connection = s.get(Connection, connection_id)
        if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
            raise LookupError(f"connection {connection_id} is not connected")
        provider = runtime.providers[connection.provider]
        link = link_for(runtime, connection)
    invoicing = tax_codes.invoicing_of(provider)
    if invoicing is None:
        accounts, rates = provider.accounts(link), None
    else:  # the two at once: each is a round trip to the package (300 ms or more), and they took their sum
        with ThreadPoolExecutor(1, thread_name_prefix=f"chart-{connection_id}-tax-rates") as beside:
            asked = beside.submit(invoicing.tax_rates, link)
            accounts = provider.accounts(link)  # should it raise, the tax rates' call ends first (it is waited for)
            rates = asked.result()
    with runtime.db.session(write_lock=True) as s:
        # The row lock makes two processes refreshing one chart take turns instead of colliding on inserts, without
        # waiting for the pages of the import that refreshes the chart beside them (`locked_connection`).
        connection = s.scalar(locked_connection(connection_id))
        if connection is None:
            raise LookupError(f"connection {connection_id} is gone")
        store_chart(s, connection=connection, accounts=accounts, now=runtime.clock())
        if rates is not None:
            tax_codes.store_tax_rates(s, connection=connection, rates=rates, now=runtime.clock())
    log.info("Stored the chart of connection %s: %s accounts", connection_id, len(accounts))
    return len(accounts)


def store_chart(session: Session, *, connection: Connection, accounts: Iterable[Account], now: datetime) -> None:
    """Make the stored chart the given one: update accounts by id, add new ones, delete those gone. Only the rows
    that change are written (`storage.models.chart.store_rows`): a chart is mostly refreshed as it was, at the
    end of every import."""
    stored = {
        row.external_id: row
        for row in session.scalars(select(ChartAccount).where(ChartAccount.connection_id == connection.id))
    }
    fetched = {
        account.id: {
            "code": account.code[:32] if account.code else None,
            "name": account.name[:255],
            "kind": account.kind,
            "type": account.type[:64],
            "type_label": account.type_label[:64] or None,
            "active": account.active,
            "tax_type": account.tax_type[:64] if account.tax_type else None,
        }
        for account in accounts
    }
    store_rows(
        session,
        stored,
        fetched,
        lambda external_id: ChartAccount(connection_id=connection.id, external_id=external_id[:64]),
        now=now,
    )
    connection.chart_refreshed_at = now


def chart(session: Session, *, connection_id: int) -> dict[str, ChartEntry]:
    """The stored chart by account id, archived accounts included."""
    rows = session.scalars(select(ChartAccount).where(ChartAccount.connection_id == connection_id))
    return {row.external_id: ChartEntry.from_row(row) for row in rows}


def menu_order(entry: ChartEntry) -> tuple[int, str, bool, tuple[int, str], str]:
    """Accounts grouped by kind and type, then by code (numerically where the code is a number), then name."""
    kind = ACCOUNT_KINDS.index(entry.kind) if entry.kind in ACCOUNT_KINDS else len(ACCOUNT_KINDS)
    code = entry.code or ""
    return kind, entry.type, entry.code is None, (int(code), "") if code.isdigit() else (1 << 62, code), entry.name


def candidates(category: Category, entries: Iterable[ChartEntry]) -> list[ChartEntry]:
    """The accounts `category` may map to: active, of an allowed kind, in menu order."""
    return sorted((e for e in entries if e.active and category.allows(e.kind)), key=menu_order)


# The mapping


def saved_mapping(session: Session, *, connection_id: int) -> dict[str, AccountMapping]:
    rows = session.scalars(select(AccountMapping).where(AccountMapping.connection_id == connection_id))
    return {row.category: row for row in rows}


def _judge(
    category: Category, saved: AccountMapping | None, entries: Mapping[str, ChartEntry]
) -> tuple[ChartEntry | None, MappingProblem | None]:
    """The saved account if it is still usable for `category`, else why not."""
    if saved is None:
        return None, MappingProblem(category, "unmapped") if category.required else None
    entry = entries.get(saved.account_external_id)
    if entry is None:
        snapshot = ChartEntry(
            id=saved.account_external_id,
            code=saved.account_code,
            name=saved.account_name or "an account",
            kind="",
            type="",
            active=False,
        )
        return None, MappingProblem(category, "gone", snapshot)
    if not entry.active:
        return None, MappingProblem(category, "archived", entry)
    if not category.allows(entry.kind):
        return None, MappingProblem(category, "wrong_kind", entry)
    return entry, None


def mapping_form(
    session: Session,
    *,
    connection: Connection,
    categories: Sequence[Category],
    provider_title: str,
    selected: Mapping[str, str | None] | None = None,
    notice: str | None = None,
    tax_selected: Mapping[str, str | None] | None = None,
) -> MappingForm:
    """The modal's content: per category its candidates (or a typeahead), pre-filled with the saved account,
    or with `selected` (category key → account id, None for none) where the person already chose; and, where
    the package has tax codes, the category's default tax code."""
    entries = chart(session, connection_id=connection.id)
    saved = saved_mapping(session, connection_id=connection.id)
    taxes = tax_codes.tax_codes(session, connection_id=connection.id)
    fields = []
    for category in categories:
        offered = candidates(category, entries.values())
        current, problem = _judge(category, saved.get(category.key), entries)
        if problem is not None and problem.reason == "unmapped":
            problem = None  # an empty required dropdown says so by itself
        if selected is not None and category.key in selected:
            chosen = selected[category.key]
            entry = entries.get(chosen) if chosen else None
            current = entry if entry is not None and entry.active and category.allows(entry.kind) else None
        fields.append(
            CategoryField(
                category=category,
                options=tuple(offered) if len(offered) <= MAX_MENU_OPTIONS and offered else None,
                candidates=len(offered),
                current=current,
                problem=problem,
                tax_options=tax_codes.tax_options(category, taxes.values())
                if taxes and tax_codes.taxable(category)
                else None,
                tax_current=_chosen_tax(category.key, saved.get(category.key), taxes, tax_selected),
            )
        )
    return MappingForm(
        connection_id=connection.id,
        organisation_name=connection.organisation_name,
        provider_title=provider_title,
        chart_refreshed_at=connection.chart_refreshed_at,
        fields=tuple(fields),
        notice=notice,
    )


def _chosen_tax(
    key: str,
    saved: AccountMapping | None,
    taxes: Mapping[str, TaxEntry],
    selected: Mapping[str, str | None] | None,
) -> TaxEntry | None:
    """The tax code the field starts with: what the person chose (a refresh keeps it), else the saved one."""
    code = selected[key] if selected is not None and key in selected else (saved.tax_code if saved else None)
    entry = taxes.get(code) if code else None
    return entry if entry is not None and entry.active else None


def search_accounts(
    session: Session, *, connection_id: int, category: Category, query: str, limit: int = MAX_SEARCH_RESULTS
) -> list[ChartEntry]:
    """Typeahead: the category's active accounts whose code or name holds every word typed, prefix matches
    of the code first, then of the name, then the rest, each in code order. Answers from the stored chart only."""
    code = func.lower(func.coalesce(ChartAccount.code, ""))
    name = func.lower(ChartAccount.name)
    statement = select(ChartAccount).where(
        ChartAccount.connection_id == connection_id,
        ChartAccount.active.is_(True),
        ChartAccount.kind.in_(category.kinds),
    )
    words = query.lower().split()
    for word in words:
        statement = statement.where(or_(code.contains(word, autoescape=True), name.contains(word, autoescape=True)))
    order: list[ColumnElement[Any]] = []
    if words:
        first = words[0]
        order.append(
            case(
                (code.startswith(first, autoescape=True), 0),
                (name.startswith(first, autoescape=True), 1),
                (name.contains(f" {first}", autoescape=True), 2),
                else_=3,
            )
        )
    order += [ChartAccount.code.is_(None), func.length(code), code, name]
    rows = session.scalars(statement.order_by(*order).limit(limit))
    return [ChartEntry.from_row(row) for row in rows]


def save_mapping(
    session: Session,
    *,
    connection: Connection,
    categories: Sequence[Category],
    chosen: Mapping[str, str | None],
    user_id: str,
    now: datetime,
    tax_chosen: Mapping[str, str | None] | None = None,
) -> SavedMapping:
    """Check the choices (category key → account id, and → tax code) against the stored chart and tax codes and,
    when they hold, store them with who saved and when, and write an audit row. Categories left empty lose their
    mapping; a tax code must exist, be active and suit the account chosen beside it."""
    entries = chart(session, connection_id=connection.id)
    taxes = tax_codes.tax_codes(session, connection_id=connection.id)
    tax_chosen = tax_chosen or {}
    errors: dict[str, str] = {}
    picked: list[tuple[Category, ChartEntry | None]] = []
    for category in categories:
        account_id = chosen.get(category.key)
        if not account_id:
            if category.required:
                errors[category.key] = f"Choose the account {category.label} posts to."
            picked.append((category, None))
            continue
        entry = entries.get(account_id)
        if entry is None:
            errors[category.key] = "That account is no longer in the chart of accounts. Choose another."
        elif not entry.active:
            errors[category.key] = f"{entry.label} is archived. Choose another."
        elif not category.allows(entry.kind):
            errors[category.key] = (
                f"{category.label} takes {kinds_in_words(category.kinds)} accounts; "
                f"{entry.label} is {kind_in_words(entry.kind, article=True)} account."
            )
        else:
            picked.append((category, entry))
    tax_errors: dict[str, str] = {}
    tax_picked: dict[str, TaxEntry | None] = {}
    for category, entry in picked:
        code = tax_chosen.get(category.key)
        if not code or not tax_codes.taxable(category):
            tax_picked[category.key] = None
            continue
        tax = taxes.get(code)
        if entry is None:
            tax_errors[category.key] = f"Choose the account {category.label} posts to before its tax code."
        elif (problem := tax_codes.tax_problem(tax, account_kind=entry.kind, account_label=entry.label)) is not None:
            tax_errors[category.key] = problem
        else:
            tax_picked[category.key] = tax
    if errors or tax_errors:
        return SavedMapping(errors=errors, tax_errors=tax_errors)

    saved = saved_mapping(session, connection_id=connection.id)
    first = not saved
    changed: list[str] = []
    for category, entry in picked:
        row = saved.get(category.key)
        if entry is None:
            if row is not None:
                session.delete(row)
                changed.append(category.key)
            continue
        if row is None:
            row = AccountMapping(connection_id=connection.id, category=category.key)
            session.add(row)
        tax = tax_picked.get(category.key)
        if row.account_external_id != entry.id or row.tax_code != (tax.code if tax else None):
            changed.append(category.key)
        row.tax_code = tax.code if tax else None
        row.account_external_id = entry.id
        row.account_code = entry.code
        row.account_name = entry.name[:255]
        row.saved_by = user_id
        row.saved_at = now
    by_key = {category.key: entry for category, entry in picked}
    workspaces.record(
        session,
        workspace_id=connection.workspace_id,
        actor=user_id,
        action="mapping.saved",
        detail={"connection": connection.id} | {key: _audited(by_key.get(key), tax_picked.get(key)) for key in changed},
    )
    return SavedMapping(
        errors={},
        entries=tuple(picked),
        first=first,
        changed=tuple(changed),
        taxes=tuple((c, tax_picked.get(c.key)) for c, _ in picked if taxes and tax_codes.taxable(c)),
    )


def _audited(entry: ChartEntry | None, tax: TaxEntry | None) -> str:
    if entry is None:
        return "(none)"
    return f"{entry.label}, tax {tax.code}" if tax is not None else entry.label


# The saved mapping with the stored account and tax code each row names, in one statement built once: status only
# needs the accounts and codes mapped, not the whole chart (hundreds of accounts at a real organisation).
_MAPPED = (
    select(AccountMapping, ChartAccount, ChartTaxRate)
    .outerjoin(
        ChartAccount,
        and_(
            ChartAccount.connection_id == AccountMapping.connection_id,
            ChartAccount.external_id == AccountMapping.account_external_id,
        ),
    )
    .outerjoin(
        ChartTaxRate,
        and_(ChartTaxRate.connection_id == AccountMapping.connection_id, ChartTaxRate.code == AccountMapping.tax_code),
    )
    .where(AccountMapping.connection_id == bindparam("connection_id"))
)


def mapping_status(session: Session, *, connection: Connection, categories: Sequence[Category]) -> MappingStatus:
    saved: dict[str, AccountMapping] = {}
    entries: dict[str, ChartEntry] = {}
    taxes: dict[str, TaxEntry] = {}
    for mapping, account, tax_rate in session.execute(_MAPPED, {"connection_id": connection.id}):
        saved[mapping.category] = mapping
        if account is not None:
            entries[account.external_id] = ChartEntry.from_row(account)
        if tax_rate is not None:
            taxes[tax_rate.code] = TaxEntry.from_row(tax_rate)
    problems: list[MappingProblem] = []
    tax_problems: list[TaxProblem] = []
    mapped = 0
    for category in categories:
        row = saved.get(category.key)
        current, problem = _judge(category, row, entries)
        mapped += current is not None
        if problem is not None:
            problems.append(problem)
        if row is not None and row.tax_code:
            tax = taxes.get(row.tax_code)
            if tax is None or not tax.active:
                tax_problems.append(TaxProblem(category, row.tax_code, "gone" if tax is None else "archived", tax))
    latest = max(saved.values(), key=lambda row: row.saved_at, default=None)
    return MappingStatus(
        saved_by=latest.saved_by if latest else None,
        saved_at=latest.saved_at if latest else None,
        mapped=mapped,
        categories=len(categories),
        problems=tuple(problems),
        chart_refreshed_at=connection.chart_refreshed_at,
        tax_problems=tuple(tax_problems),
    )


KIND_WORDS = {
    "income": "income",
    "other_income": "other income",
    "cost_of_sales": "cost of sales",
    "expense": "expense",
    "bank": "bank",
    "asset": "asset",
    "liability": "liability",
    "equity": "equity",
}


def kind_in_words(kind: str, *, article: bool = False) -> str:
    words = KIND_WORDS.get(kind, kind.replace("_", " "))
    if not article:
        return words
    return ("an " if words[:1] in "aeiou" else "a ") + words


def kinds_in_words(kinds: Sequence[str]) -> str:
    """`income`, `cost of sales or expense`, `income, other income or bank`."""
    words = [kind_in_words(k) for k in kinds]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
