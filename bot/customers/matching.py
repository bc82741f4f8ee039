"""Customers from the packages' records: matching across connections, and writing a page.

`apply_prepared` is the heart of an import: one page of prepared records (`bot.customers.rows`) in, rows written
in the caller's transaction, and what happened to each record counted. Everything here works a page at a time, so
memory stays flat in the number of customers. No Slack and no HTTP: the importer calls this, tests can too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

import orjson
from sqlalchemy import Table, and_, bindparam, exists, false, or_, select, true, update
from sqlalchemy.orm import Session, aliased

from bot.customers.csv_lines import NewCustomers
from bot.customers.rows import FIELDS, Prepared, becomes_customer, compatible_names, counts_as_customer, prepare_page
from providers.base import Customer as Record
from providers.base import Glance
from storage.bulk import BulkWriter, among
from storage.models import Connection, Customer, CustomerReference, ImportRun, Workspace

# What `apply_prepared` counts. Each record lands in exactly one of OUTCOMES; the others are details. `unreadable`:
# records the package sent that could not be used at all (the page's `skipped`, counted by the importer).
OUTCOMES = ("new", "updated", "unchanged", "skipped", "failed", "unreadable")
DETAILS = (
    "skipped_suppliers",  # new to us, and not a customer under the setting (only a supplier, or not marked one)
    "skipped_archived",  # new to us, and archived, merged or erased at the package
    "no_longer_customers",  # imported earlier, and no longer a customer under the setting: kept, and counted
    "linked",
    "possible_duplicates",
    "inactive",
    "merged",
    "erased",
    "missing_email",
    "missing_phone",
    "missing_address",
)

ERASED_NAME = "Erased contact"
_ERASED_FIELDS = (ERASED_NAME, None, None, None, None, "[]", "[]", None, False, None, None)  # ... and both keys


def _count_missing(counts: Counter[str], records: Sequence[Prepared]) -> None:
    """What the records lack, as their rows say (an email is kept empty only if it was; the JSON text of phones or
    addresses is `[]` only for none)."""
    fields = [record.fields for record in records]
    counts["missing_email"] += sum(f[4] is None for f in fields)
    counts["missing_phone"] += sum(f[5] == "[]" for f in fields)
    counts["missing_address"] += sum(f[6] == "[]" for f in fields)


_CUSTOMERS = cast(Table, Customer.__table__)
_REFERENCES = cast(Table, CustomerReference.__table__)
# Rows are written with the driver's bulk calls (`storage.bulk`), not an ORM object or a SQLAlchemy row per contact.
_KEYS = ("email_key", "name_key")
# Each row's own columns; those the page's rows share are given to each call (`_Writes.flush`).
_NEW_CUSTOMER = (*FIELDS, *_KEYS, "possible_duplicate_of_id", "id")
_UPDATED_CUSTOMER = (*FIELDS, *_KEYS, "erased_at")  # ... WHERE id
_NEW_REFERENCE = (
    "customer_id",
    "external_id",
    "provider_updated_at",
    "digest",
    "merged_into_external_id",
    "source_digest",
)
_UPDATED_REFERENCE = ("digest", "provider_updated_at", "merged_into_external_id", "source_digest")  # ... WHERE id
_SOURCE = ("source_digest",)  # ... WHERE id


class Stale(Exception):
    """Records left unread (`bot.imports.reading`) that the import's own look-up does not find as they were judged
    from what was committed (written since by a page of the same walk not committed then, or erased): the page is
    read whole."""


class _Known(NamedTuple):
    """A record's reference at this connection and what matching needs of its customer: a row of the look-up
    as it comes (a tuple, not an object made per row)."""

    external_id: str
    reference_id: int
    customer_id: int
    digest: str
    merged_into_external_id: str | None
    active: bool
    erased: bool
    source_digest: str | None
    # what the customer lacks, as its row says (`_count_missing`), for a record left unread as unchanged
    no_email: bool
    no_phone: bool
    no_address: bool


class Lacks(NamedTuple):
    """What a customer's row lacks (`_count_missing`), for a record left unread as unchanged."""

    no_email: bool
    no_phone: bool
    no_address: bool


