"""App Home: publishing the tab, and republishing it for everyone who has been looking at it whenever what it
shows changes (a connection, the mapping, an import, a setting), so nobody reads a stale status there.

Whoever changes something says so with `Runtime.workspace_changed`; the `HomePublisher` republishes in a thread
of its own, so a listener never publishes to a hundred viewers before it returns."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot import status, workspaces
from bot.locks import KeyedLocks
from bot.runtime import Runtime
from bot.slack.notify import permalink
from bot.slack.requests import Asker
from bot.views.status import home_view
from bot.workspaces import permissions
from storage.models import HomeViewer

log = logging.getLogger(__name__)

VIEWER_WINDOW = timedelta(days=30)  # who has not opened Home for this long is not reading it
MAX_VIEWERS = 100  # the most recent viewers; Slack allows views.publish about 100 times a minute

# One refresh at a time per workspace in this process, so an older status is never published over a newer one.
_publishing: KeyedLocks[str] = KeyedLocks()

ROLE_TTL = timedelta(minutes=10)  # how long whether someone is a Slack admin is taken as known (users.info)
MAX_ROLES = 10_000  # people whose role is kept at most (the oldest answers go first beyond it)


class RoleCache:
    """Whether each person is a Slack admin, as Slack said within `ttl`: answers past it are dropped as others
    are kept, and at most `size` are held, so a process serving many workspaces for months does not keep every
    person it ever asked about."""

    def __init__(self, *, ttl: timedelta, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl.total_seconds(), size, clock
        self._answers: dict[tuple[str, str], tuple[bool, float]] = {}  # in the order they expire
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> bool | None:
        with self._lock:
            known = self._answers.get(key)
            return known[0] if known is not None and known[1] > self.clock() else None

    def put(self, key: tuple[str, str], answer: bool) -> None:
        with self._lock:
            now = self.clock()
            self._answers.pop(key, None)  # put again at the end: the answers stay in the order they expire
            self._answers[key] = (answer, now + self.ttl)
            while self._answers:
                oldest = next(iter(self._answers))
                if self._answers[oldest][1] > now and len(self._answers) <= self.size:
                    break
                del self._answers[oldest]

    def __len__(self) -> int:
        return len(self._answers)


_slack_admins = RoleCache(ttl=ROLE_TTL, size=MAX_ROLES)


def is_admin(client: WebClient, *, team_id: str, user_id: str, added: Collection[str]) -> bool:
    """Whether the viewer sees the admin controls on Home: added with `/accounts admins add`, or a Slack admin or
    owner (asked of Slack at most once per `ROLE_TTL` per person, so a republish to many viewers stays cheap).
    What they click is still checked when they click it (`bot.slack.authorisation`)."""
    if user_id in added:
        return True
    known = _slack_admins.get((team_id, user_id))
    if known is not None:
        return known
    answer = permissions.is_slack_admin(client, user_id)
    _slack_admins.put((team_id, user_id), answer)
    return answer


def latest_thread(client: WebClient, report: status.StatusReport) -> str | None:
    """The link to the latest import's thread, for App Home's "Last import" line."""
    imports = report.connection.imports if report.connection is not None else None
    latest = imports.latest if imports is not None else None
    if latest is None or latest.active:
        return None
    return permalink(client, latest.channel_id, latest.parent_ts)


def remember_viewer(session: Session, *, workspace_id: int, user_id: str, now: datetime) -> None:
    """Note that the person is looking at Home now: one row per person, however often (or at once) they open it."""
    values = {"workspace_id": workspace_id, "user_id": user_id, "last_opened_at": now}
    key = ["workspace_id", "user_id"]
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(HomeViewer).values(values)
        session.execute(
            pg.on_conflict_do_update(index_elements=key, set_={"last_opened_at": pg.excluded.last_opened_at})
        )
    else:
        lite = sqlite.insert(HomeViewer).values(values)
        session.execute(
            lite.on_conflict_do_update(index_elements=key, set_={"last_opened_at": lite.excluded.last_opened_at})
        )


def recent_viewers(session: Session, *, workspace_id: int, now: datetime) -> list[str]:
    """Who opened Home within `VIEWER_WINDOW`, the most recent first, at most `MAX_VIEWERS`."""
    return list(
        session.scalars(
            select(HomeViewer.user_id)
            .where(HomeViewer.workspace_id == workspace_id, HomeViewer.last_opened_at >= now - VIEWER_WINDOW)
            .order_by(HomeViewer.last_opened_at.desc(), HomeViewer.id.desc())
            .limit(MAX_VIEWERS)
        )
    )


def home_opened(asker: Asker) -> None:
    """The person opened the Home tab: remember them, so later changes reach their Home too, and publish it as
    things stand."""
    runtime = asker.runtime
    with runtime.db.session(write_lock=True) as s:
        remember_viewer(s, workspace_id=asker.workspace_id, user_id=asker.user_id, now=runtime.clock())
    with _publishing(asker.team_id):
        with runtime.db.session() as s:
            added = permissions.added_admins(s, workspace_id=asker.workspace_id)
            report = status.report_for(runtime, s, team_id=asker.team_id)
        admin = is_admin(asker.client, team_id=asker.team_id, user_id=asker.user_id, added=added)
        view = home_view(report, admin=admin, thread_link=latest_thread(asker.client, report))
        try:
            asker.client.views_publish(user_id=asker.user_id, view=view)
        except SlackApiError as exc:  # e.g. a person Slack does not know in this workspace: nothing to show them
            log.warning(
                "Slack refused App Home for %s in %s: %s", asker.user_id, asker.team_id, exc.response.get("error")
            )


def refresh_homes(runtime: Runtime, client: WebClient | None, *, team_id: str, viewers: Collection[str] = ()) -> int:
    """Republish Home for the workspace's recent viewers; returns how many got it.

    `viewers` are people looking at Home right now (they clicked on it), remembered as viewers first.
    Never raises for Slack's sake: a publish Slack refuses is logged and the others go ahead; `client`
    None (the workspace's Slack install is gone) publishes nothing.
    """
    if client is None:
        return 0
    now = runtime.clock()
    with _publishing(team_id):
        with runtime.db.session(write_lock=bool(viewers)) as s:
            workspace = workspaces.find(s, team_id=team_id)
            if workspace is None:
                return 0
            for viewer in viewers:
                remember_viewer(s, workspace_id=workspace.id, user_id=viewer, now=now)
            people = recent_viewers(s, workspace_id=workspace.id, now=now)
            if not people:
                return 0
            added = permissions.added_admins(s, workspace_id=workspace.id)
            report = status.report_for(runtime, s, team_id=team_id)
        link = latest_thread(client, report)
        views = {role: home_view(report, admin=role, thread_link=link) for role in (True, False)}
        published = 0
        for user_id in people:
            try:
                admin = is_admin(client, team_id=team_id, user_id=user_id, added=added)
                client.views_publish(user_id=user_id, view=views[admin])
            except SlackApiError as exc:
                log.warning(
                    "Could not republish App Home for %s in %s: %s", user_id, team_id, exc.response.get("error")
                )
                continue
            except OSError as exc:  # Slack unreachable: the others would fail the same way
                log.warning("Could not reach Slack to republish App Home in %s: %s", team_id, exc)
                break
            published += 1
        return published


class HomePublisher:
    """Republishes App Home, in a thread of its own, for the workspaces marked out of date.

    Listeners and jobs only mark (`Runtime.workspace_changed`), so none of them publishes to a hundred viewers
    before it returns. Marks that arrive while a workspace is being published fold into one more publish.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._due: dict[str, set[str]] = {}  # team id -> people looking at Home right now (remembered first)
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="home-publisher", daemon=True)
        self._thread.start()

    def mark(self, team_id: str, *, viewer: str | None = None) -> None:
        with self._changed:
            viewers = self._due.setdefault(team_id, set())
            if viewer:
                viewers.add(viewer)
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._thread.join(timeout=5)

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._due and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return
                team_id, viewers = self._due.popitem()
            try:
                refresh_homes(self.runtime, self.runtime.client_for(team_id), team_id=team_id, viewers=viewers)
            except Exception:
                log.exception("Republishing App Home in %s failed", team_id)


def listen(runtime: Runtime) -> HomePublisher:
    """Republish App Home whenever something in the runtime says a workspace changed."""
    publisher = HomePublisher(runtime)
    runtime.workspace_change_listeners.append(publisher.mark)
    runtime.closers.append(publisher.close)
    return publisher
