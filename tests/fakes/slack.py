"""A faithful local fake of Slack: the Web API a bot calls, and the requests Slack sends a bot.

`SlackFake` keeps workspaces, users, channels, messages, views and files in memory and serves them as
an ASGI app (`fake.asgi_app`, or `fake.serve()` for a `ServerThread`): the Web API under `/api/<method>`,
file upload URLs, response URLs, an OAuth authorize page and the Socket Mode WebSocket. It records every
Web API call, refuses what Slack refuses (errors, rate limits, Block Kit limits through
`tests.fakes.blockkit`), and delivers slash commands, interactions and events to the bot, either as signed
HTTP requests to its `request_url` or as envelopes over the Socket Mode connection the bot opened.

Expiry and rate limits follow the `clock` given to the fake, so a test moves time instead of sleeping;
`ts`, `event_time` and request signatures use the wall clock, as the bot checks them against its own.
`python -m tests.fakes.slack --port N` serves a demo workspace on its own.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import copy
import hashlib
import hmac
import json
import math
import secrets
import string
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.fakes import blockkit
from tests.fakes.server import ServerThread, serve_main

Clock = Callable[[], float]
Transport = Literal["http", "socket"]

TRIGGER_LIFETIME = 3.0
RESPONSE_URL_LIFETIME = 30 * 60.0
RESPONSE_URL_USES = 5
OAUTH_CODE_LIFETIME = 10 * 60.0
MAX_MESSAGE_TEXT = 40_000
MAX_VIEW_STACK = 3
DEFAULT_SCOPES = ("commands", "chat:write", "chat:write.public", "users:read", "channels:read", "im:write")
_JSON_ARGS = ("blocks", "attachments", "view", "files", "metadata")
_ID_ALPHABET = string.ascii_uppercase + string.digits


class ManualClock:
    """A clock a test moves by hand: `clock()` reads it, `clock.advance(seconds)` moves it."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


# Rate limits


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `per_minute` calls a minute on average, `burst` at once; per workspace, or per
    channel as chat.postMessage is."""

    per_minute: float
    burst: int
    per_channel: bool = False


TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}


def tier(number: int) -> RateLimit:
    """Slack's rate tier `number` (1 to 4): its calls a minute, all of them allowed in one burst."""
    per_minute = TIER_PER_MINUTE[number]
    return RateLimit(per_minute=per_minute, burst=per_minute)


DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    # "About one message per second per channel, short bursts allowed": the fake allows bursts of 5.
    "chat.postMessage": RateLimit(per_minute=60, burst=5, per_channel=True),
    "chat.postEphemeral": tier(4),
    "chat.update": tier(3),
    "chat.delete": tier(3),
    "conversations.history": tier(3),
    "conversations.info": tier(3),
    "conversations.join": tier(3),
    "conversations.members": tier(4),
    "conversations.open": tier(3),
    "conversations.replies": tier(3),
    "files.completeUploadExternal": tier(4),
    "files.getUploadURLExternal": tier(4),
    "oauth.v2.access": tier(4),
    "team.info": tier(3),
    "users.info": tier(4),
    "views.open": tier(4),
    "views.publish": tier(4),
    "views.push": tier(4),
    "views.update": tier(4),
}


# What a test configures and reads back


@dataclass
class Workspace:
    team_id: str
    name: str
    domain: str
    bot_user_id: str
    bot_id: str
    bot_token: str | None
    app_token: str | None
    scopes: tuple[str, ...] = DEFAULT_SCOPES


@dataclass
class User:
    team_id: str
    user_id: str
    name: str
    real_name: str
    email: str | None = None
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    tz: str = "Europe/London"


@dataclass
class Channel:
    team_id: str
    channel_id: str
    name: str
    is_private: bool = False
    bot_member: bool = True
    is_archived: bool = False
    members: set[str] | None = None  # None: every user of the workspace
    dm_user: str | None = None

    @property
    def is_im(self) -> bool:
        return self.dm_user is not None


@dataclass(frozen=True)
class Call:
    """One Web API call as the fake received it: `args` has JSON fields (blocks, view, files) decoded."""

    method: str
    args: dict[str, Any]
    token: str | None
    time: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass
class UploadedFile:
    """A file uploaded through files.getUploadURLExternal and its upload URL."""

    file_id: str
    team_id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    alt_txt: str | None = None
    snippet_type: str | None = None
    channels: list[str] = field(default_factory=list)
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False


@dataclass(frozen=True)
class ResponsePost:
    """What the bot posted to a response URL the fake handed out."""

    response_url: str
    payload: dict[str, Any]
    status: int
    time: float


@dataclass(frozen=True)
class Delivery:
    """A request Slack made to the bot and how the bot answered it.

    `ack` is the answer's payload: the JSON body of the HTTP response, or the `payload` of the Socket Mode
    acknowledgement (None when empty). `problems` lists what Slack would refuse in that answer, such as a
    `response_action` whose view breaks Block Kit limits, or errors for blocks that are not inputs.
    """

    transport: Transport
    payload: dict[str, Any]
    acked: bool
    ack: Any
    status: int | None = None
    body: str = ""
    problems: tuple[str, ...] = ()
    elapsed: float = 0.0

    @property
    def trigger_id(self) -> str | None:
        return self.payload.get("trigger_id")

    @property
    def response_url(self) -> str | None:
        return self.payload.get("response_url")


