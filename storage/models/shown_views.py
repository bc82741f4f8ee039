"""The newest view of each modal that the bot and a person change at once, shared by every process."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class ShownView(Base):
    """A modal (`view_id`, Slack's) as Slack last showed it to our knowledge: its `view` (blocks, metadata, title:
    what a change is made on; not what the person typed) and `view_hash`, the hash an update must carry; the hashes
    it had before (`earlier_hashes`, oldest first), so that a payload showing one of them is known to be older; and
    the process call changing it now (`held_by`, until `held_until`, after which another may go ahead)."""

    __tablename__ = "shown_views"

    view_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    view_hash: Mapped[str | None] = mapped_column(String(128))
    view: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    earlier_hashes: Mapped[list[str]] = mapped_column(JSON, default=list)
    held_by: Mapped[str | None] = mapped_column(String(32))
    held_until: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(index=True)
