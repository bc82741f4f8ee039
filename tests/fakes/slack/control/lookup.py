"""Who, where and which surface a control request means: people and channels by id or by name, the defaults
when they are left out, and the newest surface showing the element a person wants to use."""

from __future__ import annotations

from typing import Any

from tests.fakes import blockkit
from tests.fakes.slack.oauth import OAuthInstall


class ControlLookup(OAuthInstall):
    def _control_person(self, given: Any, team_id: Any) -> tuple[str, str]:
        """(team, user) for an id or a name (`ada`, `@ada`); by default the person who installs the app."""
        if not given:
            if team_id:
                for (team, user_id), user in self._users.items():
                    if team == team_id and not user.is_bot:
                        return team, user_id
            return self._installer or self._default_installer()
        name = str(given).lstrip("@")
        for (team, user_id), user in self._users.items():
            if team_id in (None, "", team) and not user.is_bot and name in (user_id, user.name):
                return team, user_id
        raise LookupError(f"no person {given!r} in the fake")

    def _control_channel(self, given: Any, team_id: str, user_id: str) -> str:
        """A channel id for an id or a name (`general`, `#general`); a person's id or name means their DM
        with the bot. By default the first channel the bot and the person are both in, else that DM."""
        if not given:
            for channel in self._channels.values():
                if (
                    channel.team_id == team_id
                    and not channel.is_im
                    and channel.bot_member
                    and not channel.is_archived
                    and user_id in self._member_ids(channel)
                ):
                    return channel.channel_id
            return self._dm(team_id, user_id).channel_id
        name = str(given).lstrip("#@")
        for channel in self._channels.values():
            if channel.team_id == team_id and not channel.is_im and name in (channel.channel_id, channel.name):
                return channel.channel_id
        for (team, other), user in self._users.items():
            if team == team_id and name in (other, user.name):
                return self._dm(team_id, other).channel_id
        return str(given)

    def _control_surface(
        self, team_id: str, user_id: str, action_id: str, block_id: Any, channel_id: str | None
    ) -> dict[str, Any]:
        """Where the person sees `action_id` now: their top modal, messages and ephemeral messages newest
        first (in `channel_id` only, if given), then their App Home."""
        surfaces: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        stack = self._stacks.get((team_id, user_id))
        if stack:
            surfaces.append(({"view_id": stack[-1]}, self._views[stack[-1]].view["blocks"]))
        shown: list[tuple[tuple[int, ...], str, dict[str, Any]]] = [
            (_ts_key(e["ts"]), e["channel"], e) for e in self._ephemerals if e["user"] == user_id
        ]
        for channel in self._channels.values():
            if channel.team_id == team_id and user_id in self._member_ids(channel):
                shown += [(_ts_key(m["ts"]), channel.channel_id, m) for m in self._messages.get(channel.channel_id, [])]
        for _, shown_in, message in sorted(shown, key=lambda s: s[0], reverse=True):
            if channel_id in (None, shown_in):
                surfaces.append(({"channel_id": shown_in, "message_ts": message["ts"]}, message.get("blocks") or []))
        home = self._homes.get((team_id, user_id))
        if home:
            surfaces.append(({"view_id": home}, self._views[home].view["blocks"]))
        for where, blocks in surfaces:
            if any(
                element.get("action_id") == action_id and block_id in (None, block.get("block_id"))
                for block, element in blockkit.iter_elements(blocks)
            ):
                return where
        raise LookupError(f"{user_id} sees no element {action_id!r} (in a modal, a message or App Home)")


def _ts_key(ts: str) -> tuple[int, ...]:
    return tuple(int(part) for part in ts.split("."))
