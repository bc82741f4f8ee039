"""Plain text for what the bot shows people (mrkdwn, Block Kit blocks, messages, modals and App Home), for a
person reading the Slack fake's answers at a terminal; each control a person can use names its `say` option."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_SELECTS = frozenset(
    {
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
    }
)
MAX_OPTIONS_SHOWN = 10


def mrkdwn(text: str) -> str:
    """Slack's markup as a person reads it: `<@U1|ada>` is @ada, `<url|label>` is `label (url)`, and the
    escaped `&lt; &gt; &amp;` are themselves again."""

    def link(match: re.Match[str]) -> str:
        target, label = match[1], match[2]
        if target[:1] in ("@", "#"):
            return target[0] + (label or target[1:])
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return f"{label} ({target})" if label and label != target else target

    return _LINK.sub(link, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def text_of(text: Any) -> str:
    """A text object (plain_text or mrkdwn) as plain text."""
    if not isinstance(text, Mapping):
        return ""
    value = str(text.get("text") or "")
    return mrkdwn(value) if text.get("type") == "mrkdwn" else value


def element_text(element: Mapping[str, Any], *, in_input: bool = False) -> str:
    """One element: a button as `[Label]`, a select as `[Placeholder v]` with its options; interactive ones
    end with how `say` uses them (`--click ACTION_ID`, or `--field ACTION_ID=...` inside an input), naming the
    options by their text, under their group's name."""
    kind = str(element.get("type"))
    action_id = element.get("action_id")
    if kind in ("plain_text", "mrkdwn"):
        return text_of(element)
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind == "button":
        shown = f"[{text_of(element.get('text'))}]"
        if element.get("style"):
            shown += f" ({element['style']})"
        if element.get("url"):
            shown += f" -> {element['url']}"
    elif kind in _SELECTS or kind in ("overflow", "radio_buttons", "checkboxes"):
        label = text_of(element.get("placeholder")) or text_of((element.get("initial_option") or {}).get("text"))
        shown = f"[{label or kind} v]"
        if element.get("initial_option"):
            shown += f" chosen: {text_of(element['initial_option'].get('text'))}"
        options = _options_text(element, limit=None if in_input else MAX_OPTIONS_SHOWN)
        if options:
            shown += f" options: {options}"
        if kind in ("external_select", "multi_external_select"):
            shown += " (type to search)"
    else:
        placeholder = text_of(element.get("placeholder"))
        shown = f"[{kind}{': ' + placeholder if placeholder else ''}]"
    if not action_id:
        return shown
    if in_input:
        return f"{shown}  --field {action_id}=..."
    return f"{shown}  --click {action_id}" + (" --value ..." if kind not in ("button",) else "")


def _options_text(element: Mapping[str, Any], *, limit: int | None) -> str:
    """The options a person can name (`--field` and `--value` take an option's text as well as its value), each
    group under its name: `Revenue: 200 – Sales, 260 – Other Revenue | Expense: ...`."""
    groups: list[tuple[str, list[Mapping[str, Any]]]] = [("", list(element.get("options") or []))]
    groups += [(text_of(g.get("label")), list(g.get("options") or [])) for g in element.get("option_groups") or []]
    parts, count = [], 0
    for name, options in groups:
        if not options:
            continue
        kept = options if limit is None else options[: max(limit - count, 0)]
        count += len(kept)
        if kept:
            parts.append((f"{name}: " if name else "") + ", ".join(text_of(o.get("text")) for o in kept))
    total = sum(len(options) for _, options in groups)
    more = f", ... {total - count} more" if count < total else ""
    return " | ".join(parts) + more


def block_lines(blocks: Iterable[Mapping[str, Any]]) -> list[str]:
    """Each block as the lines a person reads, in order."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = text_of(block.get("text"))
            lines += [title, "=" * len(title)]
        elif kind == "section":
            if block.get("text"):
                lines += text_of(block["text"]).splitlines()
            lines += [f"  {text_of(f)}" for f in block.get("fields") or []]
            if block.get("accessory"):
                lines.append(f"  {element_text(block['accessory'])}")
        elif kind == "divider":
            lines.append("-" * 40)
        elif kind == "context":
            lines.append(" | ".join(element_text(e) for e in block.get("elements") or []))
        elif kind == "actions":
            lines += [f"  {element_text(e)}" for e in block.get("elements") or []]
        elif kind == "input":
            optional = " (optional)" if block.get("optional") else ""
            lines.append(
                f"{text_of(block.get('label'))}{optional}: {element_text(block.get('element') or {}, in_input=True)}"
            )
            if block.get("hint"):
                lines.append(f"  {text_of(block['hint'])}")
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "markdown":
            lines += str(block.get("text", "")).splitlines()
        elif kind == "rich_text":
            lines += "".join(_rich_text(block)).splitlines()
        else:
            lines.append(f"[{kind} block]")
    return lines


def message_text(message: Mapping[str, Any]) -> str:
    """A message (or a response URL payload, or an acknowledgement with a reply) as a person reads it: its
    blocks when it has some, else its text."""
    blocks = message.get("blocks")
    if blocks:
        return "\n".join(block_lines(blocks))
    lines = [mrkdwn(str(message.get("text") or ""))]
    for attachment in message.get("attachments") or []:
        lines.append(f"| {mrkdwn(str(attachment.get('text') or attachment.get('fallback') or ''))}")
    return "\n".join(line for line in lines if line)


def view_text(view: Mapping[str, Any]) -> str:
    """A modal (title, blocks, its buttons) or an App Home tab."""
    if view.get("type") == "home":
        heading = "App Home"
    else:
        heading = f"Modal: {text_of(view.get('title'))}"
    lines = [f"[ {heading} ]", *block_lines(view.get("blocks") or [])]
    buttons = []
    if view.get("submit"):
        buttons.append(f"[{text_of(view['submit'])}]  --submit")
    if view.get("close"):
        buttons.append(f"[{text_of(view['close'])}]")
    if buttons:
        lines.append("  ".join(buttons))
    return "\n".join(lines)


def _rich_text(node: Mapping[str, Any]) -> Iterable[str]:
    kind = node.get("type")
    if kind == "text":
        yield str(node.get("text", ""))
    elif kind == "link":
        yield str(node.get("text") or node.get("url", ""))
    elif kind == "user":
        yield f"@{node.get('user_id', '')}"
    elif kind == "channel":
        yield f"#{node.get('channel_id', '')}"
    elif kind == "emoji":
        yield f":{node.get('name', '')}:"
    for child in node.get("elements") or []:
        yield from _rich_text(child)
    if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
        yield "\n"
