"""Requests from Slack already acted on, remembered for a while so a replayed or retried one is not acted on twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class HandledRequest(Base):
    """One request (an event by its `event_id`, an interaction or command by a digest of what identifies it),
    kept until `expires_at`, after which Slack refuses a replay of it anyway."""

    __tablename__ = "handled_requests"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
