"""What a test sets up in the Slack fake: workspaces with the app installed or not, people, channels and
their members, messages people wrote, revoked tokens, rate limits and failures to answer."""

from __future__ import annotations

import copy
import secrets
from collections import deque
from typing import Any

from tests.fakes.slack.ids import _random_id
from tests.fakes.slack.limits import RateLimit
from tests.fakes.slack.records import DEFAULT_SCOPES, Channel, User, Workspace, _Failure
from tests.fakes.slack.state import SlackState


class Configuration(SlackState):
    """The test's controls: build the workspaces the bot is installed in and decide how Slack misbehaves."""

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

    def go_down(self, status: int = 503) -> None:
        """Slack is down: every Web API call and file upload answers HTTP `status` (with Slack's own
        `{"ok": false}` body for the Web API) and is neither run nor recorded, until `come_back()`."""
        with self._changed:
            self._down = status

    def come_back(self) -> None:
        with self._changed:
            self._down = None
            self._changed.notify_all()