# A page's records that may be left unread (`may_leave_unread`), by id: what the held customer lacks, or None for a
# record not held (passed over, and to be again).
Unread = Mapping[str, Lacks | None]


@dataclass(frozen=True)
class _Candidate:
    """A customer of the workspace not yet linked to this connection, which a new record may be."""

    id: int
    name: str
    key: str


_OTHER = aliased(Connection)
# Built once (an aliased entity built per page cost a tenth of a PostgreSQL import's thread); bound per page.
_FROM_OTHER_PACKAGES = select(
    exists().where(
        _OTHER.workspace_id == bindparam("workspace_id"),
        _OTHER.provider
        != select(Connection.provider).where(Connection.id == bindparam("connection_id")).scalar_subquery(),
        CustomerReference.connection_id == _OTHER.id,
    )
)


# The workspace's customers another package's records may be matched to: all of them, from the first transaction
# that looks one up (their keys then indexed: `storage.models.customers.Customer`).
_MAKE_MATCHABLE = (
    update(_CUSTOMERS)
    .where(_CUSTOMERS.c.workspace_id == bindparam("of_workspace"), _CUSTOMERS.c.matchable == false())
    .values(matchable=True)
)
_MADE_MATCHABLE = "accounts_bot.made_matchable"  # a session's `info`: the workspaces this transaction made so


def _matchable(session: Session, *, workspace_id: int, connection_id: int) -> bool:
    """Whether records are matched across packages in this workspace (`_from_other_packages`): then the customers a
    page creates are matchable, and so, first, are the workspace's customers written while only one package's came
    (once a transaction, so that one another import committed unmatchable meanwhile is made so by the next). Only
    that column is written: `updated_at` stays, and a run's CSV still takes its lines as they were made."""
    if not _from_other_packages(session, workspace_id=workspace_id, connection_id=connection_id):
        return False
    if (_MADE_MATCHABLE, workspace_id) not in session.info:
        session.execute(_MAKE_MATCHABLE, {"of_workspace": workspace_id})
        session.info[(_MADE_MATCHABLE, workspace_id)] = True
    return True


def _from_other_packages(session: Session, *, workspace_id: int, connection_id: int) -> bool:
    """Whether the workspace holds any customer that came through another package: when none does (a
    workspace's first package, by far the usual case), no record can be matched across packages and the
    per-key candidate lookups are not made at all. One index probe per other connection of the workspace, once a
    transaction (the session's): an import's pages share one, as they would a snapshot."""
    key = (_FROM_OTHER_PACKAGES, workspace_id, connection_id)
    if (found := session.info.get(key)) is None:
        params = {"workspace_id": workspace_id, "connection_id": connection_id}
        found = session.info[key] = bool(session.scalar(_FROM_OTHER_PACKAGES, params))
    return bool(found)


def _candidates(
    session: Session, *, workspace_id: int, connection_id: int, column: Any, keys: set[str]
) -> dict[str, list[_Candidate]]:
    """Customers of the workspace not yet linked to this connection, by `column` (email_key or name_key), that came
    through another accounting package: a business moving from one package to another keeps one customer list.
    Another organisation at the same package is other books (a replaced organisation, a second company), so its
    customers are never matched: they are kept apart, not linked and not flagged as duplicates."""
    if not keys:
        return {}
    linked_here = exists().where(
        CustomerReference.customer_id == Customer.id, CustomerReference.connection_id == connection_id
    )
    this_package = select(Connection.provider).where(Connection.id == connection_id).scalar_subquery()
    other = aliased(Connection)
    from_another_package = exists().where(
        CustomerReference.customer_id == Customer.id,
        CustomerReference.connection_id == other.id,
        other.provider != this_package,
    )
    rows = session.execute(
        select(Customer.id, Customer.name, column).where(
            Customer.workspace_id == workspace_id,
            Customer.matchable == true(),  # as the keys' indexes hold (`storage.models.customers.MATCHABLE`)
            among(session, column, keys),
            ~linked_here,
            from_another_package,
            Customer.erased_at.is_(None),
        )
    )
    found: dict[str, list[_Candidate]] = {}
    # in the order the customers were created, sorted here: asked for in that order, SQLite walked the workspace's
    # index (its ids come in order, no sort needed) instead of looking the keys up in theirs
    for customer_id, name, key in sorted(rows):
        found.setdefault(key, []).append(_Candidate(customer_id, name, key))
    return found


