"""Connections to accounting packages (tokens encrypted) and log-ins waiting for an organisation to be picked."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, Select, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_RECONNECT = "needs_reconnect"  # the package no longer accepts the log-in
    DISCONNECTED = "disconnected"


class Connection(Base):
    """A workspace's link to one organisation at an accounting package, with its tokens encrypted.

    A workspace has at most one connection whose status is not "disconnected"; reconnecting the same
    organisation brings its row back, so its mapping and customers stay attached.
    """

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("workspace_id", "provider", "organisation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default=ConnectionStatus.ACTIVE)
    status_detail: Mapped[str | None] = mapped_column(Text)
    organisation_id: Mapped[str] = mapped_column(String(64))
    organisation_name: Mapped[str] = mapped_column(String(255))
    remote_connection_id: Mapped[str | None] = mapped_column(String(64))
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None] = mapped_column()
    # When the package forgets the refresh token unused, and whatever happens, where it says so.
    refresh_expires_at: Mapped[datetime | None] = mapped_column()
    refresh_hard_expires_at: Mapped[datetime | None] = mapped_column()
    scope: Mapped[str | None] = mapped_column(Text)
    connected_by: Mapped[str | None] = mapped_column(String(32))
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column()
    # A token refresh in progress (bot.tokens): who claimed it, and until when others wait for its result.
    refresh_claim: Mapped[str | None] = mapped_column(String(64))
    refreshing_until: Mapped[datetime | None] = mapped_column()
    attention_notified_at: Mapped[datetime | None] = mapped_column()
    disconnected_at: Mapped[datetime | None] = mapped_column()
    chart_refreshed_at: Mapped[datetime | None] = mapped_column()


def locked_connection(connection_id: int) -> Select[Connection]:
    """The connection's row, locked for writing its columns (tokens, status, the chart's time): against another such
    writer, but not against an import's pages, which hold the row FOR KEY SHARE until each of their transactions
    commits (their foreign keys' check, `storage.bulk.BulkWriter.keys_checked_once`). FOR UPDATE waited for that
    transaction (up to half a second of pages: 70 ms of an import of 10,000 for the chart's refresh beside its last
    pages), and the pages after it then queued behind the writer. FOR NO KEY UPDATE on PostgreSQL, the lock its own
    update of these columns takes; SQLite has no row locks (its write lock makes writers take turns)."""
    return select(Connection).where(Connection.id == connection_id).with_for_update(key_share=True)


class PendingConnection(Base):
    """A log-in that reaches several organisations, waiting for the person to pick one (tokens encrypted)."""

    __tablename__ = "pending_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    access_token_enc: Mapped[str] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None] = mapped_column()
    scope: Mapped[str | None] = mapped_column(Text)
    organisations: Mapped[dict] = mapped_column()  # {"items": [{id, name, connection_id, just_authorised}]}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
