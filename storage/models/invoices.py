"""Invoices raised from Slack and the payments recorded against them, per connection.

A row is written with its idempotency key before the package is called and completed after (external id,
number, totals), so a retry finds it and never raises a second invoice. Money is Numeric, read as Decimal.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

MONEY = Numeric(15, 2)  # to the cent; 15 digits survive SQLite, which keeps numbers as doubles


class InvoiceStatus(StrEnum):
    PREVIEW = "preview"  # shown before saving, not sent: its key is kept for the one send that follows
    PENDING = "pending"  # stored, the package asked (or about to be); the outcome not known yet
    FAILED = "failed"  # the package refused it: nothing was created there
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    PAID = "paid"
    VOIDED = "voided"
    DELETED = "deleted"


OPEN_STATUSES = (InvoiceStatus.DRAFT, InvoiceStatus.SUBMITTED, InvoiceStatus.APPROVED)


class PaymentStatus(StrEnum):
    PENDING = "pending"
    FAILED = "failed"
    RECORDED = "recorded"


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_invoices_workspace_status", "workspace_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    customer_external_id: Mapped[str] = mapped_column(String(64))
    customer_name: Mapped[str] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    status: Mapped[InvoiceStatus] = mapped_column(String(16), default=InvoiceStatus.PENDING)
    external_id: Mapped[str | None] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str | None] = mapped_column(String(3))
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(255))
    amounts_include_tax: Mapped[bool] = mapped_column(Boolean, default=False)
    approve: Mapped[bool] = mapped_column(Boolean, default=False)  # asked for approved rather than a draft
    # What was asked, line by line: category, description, quantity, unit price, account and tax codes (as text).
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    subtotal: Mapped[Decimal | None] = mapped_column(MONEY)
    tax: Mapped[Decimal | None] = mapped_column(MONEY)
    total: Mapped[Decimal | None] = mapped_column(MONEY)
    amount_due: Mapped[Decimal | None] = mapped_column(MONEY)
    amount_paid: Mapped[Decimal | None] = mapped_column(MONEY)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))  # the invoice's message: its thread gets the news
    told_status: Mapped[str | None] = mapped_column(String(16))  # the state the thread was last told
    error: Mapped[str | None] = mapped_column(Text)
    # What the package refused, to show beside the fields when the invoice is changed: [[line or None, field, words]]
    refusals: Mapped[list[Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    provider_updated_at: Mapped[datetime | None] = mapped_column()


class InvoicePayment(Base):
    __tablename__ = "invoice_payments"
    __table_args__ = (UniqueConstraint("idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    status: Mapped[PaymentStatus] = mapped_column(String(16), default=PaymentStatus.PENDING)
    external_id: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    paid_on: Mapped[date] = mapped_column(Date)
    account_code: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InvoiceTracking(Base):
    """When a connection's invoices were last read back from the package (the sync's If-Modified-Since)."""

    __tablename__ = "invoice_tracking"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column()
