"""Changing a modal that two things change at once: the bot after it opened (the package's payment terms on their
way) and the person (a click), each perhaps served by a different process. Slack refuses an update sent with a
stale hash (`hash_conflict`) and has no call to read a view, so the view Slack answered each change with is kept in
the database (`shown_views`, for every process), and a change refused as stale is made again on that newer view:
the person's action and the bot's both land, whichever reached Slack first and whichever process served them.

Changes to one modal go one at a time across processes: a change holds the modal's row for the time of its Slack
call (a lease in the row, taken and let go in short transactions: no database lock is held while Slack answers),
and a change held up longer than `LEASE` (a hung call, a process gone) no longer stops the next one."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.locks import KeyedLocks
from bot.runtime import Runtime
from storage.db import Database
from storage.models import ShownView

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=10)  # a views.update answers in well under a second; one that hangs stops others no longer
KEEP = timedelta(days=1)  # a form lives minutes: rows untouched this long are deleted (`prune_shown_views`)
EARLIER_KEPT = 20  # hashes a view had before, enough to tell an old payload from a newer one
WAITS = (0.02, 0.05, 0.1, 0.2)  # between looks at a lease another process holds, the last repeated
NOT_KEPT = ("state",)  # what the person typed: theirs, and no change here reads it
GONE = "not_found"  # the person closed the modal

Change = Callable[[Mapping[str, Any]], dict[str, Any] | None]

# This process's own changes queue here rather than on the database; by database, so that two `Database`s on one
# database (as in a test of two processes) stay as apart as two processes.
_in_process: KeyedLocks[tuple[int, str]] = KeyedLocks()


def _kept(view: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in view.items() if key not in NOT_KEPT}


@dataclass
class Hold:
    """One change's hold on a modal: `holder` in its row until `let_go`."""

    view_id: str
    holder: str
    let_go: bool = False