class SlackRefusal(Exception):
    """Slack's `{"ok": false, "error": ...}`, raised inside the fake's method handlers."""

    def __init__(self, error: str, *, messages: list[str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.body: dict[str, Any] = {"ok": False, "error": error, **extra}
        if messages:
            self.body["response_metadata"] = {"messages": messages}


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None


@dataclass
class _Trigger:
    team_id: str
    user_id: str
    issued: float
    exchanged: bool = False


@dataclass
class _ResponseUrl:
    team_id: str
    channel_id: str
    user_id: str
    issued: float
    original_ts: str | None = None
    original_ephemeral: bool = False
    uses: int = 0


@dataclass
class _OAuthCode:
    team_id: str
    user_id: str
    issued: float
    redirect_uri: str | None
    scopes: tuple[str, ...]


@dataclass
class _ViewRecord:
    team_id: str
    user_id: str
    view: dict[str, Any]


class _SocketConnection:
    """One Socket Mode WebSocket; the test thread sends through the server's event loop."""

    def __init__(self, websocket: WebSocket, loop: asyncio.AbstractEventLoop) -> None:
        self.websocket = websocket
        self.loop = loop
        self.pending: dict[str, concurrent.futures.Future[dict[str, Any]]] = {}
        self.greeted = False
        self.draining = False

    def send(self, message: dict[str, Any], timeout: float) -> None:
        coroutine = self.websocket.send_text(json.dumps(message))
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self, timeout: float = 5.0) -> None:
        asyncio.run_coroutine_threadsafe(self.websocket.close(), self.loop).result(timeout)


def _random_id(prefix: str, length: int = 10) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def sign(body: bytes, *, secret: str, timestamp: int) -> str:
    """Slack's `X-Slack-Signature` (v0) for a request body sent at `timestamp`."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackFake:
    """Slack for one app, installed in any number of workspaces. Thread-safe."""

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

        self._methods: dict[str, Callable[[_ApiRequest], dict[str, Any]]] = {
            "apps.connections.open": self._apps_connections_open,
            "auth.revoke": self._auth_revoke,
            "auth.test": self._auth_test,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "conversations.history": self._conversations_history,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.members": self._conversations_members,
            "conversations.open": self._conversations_open,
            "conversations.replies": self._conversations_replies,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "oauth.v2.access": self._oauth_v2_access,
            "team.info": self._team_info,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "views.push": self._views_push,
            "views.update": self._views_update,
        }
        self.asgi_app = Starlette(
            routes=[
                Route("/api/{method}", self._serve_web_api, methods=["GET", "POST"]),
                Route("/upload/v1/{upload_id}", self._serve_upload, methods=["POST"]),
                Route("/response/{response_id}", self._serve_response_url, methods=["POST"]),
                Route("/oauth/v2/authorize", self._serve_authorize, methods=["GET"]),
                WebSocketRoute("/socket", self._serve_socket),
            ]
        )

    # Configuration

    def serve(self, port: int = 0) -> ServerThread:
        """A `ServerThread` for this fake (not started); the fake learns its URL from it."""
        server = ServerThread(self.asgi_app, port=port)
        self.url = server.url
        return server

    @property
    def api_url(self) -> str:
        """Where the Web API answers, as slack_sdk's `base_url` wants it (with the trailing slash)."""
        return f"{self._base_url()}/api/"

    def add_workspace(
        self,
        team_id: str,
        name: str,
        bot_token: str | None = None,
        app_token: str | None = None,
        *,
        installed: bool = True,
        domain: str | None = None,
        bot_user_id: str | None = None,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
    ) -> Workspace:
        """A workspace; with the app installed (a bot token, made up unless given) unless `installed=False`,
        in which case it gets one through the OAuth flow. `app_token` (xapp-) opens Socket Mode."""
        with self._changed:
            workspace = Workspace(
                team_id=team_id,
                name=name,
                domain=domain or name.lower().replace(" ", "-"),
                bot_user_id=bot_user_id or _random_id("U"),
                bot_id=_random_id("B"),
                bot_token=None,
                app_token=app_token,
                scopes=scopes,
            )
            self._workspaces[team_id] = workspace
            if installed:
                workspace.bot_token = bot_token or f"xoxb-{team_id}-{secrets.token_hex(12)}"
                self._tokens[workspace.bot_token] = ("bot", team_id)
            if app_token is not None:
                if not app_token.startswith("xapp-"):
                    raise ValueError("an app-level token starts with xapp-")
                self._tokens[app_token] = ("app", team_id)
            self._users[(team_id, workspace.bot_user_id)] = User(
                team_id, workspace.bot_user_id, self.app_name, self.app_name, is_bot=True
            )
            self._changed.notify_all()
            return workspace

    def add_user(
        self,
        team_id: str,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        deleted: bool = False,
        tz: str = "Europe/London",
    ) -> User:
        """A person in a workspace; owners are admins too, as in Slack."""
        with self._changed:
            self._workspace(team_id)
            user = User(
                team_id=team_id,
                user_id=user_id,
                name=name,
                real_name=real_name or name,
                email=email,
                is_admin=is_admin or is_owner or is_primary_owner,
                is_owner=is_owner or is_primary_owner,
                is_primary_owner=is_primary_owner,
                deleted=deleted,
                tz=tz,
            )
            self._users[(team_id, user_id)] = user
            return user

    def add_channel(
        self,
        team_id: str,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        bot_member: bool = True,
        is_archived: bool = False,
        members: set[str] | None = None,
    ) -> Channel:
        """A channel; `members` None means every user of the workspace is in it."""
        with self._changed:
            self._workspace(team_id)
            channel = Channel(team_id, channel_id, name, is_private, bot_member, is_archived, members)
            self._channels[channel_id] = channel
            self._messages.setdefault(channel_id, [])
            return channel

    def add_message(self, channel_id: str, *, user_id: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
        """A message a person wrote (not the bot), e.g. to give a thread a parent the bot did not post."""
        with self._changed:
            channel = self._channels[channel_id]
            message = {"type": "message", "user": user_id, "team": channel.team_id, "text": text}
            if thread_ts:
                message["thread_ts"] = thread_ts
            return copy.deepcopy(self._store_message(channel, message))

    def workspace(self, team_id: str) -> Workspace:
        """A workspace as configured, with its current bot token, bot user id and bot id."""
        with self._changed:
            return copy.deepcopy(self._workspace(team_id))

    def dm_channel_id(self, team_id: str, user_id: str) -> str:
        """The id of the bot's direct-message channel with a person (what conversations.open answers)."""
        with self._changed:
            return self._dm(team_id, user_id).channel_id

    def issue_oauth_code(
        self,
        team_id: str,
        user_id: str,
        *,
        redirect_uri: str | None = None,
        scopes: tuple[str, ...] | None = None,
    ) -> str:
        """A code as Slack's authorize page gives the redirect URI once `user_id` approves the install."""
        with self._changed:
            workspace = self._workspace(team_id)
            code = f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
            self._codes[code] = _OAuthCode(team_id, user_id, self.clock(), redirect_uri, scopes or workspace.scopes)
            return code

    def set_installer(self, team_id: str, user_id: str) -> None:
        """Who approves installs on `/oauth/v2/authorize` (default: the first user of the first workspace)."""
        with self._changed:
            self._installer = (team_id, user_id)

    def revoke_tokens(self, team_id: str) -> None:
        """Revoke a workspace's tokens (the app was uninstalled): calls with them answer `token_revoked`.
        Send `app_uninstalled`/`tokens_revoked` with `send_event` if the bot should hear about it."""
        with self._changed:
            for token, (_, team) in self._tokens.items():
                if team == team_id:
                    self._revoked.add(token)

    def set_rate_limit(self, method: str, limit: RateLimit | None) -> None:
        """Change (or with None remove) one method's rate limit; buckets start full."""
        with self._changed:
            if limit is None:
                self._rate_limits.pop(method, None)
            else:
                self._rate_limits[method] = limit
            self._buckets = {k: v for k, v in self._buckets.items() if k[0] != method}

    def fail_next(
        self,
        method: str,
        error: str = "ratelimited",
        *,
        status: int | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail with `error`; `ratelimited` answers HTTP 429 with
        `Retry-After` (1 second unless given), anything else HTTP 200 unless `status` says otherwise."""
        status = status or (429 if error == "ratelimited" else 200)
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._changed:
            queue = self._failures.setdefault(method, deque())
            queue.extend(_Failure(error, status, retry_after) for _ in range(times))

    # What happened

    def calls(self, method: str | None = None) -> list[Call]:
        """Every Web API call received (of one method if given), oldest first."""
        with self._changed:
            return [c for c in self._calls if method is None or c.method == method]

    def clear_calls(self) -> None:
        with self._changed:
            self._calls.clear()

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """A channel's messages outside threads (and replies also sent to the channel), oldest first.
        `channel` may be a user id for the bot's DM with that person."""
        with self._changed:
            channel_id = self._resolve_channel_id(channel)
            return [copy.deepcopy(m) for m in self._messages.get(channel_id, []) if _in_channel_view(m)]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """One message by its `ts`; `LookupError` if there is none."""
        with self._changed:
            return copy.deepcopy(self._find_message(self._resolve_channel_id(channel), ts))

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The replies in the thread under message `ts`, oldest first (without the parent)."""
        with self._changed:
            channel_id = self._resolve_channel_id(channel)
            return [
                copy.deepcopy(m)
                for m in self._messages.get(channel_id, [])
                if m.get("thread_ts") == ts and m["ts"] != ts
            ]

    def ephemerals(self, channel: str | None = None, user_id: str | None = None) -> list[dict[str, Any]]:
        """Messages only one person saw (chat.postEphemeral, ephemeral responses), oldest first."""
        with self._changed:
            channel_id = self._resolve_channel_id(channel) if channel else None
            return [
                copy.deepcopy(e)
                for e in self._ephemerals
                if channel_id in (None, e["channel"]) and user_id in (None, e["user"])
            ]

    def last_view(self, user_id: str, team_id: str | None = None) -> dict[str, Any] | None:
        """The modal view a person is looking at (top of their stack), or None when no modal is open."""
        stack = self.view_stack(user_id, team_id)
        return stack[-1] if stack else None

    def view_stack(self, user_id: str, team_id: str | None = None) -> list[dict[str, Any]]:
        """The person's open modal views, root first."""
        with self._changed:
            team = team_id or self._team_of_user(user_id)
            return [copy.deepcopy(self._views[v].view) for v in self._stacks.get((team, user_id), [])]

    def view(self, view_id: str) -> dict[str, Any]:
        """Any view the bot opened, pushed, updated or published, as it stands now."""
        with self._changed:
            return copy.deepcopy(self._views[view_id].view)

    def home_view(self, user_id: str, team_id: str | None = None) -> dict[str, Any] | None:
        """The App Home the bot published for a person, or None."""
        with self._changed:
            view_id = self._homes.get((team_id or self._team_of_user(user_id), user_id))
            return copy.deepcopy(self._views[view_id].view) if view_id else None

    @property
    def uploaded_files(self) -> list[UploadedFile]:
        """Files whose bytes reached the upload URL, oldest first (see `.completed` and `.channels`)."""
        with self._changed:
            return [copy.deepcopy(f) for f in self._files.values() if f.content is not None]

    @property
    def responses(self) -> list[ResponsePost]:
        """Everything the bot posted to response URLs, oldest first."""
        with self._changed:
            return list(self._responses)

    def wait_for(self, condition: Callable[[], Any], timeout: float = 5.0, message: str = "") -> Any:
        """Wait (in real time) until `condition()` is truthy and return its value; the bot works after it
        acknowledges, so tests wait for its calls instead of sleeping. `TimeoutError` after `timeout`."""
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

    # Web API: the common path of every method

    async def _serve_web_api(self, request: Request) -> Response:
        method = request.path_params["method"]
        base_url = str(request.base_url).rstrip("/")
        try:
            args, token, basic = await _read_api_request(request)
        except ValueError:
            args, token, basic = {"_unreadable": True}, None, None
        status, body, headers = self._call(method, args, token, basic, base_url)
        return JSONResponse(body, status_code=status, headers=headers)

    def _call(
        self,
        method: str,
        args: dict[str, Any],
        token: str | None,
        basic: tuple[str, str] | None,
        base_url: str,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._changed:
            self.url = self.url or base_url
            status, headers = 200, {}
            try:
                body = self._answer(_ApiRequest(method, args, token, basic, base_url))
            except _RateLimited as limited:
                status, headers = 429, {"Retry-After": str(limited.retry_after)}
                body = {"ok": False, "error": "ratelimited"}
            except _InjectedFailure as failure:
                status = failure.failure.status
                if failure.failure.retry_after is not None:
                    headers = {"Retry-After": str(failure.failure.retry_after)}
                body = {"ok": False, "error": failure.failure.error}
            except SlackRefusal as refusal:
                body = refusal.body
            self._calls.append(Call(method, args, token, self.clock(), status, body))
            self._changed.notify_all()
            return status, body, headers

    def _answer(self, request: _ApiRequest) -> dict[str, Any]:
        if request.args.get("_unreadable"):
            raise SlackRefusal("invalid_json")
        queue = self._failures.get(request.method)
        if queue:
            raise _InjectedFailure(queue.popleft())
        handler = self._methods.get(request.method)
        if handler is None:
            raise SlackRefusal("unknown_method", req_method=request.method)
        kind = _TOKEN_KINDS.get(request.method, "bot")
        if kind is not None:
            request.workspace = self._authenticate(request.token, kind)
            self._take_from_bucket(request)
        return {"ok": True} | handler(request)

    def _authenticate(self, token: str | None, kind: str) -> Workspace:
        if not token:
            raise SlackRefusal("not_authed")
        known = self._tokens.get(token)
        if known is None:
            raise SlackRefusal("invalid_auth")
        if token in self._revoked:
            raise SlackRefusal("token_revoked")
        if known[0] != kind:
            raise SlackRefusal("not_allowed_token_type")
        return self._workspaces[known[1]]

    def _take_from_bucket(self, request: _ApiRequest) -> None:
        limit = self._rate_limits.get(request.method)
        if limit is None or request.workspace is None:
            return
        key: tuple[str, ...] = (request.method, request.workspace.team_id)
        if limit.per_channel:
            key += (str(request.args.get("channel", "")),)
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(limit.burst), now))
        rate = limit.per_minute / 60.0
        tokens = min(float(limit.burst), tokens + max(0.0, now - last) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise _RateLimited(max(1, math.ceil((1.0 - tokens) / rate)))
        self._buckets[key] = (tokens - 1.0, now)

    # Web API: auth, team, users, OAuth, Socket Mode

    def _auth_test(self, request: _ApiRequest) -> dict[str, Any]:
        workspace = request.ws
        return {
            "url": f"https://{workspace.domain}.slack.com/",
            "team": workspace.name,
            "user": self.app_name,
            "team_id": workspace.team_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "is_enterprise_install": False,
        }

    def _auth_revoke(self, request: _ApiRequest) -> dict[str, Any]:
        if not _flag(request.args.get("test")):
            self._revoked.add(str(request.token))
        return {"revoked": True}

    def _team_info(self, request: _ApiRequest) -> dict[str, Any]:
        workspace = request.ws
        return {"team": {"id": workspace.team_id, "name": workspace.name, "domain": workspace.domain}}

    def _users_info(self, request: _ApiRequest) -> dict[str, Any]:
        user = self._users.get((request.ws.team_id, str(request.args.get("user", ""))))
        if user is None:
            raise SlackRefusal("user_not_found")
        return {"user": _user_object(user)}

    def _oauth_v2_access(self, request: _ApiRequest) -> dict[str, Any]:
        client_id, client_secret = request.basic or (
            str(request.args.get("client_id", "")),
            str(request.args.get("client_secret", "")),
        )
        if client_id != self.client_id:
            raise SlackRefusal("invalid_client_id")
        if client_secret != self.client_secret:
            raise SlackRefusal("bad_client_secret")
        code = self._codes.pop(str(request.args.get("code", "")), None)
        if code is None or self.clock() - code.issued > OAUTH_CODE_LIFETIME:
            raise SlackRefusal("invalid_code")
        if code.redirect_uri is not None and request.args.get("redirect_uri") not in (None, code.redirect_uri):
            raise SlackRefusal("bad_redirect_uri")
        workspace = self._workspaces[code.team_id]
        if workspace.bot_token is None or workspace.bot_token in self._revoked:
            workspace.bot_token = f"xoxb-{workspace.team_id}-{secrets.token_hex(12)}"
            self._tokens[workspace.bot_token] = ("bot", workspace.team_id)
        workspace.scopes = code.scopes
        request.workspace = workspace
        self._take_from_bucket(request)
        return {
            "access_token": workspace.bot_token,
            "token_type": "bot",
            "scope": ",".join(code.scopes),
            "bot_user_id": workspace.bot_user_id,
            "app_id": self.app_id,
            "team": {"id": workspace.team_id, "name": workspace.name},
            "enterprise": None,
            "authed_user": {"id": code.user_id},
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, request: _ApiRequest) -> dict[str, Any]:
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        ws_base = request.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return {"url": f"{ws_base}/socket?ticket={ticket}&app_id={self.app_id}"}

    # Web API: conversations

    def _channel_for_bot(self, request: _ApiRequest, channel_id: Any, *, posting: bool) -> Channel:
        """The channel a bot call names, refused as Slack refuses it: unknown or another workspace's
        channels and private channels the bot is not in are `channel_not_found`, public ones it is not
        in are `not_in_channel` when posting. A user id means the bot's DM with that person."""
        channel_id = str(channel_id or "")
        if channel_id[:1] in ("U", "W") and (request.ws.team_id, channel_id) in self._users:
            return self._dm(request.ws.team_id, channel_id)
        channel = self._channels.get(channel_id)
        if channel is None or channel.team_id != request.ws.team_id:
            raise SlackRefusal("channel_not_found")
        if channel.is_im or channel.bot_member:
            if posting and channel.is_archived:
                raise SlackRefusal("is_archived")
            return channel
        if channel.is_private:
            raise SlackRefusal("channel_not_found")
        if posting:
            raise SlackRefusal("not_in_channel")
        return channel

    def _conversations_info(self, request: _ApiRequest) -> dict[str, Any]:
        channel = self._channel_for_bot(request, request.args.get("channel"), posting=False)
        return {"channel": self._channel_object(channel)}

    def _conversations_open(self, request: _ApiRequest) -> dict[str, Any]:
        if request.args.get("channel"):
            channel = self._channel_for_bot(request, request.args["channel"], posting=False)
            return {"channel": {"id": channel.channel_id}, "no_op": True, "already_open": True}
        users = [u for u in str(request.args.get("users", "")).split(",") if u]
        if not users:
            raise SlackRefusal("users_list_not_supplied")
        if len(users) > 1:
            # Group DMs (mpim) are not part of this fake.
            raise SlackRefusal("method_not_supported_for_channel_type")
        user = self._users.get((request.ws.team_id, users[0]))
        if user is None:
            raise SlackRefusal("user_not_found")
        if user.deleted:
            raise SlackRefusal("user_disabled")
        existed = self._dm_id(request.ws.team_id, users[0]) in self._channels
        channel = self._dm(request.ws.team_id, users[0])
        answer: dict[str, Any] = {"channel": {"id": channel.channel_id}}
        if existed:
            answer |= {"no_op": True, "already_open": True}
        return answer

    def _conversations_join(self, request: _ApiRequest) -> dict[str, Any]:
        channel = self._channels.get(str(request.args.get("channel", "")))
        if channel is None or channel.team_id != request.ws.team_id:
            raise SlackRefusal("channel_not_found")
        if channel.is_im or channel.is_private:
            if channel.is_private and not channel.bot_member:
                raise SlackRefusal("channel_not_found")
            raise SlackRefusal("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackRefusal("is_archived")
        answer: dict[str, Any] = {}
        if channel.bot_member:
            answer["warning"] = "already_in_channel"
        channel.bot_member = True
        return answer | {"channel": self._channel_object(channel)}

    def _conversations_members(self, request: _ApiRequest) -> dict[str, Any]:
        channel = self._channel_for_bot(request, request.args.get("channel"), posting=False)
        members = self._member_ids(channel)
        try:
            offset = int(base64.b64decode(str(request.args.get("cursor") or "MA==")).decode())
        except ValueError:
            raise SlackRefusal("invalid_cursor") from None
        limit = int(request.args.get("limit") or 100)
        page = members[offset : offset + limit]
        more = offset + limit < len(members)
        cursor = base64.b64encode(str(offset + limit).encode()).decode() if more else ""
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def _conversations_history(self, request: _ApiRequest) -> dict[str, Any]:
        channel = self._channel_for_bot(request, request.args.get("channel"), posting=False)
        if not channel.is_im and not channel.bot_member:
            raise SlackRefusal("not_in_channel")
        shown = [m for m in self._messages[channel.channel_id] if _in_channel_view(m)]
        limit = int(request.args.get("limit") or 100)
        return {"messages": copy.deepcopy(shown[::-1][:limit]), "has_more": len(shown) > limit}

    def _conversations_replies(self, request: _ApiRequest) -> dict[str, Any]:
        channel = self._channel_for_bot(request, request.args.get("channel"), posting=False)
        ts = str(request.args.get("ts", ""))
        parent = self._find_message(channel.channel_id, ts, refusal="thread_not_found")
        thread_ts = parent.get("thread_ts", ts)
        replies = [m for m in self._messages[channel.channel_id] if m.get("thread_ts") == thread_ts]
        if not replies:
            replies = [parent]
        return {"messages": copy.deepcopy(replies), "has_more": False}

    # Web API: messages

    def _message_content(self, request: _ApiRequest, *, required: bool = True) -> dict[str, Any]:
        """text / blocks / attachments / metadata of a message call, checked as Slack checks them."""
        args = request.args
        content: dict[str, Any] = {}
        if args.get("text") is not None:
            content["text"] = str(args["text"])
        if args.get("blocks") is not None:
            blocks = args["blocks"]
            if not isinstance(blocks, list):
                raise SlackRefusal("invalid_blocks_format")
            problems = blockkit.check_message(blocks)
            if problems:
                raise SlackRefusal("invalid_blocks", messages=problems)
            content["blocks"] = blockkit.assign_ids(blocks)
        for key in ("attachments", "metadata"):
            if args.get(key) is not None:
                content[key] = args[key]
        if required and not (content.get("text") or content.get("blocks") or content.get("attachments")):
            raise SlackRefusal("no_text")
        if len(content.get("text", "")) > MAX_MESSAGE_TEXT:
            raise SlackRefusal("msg_too_long")
        return content

    def _chat_post_message(self, request: _ApiRequest) -> dict[str, Any]:
        channel = self._channel_for_bot(request, request.args.get("channel"), posting=True)
        message = self._bot_message(request.ws) | self._message_content(request)
        thread_ts = request.args.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            if _flag(request.args.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
        for key in ("username", "icon_emoji", "icon_url"):
            if request.args.get(key):
                message[key] = request.args[key]
        stored = self._store_message(channel, message)
        return {"channel": channel.channel_id, "ts": stored["ts"], "message": copy.deepcopy(stored)}

    def _chat_post_ephemeral(self, request: _ApiRequest) -> dict[str, Any]:
        channel = self._channel_for_bot(request, request.args.get("channel"), posting=True)
        user_id = str(request.args.get("user", ""))
        if user_id not in self._member_ids(channel):
            raise SlackRefusal("user_not_in_channel")
        ephemeral = self._store_ephemeral(
            channel.channel_id, user_id, self._message_content(request), request.args.get("thread_ts")
        )
        return {"message_ts": ephemeral["ts"]}

    def _chat_update(self, request: _ApiRequest) -> dict[str, Any]:
        channel = self._channel_for_bot(request, request.args.get("channel"), posting=False)
        message = self._find_message(channel.channel_id, str(request.args.get("ts", "")))
        if message.get("bot_id") != request.ws.bot_id:
            raise SlackRefusal("cant_update_message")
        content = self._message_content(request, required=False)
        if not content:
            raise SlackRefusal("no_text")
        message.update(content)
        message["edited"] = {"user": request.ws.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel.channel_id,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": copy.deepcopy(message),
        }

    def _chat_delete(self, request: _ApiRequest) -> dict[str, Any]:
        channel = self._channel_for_bot(request, request.args.get("channel"), posting=False)
        message = self._find_message(channel.channel_id, str(request.args.get("ts", "")))
        if message.get("bot_id") != request.ws.bot_id:
            raise SlackRefusal("cant_delete_message")
        self._messages[channel.channel_id].remove(message)
        return {"channel": channel.channel_id, "ts": message["ts"]}

    # Web API: views

    def _view_arg(self, request: _ApiRequest, *, kind: str, view_id: str | None = None) -> dict[str, Any]:
        """The `view` argument, refused as Slack refuses it (`invalid_arguments` with Slack's messages)."""
        view = request.args.get("view")
        if not isinstance(view, dict):
            raise SlackRefusal("invalid_arguments", messages=["[ERROR] missing required field: view"])
        problems = blockkit.check_view(view, pointer="/view")
        if not problems and view.get("type") != kind:
            problems = [f"[ERROR] must be a {kind} view [json-pointer:/view/type]"]
        if problems:
            raise SlackRefusal("invalid_arguments", messages=problems)
        external_id = view.get("external_id")
        if external_id and any(
            r.team_id == request.ws.team_id and r.view.get("external_id") == external_id and r.view["id"] != view_id
            for r in self._views.values()
        ):
            raise SlackRefusal("duplicate_external_id")
        return view

    def _exchange_trigger(self, request: _ApiRequest) -> _Trigger:
        trigger_id = str(request.args.get("trigger_id") or request.args.get("interactivity_pointer") or "")
        trigger = self._triggers.get(trigger_id)
        if trigger is None or trigger.team_id != request.ws.team_id:
            raise SlackRefusal("invalid_trigger_id")
        if trigger.exchanged:
            raise SlackRefusal("exchanged_trigger_id")
        if self.clock() - trigger.issued > TRIGGER_LIFETIME:
            raise SlackRefusal("expired_trigger_id")
        trigger.exchanged = True
        return trigger

    def _views_open(self, request: _ApiRequest) -> dict[str, Any]:
        view = self._view_arg(request, kind="modal")
        trigger = self._exchange_trigger(request)
        record = self._new_view(request.ws, trigger.user_id, view, root_view_id=None, previous_view_id=None)
        self._stacks[(trigger.team_id, trigger.user_id)] = [record.view["id"]]
        return {"view": copy.deepcopy(record.view)}

    def _views_push(self, request: _ApiRequest) -> dict[str, Any]:
        view = self._view_arg(request, kind="modal")
        trigger = self._exchange_trigger(request)
        stack = self._stacks.get((trigger.team_id, trigger.user_id))
        if not stack:
            raise SlackRefusal("invalid_arguments", messages=["[ERROR] no modal is open to push onto"])
        if len(stack) >= MAX_VIEW_STACK:
            raise SlackRefusal("push_limit_reached")
        record = self._new_view(request.ws, trigger.user_id, view, root_view_id=stack[0], previous_view_id=stack[-1])
        stack.append(record.view["id"])
        return {"view": copy.deepcopy(record.view)}

    def _views_update(self, request: _ApiRequest) -> dict[str, Any]:
        view_id, external_id = request.args.get("view_id"), request.args.get("external_id")
        if not view_id and not external_id:
            raise SlackRefusal("invalid_arguments", messages=["[ERROR] view_id or external_id is required"])
        record = self._live_view(request.ws.team_id, view_id, external_id)
        view = self._view_arg(request, kind=record.view["type"], view_id=record.view["id"])
        given_hash = request.args.get("hash")
        if given_hash and given_hash != record.view["hash"]:
            raise SlackRefusal("hash_conflict")
        self._replace_view(record, view)
        return {"view": copy.deepcopy(record.view)}

    def _views_publish(self, request: _ApiRequest) -> dict[str, Any]:
        user_id = str(request.args.get("user_id", ""))
        if (request.ws.team_id, user_id) not in self._users:
            raise SlackRefusal("invalid_arguments", messages=["invalid `user_id`"])
        key = (request.ws.team_id, user_id)
        view_id = self._homes.get(key)
        view = self._view_arg(request, kind="home", view_id=view_id)
        if view_id is None:
            record = self._new_view(request.ws, user_id, view, root_view_id=None, previous_view_id=None)
            self._homes[key] = record.view["id"]
        else:
            record = self._views[view_id]
            given_hash = request.args.get("hash")
            if given_hash and given_hash != record.view["hash"]:
                raise SlackRefusal("hash_conflict")
            self._replace_view(record, view)
        return {"view": copy.deepcopy(record.view)}

    def _live_view(self, team_id: str, view_id: Any, external_id: Any) -> _ViewRecord:
        """A view that is open or published; closed modals cannot be updated."""
        open_ids = {v for stack in self._stacks.values() for v in stack} | set(self._homes.values())
        for record in self._views.values():
            matches = record.view["id"] == view_id if view_id else record.view.get("external_id") == external_id
            if matches and record.team_id == team_id and record.view["id"] in open_ids:
                return record
        raise SlackRefusal("not_found")

    # Web API: files

    def _files_get_upload_url_external(self, request: _ApiRequest) -> dict[str, Any]:
        filename = request.args.get("filename")
        if not filename:
            raise SlackRefusal("invalid_arguments", messages=["[ERROR] missing required field: filename"])
        try:
            length = int(request.args.get("length") or 0)
        except (TypeError, ValueError):
            raise SlackRefusal("invalid_arguments", messages=["[ERROR] length must be an integer"]) from None
        if length <= 0:
            raise SlackRefusal("missing_argument")
        file = UploadedFile(
            file_id=_random_id("F"),
            team_id=request.ws.team_id,
            filename=str(filename),
            length=length,
            alt_txt=request.args.get("alt_txt"),
            snippet_type=request.args.get("snippet_type"),
        )
        upload_id = secrets.token_urlsafe(16)
        self._files[file.file_id] = file
        self._uploads[upload_id] = file.file_id
        return {"upload_url": f"{request.base_url}/upload/v1/{upload_id}", "file_id": file.file_id}

    def _files_complete_upload_external(self, request: _ApiRequest) -> dict[str, Any]:
        entries = request.args.get("files")
        if not isinstance(entries, list) or not entries:
            raise SlackRefusal("invalid_arguments", messages=["[ERROR] missing required field: files"])
        files = []
        for entry in entries:
            file = self._files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if file is None or file.team_id != request.ws.team_id or file.content is None:
                raise SlackRefusal("file_not_found")
            files.append((file, entry.get("title")))
        channel_ids = [str(request.args["channel_id"])] if request.args.get("channel_id") else []
        channel_ids += [c for c in str(request.args.get("channels") or "").split(",") if c]
        channels = []
        for channel_id in channel_ids:
            try:
                channels.append(self._channel_for_bot(request, channel_id, posting=True))
            except SlackRefusal as refusal:
                # This method names unknown channels differently from chat.postMessage.
                error = "invalid_channel" if refusal.error == "channel_not_found" else refusal.error
                raise SlackRefusal(error) from None
        thread_ts = request.args.get("thread_ts")
        comment = request.args.get("initial_comment")
        objects = []
        for file, title in files:
            file.title = str(title) if title else file.filename
            file.channels = [c.channel_id for c in channels]
            file.thread_ts, file.initial_comment, file.completed = thread_ts, comment, True
            objects.append(self._file_object(file, request.ws))
        for channel in channels:
            message = self._bot_message(request.ws) | {"text": comment or "", "files": copy.deepcopy(objects)}
            message["upload"] = True
            if thread_ts:
                message["thread_ts"] = str(thread_ts)
            self._store_message(channel, message)
        return {"files": [{"id": o["id"], "title": o["title"]} for o in objects]}

    async def _serve_upload(self, request: Request) -> Response:
        upload_id = request.path_params["upload_id"]
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            async with request.form() as form:
                parts = [v for v in form.values() if not isinstance(v, str)]
                content = await parts[0].read() if parts else b""
        else:
            content = await request.body()
        with self._changed:
            file_id = self._uploads.pop(upload_id, None)
            if file_id is None:
                return PlainTextResponse("upload URL not found or already used", status_code=404)
            self._files[file_id].content = content
            self._changed.notify_all()
        return PlainTextResponse(f"OK - {len(content)}")

    # Response URLs

    async def _serve_response_url(self, request: Request) -> Response:
        response_id = request.path_params["response_id"]
        raw = await request.body()
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            payload = dict(parse_qsl(raw.decode()))
            if "payload" in payload:
                payload = json.loads(payload["payload"])
        if not isinstance(payload, dict):
            payload = {}
        with self._changed:
            status, body = self._respond(response_id, payload)
            self._responses.append(ResponsePost(str(request.url), payload, status, self.clock()))
            self._changed.notify_all()
        if status != 200:
            return PlainTextResponse(body, status_code=status)
        return JSONResponse({"ok": True})

    def _respond(self, response_id: str, payload: dict[str, Any]) -> tuple[int, str]:
        """Apply what the bot posted to a response URL: replace/delete the original, or post anew."""
        target = self._response_urls.get(response_id)
        if target is None or self.clock() - target.issued > RESPONSE_URL_LIFETIME:
            return 404, "expired_url"
        if target.uses >= RESPONSE_URL_USES:
            return 404, "used_url"
        target.uses += 1
        if _flag(payload.get("delete_original")):
            if target.original_ts is not None:
                self._delete_original(target)
            return 200, "ok"
        blocks = payload.get("blocks")
        if blocks is not None and (not isinstance(blocks, list) or blockkit.check_message(blocks)):
            return 400, "invalid_blocks"
        if not (payload.get("text") or blocks or payload.get("attachments")):
            return 400, "no_text"
        if len(str(payload.get("text", ""))) > MAX_MESSAGE_TEXT:
            return 400, "msg_too_long"
        content: dict[str, Any] = {k: payload[k] for k in ("text", "attachments") if k in payload}
        if blocks is not None:
            content["blocks"] = blockkit.assign_ids(blocks)
        workspace = self._workspaces[target.team_id]
        if _flag(payload.get("replace_original")) and target.original_ts is not None:
            self._replace_original(target, content, workspace)
            return 200, "ok"
        if payload.get("response_type") == "in_channel":
            message = self._bot_message(workspace) | content
            if payload.get("thread_ts"):
                message["thread_ts"] = str(payload["thread_ts"])
            stored = self._store_message(self._channels[target.channel_id], message)
            target.original_ts, target.original_ephemeral = stored["ts"], False
        else:
            ephemeral = self._store_ephemeral(target.channel_id, target.user_id, content, payload.get("thread_ts"))
            target.original_ts, target.original_ephemeral = ephemeral["ts"], True
        return 200, "ok"

    def _replace_original(self, target: _ResponseUrl, content: dict[str, Any], workspace: Workspace) -> None:
        if target.original_ephemeral:
            for ephemeral in self._ephemerals:
                if ephemeral["ts"] == target.original_ts and ephemeral["channel"] == target.channel_id:
                    for key in ("text", "blocks", "attachments"):
                        ephemeral.pop(key, None)
                    ephemeral.update(content)
            return
        message = self._find_message(target.channel_id, str(target.original_ts))
        for key in ("text", "blocks", "attachments"):
            message.pop(key, None)
        message.update(content)
        message["edited"] = {"user": workspace.bot_user_id, "ts": self._next_ts()}

    def _delete_original(self, target: _ResponseUrl) -> None:
        if target.original_ephemeral:
            self._ephemerals = [e for e in self._ephemerals if e["ts"] != target.original_ts]
        else:
            messages = self._messages.get(target.channel_id, [])
            self._messages[target.channel_id] = [m for m in messages if m["ts"] != target.original_ts]

    def _issue_response_url(
        self, team_id: str, channel_id: str, user_id: str, original_ts: str | None = None, ephemeral: bool = False
    ) -> str:
        response_id = secrets.token_urlsafe(18)
        self._response_urls[response_id] = _ResponseUrl(
            team_id, channel_id, user_id, self.clock(), original_ts, ephemeral
        )
        return f"{self._base_url()}/response/{response_id}"

    # OAuth authorize page and the Socket Mode WebSocket

    async def _serve_authorize(self, request: Request) -> Response:
        """Slack's install page, approved at once by the installer (`set_installer`)."""
        params = request.query_params
        if params.get("client_id") != self.client_id:
            return PlainTextResponse("invalid client_id", status_code=400)
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            return PlainTextResponse("redirect_uri is required by this fake", status_code=400)
        with self._changed:
            team_id, user_id = self._installer or self._default_installer()
            scopes = tuple(s for s in (params.get("scope") or "").split(",") if s) or None
            code = self.issue_oauth_code(team_id, user_id, redirect_uri=redirect_uri, scopes=scopes)
        query = urlencode({"code": code, "state": params.get("state", "")})
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)

    async def _serve_socket(self, websocket: WebSocket) -> None:
        with self._changed:
            ticket = websocket.query_params.get("ticket", "")
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        connection = _SocketConnection(websocket, asyncio.get_running_loop())
        with self._changed:
            self._sockets.append(connection)
            live = sum(1 for c in self._sockets if not c.draining)
        await websocket.send_text(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": live,
                    "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        with self._changed:
            connection.greeted = True
            self._changed.notify_all()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text") or (message.get("bytes") or b"").decode()
                self._acknowledge(connection, text)
        finally:
            with self._changed:
                self._sockets.remove(connection)
                for future in connection.pending.values():
                    future.cancel()
                self._changed.notify_all()

    def _acknowledge(self, connection: _SocketConnection, text: str) -> None:
        try:
            ack = json.loads(text)
        except ValueError:
            return
        if not isinstance(ack, dict):
            return
        with self._changed:
            future = connection.pending.pop(str(ack.get("envelope_id")), None)
        if future is not None and not future.done():
            future.set_result(ack)

    def wait_for_socket(self, timeout: float = 5.0) -> None:
        """Wait until the bot holds a Socket Mode connection that got its `hello`."""
        self.wait_for(self._live_socket, timeout, "no Socket Mode connection")

    def disconnect_socket(self, reason: str = "refresh_requested") -> None:
        """Ask every connection to reconnect, as Slack does before it recycles a connection."""
        with self._changed:
            connections = [c for c in self._sockets if not c.draining]
            for connection in connections:
                connection.draining = True
        for connection in connections:
            message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
            connection.send(message, timeout=5.0)

    def close_sockets(self, timeout: float = 5.0) -> None:
        """Close every Socket Mode connection from Slack's side, and wait until they are gone."""
        with self._changed:
            connections = list(self._sockets)
        for connection in connections:
            connection.close(timeout)
        self.wait_for(lambda: not any(c in self._sockets for c in connections), timeout, "sockets still open")

    def _live_socket(self) -> _SocketConnection | None:
        """The newest connection that said hello and was not asked to reconnect: Slack delivers there."""
        with self._changed:
            live = [c for c in self._sockets if c.greeted and not c.draining]
            return live[-1] if live else None

    # Deliveries to the bot

    def send_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        team_id: str | None = None,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery:
        """A person types `text` (e.g. "/accounts import now") in a channel or DM. The bot's immediate
        answer, if any, is posted as Slack posts it (ephemeral unless `response_type` is in_channel)."""
        command, _, arguments = text.strip().partition(" ")
        if not command.startswith("/"):
            raise ValueError("a slash command starts with /")
        with self._changed:
            user, workspace = self._person(user_id, team_id)
            channel = self._visible_channel(workspace, channel_id, user.user_id)
            response_url = self._issue_response_url(workspace.team_id, channel.channel_id, user.user_id)
            form = {
                "token": self.verification_token,
                "team_id": workspace.team_id,
                "team_domain": workspace.domain,
                "channel_id": channel.channel_id,
                "channel_name": "directmessage" if channel.is_im else channel.name,
                "user_id": user.user_id,
                "user_name": user.name,
                "command": command,
                "text": arguments.strip(),
                "api_app_id": self.app_id,
                "is_enterprise_install": "false",
                "response_url": response_url,
                "trigger_id": self._issue_trigger(workspace.team_id, user.user_id),
            }

        def apply(ack: Any) -> list[str]:
            if not ack:
                return []
            answer = ack if isinstance(ack, dict) else {"text": str(ack)}
            status, error = self._respond(response_url.rsplit("/", 1)[1], answer)
            return [] if status == 200 else [f"the command's answer was refused: {error}"]

        return self._deliver(
            "slash_commands", form, transport=transport, secret=secret, timestamp=timestamp, apply=apply
        )

    def send_action(
        self,
        action_id: str,
        *,
        user_id: str,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        block_id: str | None = None,
        value: Any = None,
        values: Mapping[str, Mapping[str, Any]] | None = None,
        team_id: str | None = None,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery:
        """A person uses the element `action_id` in a message (`channel_id` + `message_ts`, ephemeral
        ones included) or a view (`view_id`, modal or App Home): a `block_actions` payload with a fresh
        trigger_id. `value` is what they chose for selects and pickers; `values` what other inputs
        hold (see `blockkit.state_values`). `LookupError` if the surface shows no such element."""
        with self._changed:
            user, workspace = self._person(user_id, team_id)
            payload = self._interaction("block_actions", user, workspace)
            blocks, where = self._surface(payload, user, view_id, channel_id, message_ts)
            block, element = blockkit.find_element(blocks, action_id, block_id)
            state = {"values": blockkit.state_values(blocks, values)}
            if "view" in payload:
                payload["view"]["state"] = state
            else:
                channel_id, ephemeral = where
                payload["state"] = state
                payload["response_url"] = self._issue_response_url(
                    workspace.team_id, channel_id, user.user_id, message_ts, ephemeral
                )
            action = {"block_id": block["block_id"], "action_ts": _wall_ts()}
            payload["actions"] = [action | blockkit.action_fields(element, value)]
            payload["trigger_id"] = self._issue_trigger(workspace.team_id, user.user_id)
        return self._deliver("interactive", payload, transport=transport, secret=secret, timestamp=timestamp)

    def send_view_submission(
        self,
        view: str | Mapping[str, Any],
        values: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery:
        """The person looking at an open modal (a view id, or the view dict) presses its submit button
        with `values` entered (`{block_id: {action_id: choice}}`, see `blockkit.state_values`).
        `ValueError` when Slack's client would not submit (a required input left empty).
        The bot's answer is applied: no `response_action` closes the view; `update`, `push`, `clear`
        and `errors` do what they do in Slack."""
        view_id = view if isinstance(view, str) else str(view["id"])
        with self._changed:
            record = self._views[view_id]
            if view_id not in self._stacks.get((record.team_id, record.user_id), []):
                raise LookupError(f"view {view_id} is not open, so it cannot be submitted")
            if record.view.get("submit") is None:
                raise ValueError(f"view {view_id} has no submit button")
            blocks = record.view["blocks"]
            state = blockkit.state_values(blocks, values)
            unfilled = blockkit.unfilled_inputs(blocks, state)
            if unfilled:
                raise ValueError(f"Slack would not submit this view: {unfilled}")
            user, workspace = self._person(record.user_id, record.team_id)
            submitted = copy.deepcopy(record.view) | {"state": {"values": state}}
            payload = self._interaction("view_submission", user, workspace) | {
                "trigger_id": self._issue_trigger(workspace.team_id, user.user_id),
                "view": submitted,
                "response_urls": self._view_response_urls(workspace, user, blocks, state),
            }

        def apply(ack: Any) -> list[str]:
            return self._apply_view_answer(record, ack)

        return self._deliver(
            "interactive", payload, transport=transport, secret=secret, timestamp=timestamp, apply=apply
        )

    def close_view(
        self,
        view: str | Mapping[str, Any],
        *,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery | None:
        """The person presses a modal's close button: it leaves the stack (the whole stack with
        `clear_on_close`); a `view_closed` payload is delivered only if the view has `notify_on_close`."""
        view_id = view if isinstance(view, str) else str(view["id"])
        with self._changed:
            record = self._views[view_id]
            key = (record.team_id, record.user_id)
            stack = self._stacks.get(key, [])
            if view_id not in stack:
                raise LookupError(f"view {view_id} is not open")
            cleared = bool(record.view.get("clear_on_close"))
            if cleared:
                stack.clear()
            else:
                stack.remove(view_id)
            self._changed.notify_all()
            if not record.view.get("notify_on_close"):
                return None
            user, workspace = self._person(record.user_id, record.team_id)
            payload = self._interaction("view_closed", user, workspace) | {
                "view": copy.deepcopy(record.view),
                "is_cleared": cleared,
            }
        return self._deliver("interactive", payload, transport=transport, secret=secret, timestamp=timestamp)

    def send_options(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str,
        view_id: str | None = None,
        channel_id: str | None = None,
        message_ts: str | None = None,
        block_id: str | None = None,
        team_id: str | None = None,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery:
        """A person types `value` into the external select `action_id`: a `block_suggestion` payload.
        `ValueError` if the text is shorter than the element's `min_query_length` (Slack would not ask).
        The options the bot answers are checked against Slack's limits (`Delivery.problems`)."""
        with self._changed:
            user, workspace = self._person(user_id, team_id)
            payload = self._interaction("block_suggestion", user, workspace)
            blocks, _ = self._surface(payload, user, view_id, channel_id, message_ts)
            block, element = blockkit.find_element(blocks, action_id, block_id)
            if element.get("type") not in ("external_select", "multi_external_select"):
                raise ValueError(f"{action_id!r} is a {element.get('type')}, not an external select")
            if len(value) < int(element.get("min_query_length", 3)):
                raise ValueError(f"Slack asks for options only from {element.get('min_query_length', 3)} characters")
            payload |= {"action_id": action_id, "block_id": block["block_id"], "value": value}

        def apply(ack: Any) -> list[str]:
            if ack is None:
                return ["no options in the answer"]
            return blockkit.check_options(ack)

        return self._deliver(
            "interactive", payload, transport=transport, secret=secret, timestamp=timestamp, apply=apply
        )

    def send_event(
        self,
        event: Mapping[str, Any],
        *,
        team_id: str | None = None,
        transport: Transport | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> Delivery:
        """An Events API event (`{"type": "app_home_opened", "user": ..., "tab": "home"}`, ...) in Slack's
        `event_callback` wrapper. `app_home_opened` carries the person's published home view, as in Slack."""
        with self._changed:
            workspace = self._workspace(team_id or self._team_of_user(str(event.get("user", ""))))
            event = dict(event)
            event.setdefault("event_ts", _wall_ts())
            home = self._homes.get((workspace.team_id, str(event.get("user"))))
            if event.get("type") == "app_home_opened" and event.get("tab") == "home" and home:
                event.setdefault("view", copy.deepcopy(self._views[home].view))
            payload = {
                "token": self.verification_token,
                "team_id": workspace.team_id,
                "context_team_id": workspace.team_id,
                "context_enterprise_id": None,
                "api_app_id": self.app_id,
                "event": event,
                "type": "event_callback",
                "event_id": _random_id("Ev"),
                "event_time": int(time.time()),
                "authorizations": [
                    {
                        "enterprise_id": None,
                        "team_id": workspace.team_id,
                        "user_id": workspace.bot_user_id,
                        "is_bot": True,
                        "is_enterprise_install": False,
                    }
                ],
                "is_ext_shared_channel": False,
                "event_context": secrets.token_urlsafe(24),
            }
        retry = (retry_attempt, retry_reason)
        return self._deliver(
            "events_api", payload, transport=transport, secret=secret, timestamp=timestamp, retry=retry
        )

    def send_url_verification(self, *, secret: str | None = None, timestamp: int | None = None) -> Delivery:
        """The check Slack makes when the Request URL is saved (HTTP only): the bot must echo `challenge`."""
        challenge = secrets.token_urlsafe(24)
        payload = {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}

        def apply(ack: Any) -> list[str]:
            echoed = ack.get("challenge") if isinstance(ack, dict) else ack
            return [] if echoed == challenge else ["the challenge was not echoed"]

        return self._deliver("events_api", payload, transport="http", secret=secret, timestamp=timestamp, apply=apply)

    def _interaction(self, kind: str, user: User, workspace: Workspace) -> dict[str, Any]:
        """The fields every interactivity payload starts with."""
        return {
            "type": kind,
            "user": _user_ref(user),
            "api_app_id": self.app_id,
            "token": self.verification_token,
            "team": {"id": workspace.team_id, "domain": workspace.domain},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _surface(
        self,
        payload: dict[str, Any],
        user: User,
        view_id: str | None,
        channel_id: str | None,
        message_ts: str | None,
    ) -> tuple[list[dict[str, Any]], tuple[str, bool]]:
        """The blocks a person acts on, a view or a message (one only they see, too), after adding the
        payload fields Slack sends for that place; with the message's channel and whether it is ephemeral."""
        if view_id is not None:
            view = copy.deepcopy(self._views[view_id].view)
            payload |= {"container": {"type": "view", "view_id": view_id}, "view": view}
            return view["blocks"], ("", False)
        if channel_id is None or message_ts is None:
            raise ValueError("say where the element is: view_id, or channel_id and message_ts")
        channel = self._channels[self._resolve_channel_id(channel_id, user.team_id)]
        message, ephemeral = self._shown_message(channel.channel_id, message_ts, user.user_id)
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel.channel_id,
            "is_ephemeral": ephemeral,
        }
        payload["channel"] = {"id": channel.channel_id, "name": "directmessage" if channel.is_im else channel.name}
        if not ephemeral:
            payload["message"] = copy.deepcopy(message)
        return message.get("blocks") or [], (channel.channel_id, ephemeral)

    def _deliver(
        self,
        kind: Literal["slash_commands", "interactive", "events_api"],
        payload: dict[str, Any],
        *,
        transport: Transport | None,
        secret: str | None,
        timestamp: int | None,
        apply: Callable[[Any], list[str]] | None = None,
        retry: tuple[int, str] = (0, ""),
    ) -> Delivery:
        """Send `body` (HTTP) or `payload` (Socket Mode), wait for the acknowledgement, and let `apply` do
        what Slack does with the answer, returning what Slack would refuse in it."""
        transport = transport or ("http" if self.request_url else "socket")
        started = time.monotonic()
        if transport == "http":
            delivery = self._deliver_http(kind, payload, secret, timestamp, retry)
        else:
            delivery = self._deliver_socket(kind, payload, retry)
        with self._changed:
            problems = apply(delivery.ack) if apply and delivery.acked else []
            self._changed.notify_all()
        return Delivery(
            transport=delivery.transport,
            payload=payload,
            acked=delivery.acked,
            ack=delivery.ack,
            status=delivery.status,
            body=delivery.body,
            problems=tuple(problems),
            elapsed=time.monotonic() - started,
        )

    def _deliver_http(
        self,
        kind: str,
        payload: dict[str, Any],
        secret: str | None,
        timestamp: int | None,
        retry: tuple[int, str],
    ) -> Delivery:
        if not self.request_url:
            raise RuntimeError("set request_url (the bot's /slack/events) to deliver over HTTP")
        # Events come as JSON, commands as a form, interactions as a form holding one JSON `payload`.
        if kind == "events_api":
            body, content_type = json.dumps(payload).encode(), "application/json"
        else:
            form = payload if kind == "slash_commands" else {"payload": json.dumps(payload)}
            body, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
        timestamp = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(body, secret=secret or self.signing_secret, timestamp=timestamp),
        }
        if retry[0]:
            headers |= {"X-Slack-Retry-Num": str(retry[0]), "X-Slack-Retry-Reason": retry[1] or "http_timeout"}
        try:
            with httpx2.Client(timeout=self.ack_timeout) as client:
                answer = client.post(self.request_url, content=body, headers=headers)
        except httpx2.TimeoutException:
            return Delivery("http", payload, acked=False, ack=None)
        text = answer.text
        try:
            ack = json.loads(text) if text.strip() else None
        except ValueError:
            ack = text
        return Delivery("http", payload, acked=answer.status_code == 200, ack=ack, status=answer.status_code, body=text)

    def _deliver_socket(self, kind: str, payload: dict[str, Any], retry: tuple[int, str]) -> Delivery:
        connection = self.wait_for(self._live_socket, self.ack_timeout, "no Socket Mode connection to deliver on")
        envelope_id = str(uuid.uuid4())
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        with self._changed:
            connection.pending[envelope_id] = future
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            # Slack takes an answer in the ack for commands, view submissions and options requests only.
            "accepts_response_payload": kind == "slash_commands"
            or payload.get("type") in ("view_submission", "block_suggestion"),
            "retry_attempt": retry[0],
            "retry_reason": retry[1],
        }
        connection.send(envelope, timeout=self.ack_timeout)
        try:
            answer = future.result(timeout=self.ack_timeout)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            with self._changed:
                connection.pending.pop(envelope_id, None)
            return Delivery("socket", payload, acked=False, ack=None)
        ack = answer.get("payload") or None
        return Delivery("socket", payload, acked=True, ack=ack, body=json.dumps(ack) if ack else "")

    def _apply_view_answer(self, record: _ViewRecord, ack: Any) -> list[str]:
        key = (record.team_id, record.user_id)
        stack = self._stacks.setdefault(key, [])
        action = ack.get("response_action") if isinstance(ack, dict) else None
        if action is None:
            if record.view["id"] in stack:
                stack.remove(record.view["id"])
            return []
        if action == "clear":
            stack.clear()
            return []
        if action == "errors":
            inputs = {b.get("block_id") for b in record.view["blocks"] if b.get("type") == "input"}
            errors = ack.get("errors")
            if not isinstance(errors, dict) or not errors:
                return ["response_action errors needs an `errors` object"]
            return [f"errors name block {b!r}, which is not an input block" for b in errors if b not in inputs]
        if action in ("update", "push"):
            view = ack.get("view")
            problems = blockkit.check_view(view, pointer="/view")
            if problems:
                return problems
            assert isinstance(view, dict)
            if view.get("type") != "modal":
                return ["[ERROR] must be a modal view [json-pointer:/view/type]"]
            if action == "update":
                self._replace_view(record, view)
                return []
            if len(stack) >= MAX_VIEW_STACK:
                return ["push_limit_reached"]
            workspace = self._workspaces[record.team_id]
            pushed = self._new_view(workspace, record.user_id, view, root_view_id=stack[0], previous_view_id=stack[-1])
            stack.append(pushed.view["id"])
            return []
        return [f"unknown response_action {action!r}"]

    # Internal state

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

    def _default_installer(self) -> tuple[str, str]:
        for (team_id, user_id), user in self._users.items():
            if not user.is_bot:
                return team_id, user_id
        raise LookupError("add a user (or call set_installer) before installing through /oauth/v2/authorize")

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

    def _channel_object(self, channel: Channel) -> dict[str, Any]:
        if channel.is_im:
            return {
                "id": channel.channel_id,
                "created": 1700000000,
                "is_im": True,
                "is_org_shared": False,
                "user": channel.dm_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": channel.channel_id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.is_private,
            "is_group": channel.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": channel.is_private,
            "is_archived": channel.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": channel.bot_member,
            "created": 1700000000,
            "context_team_id": channel.team_id,
        }

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

    def _view_response_urls(
        self, workspace: Workspace, user: User, blocks: list[dict[str, Any]], state: dict[str, Any]
    ) -> list[dict[str, Any]]:
        urls = []
        for block, element in blockkit.iter_elements(blocks):
            if block.get("type") != "input" or not element.get("response_url_enabled"):
                continue
            entry = state.get(block["block_id"], {}).get(element["action_id"], {})
            channel_id = entry.get("selected_conversation") or entry.get("selected_channel")
            if channel_id:
                urls.append(
                    {
                        "block_id": block["block_id"],
                        "action_id": element["action_id"],
                        "channel_id": channel_id,
                        "response_url": self._issue_response_url(workspace.team_id, channel_id, user.user_id),
                    }
                )
        return urls

    def _file_object(self, file: UploadedFile, workspace: Workspace) -> dict[str, Any]:
        now = int(time.time())
        return {
            "id": file.file_id,
            "created": now,
            "timestamp": now,
            "name": file.filename,
            "title": file.title,
            "mimetype": "text/csv" if file.filename.endswith(".csv") else "application/octet-stream",
            "filetype": file.filename.rsplit(".", 1)[-1] if "." in file.filename else "binary",
            "user": workspace.bot_user_id,
            "user_team": workspace.team_id,
            "size": len(file.content or b""),
            "is_external": False,
            "url_private": f"https://files.slack.com/files-pri/{workspace.team_id}-{file.file_id}/{file.filename}",
            "permalink": f"https://{workspace.domain}.slack.com/files/{workspace.bot_user_id}/{file.file_id}",
            "channels": [c for c in file.channels if not c.startswith("D")],
            "ims": [c for c in file.channels if c.startswith("D")],
        }


# Small helpers shared by the parts above


_TOKEN_KINDS: dict[str, str | None] = {"apps.connections.open": "app", "oauth.v2.access": None}
_VIEW_IDENTITY = ("id", "team_id", "root_view_id", "previous_view_id", "app_id", "app_installed_team_id", "bot_id")


@dataclass
class _ApiRequest:
    method: str
    args: dict[str, Any]
    token: str | None
    basic: tuple[str, str] | None
    base_url: str
    workspace: Workspace | None = None

    @property
    def ws(self) -> Workspace:
        assert self.workspace is not None, "the method needs a token"
        return self.workspace


class _RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class _InjectedFailure(Exception):
    def __init__(self, failure: _Failure) -> None:
        super().__init__(failure.error)
        self.failure = failure


async def _read_api_request(request: Request) -> tuple[dict[str, Any], str | None, tuple[str, str] | None]:
    """A Web API call's arguments (query string, then form or JSON body), bearer token and Basic auth."""
    args: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        decoded = json.loads(body) if body.strip() else {}
        if isinstance(decoded, dict):
            args |= decoded
    elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        async with request.form() as form:
            args |= {k: v for k, v in form.items() if isinstance(v, str)}
    for key in _JSON_ARGS:
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except ValueError:
                pass
    token = args.pop("token", None)
    basic = None
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        token = credentials
    elif scheme.lower() == "basic" and credentials:
        user, _, password = base64.b64decode(credentials).decode().partition(":")
        basic = (user, password)
    return args, token, basic


def _in_channel_view(message: Mapping[str, Any]) -> bool:
    thread_ts = message.get("thread_ts")
    return thread_ts in (None, message["ts"]) or message.get("subtype") == "thread_broadcast"


def _wall_ts() -> str:
    return f"{time.time():.6f}"


def _view_hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(4)}"


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


def _user_ref(user: User) -> dict[str, Any]:
    return {"id": user.user_id, "username": user.name, "name": user.name, "team_id": user.team_id}


def _user_object(user: User) -> dict[str, Any]:
    zone = ZoneInfo(user.tz)
    offset = datetime.now(zone).utcoffset()
    return {
        "id": user.user_id,
        "team_id": user.team_id,
        "name": user.name,
        "real_name": user.real_name,
        "deleted": user.deleted,
        "tz": user.tz,
        "tz_label": datetime.now(zone).tzname(),
        "tz_offset": int(offset.total_seconds()) if offset else 0,
        "is_admin": user.is_admin,
        "is_owner": user.is_owner,
        "is_primary_owner": user.is_primary_owner,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": 1700000000,
        "profile": {
            "real_name": user.real_name,
            "display_name": user.name,
            "email": user.email,
            "team": user.team_id,
        },
    }


# `python -m tests.fakes.slack --port N`

DEMO_TEAM = "T0DEMO0001"
DEMO_BOT_TOKEN = "xoxb-demo-0000000000-fake"
DEMO_APP_TOKEN = "xapp-1-demo-0000000000-fake"


def demo(url: str) -> SlackFake:
    """The fake with one workspace: an owner, a member, a channel the bot is in and one it is not in."""
    fake = SlackFake(url=url, signing_secret="demo-signing-secret")
    fake.add_workspace(DEMO_TEAM, "Demo Workspace", DEMO_BOT_TOKEN, DEMO_APP_TOKEN)
    fake.add_user(DEMO_TEAM, "U0DEMOOWNER", "owner", is_primary_owner=True)
    fake.add_user(DEMO_TEAM, "U0DEMOMEMBR", "member")
    fake.add_channel(DEMO_TEAM, "C0DEMOGENRL", "general")
    fake.add_channel(DEMO_TEAM, "C0DEMORANDM", "random", bot_member=False)
    return fake


def _describe(url: str) -> str:
    fake = demo(url)
    return "\n".join(
        [
            f"workspace {DEMO_TEAM} (Demo Workspace): owner U0DEMOOWNER, member U0DEMOMEMBR,",
            "channels C0DEMOGENRL #general (bot is in it) and C0DEMORANDM #random (bot is not)",
            "Point a bot at it with:",
            f"  SLACK_API_URL={url}/api/",
            f"  SLACK_AUTHORIZE_URL={url}/oauth/v2/authorize",
            f"  SLACK_BOT_TOKEN={DEMO_BOT_TOKEN}",
            f"  SLACK_APP_TOKEN={DEMO_APP_TOKEN}",
            "  SLACK_SIGNING_SECRET=demo-signing-secret",
            f"  SLACK_CLIENT_ID={fake.client_id}",
            f"  SLACK_CLIENT_SECRET={fake.client_secret}",
        ]
    )


if __name__ == "__main__":
    serve_main("slack", lambda url: demo(url).asgi_app, _describe)
