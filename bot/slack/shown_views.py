"""Changing a modal that two things change at once: the bot after it opened (the package's payment terms on their
way) and the person (a click). Slack refuses an update sent with a stale hash (`hash_conflict`) and has no call to
read a view, so each change made here keeps the view Slack answered with, and a change refused as stale is made
again on that newer view: the person's action and the bot's both land, whichever reached Slack first.

What is kept is this process's: a view last changed by another process is not known here, and a change refused
there is left as Slack has it (as before)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.locks import KeyedLocks

log = logging.getLogger(__name__)

KEPT = 2000  # views remembered at most; a form lives minutes, and the oldest is forgotten first
GONE = "not_found"  # the person closed the modal

Change = Callable[[Mapping[str, Any]], dict[str, Any] | None]


class ShownViews:
    """The newest view this process knows of each modal it changed (as Slack answered `views.open`/`views.update`),
    and one lock a modal, so that this process's changes to one modal go one at a time."""

    def __init__(self, kept: int = KEPT) -> None:
        self._views: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._guard = threading.Lock()
        self._kept = kept
        self.locks: KeyedLocks[str] = KeyedLocks()

    def remember(self, view: Mapping[str, Any]) -> None:
        view_id = view.get("id")
        if not isinstance(view_id, str) or not view.get("hash"):
            return
        with self._guard:
            self._views[view_id] = dict(view)
            self._views.move_to_end(view_id)
            while len(self._views) > self._kept:
                self._views.popitem(last=False)

    def known(self, view_id: str) -> dict[str, Any] | None:
        with self._guard:
            return self._views.get(view_id)


shown_views = ShownViews()


def change_view(client: WebClient, seen: Mapping[str, Any], change: Change, *, views: ShownViews = shown_views) -> bool:
    """Update the modal `seen` (as a payload or `views.open` showed it) to `change(view)`, sent with that view's hash;
    refused as stale, `change` is made again on the newer view this process set meanwhile. `change` returns None
    when there is nothing to do on the view it is given. False when nothing was changed (closed, nothing to do, or
    changed by someone this process does not know of)."""
    view_id = str(seen.get("id") or "")
    if not view_id:
        return False
    with views.locks(view_id):
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
                    return False
                raise
            updated = answer.get("view")
            if isinstance(updated, Mapping):
                views.remember(updated)
            return True
    log.info("The modal changed meanwhile in a way this process does not know; left as it is")
    return False
