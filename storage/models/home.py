"""Who has been looking at the app's Home tab, so it can be republished when the setup it shows changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class HomeViewer(Base):
    """Someone who opened App Home in a workspace, and when they last did."""

    __tablename__ = "home_viewers"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    last_opened_at: Mapped[datetime] = mapped_column(default=utcnow)