# The page's records we hold at this connection, read through the driver as plain rows: read through the ORM,
# the result's machinery (and a datetime's processing per row) cost as much as running the statement. `erased`
# comes as a flag. By the (connection, external id) index: on SQLite the page's ids as `IN` their `json_each`, and
# the rows come back as one JSON array: a row fetched at a time, the driver let go of the interpreter for each, and
# each time waited for it again while the page thread decoded the next page (a re-import of 100,000: 2.8 s in the
# look-ups against 4.8 s, the whole re-import 6.5 s against 6.9 s, means of 6 interleaved pairs). On PostgreSQL
# joined to them as a table, one array parameter unnested, so the planner probes the index once a key (it
# estimates an unnested parameter at a few rows), where an `IN` of a page's thousand keys, literal or bound, had it
# scan the whole table for each page (a parallel scan of every reference: 40-80 ms a page at 100,000).
_KNOWN_COLUMNS = (
    "r.external_id, r.id, r.customer_id, r.digest, r.merged_into_external_id, c.active, c.erased_at IS NOT NULL, "
    "r.source_digest, c.email IS NULL, c.phones{text} = '[]', c.addresses{text} = '[]'"
)
_KNOWN_SQLITE = (
    f"SELECT json_group_array(json_array({_KNOWN_COLUMNS.format(text='')})) "
    "FROM customer_references AS r JOIN customers AS c ON c.id = r.customer_id "
    "WHERE r.connection_id = ? AND r.external_id IN (SELECT value FROM json_each(?))"
)
_KNOWN_POSTGRESQL = (
    f"SELECT {_KNOWN_COLUMNS.format(text='::text')} FROM customer_references AS r "
    "JOIN unnest(%s::varchar[]) AS page(value) ON r.connection_id = %s AND r.external_id = page.value "
    "JOIN customers AS c ON c.id = r.customer_id"
)
# The sources stored for those of some ids the connection holds, the same ways: NULL for a reference stored without one
# and for an erased customer; then what the customer lacks (`Lacks`). On PostgreSQL each id is looked up on its own
# (`LATERAL ... LIMIT 1`, the key being unique): joined as the look-up above is, the planner took this narrower row for
# a hash join over every reference.
_SOURCE_COLUMNS = (
    "r.external_id, CASE WHEN c.erased_at IS NULL THEN r.source_digest END, "
    "c.email IS NULL, c.phones{text} = '[]', c.addresses{text} = '[]'"
)
_SOURCES_SQLITE = (
    f"SELECT json_group_array(json_array({_SOURCE_COLUMNS.format(text='')})) "
    "FROM customer_references AS r JOIN customers AS c ON c.id = r.customer_id "
    "WHERE r.connection_id = ? AND r.external_id IN (SELECT value FROM json_each(?))"
)
_SOURCES_POSTGRESQL = (
    f"SELECT {_SOURCE_COLUMNS.format(text='::text')} FROM unnest(%s::varchar[]) AS page(value) "
    "CROSS JOIN LATERAL (SELECT external_id, source_digest, customer_id FROM customer_references "
    "WHERE connection_id = %s AND external_id = page.value LIMIT 1) AS r "
    "JOIN customers AS c ON c.id = r.customer_id"
)


KNOWN = (_KNOWN_SQLITE, _KNOWN_POSTGRESQL)
SOURCES = (_SOURCES_SQLITE, _SOURCES_POSTGRESQL)


