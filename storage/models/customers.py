"""Customers (one per workspace) with their references at the packages.

A customer is ours; a reference says which contact at which connection it came from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text, true
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

# Keys looked up by equality and never shown in their order: compared byte by byte on PostgreSQL (its collation's
# language rules cost every comparison in their indexes, and found nothing more: migration 0028). SQLite's BINARY
# already is.
BYTE_ORDER_255 = String(255).with_variant(String(255, collation="C"), "postgresql")
BYTE_ORDER_64 = String(64).with_variant(String(64, collation="C"), "postgresql")


# A customer another package's records may be matched to (`Customer.matchable`), and one not yet, as each dialect
# renders `Customer.matchable == True` (and False): SQLite plans from a partial index only where the query holds
# the index's condition as written; PostgreSQL proves `matchable = true` from `matchable`.
MATCHABLE: dict[str, Any] = {"sqlite_where": text("matchable = 1"), "postgresql_where": text("matchable")}
NOT_MATCHABLE: dict[str, Any] = {"sqlite_where": text("matchable = 0"), "postgresql_where": text("NOT matchable")}


class Customer(Base):
    """A customer of the business, one per workspace however many connections it came through.

    `email_key` and `name_key` are normalised forms used to match records from another package
    (`bot.customers.matching`). They are indexed only for the customers that may be matched (`matchable`): those of
    a workspace whose customers came through more than one package. A workspace's first package, by far the usual
    case, writes its customers unmatchable, and an import then adds no entry to the two indexes whose keys land all
    over them (half of SQLite's work for a page of new customers); the first import of a second package makes the
    workspace's customers matchable before it looks any up (`bot.customers.matching`).
    `possible_duplicate_of_id` marks a customer created beside a weak match, for staff to review.
    """

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_workspace_email", "workspace_id", "email_key", **MATCHABLE),
        Index("ix_customers_workspace_name", "workspace_id", "name_key", **MATCHABLE),
        # a workspace's customers (its list, its counts), and those still to be made matchable: a new customer's
        # entry goes at the end of its workspace's in each, as its id is the largest. One index on both columns
        # would do for these, but SQLite, planning without statistics, then took it for the look-ups by key too.
        Index("ix_customers_workspace", "workspace_id"),
        Index("ix_customers_unmatchable", "workspace_id", **NOT_MATCHABLE),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    company: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    phones: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{kind, number}]
    addresses: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{kind, lines, city, ...}]
    number: Mapped[str | None] = mapped_column(String(64))  # the package's contact or account number
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_key: Mapped[str | None] = mapped_column(BYTE_ORDER_255)
    name_key: Mapped[str | None] = mapped_column(BYTE_ORDER_255)
    matchable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    possible_duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    erased_at: Mapped[datetime | None] = mapped_column()  # personal data removed on a GDPR request
    first_import_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_runs.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


MERGED = text("merged_into_external_id IS NOT NULL")


class CustomerReference(Base):
    """Which contact at which connection a customer came from, and how it looked when last read.

    `digest` fingerprints the record as we store it, so an unchanged record is counted and not rewritten;
    `source_digest`, where the package's reader makes one, the record's bytes as the package sent them (and the
    code that read them), so a large re-import knows an unchanged record without reading it (`bot.imports.reading`).
    """

    __tablename__ = "customer_references"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        # the few merged at the package, which a run's end points to their survivor (`resolve_merges`): found
        # without reading every reference of the connection (0.1 s at 80,000, at the end of every run)
        Index(
            "ix_customer_references_merged",
            "connection_id",
            sqlite_where=MERGED,
            postgresql_where=MERGED,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(BYTE_ORDER_64)
    provider_updated_at: Mapped[datetime | None] = mapped_column()
    digest: Mapped[str] = mapped_column(String(64))
    merged_into_external_id: Mapped[str | None] = mapped_column(BYTE_ORDER_64)  # the survivor at the package
    source_digest: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
