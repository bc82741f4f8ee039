"""Housekeeping that several processes share (the keep-alive refresh, forgetting expired log-ins, pruning old
runs): each process looks often, and whichever first finds a chore due takes it for its period in one statement,
so it is done once per period across processes, not once per process."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.db import Database
from storage.models import Chore

log = logging.getLogger(__name__)


def take_chore(db: Database, *, name: str, every: timedelta, now: datetime, owner: str) -> bool:
    """Whether this process should do the chore `name` now: True for exactly one caller per `every` (the first
    to find it due, or the first ever), whose call moves the chore's next time on by `every`."""
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    values = {"name": name, "due_at": now + every, "done_by": owner}
    statement = (
        insert(Chore)
        .values(values)
        .on_conflict_do_update(
            index_elements=["name"],
            set_={"due_at": values["due_at"], "done_by": owner},
            where=Chore.due_at <= now,  # taken by someone else for this period: nothing changes, nothing returned
        )
        .returning(Chore.name)
    )
    with db.session(write_lock=True) as s:
        taken = s.scalar(statement) is not None
    if taken:
        log.debug("Chore %s taken by %s until %s", name, owner, values["due_at"])
    return taken
