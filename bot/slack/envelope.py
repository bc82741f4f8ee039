"""What a request from Slack must look like before Bolt reads it, whichever transport brought it.

Bolt indexes into a request's body as it routes it (`actions[0]`, `event["type"]`, `"id" in team`) and our
listeners read ids from it; a body of another shape would raise there, before or after the acknowledgement.
`problem(body)` checks every field either of them reads for its type, length and characters, and says what is
wrong (or None). Values the listeners interpret (button values, metadata) are parsed by each listener.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from slack_bolt.request.internals import extract_team_id, extract_user_id

from bot.views.text import SLACK_ID

TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,255}")  # trigger ids, action and event timestamps, event and view ids
COMMAND = re.compile(r"/[a-z0-9_.-]{1,31}")
URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]{1,2000}")

INTERACTIONS = frozenset({"block_actions", "block_suggestion", "view_submission", "view_closed"})
MAX_DEPTH = 40
NAME_LIMIT = 255  # action ids, block ids, callback ids, event types: Slack's limit
TEXT_LIMIT = 4000  # a command's text
METADATA_LIMIT = 3000  # a view's private_metadata


class Refused(ValueError):
    """What is wrong with a body, in words for the log (never for the sender)."""


def problem(body: object) -> str | None:
    """Why `body` is not a request this app takes, or None when every field read from it is well formed."""
    try:
        _check(body)
    except Refused as exc:
        return str(exc)
    return None


def kind(body: Mapping[str, Any]) -> str:
    """`command`, `event_callback`, `url_verification`, `ssl_check` or an interaction's type, for a checked body."""
    if "command" in body:
        return "command"
    if "ssl_check" in body:
        return "ssl_check"
    return str(body.get("type"))


def response_urls(body: Mapping[str, Any]) -> list[str]:
    """The URLs a checked body lets the bot answer through (secrets: whoever holds one can answer as the bot)."""
    urls = [body.get("response_url")] + [u.get("response_url") for u in body.get("response_urls") or []]
    return [url for url in urls if isinstance(url, str)]


def _check(body: object) -> None:
    if not isinstance(body, dict):
        raise Refused(f"the body is a {type(body).__name__}, not an object")
    _characters(body)
    what = kind(body)
    if what == "command":
        _command(body)
    elif what == "ssl_check":
        _text(body, "ssl_check", 8, required=True)
    elif what == "url_verification":
        _match(body, "challenge", TOKEN, required=True)
    elif what == "event_callback":
        _event_callback(body)
    elif what in INTERACTIONS:
        _interaction(body, what)
    else:
        raise Refused(f"not a request this app takes (type {what[:40]!r})")
    _bolt_fields(body)
    if what == "command" or what in INTERACTIONS:
        _asked_in_a_workspace(body)


