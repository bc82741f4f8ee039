"""What the Slack fake keeps and reports: workspaces, people, channels, Web API calls, files, deliveries to
the bot and Slack's refusals, and the private records behind triggers, response URLs, codes, views and sockets."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.websockets import WebSocket

Transport = Literal["http", "socket"]

DEFAULT_SCOPES = ("commands", "chat:write", "chat:write.public", "users:read", "channels:read", "im:write")


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
