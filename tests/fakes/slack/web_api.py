"""The path every Web API call takes in the Slack fake: read its arguments and token, answer an injected
failure, authenticate, take from the rate-limit bucket, run the method and record the call."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.slack.records import Call, Channel, SlackRefusal, Workspace, _ApiRequest, _Failure
from tests.fakes.slack.state import SlackState

_JSON_ARGS = ("blocks", "attachments", "view", "files", "metadata")
_TOKEN_KINDS: dict[str, str | None] = {"apps.connections.open": "app", "oauth.v2.access": None}


class WebApi(SlackState):
    """Serves `/api/<method>`; the method families (`tests.fakes.slack.methods`) build on it."""

    async def _serve_web_api(self, request: Request) -> Response:
        method = request.path_params["method"]
        base_url = str(request.base_url).rstrip("/")
        async with self.in_flight():
            await self.held(method)
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
            if self._down is not None:
                return self._down, {"ok": False, "error": "service_unavailable"}, {}
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


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")
