"""Who or which channel a command names: Slack's links (`<@U…|name>`, `<#C…|name>`, sent because the command
escapes them), or a plain `@name` / `#name` typed where Slack didn't link it, looked up in the workspace."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

USER_LINK = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
CHANNEL_LINK = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
PAGE = 200
MAX_PAGES = 50  # 10,000 people or channels: enough to find one by name without walking a whole Enterprise Grid


@dataclass(frozen=True)
class Found:
    """The id a word names, or why there is none: `missing` (nobody by that name) or `several`."""

    id: str | None = None
    several: bool = False


def user_link(word: str) -> str | None:
    match = USER_LINK.match(word.strip())
    return match.group(1) if match else None


def channel_link(word: str) -> str | None:
    match = CHANNEL_LINK.match(word.strip())
    return match.group(1) if match else None


def find_user(client: WebClient, word: str) -> Found:
    """`<@U…>` as it is; `@name` (or `name`) by display name, username or full name, ignoring case. Bots and
    deactivated people are never matched."""
    if linked := user_link(word):
        return Found(linked)
    name = _plain(word, "@")
    if not name:
        return Found()
    matches = {
        person["id"]
        for person in _paged(client.users_list, "members")
        if not person.get("deleted") and not person.get("is_bot") and person.get("id") != "USLACKBOT"
        if name in _names(person)
    }
    return _one(matches)


def find_channel(client: WebClient, word: str) -> Found:
    """`<#C…>` as it is; `#name` (or `name`) among the channels the bot can see, archived ones left out."""
    if linked := channel_link(word):
        return Found(linked)
    name = _plain(word, "#")
    if not name:
        return Found()
    channels = _paged(
        client.conversations_list, "channels", types="public_channel,private_channel", exclude_archived=True
    )
    return _one({channel["id"] for channel in channels if str(channel.get("name", "")).lower() == name})


def _plain(word: str, sigil: str) -> str:
    return word.strip().removeprefix(sigil).strip().lower()


def _names(person: dict[str, Any]) -> set[str]:
    profile = person.get("profile") or {}
    names = (person.get("name"), person.get("real_name"), profile.get("display_name"), profile.get("real_name"))
    return {str(name).lower() for name in names if name}


def _one(matches: set[str]) -> Found:
    if len(matches) == 1:
        return Found(next(iter(matches)))
    return Found(several=len(matches) > 1)


def _paged(method: Any, key: str, **args: Any) -> Iterator[dict[str, Any]]:
    """Every item of a cursor-paged list method, stopping quietly if Slack refuses (the lookup then finds
    nobody, and the person is told so)."""
    cursor = ""
    for _ in range(MAX_PAGES):
        try:
            page = method(limit=PAGE, cursor=cursor or None, **args)
        except SlackApiError as error:
            log.warning("could not look a name up in Slack: %s", error.response.get("error"))
            return
        yield from (item for item in page.get(key) or [] if isinstance(item, dict))
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return