def by_ids_lookup(
    dialect: str, queries: tuple[str, str], *, connection_id: int, external_ids: Collection[str]
) -> tuple[str, tuple[Any, ...]]:
    """The statement of a look-up above (`KNOWN`, `SOURCES`) for the connection's `external_ids`, and its
    parameters."""
    if dialect == "postgresql":
        return queries[1], (sorted(external_ids), connection_id)
    return queries[0], (connection_id, orjson.dumps(list(external_ids)).decode())


def _by_ids(
    session: Session, queries: tuple[str, str], *, connection_id: int, external_ids: Collection[str]
) -> list[Any]:
    """The rows of a look-up above (SQLite's come as one JSON array)."""
    connection = session.connection()
    dialect = connection.dialect.name
    statement, parameters = by_ids_lookup(dialect, queries, connection_id=connection_id, external_ids=external_ids)
    result = connection.exec_driver_sql(statement, parameters)
    return list(result.fetchall()) if dialect == "postgresql" else cast(list[Any], orjson.loads(result.scalar_one()))


def _known(session: Session, *, connection_id: int, external_ids: set[str]) -> dict[str, _Known]:
    session.flush()  # what the caller added through the ORM is seen, as a query through the session would
    rows = _by_ids(session, KNOWN, connection_id=connection_id, external_ids=external_ids)
    return {row[0]: _Known._make(row) for row in rows}


def may_leave_unread(
    session: Session, *, connection_id: int, glances: Sequence[Glance], customer_filter: str
) -> dict[str, Lacks | None]:
    """Which of a page's records an import may leave unread (`bot.imports.reading`), judged from what is committed:
    those held with the source they came with (unchanged), with what their customer lacks, and those not held that
    would not become customers (passed over again), with None. `apply_prepared` checks against its own transaction
    each that it is not told nothing wrote since (`as_judged`)."""
    rows = _by_ids(session, SOURCES, connection_id=connection_id, external_ids=[g.id for g in glances])
    held = {row[0]: (row[1], Lacks(bool(row[2]), bool(row[3]), bool(row[4]))) for row in rows}
    unread: dict[str, Lacks | None] = {}
    for g in glances:  # the source, None for an erased customer's
        source, lacks = held.get(g.id, (None, None))
        if _unread_as(g, g.id in held, source, customer_filter):
            unread[g.id] = lacks
    return unread


def apply_page(
    session: Session,
    *,
    workspace_id: int,
    connection_id: int,
    run_id: int,
    records: Sequence[Record],
    customer_filter: str,
    now: datetime,
) -> Counter[str]:
    """`apply_prepared` for records as a package's page holds them (one that cannot be prepared is left out:
    `prepare_page`)."""
    return apply_prepared(
        session,
        workspace_id=workspace_id,
        connection_id=connection_id,
        run_id=run_id,
        records=prepare_page(records)[0],
        customer_filter=customer_filter,
        now=now,
    )


