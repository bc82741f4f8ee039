"""The chat.* methods: post, post ephemeral, update and delete messages, with text and Block Kit checked as
Slack checks them."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes import blockkit
from tests.fakes.slack.limits import MAX_MESSAGE_TEXT
from tests.fakes.slack.records import SlackRefusal, _ApiRequest
from tests.fakes.slack.web_api import WebApi, _flag


class ChatMethods(WebApi):
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

    def _chat_get_permalink(self, request: _ApiRequest) -> dict[str, Any]:
        """A message's link as Slack writes it (`…/archives/C…/p<ts without its dot>`, and the thread's
        `thread_ts` for a reply); `message_not_found` for a message that isn't there."""
        channel = self._channel_for_bot(request, request.args.get("channel"), posting=False)
        message = self._find_message(channel.channel_id, str(request.args.get("message_ts", "")))
        link = f"https://{request.ws.domain}.slack.com/archives/{channel.channel_id}/p{message['ts'].replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            link += f"?thread_ts={thread_ts}&cid={channel.channel_id}"
        return {"channel": channel.channel_id, "permalink": link}

    def _chat_delete(self, request: _ApiRequest) -> dict[str, Any]:
        channel = self._channel_for_bot(request, request.args.get("channel"), posting=False)
        message = self._find_message(channel.channel_id, str(request.args.get("ts", "")))
        if message.get("bot_id") != request.ws.bot_id:
            raise SlackRefusal("cant_delete_message")
        self._messages[channel.channel_id].remove(message)
        return {"channel": channel.channel_id, "ts": message["ts"]}
