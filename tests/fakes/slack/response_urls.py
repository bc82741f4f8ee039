"""Response URLs: the fake hands them out with commands and interactions, and does what the bot posts to them
(an ephemeral or in-channel message, or replacing or deleting the original) within Slack's time and use limits."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from tests.fakes import blockkit
from tests.fakes.slack.limits import MAX_MESSAGE_TEXT, RESPONSE_URL_LIFETIME, RESPONSE_URL_USES
from tests.fakes.slack.records import ResponsePost, Workspace, _ResponseUrl
from tests.fakes.slack.state import SlackState
from tests.fakes.slack.web_api import _flag


class ResponseUrls(SlackState):
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