class ShownViews:
    """The newest view of each modal, as Slack answered `views.open`/`views.update` or as a payload showed it when
    that is newer, and the lease that makes changes to one modal go one at a time, in the database."""

    def __init__(self, db: Database, clock: Callable[[], datetime], *, lease: timedelta = LEASE) -> None:
        self.db, self.clock, self.lease = db, clock, lease
        self._insert = sqlite_insert if db.is_sqlite else postgresql_insert

    @classmethod
    def of(cls, runtime: Runtime) -> ShownViews:
        return cls(runtime.db, lambda: runtime.clock())

    def remember(self, view: Mapping[str, Any], *, hold: Hold | None = None) -> None:
        """`view` is what Slack showed last (its answer to `views.open` or `views.update`); the change `hold` made
        it, which lets go of the modal in the same transaction."""
        view_id, view_hash = view.get("id"), view.get("hash")
        if not isinstance(view_id, str) or not isinstance(view_hash, str):
            return
        with self.db.session(write_lock=True) as s:
            row = self._row(s, view_id)
            self._note(s, row, view, newest=True)
            if hold is not None and hold.view_id == view_id:
                if row.held_by == hold.holder:
                    row.held_by, row.held_until = None, None
                hold.let_go = True

    def known(self, view_id: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            return s.scalar(select(ShownView.view).where(ShownView.view_id == view_id))

    def forget(self, view_id: str) -> None:
        with self.db.session() as s:
            s.execute(delete(ShownView).where(ShownView.view_id == view_id))

    @contextmanager
    def changing(self, seen: Mapping[str, Any]) -> Iterator[Hold]:
        """Hold the modal `seen` (as a payload showed it, kept when newer than what is known) for one change. Waits
        while another change holds it, at most `lease`."""
        view_id = str(seen.get("id") or "")
        with _in_process((id(self.db), view_id)):
            holder = secrets.token_hex(8)
            waited_until = time.monotonic() + self.lease.total_seconds()
            waits = iter(WAITS)
            while not self._take(view_id, holder, seen, overdue=time.monotonic() >= waited_until):
                time.sleep(next(waits, WAITS[-1]))
            hold = Hold(view_id, holder)
            try:
                yield hold
            finally:
                if not hold.let_go:
                    self._let_go(hold)

    def _let_go(self, hold: Hold) -> None:
        view_id, holder = hold.view_id, hold.holder
        with self.db.session() as s:
            s.execute(
                update(ShownView)
                .where(ShownView.view_id == view_id, ShownView.held_by == holder)
                .values(held_by=None, held_until=None)
            )

    def _take(self, view_id: str, holder: str, seen: Mapping[str, Any], *, overdue: bool) -> bool:
        now = self.clock()
        with self.db.session(write_lock=True) as s:
            row = self._row(s, view_id)
            if row.held_by is not None and row.held_until is not None and row.held_until > now and not overdue:
                return False
            if row.held_by is not None:
                log.info("A change to a modal held it past its time; the next one goes ahead")
            row.held_by, row.held_until = holder, now + self.lease
            if isinstance(seen.get("hash"), str):
                self._note(s, row, seen, newest=False)
        return True

    def _row(self, s: Session, view_id: str) -> ShownView:
        """The modal's row, made if there is none, locked until the transaction ends (PostgreSQL: the row;
        SQLite: the write lock the session took)."""
        s.execute(
            self._insert(ShownView)
            .values(view_id=view_id, earlier_hashes=[], updated_at=self.clock())
            .on_conflict_do_nothing(index_elements=["view_id"])
        )
        return s.scalars(select(ShownView).where(ShownView.view_id == view_id).with_for_update()).one()

    def _note(self, s: Session, row: ShownView, view: Mapping[str, Any], *, newest: bool) -> None:
        """Keep `view` as the modal's newest: always when Slack just answered with it (`newest`), else (a payload)
        only when its hash is none the modal had before, that is when something changed it that this table did
        not hear of."""
        view_hash = str(view["hash"])
        earlier = list(row.earlier_hashes or [])
        if view_hash == row.view_hash or (not newest and view_hash in earlier):
            return
        if row.view_hash is not None:
            earlier = [h for h in earlier if h != view_hash] + [row.view_hash]
        row.view_hash, row.view = view_hash, _kept(view)
        row.earlier_hashes = earlier[-EARLIER_KEPT:]
        row.updated_at = self.clock()


def change_view(client: WebClient, views: ShownViews, seen: Mapping[str, Any], change: Change) -> bool:
    """Update the modal `seen` (as a payload or `views.open` showed it) to `change(view)`, sent with that view's hash;
    refused as stale, `change` is made again on the newer view known meanwhile (set by any process). `change`
    returns None when there is nothing to do on the view it is given. False when nothing was changed (closed,
    nothing to do, or changed in a way no process here knows of)."""
    if not seen.get("id"):
        return False
    with views.changing(seen) as hold:
        view_id = hold.view_id
        tried: set[str] = set()
        candidates = [seen]
        while candidates:
            view = candidates.pop(0)
            view_hash = str(view.get("hash") or "")
            if view_hash in tried:
                continue
            tried.add(view_hash)
            changed = change(view)
            if changed is None:
                return False
            try:
                answer = client.views_update(view_id=view_id, hash=view_hash or None, view=changed)
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error == "hash_conflict":
                    newer = views.known(view_id)
                    if newer is not None:
                        candidates.append(newer)
                    continue
                if error == GONE:
                    log.info("The modal was closed meanwhile; left as it is")
                    views.forget(view_id)
                    return False
                raise
            updated = answer.get("view")
            if isinstance(updated, Mapping):
                views.remember(updated, hold=hold)
            return True
    log.info("The modal changed meanwhile in a way no process here knows; left as it is")
    return False


def prune_shown_views(db: Database, *, now: datetime) -> int:
    """Delete the rows of modals untouched for `KEEP` (closed, submitted or left open), unless a change holds one."""
    with db.session() as s:
        gone = s.execute(
            delete(ShownView).where(
                ShownView.updated_at < now - KEEP,
                or_(ShownView.held_until.is_(None), ShownView.held_until < now),
            )
        )
    return int(getattr(gone, "rowcount", 0) or 0)