def _characters(body: dict[str, Any]) -> None:
    """No string anywhere holds a NUL or a lone surrogate (Slack sends neither), and nesting is bounded."""
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused("nested too deep")
        if isinstance(value, str):
            _clean(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                _clean(key)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def _clean(text: str) -> None:
    if "\x00" in text:
        raise Refused("a NUL byte in a string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("a lone surrogate in a string") from None


def _command(body: dict[str, Any]) -> None:
    _match(body, "command", COMMAND, required=True)
    _match(body, "team_id", SLACK_ID, required=True)
    _match(body, "user_id", SLACK_ID, required=True)
    _match(body, "channel_id", SLACK_ID)
    _match(body, "enterprise_id", SLACK_ID)
    _match(body, "trigger_id", TOKEN)
    _match(body, "response_url", URL, required=True)
    _text(body, "text", TEXT_LIMIT)
    _text(body, "team_domain", NAME_LIMIT)


def _event_callback(body: dict[str, Any]) -> None:
    _match(body, "event_id", TOKEN, required=True)
    _match(body, "team_id", SLACK_ID)
    _match(body, "enterprise_id", SLACK_ID)
    event = _object(body, "event")
    _match(event, "type", TOKEN, required=True)
    if event["type"] == "app_home_opened":
        _match(event, "user", SLACK_ID, required=True)
        _text(event, "tab", NAME_LIMIT)
    if event["type"] == "tokens_revoked":
        tokens = _dict(event, "tokens") or {}
        for key in ("oauth", "bot"):
            if not isinstance(tokens.get(key, []), list):
                raise Refused(f"tokens.{key} is not a list")
    if body.get("team_id") is None and body.get("enterprise_id") is None and not body.get("authorizations"):
        raise Refused("an event for no team and no organisation")


def _interaction(body: dict[str, Any], what: str) -> None:
    user = _object(body, "user")
    _match(user, "id", SLACK_ID, required=True)
    _match(user, "team_id", SLACK_ID)
    team = _dict(body, "team")
    if team is not None:
        _match(team, "id", SLACK_ID, required=True)
        _text(team, "domain", NAME_LIMIT)
    elif user.get("team_id") is None:
        raise Refused("an interaction from no team")
    _match(body, "trigger_id", TOKEN)
    container = _dict(body, "container") or {}
    _text(container, "type", NAME_LIMIT)
    _match(container, "channel_id", SLACK_ID)
    _match(container, "message_ts", TOKEN)
    _match(container, "view_id", TOKEN)
    channel = _dict(body, "channel")
    if channel is not None:
        _match(channel, "id", SLACK_ID, required=True)
    _view(body, required=what in ("view_submission", "view_closed"))
    if what == "block_actions":
        actions = _list(body, "actions")
        if not 1 <= len(actions) <= 25:
            raise Refused("block_actions without actions")
        for action in actions:
            if not isinstance(action, dict):
                raise Refused("an action that is not an object")
            _text(action, "action_id", NAME_LIMIT, required=True)
            _text(action, "block_id", NAME_LIMIT)
            _match(action, "action_ts", TOKEN)
    elif what == "block_suggestion":
        _text(body, "action_id", NAME_LIMIT, required=True)
        _text(body, "block_id", NAME_LIMIT)
        _text(body, "value", TEXT_LIMIT, required=True)


def _view(body: dict[str, Any], *, required: bool) -> None:
    view = _object(body, "view") if required else _dict(body, "view")
    if view is None:
        return
    _match(view, "id", TOKEN, required=required)
    _text(view, "type", NAME_LIMIT, required=required)  # Bolt reads a submitted view's type, for workflow steps
    _match(view, "hash", TOKEN)
    _text(view, "callback_id", NAME_LIMIT, required=required)
    _text(view, "private_metadata", METADATA_LIMIT)
    _match(view, "team_id", SLACK_ID)
    _match(view, "app_installed_team_id", SLACK_ID)
    state = _dict(view, "state") or {}
    values = _dict(state, "values") or {}
    for block in values.values():
        if not isinstance(block, dict) or not all(isinstance(entry, dict) for entry in block.values()):
            raise Refused("view.state.values is not blocks of actions")


def _bolt_fields(body: dict[str, Any]) -> None:
    """The fields Bolt reads to build its context, wherever it looks for them (Bolt's `request.internals`)."""
    if "event" in body and not isinstance(body["event"], dict):
        raise Refused("event is not an object")
    if "view" in body and not isinstance(body["view"], dict):  # Bolt reads a null one's type as it logs
        raise Refused("view is not an object")
    for place in _places(body):
        # Where Bolt finds the team, user, organisation and channel of a request: they go into our tables.
        for key in ("enterprise", "team", "user", "channel"):
            value = place.get(key)
            if isinstance(value, dict):
                _match(value, "id", SLACK_ID)
            elif value is not None:
                _match(place, key, SLACK_ID)
        for key in ("team_id", "enterprise_id", "user_id", "channel_id"):
            _match(place, key, SLACK_ID)
        for key in ("thread_ts", "user_team"):
            if not isinstance(place.get(key), (str, type(None))):
                raise Refused(f"{key} is not a string")
        authorizations = place.get("authorizations")
        if authorizations is not None:
            if not isinstance(authorizations, list) or not authorizations:
                raise Refused("authorizations is empty or not a list")
            if not all(isinstance(authorization, dict) for authorization in authorizations):
                raise Refused("an authorization that is not an object")
            for authorization in authorizations:
                for key in ("team_id", "enterprise_id", "user_id"):
                    _match(authorization, key, SLACK_ID)
    # Bolt takes these whenever the key is there, even holding null.
    _match(body, "response_url", URL, required="response_url" in body)
    if "response_urls" in body and not isinstance(body["response_urls"], list):
        raise Refused("response_urls is not a list")
    for response_url in _list(body, "response_urls"):
        if not isinstance(response_url, dict):
            raise Refused("response_urls holds something other than objects")
        _match(response_url, "response_url", URL, required=True)
    for key in ("function_execution_id", "bot_access_token", "function_data"):
        if key in body or key in (body.get("event") or {}):
            raise Refused(f"{key}: workflow functions are not something this app takes")
    if "is_ext_shared_channel" in body and not isinstance(body["is_ext_shared_channel"], bool):
        raise Refused("is_ext_shared_channel is not a boolean")


def _places(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The body and the objects inside it where Bolt looks for ids: the event, messages, items, threads, and the
    first authorization (Bolt reads it as it reads the body)."""
    stack = [body]
    while stack:
        place = stack.pop()
        yield place
        for key in ("event", "message", "previous_message", "item", "assistant_thread"):
            inner = place.get(key)
            if isinstance(inner, dict):
                stack.append(inner)
        authorizations = place.get("authorizations")
        if isinstance(authorizations, list) and authorizations and isinstance(authorizations[0], dict):
            stack.append(authorizations[0])


def _asked_in_a_workspace(body: dict[str, Any]) -> None:
    """A command or a click must name its workspace and person where Bolt looks for them, read Bolt's own way: its
    first authorization when it has any (an organisation-wide install, which names no workspace, is not one this app
    takes), and a top-level `team_id` even holding null before the user's team."""
    if not extract_team_id(body):
        raise Refused("a request from no workspace")
    if not extract_user_id(body):
        raise Refused("a request from no one")


def _dict(where: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = where.get(key)
    return None if value is None else _object(where, key)


def _object(where: dict[str, Any], key: str) -> dict[str, Any]:
    value = where.get(key)
    if not isinstance(value, dict):
        raise Refused(f"{key} is not an object")
    return value


def _list(where: dict[str, Any], key: str) -> list[Any]:
    value = where.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Refused(f"{key} is not a list")
    return value


def _text(where: dict[str, Any], key: str, limit: int, *, required: bool = False) -> None:
    value = where.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or len(value) > limit:
        raise Refused(f"{key} is not a string of at most {limit} characters")


def _match(where: dict[str, Any], key: str, pattern: re.Pattern[str], *, required: bool = False) -> None:
    value = where.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise Refused(f"{key} is not what Slack sends there")
