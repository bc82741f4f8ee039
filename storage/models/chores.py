"""Shared bookkeeping of the background work that several processes share: chores that one of them does per
period, and the calls made under each of a package's limits per window."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Chore(Base):
    """A periodic piece of housekeeping (the keep-alive refresh, pruning old runs): whichever process first
    finds it due moves `due_at` on, in one statement, and does it; the others skip it until then."""

    __tablename__ = "chores"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    due_at: Mapped[datetime] = mapped_column()
    done_by: Mapped[str | None] = mapped_column(String(64))  # the process that took it last


class CallBudget(Base):
    """The calls made under one limit (`key`: a package's app-wide limit, or one organisation's) during the
    window starting at `window_start`, counted by every process, one row per limit and window."""

    __tablename__ = "call_budgets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class CallSlot(Base):
    """One of the calls a package allows at once under a limit (`key`: an organisation's calls at once), held by
    one call of one process (`holder`) until it lets go or `expires_at` passes (its process died meanwhile)."""

    __tablename__ = "call_slots"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime | None] = mapped_column()