def apply_prepared(
    session: Session,
    *,
    workspace_id: int,
    connection_id: int,
    run_id: int,
    records: Sequence[Prepared],
    customer_filter: str,
    now: datetime,
    look_up: Collection[str] | None = None,
    left: Sequence[Glance] = (),
    as_judged: Unread | None = None,
    new: NewCustomers | None = None,
) -> Counter[str]:
    """Upsert one page of prepared records in the caller's transaction and count what happened to each.
    `look_up`: the page's ids that may be known at this connection (the caller knows the others are not: a
    connection's first import); None: all of them. `left`: records of the page left unread (`may_leave_unread`),
    each unchanged if held here with the source it came with, passed over if not held and not to become a customer;
    raises `Stale` before writing anything for one that is neither. `as_judged`: records left unread that nothing
    wrote since they were judged (the caller knows: none of its own writes, and no one else writes a connection's
    references while its run goes on), taken as judged without a look-up. `new`: told of the customers created
    and of those written again (the CSV of the run's new customers, gathered as its pages are written).

    Matching is by the connection's external id. A record new to this connection is linked to an existing
    customer from another package (`_candidates`) only on strong evidence: the same email, a compatible name, and
    exactly one such customer not yet linked to this connection. Anything weaker creates the customer and marks it
    a possible duplicate.
    """
    counts: Counter[str] = Counter()
    records = list({r.id: r for r in records}.values())  # one id twice: the later record wins
    ids = {r.id for r in records} if look_up is None else set(look_up)
    judged = as_judged or {}
    ids.update(g.id for g in left if g.id not in judged)
    known = _known(session, connection_id=connection_id, external_ids=ids) if ids else {}
    if stale := [g.id for g in left if g.id not in judged and not _as_judged(g, known.get(g.id), customer_filter)]:
        raise Stale(stale)
    fresh = [r for r in records if r.id not in known and becomes_customer(r, customer_filter)]
    becoming = {r.id for r in fresh}  # the new records that become customers, each judged once
    matchable = bool(fresh) and _matchable(session, workspace_id=workspace_id, connection_id=connection_id)
    if not matchable:
        fresh = []  # nothing to match across packages: no candidate lookups, and the customers created unmatchable
    by_email = _candidates(
        session,
        workspace_id=workspace_id,
        connection_id=connection_id,
        column=Customer.email_key,
        keys={k for r in fresh if (k := r.email_key)},
    )
    by_name = _candidates(
        session,
        workspace_id=workspace_id,
        connection_id=connection_id,
        column=Customer.name_key,
        keys={k for r in fresh if (k := r.name_key)},
    )
    written = _Writes(session, connection_id=connection_id, run_id=run_id, now=now, new=new, matchable=matchable)
    linked: set[int] = set()
    plain: list[Prepared] = []  # new, with no customer of another package to match or suspect: created as they are
    for record in records:
        if (ref := known.get(record.id)) is None and (
            record.email_key not in by_email
            and record.name_key not in by_name
            and record.name
            and record.id in becoming
        ):  # every new record of a workspace's first package: nothing to look at but the record
            written.create(record, duplicate_of=None)
            plain.append(record)
            continue
        if ref is not None:
            outcome = _update(ref, record, counts, written)
            counts["no_longer_customers"] += record.active and not counts_as_customer(record, customer_filter)
        elif record.id not in becoming:
            outcome = "skipped"
            counts["skipped_archived" if record.gone else "skipped_suppliers"] += 1
        elif not record.name:
            outcome = "failed"  # nothing to call the customer by
        else:
            emails = [c for c in by_email.get(record.email_key or "", []) if c.id not in linked]
            strong = [c for c in emails if compatible_names(c.name, record.name)]
            if len(emails) == 1 and len(strong) == 1:
                linked.add(strong[0].id)
                written.link(strong[0].id, record)
                counts["linked"] += 1
                outcome = "updated"
            else:
                weak = strong or emails or (by_name.get(record.name_key or "", []) if by_name else [])
                written.create(record, duplicate_of=weak[0].id if weak else None)
                counts["possible_duplicates"] += bool(weak)
                outcome = "new"
            _count_missing(counts, (record,))
        counts[outcome] += 1
    if plain:
        counts["new"] += len(plain)
        _count_missing(counts, plain)
    if left:  # what the judgement says of a record, else what its look-up found
        count_left_unread(counts, left, {**known, **judged} if known else judged, customer_filter)
    written.flush(workspace_id=workspace_id)
    return counts


def count_left_unread(
    counts: Counter[str], left: Sequence[Glance], held: Mapping[str, Lacks | _Known | None], customer_filter: str
) -> None:
    """Count a page's records left unread as they would count when read: each `held` here (by id: what its customer
    lacks) as unchanged, lacking what its customer's row lacks; each not held (None, or not in `held`) as passed over
    again. Counted once for the page, not record by record."""
    unchanged: list[Lacks | _Known] = []
    no_longer = 0
    for glance in left:
        lacks = held.get(glance.id)
        if lacks is None:
            counts["skipped"] += 1
            counts["skipped_archived" if glance.gone else "skipped_suppliers"] += 1
            continue
        unchanged.append(lacks)
        no_longer += glance.active and not counts_as_customer(glance, customer_filter)
    if unchanged:
        counts["unchanged"] += len(unchanged)
        counts["no_longer_customers"] += no_longer
        counts["missing_email"] += sum(lacking.no_email for lacking in unchanged)
        counts["missing_phone"] += sum(lacking.no_phone for lacking in unchanged)
        counts["missing_address"] += sum(lacking.no_address for lacking in unchanged)


