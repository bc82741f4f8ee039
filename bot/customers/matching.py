"""Customers from the packages' records: which contacts count, matching across connections, and writing a page.

`apply_page` is the heart of an import: one page of records in, rows written in the caller's transaction,
and what happened to each record counted. Everything here works a page at a time, so memory stays flat in
the number of customers. No Slack and no HTTP: the importer calls this, tests can too.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from providers.base import Address
from providers.base import Customer as Record
from storage.models import Customer, CustomerReference

# Which contacts are customers. Some packages mark a contact a customer only after its first sales invoice, so
# "customers_only" would miss new ones; the default keeps every contact that is not only a supplier.
CUSTOMER_FILTERS = {
    "all_but_suppliers": "every contact except those that are only suppliers",
    "customers_only": "only contacts the package marks as customers",
    "all": "every contact",
}
DEFAULT_CUSTOMER_FILTER = "all_but_suppliers"

# What `apply_page` counts. Each record lands in exactly one of OUTCOMES; the others are details. `unreadable`:
# records the package sent that could not be used at all (the page's `skipped`, counted by the importer).
OUTCOMES = ("new", "updated", "unchanged", "skipped", "failed", "unreadable")
DETAILS = (
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
_NAME_NOISE = frozenset(
    "ltd limited co company inc incorporated llc plc pty proprietary corp corporation group the and nz au uk".split()
)
_WORD = re.compile(r"[^\W_]+")


def counts_as_customer(record: Record, customer_filter: str) -> bool:
    if customer_filter == "all":
        return True
    if customer_filter == "customers_only":
        return bool(record.is_customer)
    return not (record.is_supplier and not record.is_customer)


def email_key(email: str | None) -> str | None:
    return email.strip().casefold()[:255] or None if email else None


def name_words(name: str | None) -> frozenset[str]:
    """The words that identify a name: accents, case, punctuation and legal suffixes (Ltd, & Co) ignored."""
    if not name:
        return frozenset()
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold().replace("'", "")
    return frozenset(w for w in _WORD.findall(plain) if w not in _NAME_NOISE)


def name_key(name: str | None) -> str | None:
    return " ".join(sorted(name_words(name)))[:255] or None


def compatible_names(a: str | None, b: str | None) -> bool:
    """`Acme Plumbing` and `ACME Plumbing Ltd` are compatible; `Acme Plumbing` and `Acme Gas` are not."""
    wa, wb = name_words(a), name_words(b)
    return bool(wa and wb) and (wa <= wb or wb <= wa)


def _clip(value: str | None, limit: int = 255) -> str | None:
    return value[:limit] if value else None


def _address(address: Address) -> dict[str, Any]:
    return {
        "kind": address.kind,
        "lines": list(address.lines),
        "city": address.city,
        "region": address.region,
        "postal_code": address.postal_code,
        "country": address.country,
    }


@dataclass(frozen=True)
class Fields:
    """A record as we store it on a customer."""

    name: str
    first_name: str | None
    last_name: str | None
    company: str | None
    email: str | None
    phones: list[dict[str, Any]]
    addresses: list[dict[str, Any]]
    number: str | None
    active: bool

    @classmethod
    def of(cls, record: Record) -> Fields:
        return cls(
            name=_clip(record.name.strip()) or "",
            first_name=_clip(record.first_name),
            last_name=_clip(record.last_name),
            company=_clip(record.company),
            email=_clip(record.email),
            phones=[{"kind": p.kind, "number": p.number} for p in record.phones],
            addresses=[_address(a) for a in record.addresses],
            number=_clip(record.number, 64),
            active=record.active and not record.merged_into,
        )

    def digest(self, record: Record) -> str:
        """Changes only when what we would store changes (IsCustomer and balances are not stored)."""
        state = [self.__dict__, record.merged_into, record.erase_personal_data]
        return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()

    def apply(self, customer: Customer) -> None:
        for name, value in self.__dict__.items():
            setattr(customer, name, value)
        customer.email_key = email_key(self.email)
        customer.name_key = name_key(self.name)


def erase(customer: Customer, now: datetime) -> None:
    """Remove the personal data of a customer the package was asked to forget (GDPR)."""
    customer.name, customer.name_key = ERASED_NAME, None
    customer.first_name = customer.last_name = customer.company = customer.email = customer.email_key = None
    customer.number = None
    customer.phones, customer.addresses = [], []
    customer.active = False
    customer.erased_at = now


def _count_missing(counts: Counter[str], fields: Fields) -> None:
    counts["missing_email"] += not fields.email
    counts["missing_phone"] += not fields.phones
    counts["missing_address"] += not fields.addresses


def padded(keys: Iterable[str]) -> list[str]:
    """`keys` for an `IN (...)`, padded with repeats to a power of two: one SQL text per size class instead of one
    per page, so the databases' statement caches (SQLite's per connection, psycopg's prepared statements) hold
    a dozen statements, not one for every page of an import."""
    unique = sorted(set(keys))
    if not unique:
        return unique
    size = 1 << (len(unique) - 1).bit_length()
    return unique + [unique[-1]] * (size - len(unique))


def _candidates(
    session: Session, *, workspace_id: int, connection_id: int, column: Any, keys: set[str]
) -> dict[str, list[Customer]]:
    """Customers of the workspace not yet linked to this connection, by `column` (email_key or name_key)."""
    if not keys:
        return {}
    linked_here = exists().where(
        CustomerReference.customer_id == Customer.id, CustomerReference.connection_id == connection_id
    )
    rows = session.scalars(
        select(Customer)
        .where(
            Customer.workspace_id == workspace_id,
            column.in_(padded(keys)),
            ~linked_here,
            Customer.erased_at.is_(None),
        )
        .order_by(Customer.id)
    )
    found: dict[str, list[Customer]] = {}
    for customer in rows:
        found.setdefault(getattr(customer, column.key), []).append(customer)
    return found


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
    """Upsert one page of records in the caller's transaction and count what happened to each.

    Matching is by the connection's external id. A record new to this connection is linked to an existing
    customer only on strong evidence: the same email, a compatible name, and exactly one such customer not
    yet linked to this connection. Anything weaker creates the customer and marks it a possible duplicate.
    """
    counts: Counter[str] = Counter()
    records = list({r.id: r for r in records}.values())  # one id twice: the later record wins
    known = {
        ref.external_id: (ref, customer)
        for ref, customer in session.execute(
            select(CustomerReference, Customer)
            .join(Customer, Customer.id == CustomerReference.customer_id)
            .where(
                CustomerReference.connection_id == connection_id,
                CustomerReference.external_id.in_(padded(r.id for r in records)),
            )
        )
    }
    fresh = [r for r in records if r.id not in known and _eligible(r, customer_filter)]
    by_email = _candidates(
        session,
        workspace_id=workspace_id,
        connection_id=connection_id,
        column=Customer.email_key,
        keys={k for r in fresh if (k := email_key(r.email))},
    )
    by_name = _candidates(
        session,
        workspace_id=workspace_id,
        connection_id=connection_id,
        column=Customer.name_key,
        keys={k for r in fresh if (k := name_key(r.name))},
    )
    linked: set[int] = set()
    created: list[tuple[Customer, Record, str]] = []
    for record in records:
        if record.id in known:
            ref, customer = known[record.id]
            outcome = _update(ref, customer, record, counts, run_id=run_id, now=now)
        elif not _eligible(record, customer_filter):
            outcome = "skipped"
        elif not record.name.strip():
            outcome = "failed"  # nothing to call the customer by
        else:
            fields = Fields.of(record)
            emails = [c for c in by_email.get(email_key(record.email) or "", []) if c.id not in linked]
            strong = [c for c in emails if compatible_names(c.name, record.name)]
            if len(emails) == 1 and len(strong) == 1:
                customer = strong[0]
                linked.add(customer.id)
                fields.apply(customer)
                customer.last_import_run_id, customer.updated_at = run_id, now
                session.add(_reference(customer.id, connection_id, record, fields, run_id))
                counts["linked"] += 1
                outcome = "updated"
            else:
                weak = strong or emails or by_name.get(name_key(record.name) or "", [])
                customer = Customer(
                    workspace_id=workspace_id,
                    first_import_run_id=run_id,
                    last_import_run_id=run_id,
                    created_at=now,
                    updated_at=now,
                    possible_duplicate_of_id=weak[0].id if weak else None,
                )
                fields.apply(customer)
                session.add(customer)
                created.append((customer, record, fields.digest(record)))
                counts["possible_duplicates"] += bool(weak)
                outcome = "new"
            _count_missing(counts, fields)
        counts[outcome] += 1
    if created:
        session.flush()  # the new customers' ids, in one batch
        for customer, record, digest in created:
            session.add(
                CustomerReference(
                    customer_id=customer.id,
                    connection_id=connection_id,
                    external_id=record.id,
                    provider_updated_at=record.updated_at,
                    digest=digest,
                    last_import_run_id=run_id,
                )
            )
    return counts


def _eligible(record: Record, customer_filter: str) -> bool:
    """Whether a record new to us becomes a customer: archived, merged and erased contacts do not."""
    return (
        record.active
        and not record.merged_into
        and not record.erase_personal_data
        and counts_as_customer(record, customer_filter)
    )


def _reference(customer_id: int, connection_id: int, record: Record, fields: Fields, run_id: int) -> CustomerReference:
    return CustomerReference(
        customer_id=customer_id,
        connection_id=connection_id,
        external_id=record.id,
        provider_updated_at=record.updated_at,
        digest=fields.digest(record),
        merged_into_external_id=record.merged_into,
        last_import_run_id=run_id,
    )


def _update(
    ref: CustomerReference, customer: Customer, record: Record, counts: Counter[str], *, run_id: int, now: datetime
) -> str:
    """A record we hold: unchanged ones are not written at all."""
    fields = Fields.of(record)
    digest = fields.digest(record)
    if record.erase_personal_data:
        if customer.erased_at is not None and ref.digest == digest:
            return "unchanged"
        erase(customer, now)
        counts["erased"] += 1
    else:
        if customer.erased_at is not None:
            return "skipped"  # erased here on request: never written back
        _count_missing(counts, fields)
        if ref.digest == digest:
            return "unchanged"
        counts["inactive"] += customer.active and not fields.active
        counts["merged"] += bool(record.merged_into) and not ref.merged_into_external_id
        fields.apply(customer)
    ref.digest, ref.provider_updated_at, ref.last_import_run_id = digest, record.updated_at, run_id
    ref.merged_into_external_id = record.merged_into
    customer.last_import_run_id, customer.updated_at = run_id, now
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
