"""Customers (one per workspace) with their references at the packages, import runs, and each connection's sync.

A customer is ours; a reference says which contact at which connection it came from. An import run is the
unit of work the job runner claims (status, resume cursor, counts, lease, where it reports in Slack).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE_RUN_STATUSES = ("queued", "running")
ENDED_RUN_STATUSES = ("succeeded", "failed", "cancelled")
_ACTIVE = text("status IN ('queued', 'running')")
_UNTOLD = text("status IN ('succeeded', 'failed', 'cancelled') AND reported_at IS NULL")


class ImportRun(Base):
    """One import of a connection's customers: a full import, or an incremental sync since a moment.

    `cursor` is the provider's resume point after the last committed page; it is written in the same
    transaction as that page's customers and `counts`, so a run resumed anywhere continues exactly there.
    A process works on a run only while it holds the lease (`lease_owner` until `lease_expires_at`); an ended
    run keeps its lease until its end is told in Slack (`reported_at`), so if that process dies first,
    another one tells it. At most one run per connection is queued or running (a partial unique index).
    """

    __tablename__ = "import_runs"
    __table_args__ = (
        Index(
            "uq_import_runs_one_active",
            "connection_id",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
        Index("ix_import_runs_status", "status", "not_before"),
        Index("ix_import_runs_untold", "lease_expires_at", sqlite_where=_UNTOLD, postgresql_where=_UNTOLD),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="full")  # full | incremental
    trigger: Mapped[str] = mapped_column(String(16))  # command | button | home | schedule
    started_by: Mapped[str | None] = mapped_column(String(32))  # Slack user; None for the schedule
    status: Mapped[str] = mapped_column(String(16), default="queued")  # RUN_STATUSES
    since: Mapped[datetime | None] = mapped_column()  # If-Modified-Since of an incremental sync
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total: Mapped[int | None] = mapped_column(Integer)  # the provider's count of records, when it gives one
    pages: Mapped[int] = mapped_column(Integer, default=0)
    channel_id: Mapped[str | None] = mapped_column(String(32))  # where it reports; None: not yet decided
    parent_ts: Mapped[str | None] = mapped_column(String(32))  # the progress message; replies thread under it
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    not_before: Mapped[datetime | None] = mapped_column()  # rescheduled after a long wait (a daily limit)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # how many times a process claimed it
    cancel_requested_at: Mapped[datetime | None] = mapped_column()
    cancelled_by: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    reported_at: Mapped[datetime | None] = mapped_column()  # the end told in Slack (summary, CSV, result)


class Customer(Base):
    """A customer of the business, one per workspace however many connections it came through.

    `email_key` and `name_key` are normalised forms used to match records from another connection;
    `possible_duplicate_of_id` marks a customer created beside a weak match, for staff to review.
    """

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_workspace_email", "workspace_id", "email_key"),
        Index("ix_customers_workspace_name", "workspace_id", "name_key"),
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
    email_key: Mapped[str | None] = mapped_column(String(255))
    name_key: Mapped[str | None] = mapped_column(String(255))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    possible_duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    erased_at: Mapped[datetime | None] = mapped_column()  # personal data removed on a GDPR request
    first_import_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_runs.id", ondelete="SET NULL"), index=True
    )
    last_import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerReference(Base):
    """Which contact at which connection a customer came from, and how it looked when last read.

    `digest` fingerprints the record as we store it, so an unchanged record is counted and not rewritten.
    """

    __tablename__ = "customer_references"
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    provider_updated_at: Mapped[datetime | None] = mapped_column()
    digest: Mapped[str] = mapped_column(String(64))
    merged_into_external_id: Mapped[str | None] = mapped_column(String(64))  # the survivor at the package
    last_import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncSettings(Base):
    """How one connection's customers are kept in sync: which contacts count, and the schedule.

    `modified_since` is the incremental cursor (the package's If-Modified-Since) for the next sync;
    a full reconciliation (`next_full_at`) also catches what that header misses.
    """

    __tablename__ = "sync_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=60)
    reconcile_hours: Mapped[int] = mapped_column(Integer, default=24)
    customer_filter: Mapped[str] = mapped_column(String(32), default="all_but_suppliers")
    next_sync_at: Mapped[datetime | None] = mapped_column()
    next_full_at: Mapped[datetime | None] = mapped_column()
    modified_since: Mapped[datetime | None] = mapped_column()
    last_synced_at: Mapped[datetime | None] = mapped_column()
    failure_notified_at: Mapped[datetime | None] = mapped_column()
    updated_by: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
