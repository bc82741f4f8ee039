"""A connection's chart of accounts (cached from the package) and the account each category maps to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

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


ChartRow = TypeVar("ChartRow", "ChartAccount", "ChartTaxRate")


def store_rows(
    session: Session,
    stored: Mapping[str, ChartRow],
    fetched: Mapping[str, dict[str, Any]],
    make: Callable[[str], ChartRow],
    *,
    now: datetime,
) -> None:
    """Make a connection's stored chart rows (`stored`, by key) the `fetched` ones (their column values, by key):
    those gone deleted, new ones made (`make`) and added, and a row's values and `fetched_at` set only where one
    differs from what it holds: a chart is mostly refreshed as it was (at the end of every import), and its rows are
    then not written."""
    for key, gone in stored.items():
        if key not in fetched:
            session.delete(gone)
    for key, values in fetched.items():
        row = stored.get(key)
        if row is None:
            row = make(key)
            session.add(row)
        elif all(getattr(row, name) == value for name, value in values.items()):
            continue
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