class _Writes:
    """A page's writes, gathered while its records are matched and sent as one bulk call each. A row holds only
    its own values; those every row of the page shares (the run, the moment) are given to the call once."""

    def __init__(
        self,
        session: Session,
        *,
        connection_id: int,
        run_id: int,
        now: datetime,
        new: NewCustomers | None = None,
        matchable: bool,
    ) -> None:
        self.bulk = BulkWriter(session)
        self.new = new
        self.matchable = matchable  # the customers it creates (`_matchable`)
        self.connection_id, self.run_id = connection_id, run_id
        self.moment = self.bulk.processor(_CUSTOMERS.c.updated_at)(now)  # `now` as the driver takes it
        self._updated_at = self.bulk.processor(_REFERENCES.c.provider_updated_at)
        self.customers: list[tuple[Any, ...]] = []  # updates: _UPDATED_CUSTOMER, then the id
        self.deactivated: list[tuple[int]] = []  # deleted at the package: the id
        self.references: list[tuple[Any, ...]] = []  # updates: _UPDATED_REFERENCE, then the id
        self.sources: list[tuple[str, int]] = []  # the source of an unchanged record, then the reference's id
        self.created: list[tuple[Any, ...]] = []  # _NEW_CUSTOMER without the id
        self.created_records: list[Prepared] = []  # theirs, in the same order
        self.new_references: list[tuple[int | None, Prepared]] = []  # customer id (None: the created one)
        self.others = False  # a new row refers to a customer this page did not create (linked, a duplicate of)

    def update(self, customer_id: int, values: tuple[Any, ...], *, erased: bool = False) -> None:
        """Set a customer's `Prepared.values` (clearing its erasure), or erase it."""
        self.customers.append((*values, self.moment if erased else None, customer_id))

    def deactivate(self, customer_id: int) -> None:
        """A record the package deleted, of which only the id came: what we hold stays, marked inactive."""
        self.deactivated.append((customer_id,))

    def link(self, customer_id: int, record: Prepared) -> None:
        self.update(customer_id, record.values())
        self.new_references.append((customer_id, record))
        self.others = True

    def create(self, record: Prepared, *, duplicate_of: int | None) -> None:
        self.created.append(record.values(duplicate_of))
        self.created_records.append(record)
        self.new_references.append((None, record))
        self.others = self.others or duplicate_of is not None

    def update_reference(self, reference_id: int, record: Prepared) -> None:
        updated_at = self._updated_at(record.updated_at)
        self.references.append((record.digest, updated_at, record.merged_into, record.source, reference_id))

    def keep_source(self, ref: _Known, record: Prepared) -> None:
        """An unchanged record's source, where it came with one the reference does not hold: the next import leaves
        it unread."""
        if record.source is not None and record.source != ref.source_digest:
            self.sources.append((record.source, ref.reference_id))

    def flush(self, *, workspace_id: int) -> None:
        bulk, run, moment = self.bulk, self.run_id, self.moment
        written = {"updated_at": moment}
        bulk.update(_CUSTOMERS, _UPDATED_CUSTOMER, self.customers, written)
        bulk.update(_CUSTOMERS, (), self.deactivated, {"active": False, **written})
        bulk.update(_REFERENCES, _UPDATED_REFERENCE, self.references)
        bulk.update(_REFERENCES, _SOURCE, self.sources)
        new_ids = bulk.new_ids(_CUSTOMERS, len(self.created))
        # the new rows refer to the workspace, the run, the connection and the customers created here: their keys
        # are checked once (`keys_checked_once`), unless one refers to another customer
        parents = {} if self.others or not self.created else self._parents(workspace_id)
        with bulk.keys_checked_once(parents):
            bulk.insert(
                _CUSTOMERS,
                _NEW_CUSTOMER,
                [(*row, customer_id) for row, customer_id in zip(self.created, new_ids, strict=True)],
                {
                    "workspace_id": workspace_id,
                    "first_import_run_id": run,
                    "matchable": self.matchable,
                    "created_at": moment,
                    **written,
                },
            )
            ids, updated_at = iter(new_ids), self._updated_at
            bulk.insert(
                _REFERENCES,
                _NEW_REFERENCE,
                [
                    (
                        customer_id if customer_id is not None else next(ids),
                        record.id,
                        updated_at(record.updated_at),
                        record.digest,
                        record.merged_into,
                        record.source,
                    )
                    for customer_id, record in self.new_references
                ],
                {"connection_id": self.connection_id, "created_at": moment},
            )
        if self.new is not None:
            self.new.changed([row[-1] for row in self.customers] + [row[0] for row in self.deactivated])
            self.new.created(new_ids, self.created_records)

    def _parents(self, workspace_id: int) -> dict[str, int]:
        """The rows the page's new customers and references refer to, but for each other."""
        return {
            Workspace.__tablename__: workspace_id,
            ImportRun.__tablename__: self.run_id,
            Connection.__tablename__: self.connection_id,
        }


