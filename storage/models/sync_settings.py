"""Each connection's sync settings: which contacts count as customers, and the schedule."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


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
    next_sync_at: Mapped[datetime | None] = mapped_column(index=True)  # each tick looks up the due ones
    next_full_at: Mapped[datetime | None] = mapped_column()
    modified_since: Mapped[datetime | None] = mapped_column()
    last_synced_at: Mapped[datetime | None] = mapped_column()
    failure_notified_at: Mapped[datetime | None] = mapped_column()
    # who last set the schedule (turned it on or off, or its interval) and when: a schedule of its own
    # (`storage.sync_pause.scheduled`); choosing which contacts count leaves them alone (the audit log has it)
    updated_by: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
