"""A connection's chart of accounts (cached from the package) and the account each category maps to."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class ChartAccount(Base):
    """One account of the package's chart, as last fetched; typeahead searches answer from these rows."""

    __tablename__ = "chart_accounts"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_chart_accounts_connection_code", "connection_id", "code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))  # providers.base.ACCOUNT_KINDS
    type: Mapped[str] = mapped_column(String(64))  # the package's own account type
    type_label: Mapped[str | None] = mapped_column(String(64))  # that type in words, as the package's provider says
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    tax_type: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)  # when last written: added, or changed at the package


class ChartTaxRate(Base):
    """One of the package's tax codes, fetched with the chart where the package offers invoicing."""

    __tablename__ = "chart_tax_rates"
    __table_args__ = (UniqueConstraint("connection_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    rate: Mapped[Decimal] = mapped_column(Numeric(9, 4))  # percent
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    suits: Mapped[str] = mapped_column(String(255), default="")  # account kinds, comma-separated; empty: any
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)  # when last written: added, or changed at the package


def write_changed(row: ChartAccount | ChartTaxRate, values: dict[str, Any], *, now: datetime) -> None:
    """Set `values` on a row of a stored chart, and its `fetched_at`, only where one differs from what the row
    holds: a chart is mostly refreshed as it was (at the end of every import), and its rows are then not written."""
    if row.id is not None and all(getattr(row, name) == value for name, value in values.items()):
        return
    for name, value in values.items():
        setattr(row, name, value)
    row.fetched_at = now


class AccountMapping(Base):
    """The account a category (Sales, Materials, ...) posts to, by the account's id (codes can change)."""

    __tablename__ = "account_mappings"
    __table_args__ = (UniqueConstraint("connection_id", "category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(64))
    account_external_id: Mapped[str] = mapped_column(String(64))
    # The account as it was when saved, to name it should it vanish from the chart.
    account_code: Mapped[str | None] = mapped_column(String(32))
    account_name: Mapped[str | None] = mapped_column(String(255))
    # The default tax code (the package's own code for it) of invoice lines in this category; None: the
    # account's own default.
    tax_code: Mapped[str | None] = mapped_column(String(64))
    saved_by: Mapped[str | None] = mapped_column(String(32))
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
