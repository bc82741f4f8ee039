"""Import runs: the unit of work the job runner claims (status, resume cursor, counts, lease, Slack thread)."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class RunPriority(IntEnum):
    """Which runs a process claims first (the lower): a person waits for theirs, the schedule does not."""

    PERSON = 0
    SCHEDULE = 1


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
ENDED_RUN_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
_ACTIVE = text("status IN ('queued', 'running')")
# What a claim looks at: a few rows however long the history grows (the partial index below).
CLAIMABLE = text("status IN ('queued', 'running')")
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
        Index("ix_import_runs_claimable", "priority", "id", sqlite_where=CLAIMABLE, postgresql_where=CLAIMABLE),
        Index("ix_import_runs_untold", "lease_expires_at", sqlite_where=_UNTOLD, postgresql_where=_UNTOLD),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="full")  # full | incremental
    trigger: Mapped[str] = mapped_column(String(16))  # command | button | home | schedule
    started_by: Mapped[str | None] = mapped_column(String(32))  # Slack user; None for the schedule
    priority: Mapped[int] = mapped_column(Integer, default=RunPriority.PERSON, server_default="0")  # RunPriority
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)  # RunStatus
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
    # The parts of the end already told (the CSV, the summary, ...), so an end told again after Slack failed
    # part-way never sends a part twice.
    reported_parts: Mapped[list[str] | None] = mapped_column(JSON)


class ImportRunSkip(Base):
    """A record of the package that a run could not import (no usable id, or the database refused it), with
    the reason in words: counted as `unreadable`, named in the summary and listed in the CSV. Written in the
    same transaction as its page."""

    __tablename__ = "import_run_skips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255))  # as the package sent it, cut to fit
    name: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(255))