def _as_judged(glance: Glance, held: _Known | None, customer_filter: str) -> bool:
    """Whether a record left unread is what `may_leave_unread` took it for, by this transaction's look-up."""
    source = held.source_digest if held is not None and not held.erased else None
    return _unread_as(glance, held is not None, source, customer_filter)


def _unread_as(glance: Glance, held: bool, source: str | None, customer_filter: str) -> bool:
    """The rule for leaving a record unread: held with the source it came with (`source`: None for one stored
    without, or an erased customer's), or not held and not to become a customer."""
    return source == glance.source if held else not becomes_customer(glance, customer_filter)


def _update(ref: _Known, record: Prepared, counts: Counter[str], written: _Writes) -> str:
    """A record we hold: unchanged ones are not written at all."""
    if record.removed:  # only its id came: keep what we hold, marked inactive
        if not ref.active or ref.erased:
            return "unchanged"
        written.deactivate(ref.customer_id)
        counts["inactive"] += 1
        return "updated"
    unchanged = record.stored_as(ref.digest)  # its digest, or the one an earlier version made of it
    if record.erase_personal_data:
        if ref.erased and unchanged:
            return "unchanged"
        written.update(ref.customer_id, _ERASED_FIELDS, erased=True)
        counts["erased"] += 1
    else:
        if ref.erased:
            return "skipped"  # erased here on request: never written back
        _count_missing(counts, (record,))
        if unchanged:
            written.keep_source(ref, record)
            return "unchanged"
        counts["inactive"] += ref.active and not record.fields[8]
        counts["merged"] += bool(record.merged_into) and not ref.merged_into_external_id
        written.update(ref.customer_id, record.values())
    written.update_reference(ref.reference_id, record)
    return "updated"


def resolve_merges(session: Session, *, connection_id: int) -> int:
    """Point customers merged at the package to their survivor, once the survivor is ours too."""
    survivor = aliased(CustomerReference)
    rows = session.execute(
        select(Customer, survivor.customer_id)
        .join(CustomerReference, CustomerReference.customer_id == Customer.id)
        .join(
            survivor,
            and_(
                survivor.connection_id == CustomerReference.connection_id,
                survivor.external_id == CustomerReference.merged_into_external_id,
            ),
        )
        .where(
            CustomerReference.connection_id == connection_id,
            CustomerReference.merged_into_external_id.is_not(None),
            or_(Customer.merged_into_id.is_(None), Customer.merged_into_id != survivor.customer_id),
        )
    )
    resolved = 0
    for customer, survivor_id in rows:
        if survivor_id != customer.id:
            customer.merged_into_id, customer.active = survivor_id, False
            resolved += 1
    return resolved
