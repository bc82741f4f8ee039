"""Acting once on each request from Slack: a replayed click, a retried event or a command sent twice is acknowledged
without being acted on again.

What identifies a request: an event its `event_id` (the same on Slack's retries), a click the person, the element
and the click's `action_ts`, a command or a view submission its `trigger_id` (new for each). Their digests are kept
in the database (`handled_requests`), shared by every process, for longer than Slack's five-minute window, after
which a replay is refused for its timestamp anyway.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.runtime import Runtime
from bot.slack import envelope
from bot.slack.middleware import Next, RequestMiddleware
from storage.db import Database
from storage.models import HandledRequest

log = logging.getLogger(__name__)

REMEMBER_FOR = timedelta(minutes=10)
PRUNE_EVERY = timedelta(minutes=1)


def identity(body: Mapping[str, Any]) -> str | None:
    """What makes this request this one and no other, or None for those that change nothing (typeahead, closing a
    view) and those that carry no such thing. `body` has passed `envelope.problem`."""
    what = envelope.kind(body)
    if what == "event_callback":
        return json.dumps(["event", body["event_id"]])
    if what == "block_actions":
        action = body["actions"][0]
        user = body["user"]["id"]
        if action.get("action_ts"):
            return json.dumps(["click", user, action["action_ts"], action["action_id"], action.get("block_id")])
        return json.dumps(["click", user, body["trigger_id"]]) if body.get("trigger_id") else None
    if what in ("command", "view_submission") and body.get("trigger_id"):
        return json.dumps([what, body["trigger_id"]])
    return None


def digest(body: Mapping[str, Any]) -> str | None:
    what = identity(body)
    return hashlib.sha256(what.encode()).hexdigest() if what is not None else None


class HandledRequests:
    """The requests acted on lately, in the database; `first_time` remembers one and says whether it is new."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock
        self._pruned_at: datetime | None = None
        self._lock = threading.Lock()

    def first_time(self, digest: str) -> bool:
        now = self.clock()
        insert = sqlite_insert if self.db.is_sqlite else postgresql_insert
        statement = (
            insert(HandledRequest)
            .values(digest=digest, expires_at=now + REMEMBER_FOR)
            .on_conflict_do_nothing(index_elements=["digest"])
            .returning(HandledRequest.digest)
        )
        with self.db.session(write_lock=True) as s:
            if self._prune_due(now):
                s.execute(delete(HandledRequest).where(HandledRequest.expires_at < now))
            inserted = s.execute(statement).scalar() is not None
            if not inserted:
                # Remembered, but perhaps from long ago: a row past its time is no replay.
                row = s.get(HandledRequest, digest)
                if row is not None and row.expires_at < now:
                    row.expires_at = now + REMEMBER_FOR
                    inserted = True
        return inserted

    def _prune_due(self, now: datetime) -> bool:
        with self._lock:
            if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
                return False
            self._pruned_at = now
            return True


def act_once(
    runtime: Runtime, *, changes_nothing: Callable[[Mapping[str, Any]], bool] = lambda body: False
) -> RequestMiddleware:
    """Bolt middleware: a request already acted on is acknowledged and goes no further.

    A request for which `changes_nothing` says so (a command that only shows something) is not remembered: done
    twice it shows the same thing twice, to the same person, so it is spared the database write (on SQLite, the
    database-wide write lock) that remembering costs."""
    handled = HandledRequests(runtime.db, lambda: runtime.clock())

    def once(request: BoltRequest, next: Next) -> BoltResponse | None:
        body = request.body
        key = None if changes_nothing(body) else digest(body)
        if key is not None and not handled.first_time(key):
            log.info("A %s already acted on came again; acknowledged, not acted on", envelope.kind(body))
            return BoltResponse(status=200, body="")
        return next()

    return RequestMiddleware(once)
