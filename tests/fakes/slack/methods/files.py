"""Uploading files as Slack does now: files.getUploadURLExternal, the upload URL itself, and
files.completeUploadExternal sharing the files into channels."""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tests.fakes.slack.ids import _random_id
from tests.fakes.slack.records import SlackRefusal, UploadedFile, Workspace, _ApiRequest
from tests.fakes.slack.web_api import WebApi


class FileMethods(WebApi):
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
        async with self.in_flight():
            return await self._take_upload(request)

    async def _take_upload(self, request: Request) -> Response:
        upload_id = request.path_params["upload_id"]
        with self._changed:
            if self._down is not None:
                return PlainTextResponse("Slack is down", status_code=self._down)
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
