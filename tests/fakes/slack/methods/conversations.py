"""The conversations.* methods: channel info, opening direct messages, joining, members, history and
thread replies, each refused where Slack refuses a bot."""

from __future__ import annotations

import base64
import copy
from typing import Any

from tests.fakes.slack.records import Channel, SlackRefusal, _ApiRequest
from tests.fakes.slack.state import _in_channel_view
from tests.fakes.slack.web_api import WebApi, _flag


class ConversationMethods(WebApi):
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
        page, cursor = cursor_page(request, self._member_ids(channel), default_limit=100)
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def _conversations_list(self, request: _ApiRequest) -> dict[str, Any]:
        """The workspace's channels a bot may see: public ones, and private ones it is in; `types` (default
        `public_channel`) and `exclude_archived` filter them, paged by cursor (100 a page by default)."""
        types = set(str(request.args.get("types") or "public_channel").split(","))
        unknown = types - {"public_channel", "private_channel", "mpim", "im"}
        if unknown:
            raise SlackRefusal("invalid_types")
        skip_archived = _flag(request.args.get("exclude_archived"))
        shown = [
            channel
            for channel in self._channels.values()
            if channel.team_id == request.ws.team_id
            and not channel.is_im
            and ("private_channel" if channel.is_private else "public_channel") in types
            and (channel.bot_member or not channel.is_private)
            and not (skip_archived and channel.is_archived)
        ]
        page, cursor = cursor_page(request, shown, default_limit=100)
        return {
            "channels": [self._channel_object(channel) for channel in page],
            "response_metadata": {"next_cursor": cursor},
        }

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


def cursor_page(request: _ApiRequest, items: list[Any], *, default_limit: int) -> tuple[list[Any], str]:
    """One page of `items` as Slack pages them: an opaque `cursor` (`invalid_cursor` when it isn't one of
    ours) and `limit`; the second value is the next page's cursor, empty after the last page."""
    try:
        offset = int(base64.b64decode(str(request.args.get("cursor") or "MA==")).decode())
    except ValueError:
        raise SlackRefusal("invalid_cursor") from None
    limit = int(request.args.get("limit") or default_limit) or len(items) or 1
    more = offset + limit < len(items)
    return items[offset : offset + limit], base64.b64encode(str(offset + limit).encode()).decode() if more else ""
