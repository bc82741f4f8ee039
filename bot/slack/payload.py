"""Values a listener takes from a payload (a button's value, a chosen option, a view's metadata), each checked for
type, length and characters before it goes anywhere; None when it is not what we put there. Each listener parses
its own values with these, in a pure function of its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt import Respond

from bot.slack import envelope
from bot.slack.requests import Asker, Reply, dm_reply, responder

ROW_ID_MAX = 2**31 - 1  # our integer keys, on every database


def row_id(value: object) -> int | None:
    """One of our row ids, as a button carries it: ASCII digits for 1 .. 2**31 - 1."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if 1 <= number <= ROW_ID_MAX else None


def number(value: object, *, limit: int) -> int | None:
    """A small non-negative number (a page), at most `limit`."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 9:
        return None
    n = int(value)
    return n if n <= limit else None


def slack_id(value: object) -> str | None:
    return value if isinstance(value, str) and envelope.SLACK_ID.fullmatch(value) else None


def text(value: object, *, limit: int) -> str | None:
    """A string of at most `limit` characters, without NUL bytes or lone surrogates."""
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def chosen(action: Mapping[str, Any]) -> object:
    """What was clicked or chosen: a button's value, or a select's chosen option's."""
    if "value" in action:
        return action["value"]
    option = action.get("selected_option")
    return option.get("value") if isinstance(option, dict) else None


def channel_of(body: Mapping[str, Any]) -> str | None:
    """The channel the click happened in, if it happened in one."""
    channel = body.get("channel")
    container = body.get("container")
    found = channel.get("id") if isinstance(channel, dict) else None
    if found is None and isinstance(container, dict):
        found = container.get("channel_id")
    return slack_id(found)


def where_clicked(asker: Asker, body: Mapping[str, Any], respond: Respond | None, *, replace: bool) -> Reply:
    """Answer in the message clicked (through its response_url) or, where there is none (App Home), by DM."""
    if respond is not None and body.get("response_url"):
        return responder(respond, replace=replace)
    return dm_reply(asker.client, asker.user_id)


def expired(command: str) -> str:
    return f"That button has expired: run `{command}` again."
