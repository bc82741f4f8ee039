"""The Slack fake's settings and in-memory state, with the lookups and writes all its parts share: workspaces,
people, channels (direct messages opened on demand), messages and threads, views, trigger ids."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from tests.fakes import blockkit
from tests.fakes.slack.clock import Clock
from tests.fakes.slack.ids import _random_id, _view_hash
from tests.fakes.slack.limits import DEFAULT_RATE_LIMITS, RateLimit
from tests.fakes.slack.records import (
    Call,
    Channel,
    ResponsePost,
    SlackRefusal,
    UploadedFile,
    User,
    Workspace,
    _ApiRequest,
    _Failure,
    _OAuthCode,
    _ResponseUrl,
    _SocketConnection,
    _Trigger,
    _ViewRecord,
)

_VIEW_IDENTITY = ("id", "team_id", "root_view_id", "previous_view_id", "app_id", "app_installed_team_id", "bot_id")


class SlackState:
    """What every part of `SlackFake` works on, guarded by one lock: `_changed`, a condition that wakes
    `wait_for` whenever something changes."""

    def __init__(
        self,
        *,
        signing_secret: str = "fake-signing-secret",
        clock: Clock = time.monotonic,
        client_id: str = "1111111111.2222222222",
        client_secret: str = "fake-client-secret",
        app_id: str = "A0FAKEAPP01",
        app_name: str = "accounts-bot",
        verification_token: str = "fake-verification-token",
        request_url: str | None = None,
        url: str | None = None,
        rate_limits: bool | Mapping[str, RateLimit] = True,
        ack_timeout: float = 3.0,
        latency: float = 0.0,
    ) -> None:
        self.signing_secret = signing_secret
        self.clock = clock
        self.client_id = client_id
        self.client_secret = client_secret
        self.app_id = app_id
        self.app_name = app_name
        self.verification_token = verification_token
        self.request_url = request_url
        self.url = url.rstrip("/") if url else None
        self.ack_timeout = ack_timeout
        # Seconds each Web API call and file upload waits before it is answered: Slack's round trip from a server
        # elsewhere (some 100-300 ms), where the fake's is a fraction of a millisecond.
        self.latency = latency
        self.most_at_once = 0  # the most Web API calls and uploads in flight at once (`in_flight`)
        self._in_flight = 0
        self._holds: dict[str, threading.Event] = {}  # Web API methods held until their event is set (`hold`)

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._workspaces: dict[str, Workspace] = {}
        self._users: dict[tuple[str, str], User] = {}
        self._channels: dict[str, Channel] = {}
        self._tokens: dict[str, tuple[Literal["bot", "app"], str]] = {}
        self._revoked: set[str] = set()
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, _ViewRecord] = {}
        self._stacks: dict[tuple[str, str], list[str]] = {}
        self._homes: dict[tuple[str, str], str] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._responses: list[ResponsePost] = []
        self._files: dict[str, UploadedFile] = {}
        self._uploads: dict[str, str] = {}
        self._codes: dict[str, _OAuthCode] = {}
        self._installer: tuple[str, str] | None = None
        self._calls: list[Call] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._down: int | None = None  # while set, every Web API call and upload answers this HTTP status
        self._buckets: dict[tuple[str, ...], tuple[float, float]] = {}
        self._tickets: set[str] = set()
        self._sockets: list[_SocketConnection] = []
        self._last_ts_us = 0
        if rate_limits is True:
            self._rate_limits = dict(DEFAULT_RATE_LIMITS)
        elif rate_limits is False:
            self._rate_limits = {}
        else:
            self._rate_limits = dict(rate_limits)

        self._methods: dict[str, Callable[[_ApiRequest], dict[str, Any]]] = self._web_api_methods()
        self.asgi_app = Starlette(routes=self._routes())

    def _web_api_methods(self) -> dict[str, Callable[[_ApiRequest], dict[str, Any]]]:
        """The Web API's methods by name; `SlackFake` lists them."""
        raise NotImplementedError

    def _routes(self) -> list[BaseRoute]:
        """The HTTP and WebSocket routes the fake serves; `SlackFake` lists them."""
        raise NotImplementedError

    def hold(self, method: str) -> threading.Event:
        """Hold every call of the Web API `method` unanswered (and unrecorded) until the returned event is set: a
        test can then look at what the bot does meanwhile."""
        release = threading.Event()
        with self._changed:
            self._holds[method] = release
        return release

    async def held(self, method: str) -> None:
        """Until `method` is not held (`hold`)."""
        with self._changed:
            release = self._holds.get(method)
        while release is not None and not release.is_set():
            await asyncio.sleep(0.005)

    @contextlib.asynccontextmanager
    async def in_flight(self) -> AsyncIterator[None]:
        """A Web API call or an upload being answered: counted while in flight (`most_at_once`), after `latency`."""
        with self._changed:
            self._in_flight += 1
            self.most_at_once = max(self.most_at_once, self._in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            yield
        finally:
            with self._changed:
                self._in_flight -= 1

    def wait_for(self, condition: Callable[[], Any], timeout: float = 30.0, message: str = "") -> Any:
        """Wait (in real time) until `condition()` is truthy and return its value; the bot works after it
        acknowledges, so tests wait for its calls instead of sleeping. `TimeoutError` after `timeout`, generous
        because it only bounds a failure: the suite runs on several workers, beside other work."""
        deadline = time.monotonic() + timeout
        while True:
            # Outside the lock, so a condition may even call the fake over HTTP.
            value = condition()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(message or f"condition not met within {timeout}s")
            with self._changed:
                # Woken by any change; the short timeout covers a change between the check and the wait.
                self._changed.wait(min(remaining, 0.05))

    def _workspace(self, team_id: str) -> Workspace:
        try:
            return self._workspaces[team_id]
        except KeyError:
            raise LookupError(f"no workspace {team_id}; add it with add_workspace") from None

    def _team_of_user(self, user_id: str) -> str:
        for team_id, known in self._users:
            if known == user_id:
                return team_id
        if not self._workspaces:
            raise LookupError("add a workspace first")
        return next(iter(self._workspaces))

    def _person(self, user_id: str, team_id: str | None) -> tuple[User, Workspace]:
        team = team_id or self._team_of_user(user_id)
        user = self._users.get((team, user_id))
        if user is None:
            raise LookupError(f"no user {user_id} in {team}; add them with add_user")
        return user, self._workspace(team)

    def _base_url(self) -> str:
        if not self.url:
            raise RuntimeError("the fake does not know its URL yet: use fake.serve(), or pass url=")
        return self.url

    def _dm_id(self, team_id: str, user_id: str) -> str:
        candidate = "D" + user_id[1:]
        existing = self._channels.get(candidate)
        if existing is None or (existing.team_id, existing.dm_user) == (team_id, user_id):
            return candidate
        return "D" + team_id[1:] + user_id[1:]

    def _dm(self, team_id: str, user_id: str) -> Channel:
        channel_id = self._dm_id(team_id, user_id)
        if channel_id not in self._channels:
            self._channels[channel_id] = Channel(team_id, channel_id, user_id, is_private=True, dm_user=user_id)
            self._messages[channel_id] = []
        return self._channels[channel_id]

    def _resolve_channel_id(self, channel: str, team_id: str | None = None) -> str:
        if channel[:1] in ("U", "W"):
            team = team_id or self._team_of_user(channel)
            if (team, channel) in self._users:
                return self._dm(team, channel).channel_id
        return channel

    def _visible_channel(self, workspace: Workspace, channel_id: str, user_id: str) -> Channel:
        channel_id = self._resolve_channel_id(channel_id, workspace.team_id)
        channel = self._channels.get(channel_id)
        if channel is None or channel.team_id != workspace.team_id:
            raise LookupError(f"no channel {channel_id} in {workspace.team_id}; add it with add_channel")
        return channel

    def _member_ids(self, channel: Channel) -> list[str]:
        if channel.is_im:
            members = [str(channel.dm_user)]
        elif channel.members is not None:
            members = sorted(channel.members)
        else:
            members = [u for (t, u), user in self._users.items() if t == channel.team_id and not user.is_bot]
        bot = self._workspaces[channel.team_id].bot_user_id
        if channel.is_im or channel.bot_member:
            members.append(bot)
        return members

    def _bot_message(self, workspace: Workspace) -> dict[str, Any]:
        return {
            "type": "message",
            "user": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "app_id": self.app_id,
            "team": workspace.team_id,
        }

    def _next_ts(self) -> str:
        self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _store_message(self, channel: Channel, message: dict[str, Any]) -> dict[str, Any]:
        message["ts"] = self._next_ts()
        messages = self._messages.setdefault(channel.channel_id, [])
        thread_ts = message.get("thread_ts")
        if thread_ts:
            parent = next((m for m in messages if m["ts"] == thread_ts), None)
            if parent is not None and parent.get("thread_ts") not in (None, thread_ts):
                # A reply to a reply joins the parent's thread, as in Slack.
                thread_ts = message["thread_ts"] = parent["thread_ts"]
                parent = next((m for m in messages if m["ts"] == thread_ts), None)
            if parent is not None:
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                users = parent.setdefault("reply_users", [])
                if message.get("user") not in users:
                    users.append(message.get("user"))
                parent["latest_reply"] = message["ts"]
                message["parent_user_id"] = parent.get("user")
        messages.append(message)
        self._changed.notify_all()
        return message

    def _store_ephemeral(
        self, channel_id: str, user_id: str, content: dict[str, Any], thread_ts: Any
    ) -> dict[str, Any]:
        ephemeral = {"type": "message", "channel": channel_id, "user": user_id, "ts": self._next_ts()} | content
        if thread_ts:
            ephemeral["thread_ts"] = str(thread_ts)
        self._ephemerals.append(ephemeral)
        self._changed.notify_all()
        return ephemeral

    def _find_message(self, channel_id: str, ts: str, refusal: str = "message_not_found") -> dict[str, Any]:
        for message in self._messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        raise SlackRefusal(refusal)

    def _shown_message(self, channel_id: str, ts: str, user_id: str) -> tuple[dict[str, Any], bool]:
        """A message a person sees: one in the channel, or an ephemeral one shown to them."""
        try:
            return self._find_message(channel_id, ts), False
        except SlackRefusal:
            for ephemeral in self._ephemerals:
                if (ephemeral["channel"], ephemeral["ts"], ephemeral["user"]) == (channel_id, ts, user_id):
                    return ephemeral, True
        raise LookupError(f"{user_id} sees no message {ts} in {channel_id}")

    def _new_view(
        self,
        workspace: Workspace,
        user_id: str,
        view: Mapping[str, Any],
        *,
        root_view_id: str | None,
        previous_view_id: str | None,
    ) -> _ViewRecord:
        view_id = _random_id("V")
        stored = _stored_view(view) | {
            "id": view_id,
            "team_id": workspace.team_id,
            "hash": _view_hash(),
            "root_view_id": root_view_id or view_id,
            "previous_view_id": previous_view_id,
            "app_id": self.app_id,
            "app_installed_team_id": workspace.team_id,
            "bot_id": workspace.bot_id,
        }
        record = _ViewRecord(workspace.team_id, user_id, stored)
        self._views[view_id] = record
        self._changed.notify_all()
        return record

    def _replace_view(self, record: _ViewRecord, view: Mapping[str, Any]) -> None:
        kept = {k: record.view[k] for k in _VIEW_IDENTITY}
        record.view = _stored_view(view) | kept | {"hash": _view_hash()}
        self._changed.notify_all()

    def _issue_trigger(self, team_id: str, user_id: str) -> str:
        trigger_id = f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self._triggers[trigger_id] = _Trigger(team_id, user_id, self.clock())
        return trigger_id


def _in_channel_view(message: Mapping[str, Any]) -> bool:
    thread_ts = message.get("thread_ts")
    return thread_ts in (None, message["ts"]) or message.get("subtype") == "thread_broadcast"


def _stored_view(view: Mapping[str, Any]) -> dict[str, Any]:
    """A view as Slack stores and returns it: every field present, blocks with their ids."""
    stored = {
        "type": view["type"],
        "title": view.get("title"),
        "submit": view.get("submit"),
        "close": view.get("close"),
        "blocks": blockkit.assign_ids(list(view.get("blocks") or [])),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "external_id": view.get("external_id", ""),
        "state": {"values": {}},
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
    }
    return stored
