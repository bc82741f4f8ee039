"""What a test reads back from the Slack fake: the Web API calls the bot made, and what people now see
(messages, threads, ephemeral messages, modals, App Home, uploaded files, posts to response URLs)."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.slack.records import Call, ResponsePost, UploadedFile
from tests.fakes.slack.state import SlackState, _in_channel_view


class Inspection(SlackState):
    """Copies of the fake's state, safe to keep and change."""

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
