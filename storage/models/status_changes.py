"""The log of changes to what `/accounts status` shows, written by the database itself (triggers, migration 0024)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class StatusChange(Base):
    """One statement's change to a workspace's connections, sync settings, account mappings or chart. Rows are only
    ever inserted (so writers never wait on each other) until the housekeeping folds a workspace's rows into one;
    no foreign key, which would lock the workspace's row from every writer (`storage.status_version`)."""

    __tablename__ = "status_changes"
    __table_args__ = (Index("ix_status_changes_workspace_id_id", "workspace_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)
