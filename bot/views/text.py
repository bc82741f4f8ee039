"""mrkdwn helpers: escaping text that came from people or providers, and small formatting pieces."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

SLACK_ID = re.compile(r"[A-Z0-9][A-Z0-9_]{0,31}")  # T…, U…, W…, C…, E…: what Slack's ids are made of


def escape(text: str | None) -> str:
    """Escape `&`, `<` and `>` (and nothing else), so `<!channel>` in a contact's name pings nobody."""
    if not text:
        return ""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_date(when: datetime, fallback: str | None = None) -> str:
    """A date Slack shows in each reader's own time zone."""
    fallback = fallback or when.strftime("%d %b %Y %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def mention(user_id: str | None) -> str:
    """`<@U…>` for a user id; anything else (stored before ids were checked) is shown as text, never as markup."""
    if not user_id:
        return "someone"
    return f"<@{user_id}>" if SLACK_ID.fullmatch(user_id) else escape(user_id)


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}, **extra}


def context(*texts: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(t, 3000)} for t in texts[:10]],
    }


def button(text: str, action_id: str, *, value: str = "", style: str | None = None, url: str | None = None) -> dict:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, 75), "emoji": True},
        "action_id": action_id,
    }
    if value:
        element["value"] = value
    if style:
        element["style"] = style
    if url:
        element["url"] = url
    return element


# Rich text: for sentences naming something that came from a package (an organisation, a customer), whose name must
# read exactly as written; in mrkdwn, `*Bold* & _Italic_ Traders` inside our own bold would render garbled. Text
# elements are never parsed, so they take names as they are (no escaping: `<!here>` in one is only text).

RichPart = str | dict[str, Any]


def bold(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "style": {"bold": True}}


def code(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text, "style": {"code": True}}


def emoji(name: str) -> dict[str, Any]:
    return {"type": "emoji", "name": name}


def rich(*parts: RichPart) -> dict[str, Any]:
    """A rich_text block of one paragraph: strings are plain text, dicts are elements (`bold`, `code`, `emoji`)."""
    elements = [{"type": "text", "text": part} if isinstance(part, str) else part for part in parts]
    return {
        "type": "rich_text",
        "elements": [
            {
                "type": "rich_text_section",
                "elements": [e for e in elements if e.get("type") != "text" or e.get("text")],
            }
        ],
    }
