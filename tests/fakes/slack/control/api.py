"""The control API's endpoints: JSON in and out, each handler run in a worker thread, refusals as 4xx with the
reason; and the endpoints that read what people see."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tests.fakes.slack.control.deliveries import ControlDeliveries, NoBot
from tests.fakes.slack.inspection import Inspection

ControlAction = Callable[[dict[str, Any]], dict[str, Any]]


class Control(Inspection, ControlDeliveries):
    def _control_endpoints(self) -> list[tuple[str, str, ControlAction]]:
        return [
            ("GET", "/fake", self._control_overview),
            ("POST", "/fake/command", self._control_command),
            ("POST", "/fake/action", self._control_action),
            ("POST", "/fake/submit", self._control_submit),
            ("POST", "/fake/event", self._control_event),
            ("POST", "/fake/options", self._control_options),
            ("POST", "/fake/close", self._control_close),
            ("GET", "/fake/messages", self._control_messages),
            ("GET", "/fake/thread", self._control_thread),
            ("GET", "/fake/ephemerals", self._control_ephemerals),
            ("GET", "/fake/modals", self._control_modals),
            ("GET", "/fake/home", self._control_home),
        ]

    def _control_routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route(path, self._control(action), methods=[method]) for method, path, action in self._control_endpoints()
        ]
        return [*routes, Route("/fake/file", self._control_file, methods=["GET"])]

    def _control(self, action: ControlAction) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint running `action` on the JSON body (or the query) in a worker thread: deliveries wait
        for the bot, which calls back into this server's event loop."""

        async def endpoint(request: Request) -> Response:
            if request.method == "POST":
                try:
                    body = json.loads(await request.body() or b"{}")
                except ValueError:
                    return _refused(400, "the body is not JSON")
                if not isinstance(body, dict):
                    return _refused(400, "the body is not a JSON object")
            else:
                body = dict(request.query_params)
            try:
                answer = await run_in_threadpool(action, body)
            except (NoBot, TimeoutError) as exc:
                return _refused(409, str(exc))
            except httpx2.TransportError as exc:
                return _refused(502, f"could not reach the bot at {self.request_url}: {exc}")
            except LookupError as exc:
                return _refused(404, str(exc.args[0]) if exc.args else "not found")
            except ValueError as exc:
                return _refused(400, str(exc))
            return JSONResponse({"ok": True} | answer)

        return endpoint

    def _control_messages(self, query: dict[str, Any]) -> dict[str, Any]:
        """A channel's messages: `?channel=` (an id, a name, or a person for their DM with the bot)."""
        with self._changed:
            team_id, user_id = self._control_person(query.get("user"), query.get("team_id"))
            channel_id = self._control_channel(query.get("channel"), team_id, user_id)
        return {"channel": channel_id, "messages": self.messages(channel_id)}

    def _control_thread(self, query: dict[str, Any]) -> dict[str, Any]:
        """The replies under a message: `?channel=&ts=`, oldest first (without the parent)."""
        if not query.get("ts"):
            raise ValueError("say which message: ts")
        with self._changed:
            team_id, user_id = self._control_person(query.get("user"), query.get("team_id"))
            channel_id = self._control_channel(query.get("channel"), team_id, user_id)
        return {"channel": channel_id, "ts": query["ts"], "replies": self.thread(channel_id, str(query["ts"]))}

    async def _control_file(self, request: Request) -> Response:
        """A file the bot shared, as a download for a person in a channel it was shared to: `?id=&user=`."""
        file_id = request.query_params.get("id", "")
        with self._changed:
            try:
                team_id, user_id = self._control_person(request.query_params.get("user"), None)
            except LookupError as exc:
                return _refused(404, str(exc.args[0]))
            file = self._files.get(file_id)
            shared_with = {
                member
                for channel_id in (file.channels if file else [])
                if channel_id in self._channels
                for member in self._member_ids(self._channels[channel_id])
            }
            if file is None or file.content is None or file.team_id != team_id or user_id not in shared_with:
                return _refused(404, f"{user_id} sees no file {file_id!r}")
            content, filename = file.content, file.filename
        media_type = "text/csv" if filename.endswith(".csv") else "application/octet-stream"
        disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})

    def _control_ephemerals(self, query: dict[str, Any]) -> dict[str, Any]:
        """What only one person saw: `?user=&channel=` (every channel unless given)."""
        with self._changed:
            team_id, user_id = self._control_person(query.get("user"), query.get("team_id"))
            channel_id = self._control_channel(query["channel"], team_id, user_id) if query.get("channel") else None
        return {"user_id": user_id, "ephemerals": self.ephemerals(channel_id, user_id)}

    def _control_modals(self, query: dict[str, Any]) -> dict[str, Any]:
        """A person's open modals, root first: `?user=`."""
        with self._changed:
            team_id, user_id = self._control_person(query.get("user"), query.get("team_id"))
        return {"user_id": user_id, "views": self.view_stack(user_id, team_id)}

    def _control_home(self, query: dict[str, Any]) -> dict[str, Any]:
        """The App Home the bot published for a person, or null: `?user=`."""
        with self._changed:
            team_id, user_id = self._control_person(query.get("user"), query.get("team_id"))
        return {"user_id": user_id, "view": self.home_view(user_id, team_id)}

    def _control_overview(self, query: dict[str, Any]) -> dict[str, Any]:
        """This overview: the people and channels, where the bot is, and who and where commands come from by
        default."""
        with self._changed:
            workspaces = [
                {
                    "team_id": w.team_id,
                    "name": w.name,
                    "users": [
                        {"id": u.user_id, "name": u.name, "is_admin": u.is_admin}
                        for (team, _), u in self._users.items()
                        if team == w.team_id and not u.is_bot
                    ],
                    "channels": [
                        {"id": c.channel_id, "name": c.name, "bot_member": c.bot_member, "is_private": c.is_private}
                        for c in self._channels.values()
                        if c.team_id == w.team_id and not c.is_im
                    ],
                }
                for w in self._workspaces.values()
            ]
            default: dict[str, Any] = {}
            if any(not u.is_bot for u in self._users.values()):
                team_id, user_id = self._control_person(None, None)
                default = {"user_id": user_id, "channel_id": self._control_channel(None, team_id, user_id)}
        bot = {"socket_mode": self._live_socket() is not None, "request_url": self.request_url}
        endpoints = {f"{method} {path}": _summary(action) for method, path, action in self._control_endpoints()}
        endpoints["GET /fake/file"] = _summary(self._control_file)
        return {"bot": bot, "workspaces": workspaces, "default": default, "endpoints": endpoints}


def _refused(status: int, error: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error}, status_code=status)


def _summary(action: Callable[..., Any]) -> str:
    return " ".join((action.__doc__ or "").split("\n\n")[0].split())
